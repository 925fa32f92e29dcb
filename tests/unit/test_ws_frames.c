/*
 * test_ws_frames.c - WebSocket client frame validation (edge/ws/ws_frames.c).
 *
 * Every op parsed as it should be, and every kind of bad input refused with
 * bad_request, a message a client developer can act on, and the rid when
 * the frame had a readable one (so the error matches the request).
 */
#include "common/err.h"
#include "edge/ws/ws_frames.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define MAXB 1000

static ws_frame_t ok(const char *s)
{
    ws_frame_t f;
    const char *code = NULL;
    char msg[256] = "", rid[WS_RID_MAX * 4 + 1];
    int rc = ws_frame_parse(s, strlen(s), MAXB, &f, &code, msg, sizeof msg, rid, sizeof rid);
    cr_assert_eq(rc, NT_OK, "%s refused: %s", s, msg);
    cr_assert_not_null(f.root);
    return f;
}

static void bad_len(const char *s, size_t len, const char *want_msg, const char *want_rid)
{
    ws_frame_t f;
    const char *code = NULL;
    char msg[256] = "", rid[WS_RID_MAX * 4 + 1] = "x";
    int rc = ws_frame_parse(s, len, MAXB, &f, &code, msg, sizeof msg, rid, sizeof rid);
    cr_assert_eq(rc, NT_EINVAL, "accepted %.*s", (int)len, s);
    cr_expect_null(f.root);
    cr_expect_str_eq(code, "bad_request");
    cr_expect(strstr(msg, want_msg) != NULL, "%.*s: message '%s' lacks '%s'", (int)len, s, msg,
              want_msg);
    cr_expect_str_eq(rid, want_rid ? want_rid : "", "%.*s: rid", (int)len, s);
}

static void bad(const char *s, const char *want_msg, const char *want_rid)
{
    bad_len(s, strlen(s), want_msg, want_rid);
}

Test(ws_frames, ping_with_and_without_rid)
{
    ws_frame_t f = ok("{\"op\":\"ping\",\"rid\":\"r1\"}");
    cr_expect_eq(f.op, WS_OP_PING);
    cr_expect_str_eq(f.rid, "r1");
    ws_frame_fini(&f);
    f = ok("{\"op\":\"ping\"}");
    cr_expect_null(f.rid);
    ws_frame_fini(&f);
}

Test(ws_frames, send)
{
    ws_frame_t f = ok("{\"op\":\"send\",\"rid\":\"1\",\"conversation_id\":\"c1\","
                      "\"client_msg_id\":\"m1\",\"type\":\"text\",\"body\":\"hi\"}");
    cr_expect_eq(f.op, WS_OP_SEND);
    cr_expect_str_eq(f.conversation_id, "c1");
    cr_expect_str_eq(f.client_msg_id, "m1");
    cr_expect_str_eq(f.type, "text");
    cr_expect_str_eq(f.body, "hi");
    ws_frame_fini(&f);
}

Test(ws_frames, ack_sync_read_typing)
{
    ws_frame_t f = ok("{\"op\":\"ack\",\"conversation_id\":\"c\",\"seq\":7}");
    cr_expect_eq(f.op, WS_OP_ACK);
    cr_expect_eq(f.seq, 7);
    ws_frame_fini(&f);
    f = ok("{\"op\":\"sync\",\"rid\":\"s\",\"conversation_id\":\"c\"}");
    cr_expect_eq(f.op, WS_OP_SYNC);
    cr_expect_eq(f.after_seq, 0);
    cr_expect_eq(f.limit, 50);
    ws_frame_fini(&f);
    f = ok("{\"op\":\"sync\",\"conversation_id\":\"c\",\"after_seq\":3,\"limit\":100}");
    cr_expect_eq(f.after_seq, 3);
    cr_expect_eq(f.limit, 100);
    ws_frame_fini(&f);
    f = ok("{\"op\":\"read\",\"rid\":\"r\",\"conversation_id\":\"c\",\"seq\":2}");
    cr_expect_eq(f.op, WS_OP_READ);
    cr_expect_eq(f.seq, 2);
    ws_frame_fini(&f);
    f = ok("{\"op\":\"typing\",\"conversation_id\":\"c\"}");
    cr_expect_eq(f.op, WS_OP_TYPING);
    ws_frame_fini(&f);
}

