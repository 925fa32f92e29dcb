/*
 * test_ws_calls.c - the edge's call translation (edge/ws/ws_calls.c): the
 * frames a call event becomes (API.md "Calls", exactly those fields), the
 * candidate spliced in unchanged, malformed events dropped, and the
 * subjects call frames go to.
 */
#include "common/err.h"
#include "edge/ws/ws_internal.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

static Natter__CallEvent ev(const char *op)
{
    Natter__CallEvent e = NATTER__CALL_EVENT__INIT;
    e.op = (char *)op;
    e.call_id = "c1";
    e.conversation_id = "7";
    e.from = "3";
    e.media = "video";
    e.sdp = "v=0\r\n";
    e.candidate = "{\"candidate\":\"a b\",\"sdpMid\":\"0\",\"u\":\"\\u00e9\"}";
    e.reason = "hangup";
    return e;
}

static void renders(const char *op, const char *want)
{
    Natter__CallEvent e = ev(op);
    char *got = ws_call_event_text(&e);
    cr_assert_not_null(got, "%s not rendered", op);
    cr_expect_str_eq(got, want);
    free(got);
}

Test(ws_calls, events_render_exactly_the_api_fields)
{
    renders("call_offer", "{\"op\":\"call_offer\",\"call_id\":\"c1\",\"conversation_id\":\"7\","
                          "\"from\":\"3\",\"media\":\"video\",\"sdp\":\"v=0\\r\\n\"}");
    renders("call_answer", "{\"op\":\"call_answer\",\"call_id\":\"c1\",\"sdp\":\"v=0\\r\\n\"}");
    renders("call_hangup", "{\"op\":\"call_hangup\",\"call_id\":\"c1\",\"reason\":\"hangup\"}");
    renders("call_ice", "{\"op\":\"call_ice\",\"call_id\":\"c1\",\"candidate\":{\"candidate\":"
                        "\"a b\",\"sdpMid\":\"0\",\"u\":\"\\u00e9\"}}");
}

Test(ws_calls, malformed_events_are_dropped)
{
    Natter__CallEvent e = ev("call_ice");
    e.candidate = "not json";
    cr_expect_null(ws_call_event_text(&e));
    e.candidate = "";
    cr_expect_null(ws_call_event_text(&e));
    e = ev("call_dance");
    cr_expect_null(ws_call_event_text(&e));
    e = ev("call_offer");
    e.call_id = "";
    cr_expect_null(ws_call_event_text(&e));
}

Test(ws_calls, subjects)
{
    char subj[256];
    ws_frame_t f;
    memset(&f, 0, sizeof f);
    f.op = WS_OP_CALL_OFFER;
    cr_assert_eq(ws_call_subject(&f, subj, sizeof subj), NT_OK);
    cr_expect_str_eq(subj, "im.svc.call.offer");
    f.op = WS_OP_CALL_ICE;
    f.call_id = "abc";
    cr_assert_eq(ws_call_subject(&f, subj, sizeof subj), NT_OK);
    cr_expect_str_eq(subj, "im.call.abc.ice");
    f.op = WS_OP_CALL_HANGUP;
    f.call_id = "a.b";
    cr_expect_eq(ws_call_subject(&f, subj, sizeof subj), NT_ENOTFOUND);
    f.op = WS_OP_PING;
    cr_expect_eq(ws_call_subject(&f, subj, sizeof subj), NT_EINVAL);
}
