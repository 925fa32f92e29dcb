/*
 * call_rules.c - who is in a call and who hears what (call_pool.h), as
 * pure functions of the call's state, so every rule of API.md "Calls" is
 * a unit test (tests/unit/test_call_rules.c) before it is a stack test.
 */
#include "actors/call_pool.h"

#include <string.h>

static const char *const k_reasons[CALL_R_COUNT] = {
    [CALL_R_HANGUP] = "hangup",   [CALL_R_CANCELED] = "canceled",
    [CALL_R_REJECTED] = "rejected", [CALL_R_TIMEOUT] = "timeout",
    [CALL_R_BUSY] = "busy",       [CALL_R_UNAVAILABLE] = "unavailable",
    [CALL_R_GONE] = "gone",
};

const char *call_reason_name(call_reason_t r)
{
    return r < CALL_R_COUNT ? k_reasons[r] : "unknown";
}

int call_party(const call_t *c, const char *uid, const char *sid)
{
    if (!uid || !sid || c->state == CALL_ENDED)
        return 0;
    if (strcmp(uid, c->caller) == 0 && strcmp(sid, c->caller_sid) == 0)
        return CALL_CALLER;
    if (strcmp(uid, c->callee) == 0 &&
        (c->state == CALL_RINGING || strcmp(sid, c->callee_sid) == 0))
        return CALL_CALLEE;
    return 0;
}

call_reason_t call_hangup_reason(const call_t *c, int party)
{
    if (c->state == CALL_ACTIVE)
        return CALL_R_HANGUP;
    return party == CALL_CALLER ? CALL_R_CANCELED : CALL_R_REJECTED;
}

/* The callee as a target: the answering session once active, else all. */
static call_target_t callee(const call_t *c, const char *skip)
{
    return (call_target_t){c->callee, c->state == CALL_ACTIVE ? c->callee_sid : "", skip};
}

static call_target_t caller(const call_t *c)
{
    return (call_target_t){c->caller, c->caller_sid, ""};
}

void call_ice_target(const call_t *c, int party, call_target_t *out)
{
    *out = party == CALL_CALLER ? callee(c, "") : caller(c);
}

int call_end_targets(const call_t *c, call_reason_t r, int by_party, const char *by_sid,
                     call_target_t out[2])
{
    switch (r) {
    case CALL_R_BUSY:
    case CALL_R_UNAVAILABLE:
        out[0] = caller(c);
        return 1;
    case CALL_R_TIMEOUT:
        out[0] = caller(c);
        out[1] = callee(c, "");
        return 2;
    case CALL_R_CANCELED:
        out[0] = callee(c, "");
        return 1;
    case CALL_R_REJECTED:
        /* the caller, and the callee's other devices, which stop ringing */
        out[0] = caller(c);
        out[1] = callee(c, by_sid ? by_sid : "");
        return 2;
    case CALL_R_HANGUP:
    case CALL_R_GONE:
        if (by_party == CALL_CALLER) {
            out[0] = callee(c, "");
            return 1;
        }
        if (by_party == CALL_CALLEE) {
            out[0] = caller(c);
            return 1;
        }
        out[0] = caller(c);
        out[1] = callee(c, "");
        return 2;
    default:
        return 0;
    }
}