Test(ws_frames, not_json_or_not_object)
{
    bad("hello", "not valid JSON", NULL);
    bad("{\"op\":", "not valid JSON", NULL);
    bad("", "not valid JSON", NULL);
    bad("[1,2]", "must be a JSON object", NULL);
    bad("\"ping\"", "must be a JSON object", NULL);
    bad("42", "must be a JSON object", NULL);
    bad("null", "must be a JSON object", NULL);
    bad("{\"op\":\"ping\"} {}", "not valid JSON", NULL);
    bad("{\"op\":\"ping\",\"op\":\"ping\"}", "duplicate", NULL);
    bad_len("{\"op\":\"ping\"}\0", 14, "not valid JSON", NULL);
    bad("{\"op\":\"ping\",\"rid\":\"\xff\"}", "not valid JSON", NULL);
}

Test(ws_frames, op_missing_wrong_unknown)
{
    bad("{}", "op is required", NULL);
    bad("{\"rid\":\"a\"}", "op is required", "a");
    bad("{\"op\":1,\"rid\":\"a\"}", "op must be a string", "a");
    bad("{\"op\":null}", "op must be a string", NULL);
    bad("{\"op\":\"fly\",\"rid\":\"a\"}", "unknown op", "a");
    bad("{\"op\":\"PING\"}", "unknown op", NULL);
    bad("{\"op\":\"\"}", "op must be", NULL);
}

Test(ws_frames, rid_checked)
{
    bad("{\"op\":\"ping\",\"rid\":5}", "rid must be a string", NULL);
    bad("{\"op\":\"ping\",\"rid\":\"\"}", "rid must be", NULL);
    char big[200];
    snprintf(big, sizeof big, "{\"op\":\"ping\",\"rid\":\"%0100d\"}", 0);
    bad(big, "rid must be", NULL);
}

Test(ws_frames, unknown_field)
{
    bad("{\"op\":\"ping\",\"rid\":\"a\",\"x\":1}", "unknown field x", "a");
    bad("{\"op\":\"ack\",\"conversation_id\":\"c\",\"seq\":1,\"body\":\"\"}", "unknown field", NULL);
}

Test(ws_frames, send_fields)
{
#define SEND(rest) "{\"op\":\"send\",\"rid\":\"r\"" rest "}"
    bad(SEND(",\"client_msg_id\":\"m\",\"type\":\"text\",\"body\":\"b\""),
        "conversation_id is required", "r");
    bad(SEND(",\"conversation_id\":7,\"client_msg_id\":\"m\",\"type\":\"text\",\"body\":\"b\""),
        "conversation_id must be a string", "r");
    bad(SEND(",\"conversation_id\":\"c\",\"type\":\"text\",\"body\":\"b\""),
        "client_msg_id is required", "r");
    bad(SEND(",\"conversation_id\":\"c\",\"client_msg_id\":\"m\",\"body\":\"b\""),
        "type is required", "r");
    bad(SEND(",\"conversation_id\":\"c\",\"client_msg_id\":\"m\",\"type\":\"video\",\"body\":\"b\""),
        "type must be text, image or file", "r");
    bad(SEND(",\"conversation_id\":\"c\",\"client_msg_id\":\"m\",\"type\":\"system\",\"body\":\"b\""),
        "type must be", "r");
    bad(SEND(",\"conversation_id\":\"c\",\"client_msg_id\":\"m\",\"type\":\"text\""),
        "body is required", "r");
    bad(SEND(",\"conversation_id\":\"c\",\"client_msg_id\":\"m\",\"type\":\"text\",\"body\":\"\""),
        "body must be", "r");
    bad(SEND(",\"conversation_id\":\"c\",\"client_msg_id\":\"m\",\"type\":\"text\",\"body\":[]"),
        "body must be a string", "r");
#undef SEND
}

Test(ws_frames, body_limit)
{
    char buf[MAXB + 200];
    char body[MAXB + 2];
    memset(body, 'a', MAXB + 1);
    body[MAXB + 1] = '\0';
    snprintf(buf, sizeof buf,
             "{\"op\":\"send\",\"conversation_id\":\"c\",\"client_msg_id\":\"m\","
             "\"type\":\"text\",\"body\":\"%s\"}",
             body);
    bad(buf, "body must be", NULL);
    body[MAXB] = '\0';
    snprintf(buf, sizeof buf,
             "{\"op\":\"send\",\"conversation_id\":\"c\",\"client_msg_id\":\"m\","
             "\"type\":\"text\",\"body\":\"%s\"}",
             body);
    ws_frame_t f = ok(buf);
    ws_frame_fini(&f);
}

