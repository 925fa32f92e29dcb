/*
 * msg_call.c - im.svc.msg.internal.call_log: an ended call becomes a
 * system message of its conversation (API.md "Calls", docs/calls.md).
 *
 * The call actor (presence pool) asks; this turns the record into a send
 * of type `system` from the caller, body
 *   {"event":"call","call_id","media","caller_id","callee_id","answered",
 *    "duration_s","reason"}
 * with client_msg_id "call-<call_id>", and queues it like a client's send:
 * the same group commit gives it the next seq (dense), stores it durably
 * before the answer, pushes it to both members, and a retry of the same
 * call finds the stored one (duplicate) instead of writing a second.  It
 * goes to this process's send worker, not the conversation's owner: one
 * write per call does not pay a hop, and the store's fence makes a write
 * by a non-owner safe (docs/design.md "Conversations and messages").
 * Edges cannot publish im.svc.*.internal.> (config/nats-server.conf), so
 * only a pool can record a call.
 */
#include "actors/msg_pool.h"

#include "actors/pool.h"
#include "common/err.h"
#include "common/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 19 && s[0] != '0' && strspn(s, "0123456789") == n;
}

static int call_id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 40 && strspn(s, "0123456789abcdef") == n;
}

/* The system message's body (malloc'd), or NULL. */
static char *body_of(const Natter__CallLogReq *r)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:b, s:I, s:s}", "event", "call", "call_id",
                          r->call_id, "media", r->media, "caller_id", r->caller_id, "callee_id",
                          r->callee_id, "answered", r->answered, "duration_s",
                          (json_int_t)r->duration_s, "reason", r->reason);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

int msg_call_log_h(bus_t *bus, natsMsg *msg, void *arg)
{
    msg_pool_t *p = arg;
    const char *uid = msg_caller(bus, msg);
    if (!uid)
        return NT_EUNAUTH;
    Natter__CallLogReq *r = pool_unpack(bus, msg, &natter__call_log_req__descriptor);
    if (!r)
        return NT_EINVAL;
    int rc;
    char cmid[64];
    if (!id_ok(r->conversation_id) || !call_id_ok(r->call_id) || strcmp(r->caller_id, uid) != 0 ||
        !id_ok(r->callee_id) || r->duration_s < 0 ||
        (strcmp(r->media, "audio") != 0 && strcmp(r->media, "video") != 0) ||
        strlen(r->reason) == 0 || strlen(r->reason) > 32) {
        rc = pool_fail(bus, msg, NT_EINVAL, "malformed call record");
        goto done;
    }
    snprintf(cmid, sizeof cmid, "call-%s", r->call_id);
    Natter__SendReq req = NATTER__SEND_REQ__INIT;
    req.conversation_id = r->conversation_id;
    req.client_msg_id = cmid;
    req.type = "system";
    req.body = body_of(r);
    if (!req.body) {
        rc = pool_fail(bus, msg, NT_ENOMEM, "");
        goto done;
    }
    /* msg_send_queue takes an unpacked request: make one of ours. */
    size_t len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *buf = malloc(len ? len : 1);
    Natter__SendReq *owned = NULL;
    if (buf) {
        protobuf_c_message_pack(&req.base, buf);
        owned = natter__send_req__unpack(NULL, len, buf);
    }
    free(buf);
    free(req.body);
    if (!owned) {
        rc = pool_fail(bus, msg, NT_ENOMEM, "");
        goto done;
    }
    rc = msg_send_queue(p, bus, msg, owned, NULL);
done:
    natter__call_log_req__free_unpacked(r, NULL);
    return rc;
}
