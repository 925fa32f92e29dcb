/*
 * test_call_rules.c - who is in a call and who hears what
 * (actors/call_rules.c), against API.md "Calls".
 */
#include "actors/call_pool.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static call_t ringing(void)
{
    call_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.id, sizeof c.id, "%s", "00112233445566778899aabbccddeeff");
    snprintf(c.caller, sizeof c.caller, "1");
    snprintf(c.callee, sizeof c.callee, "2");
    snprintf(c.caller_sid, sizeof c.caller_sid, "sa");
    c.state = CALL_RINGING;
    return c;
}

static call_t active(void)
{
    call_t c = ringing();
    c.state = CALL_ACTIVE;
    snprintf(c.callee_sid, sizeof c.callee_sid, "sb");
    return c;
}

static void target(call_target_t t, const char *uid, const char *sid, const char *skip)
{
    cr_expect_str_eq(t.uid, uid);
    cr_expect_str_eq(t.sid, sid);
    cr_expect_str_eq(t.skip, skip);
}

Test(call_rules, parties)
{
    call_t c = ringing();
    cr_expect_eq(call_party(&c, "1", "sa"), CALL_CALLER);
    cr_expect_eq(call_party(&c, "1", "other"), 0, "the caller's other devices are not in it");
    cr_expect_eq(call_party(&c, "2", "any"), CALL_CALLEE, "every callee session while ringing");
    cr_expect_eq(call_party(&c, "3", "sa"), 0);
    cr_expect_eq(call_party(&c, NULL, "sa"), 0);
    c = active();
    cr_expect_eq(call_party(&c, "2", "sb"), CALL_CALLEE);
    cr_expect_eq(call_party(&c, "2", "any"), 0, "only the answering session once active");
    c.state = CALL_ENDED;
    cr_expect_eq(call_party(&c, "1", "sa"), 0);
}

Test(call_rules, hangup_reasons)
{
    call_t c = ringing();
    cr_expect_eq(call_hangup_reason(&c, CALL_CALLER), CALL_R_CANCELED);
    cr_expect_eq(call_hangup_reason(&c, CALL_CALLEE), CALL_R_REJECTED);
    c = active();
    cr_expect_eq(call_hangup_reason(&c, CALL_CALLER), CALL_R_HANGUP);
    cr_expect_eq(call_hangup_reason(&c, CALL_CALLEE), CALL_R_HANGUP);
    cr_expect_str_eq(call_reason_name(CALL_R_GONE), "gone");
    cr_expect_str_eq(call_reason_name(CALL_R_UNAVAILABLE), "unavailable");
    cr_expect_str_eq(call_reason_name(CALL_R_COUNT), "unknown");
}

Test(call_rules, ice_routes)
{
    call_t c = ringing();
    call_target_t t;
    call_ice_target(&c, CALL_CALLER, &t);
    target(t, "2", "", "");                      /* every ringing session */
    call_ice_target(&c, CALL_CALLEE, &t);
    target(t, "1", "sa", "");
    c = active();
    call_ice_target(&c, CALL_CALLER, &t);
    target(t, "2", "sb", "");
}

Test(call_rules, who_hears_the_end)
{
    call_target_t t[2];
    call_t c = ringing();
    cr_assert_eq(call_end_targets(&c, CALL_R_BUSY, 0, NULL, t), 1);
    target(t[0], "1", "sa", "");
    cr_assert_eq(call_end_targets(&c, CALL_R_UNAVAILABLE, 0, NULL, t), 1);
    target(t[0], "1", "sa", "");
    cr_assert_eq(call_end_targets(&c, CALL_R_TIMEOUT, 0, NULL, t), 2);
    target(t[0], "1", "sa", "");
    target(t[1], "2", "", "");
    cr_assert_eq(call_end_targets(&c, CALL_R_CANCELED, CALL_CALLER, "sa", t), 1);
    target(t[0], "2", "", "");
    cr_assert_eq(call_end_targets(&c, CALL_R_REJECTED, CALL_CALLEE, "s2", t), 2);
    target(t[0], "1", "sa", "");
    target(t[1], "2", "", "s2");                 /* the other ringing devices stop */
    cr_assert_eq(call_end_targets(&c, CALL_R_GONE, CALL_CALLER, "sa", t), 1);
    target(t[0], "2", "", "");
    cr_assert_eq(call_end_targets(&c, CALL_R_GONE, CALL_CALLEE, "", t), 1);
    target(t[0], "1", "sa", "");
    c = active();
    cr_assert_eq(call_end_targets(&c, CALL_R_HANGUP, CALL_CALLER, "sa", t), 1);
    target(t[0], "2", "sb", "");
    cr_assert_eq(call_end_targets(&c, CALL_R_HANGUP, CALL_CALLEE, "sb", t), 1);
    target(t[0], "1", "sa", "");
    cr_assert_eq(call_end_targets(&c, CALL_R_GONE, 0, NULL, t), 2, "the keeper goes: both");
    target(t[0], "1", "sa", "");
    target(t[1], "2", "sb", "");
}