Test(ws_frames, seq_and_limits)
{
    bad("{\"op\":\"ack\",\"conversation_id\":\"c\"}", "seq is required", NULL);
    bad("{\"op\":\"ack\",\"conversation_id\":\"c\",\"seq\":\"1\"}", "seq must be an integer", NULL);
    bad("{\"op\":\"ack\",\"conversation_id\":\"c\",\"seq\":1.0}", "seq must be an integer", NULL);
    bad("{\"op\":\"ack\",\"conversation_id\":\"c\",\"seq\":-1}", "seq must be between", NULL);
    bad("{\"op\":\"read\",\"rid\":\"q\",\"seq\":1}", "conversation_id is required", "q");
    bad("{\"op\":\"read\",\"rid\":\"q\",\"conversation_id\":\"c\"}", "seq is required", "q");
    bad("{\"op\":\"sync\",\"conversation_id\":\"c\",\"limit\":0}", "limit must be between", NULL);
    bad("{\"op\":\"sync\",\"conversation_id\":\"c\",\"limit\":101}", "limit must be between", NULL);
    bad("{\"op\":\"sync\",\"conversation_id\":\"c\",\"after_seq\":-5}", "after_seq must be", NULL);
    bad("{\"op\":\"sync\",\"conversation_id\":\"\"}", "conversation_id must be", NULL);
    bad("{\"op\":\"typing\"}", "conversation_id is required", NULL);
}

Test(ws_frames, error_frame)
{
    char *s = ws_frame_error("r1", "bad_request", "nope");
    json_t *o = json_loads(s, 0, NULL);
    cr_assert_not_null(o);
    cr_expect_str_eq(json_string_value(json_object_get(o, "op")), "error");
    cr_expect_str_eq(json_string_value(json_object_get(o, "rid")), "r1");
    cr_expect_str_eq(json_string_value(json_object_get(o, "code")), "bad_request");
    cr_expect_str_eq(json_string_value(json_object_get(o, "message")), "nope");
    json_decref(o);
    free(s);
    s = ws_frame_error(NULL, "unavailable", NULL);
    o = json_loads(s, 0, NULL);
    cr_expect_null(json_object_get(o, "rid"));
    cr_expect_str_eq(json_string_value(json_object_get(o, "message")), "unavailable");
    json_decref(o);
    free(s);
}

Test(ws_frames, send_mentions)
{
    ws_frame_t f = ok("{\"op\":\"send\",\"conversation_id\":\"c1\",\"client_msg_id\":\"m1\","
                      "\"type\":\"text\",\"body\":\"hi\",\"mentions\":[\"7\",\"8\"]}");
    cr_expect_eq(f.n_mentions, 2);
    cr_expect_str_eq(f.mentions[0], "7");
    cr_expect_str_eq(f.mentions[1], "8");
    ws_frame_fini(&f);
    f = ok("{\"op\":\"send\",\"conversation_id\":\"c1\",\"client_msg_id\":\"m1\","
           "\"type\":\"text\",\"body\":\"hi\"}");
    cr_expect_eq(f.n_mentions, 0);
    ws_frame_fini(&f);
    bad("{\"op\":\"send\",\"rid\":\"r\",\"conversation_id\":\"c1\",\"client_msg_id\":\"m1\","
        "\"type\":\"text\",\"body\":\"hi\",\"mentions\":\"7\"}",
        "mentions", "r");
    bad("{\"op\":\"send\",\"conversation_id\":\"c1\",\"client_msg_id\":\"m1\","
        "\"type\":\"text\",\"body\":\"hi\",\"mentions\":[7]}",
        "mentions", NULL);
    bad("{\"op\":\"send\",\"conversation_id\":\"c1\",\"client_msg_id\":\"m1\","
        "\"type\":\"text\",\"body\":\"hi\",\"mentions\":[\"\"]}",
        "mentions", NULL);
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "{\"op\":\"send\",\"conversation_id\":\"c1\","
                                      "\"client_msg_id\":\"m1\",\"type\":\"text\",\"body\":\"hi\","
                                      "\"mentions\":[");
    for (int i = 0; i <= WS_MENTIONS_MAX; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%s\"%d\"", i ? "," : "", i + 1);
    snprintf(buf + n, sizeof buf - (size_t)n, "]}");
    bad(buf, "at most 50", NULL);
}

/* --- nesting and the id of a refused frame (issue 11) ------------------- */

Test(ws_frames, deep_frames_refused)
{
    static char buf[20002];
    memset(buf, '[', 10000);
    memset(buf + 10000, ']', 10000);
    bad_len(buf, 20000, "frame is nested more than 64 levels deep", NULL);
    char obj[64 * 6 + 64];
    size_t o = 0;
    for (int i = 0; i < 65; i++)
        o += (size_t)snprintf(obj + o, sizeof obj - o, "{\"a\":");
    bad_len(obj, o, "nested more than 64", NULL);
}

Test(ws_frames, conversation_of_a_refused_frame)
{
    char cid[24] = "untouched";
    struct {
        const char *frame;
        const char *want; /* NULL: none */
    } cases[] = {
        {"{\"op\":\"send\",\"conversation_id\":\"42\",\"type\":\"system\"}", "42"},
        {"{\"op\":\"sync\",\"conversation_id\":\"9223372036854775807\",\"limit\":0}",
         "9223372036854775807"},
        {"{\"conversation_id\":\"42\"}", "42"},
        {"{\"op\":\"send\",\"conversation_id\":\"042\"}", NULL},
        {"{\"op\":\"send\",\"conversation_id\":\"c1\"}", NULL},
        {"{\"op\":\"send\",\"conversation_id\":42}", NULL},
        {"{\"op\":\"send\",\"conversation_id\":\"\"}", NULL},
        {"{\"op\":\"send\",\"conversation_id\":\"12345678901234567890\"}", NULL},
        {"{\"op\":\"send\"}", NULL},
        {"[\"42\"]", NULL},
        {"not json", NULL},
        {"{\"conversation_id\":\"42\",\"conversation_id\":\"43\"}", NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = ws_frame_conversation(cases[i].frame, strlen(cases[i].frame), cid, sizeof cid);
        cr_expect_eq(got, cases[i].want != NULL, "%s", cases[i].frame);
        if (got && cases[i].want)
            cr_expect_str_eq(cid, cases[i].want);
    }
    /* Too small a buffer: no id rather than a cut one. */
    const char *five = "{\"conversation_id\":\"12345\"}", *four = "{\"conversation_id\":\"1234\"}";
    cr_expect_eq(ws_frame_conversation(five, strlen(five), cid, 5), 0);
    cr_expect_eq(ws_frame_conversation(four, strlen(four), cid, 5), 1);
}

/* ---- calls (API.md "Calls") ---------------------------------------------- */

Test(ws_frames, call_offer)
{
    ws_frame_t f = ok("{\"op\":\"call_offer\",\"rid\":\"o\",\"conversation_id\":\"12\","
                      "\"media\":\"video\",\"sdp\":\"v=0\\r\\n\"}");
    cr_expect_eq(f.op, WS_OP_CALL_OFFER);
    cr_expect(WS_OP_IS_CALL(f.op));
    cr_expect_str_eq(f.conversation_id, "12");
    cr_expect_str_eq(f.media, "video");
    cr_expect_str_eq(f.sdp, "v=0\r\n");
    ws_frame_fini(&f);
    f = ok("{\"op\":\"call_offer\",\"conversation_id\":\"12\",\"media\":\"audio\",\"sdp\":\"x\"}");
    cr_expect_str_eq(f.media, "audio");
    ws_frame_fini(&f);
    bad("{\"op\":\"call_offer\",\"rid\":\"o\",\"conversation_id\":\"12\",\"media\":\"smell\","
        "\"sdp\":\"x\"}", "media must be audio or video", "o");
    bad("{\"op\":\"call_offer\",\"conversation_id\":\"12\",\"media\":\"audio\",\"sdp\":5}",
        "sdp must be a string", NULL);
    bad("{\"op\":\"call_offer\",\"conversation_id\":\"12\",\"media\":\"audio\",\"sdp\":\"\"}",
        "sdp must be a string", NULL);
    bad("{\"op\":\"call_offer\",\"conversation_id\":\"12\",\"media\":\"audio\"}",
        "sdp must be a string", NULL);
    bad("{\"op\":\"call_offer\",\"conversation_id\":\"12\",\"sdp\":\"x\"}", "media", NULL);
    bad("{\"op\":\"call_offer\",\"conversation_id\":\"12\",\"media\":\"audio\",\"sdp\":\"x\","
        "\"call_id\":\"a\"}", "call_id", NULL);
}

Test(ws_frames, call_sdp_bound_is_64_kib_in_bytes)
{
    static char buf[WS_SDP_MAX + 200];
    for (int extra = 0; extra <= 1; extra++) {
        int n = snprintf(buf, sizeof buf, "{\"op\":\"call_answer\",\"call_id\":\"c\",\"sdp\":\"");
        memset(buf + n, 'a', WS_SDP_MAX + extra);
        snprintf(buf + n + WS_SDP_MAX + extra, sizeof buf - (size_t)(n + WS_SDP_MAX + extra),
                 "\"}");
        ws_frame_t f;
        const char *code;
        char msg[256], rid[8];
        int rc = ws_frame_parse(buf, strlen(buf), MAXB, &f, &code, msg, sizeof msg, rid,
                                sizeof rid);
        cr_expect_eq(rc, extra ? NT_EINVAL : NT_OK, "sdp of %d bytes", WS_SDP_MAX + extra);
        if (rc == NT_OK) {
            cr_expect_eq(strlen(f.sdp), (size_t)WS_SDP_MAX);
            ws_frame_fini(&f);
        }
    }
}

Test(ws_frames, call_answer_ice_hangup)
{
    ws_frame_t f = ok("{\"op\":\"call_answer\",\"call_id\":\"ab-C_9\",\"sdp\":\"y\"}");
    cr_expect_eq(f.op, WS_OP_CALL_ANSWER);
    cr_expect_str_eq(f.call_id, "ab-C_9");
    ws_frame_fini(&f);
    f = ok("{\"op\":\"call_ice\",\"call_id\":\"c\",\"candidate\":{\"candidate\":\"a b\","
           "\"sdpMLineIndex\":0,\"sdpMid\":\"0\"}}");
    cr_expect_eq(f.op, WS_OP_CALL_ICE);
    cr_expect_str_eq(f.candidate, "{\"candidate\":\"a b\",\"sdpMLineIndex\":0,\"sdpMid\":\"0\"}");
    ws_frame_fini(&f);
    cr_expect_null(f.candidate);
    f = ok("{\"op\":\"call_hangup\",\"rid\":\"h\",\"call_id\":\"c\"}");
    cr_expect_eq(f.op, WS_OP_CALL_HANGUP);
    ws_frame_fini(&f);
    bad("{\"op\":\"call_hangup\"}", "call_id", NULL);
    bad("{\"op\":\"call_hangup\",\"call_id\":\"a.b\"}", "not a call id", NULL);
    bad("{\"op\":\"call_hangup\",\"call_id\":\"\"}", "call_id", NULL);
    bad("{\"op\":\"call_hangup\",\"call_id\":7}", "call_id", NULL);
    bad("{\"op\":\"call_answer\",\"call_id\":\"c\",\"sdp\":[]}", "sdp", NULL);
    bad("{\"op\":\"call_ice\",\"call_id\":\"c\",\"candidate\":\"x\"}", "candidate must be an object",
        NULL);
    bad("{\"op\":\"call_ice\",\"call_id\":\"c\",\"candidate\":null}", "candidate must be an object",
        NULL);
    bad("{\"op\":\"call_ice\",\"call_id\":\"c\"}", "candidate must be an object", NULL);
    bad("{\"op\":\"call_ice\",\"call_id\":\"c\",\"candidate\":{},\"sdp\":\"x\"}", "sdp", NULL);
    static char big[WS_CANDIDATE_MAX + 100];
    int n = snprintf(big, sizeof big, "{\"op\":\"call_ice\",\"call_id\":\"c\",\"candidate\":{\"c\":\"");
    memset(big + n, 'x', WS_CANDIDATE_MAX);
    snprintf(big + n + WS_CANDIDATE_MAX, sizeof big - (size_t)(n + WS_CANDIDATE_MAX), "\"}}");
    bad(big, "candidate must be at most", NULL);
}
