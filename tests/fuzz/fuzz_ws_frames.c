/*
 * fuzz_ws_frames.c - WebSocket text frames: any bytes through
 * ws_frame_parse (JSON -> the internal request the edge sends to a pool),
 * then through ws_frame_error as the edge answers a refused frame.
 *
 * Properties (ws_frames.h): 0 or NT_EINVAL; on success a known op with
 * every field its op requires, within the documented bounds; on failure
 * no root, code "bad_request", a NUL-terminated UTF-8 message, a rid that
 * is "" or a valid string, and an error frame that renders (NULL would
 * leave the client without an answer); an id that becomes part of a NATS
 * subject (subject_conv) cannot change its shape.  lws runs on a normal
 * stack, so this target does too.
 *
 * Calls (API.md "Calls"): an accepted call frame has its fields within
 * bounds (sdp 1-64 KiB bytes, media audio|video, a call id that builds a
 * four-token im.call.<id>.<verb> subject, a candidate that is a JSON
 * object of at most 4 KiB), and the frame the other party's edge renders
 * from what this one would send (ws_calls.c, the candidate spliced in as
 * text) is valid JSON carrying the same candidate.
 */
#include "fuzz_common.h"

#include "bus/subject.h"
#include "common/err.h"
#include "common/jsonv.h"
#include "edge/ws/ws_frames.h"
#include "edge/ws/ws_internal.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY 4000 /* msg.text_max: what the pool takes; the edge's bound is ws.max_frame */

/* A client's id must never change the shape of a NATS subject (subject.h):
 * built, it has exactly its four tokens and no wildcard or space. */
static void subject_shape_ok(const char *id)
{
    char subj[SUBJECT_MAX];
    int rc = subject_conv(subj, sizeof subj, id, "send");
    FUZZ_CHECK(rc == NT_OK || rc == NT_EINVAL || rc == NT_ETOOLARGE);
    if (rc != NT_OK)
        return;
    FUZZ_CHECK(subject_token_ok(id));
    size_t dots = 0;
    for (const char *c = subj; *c; c++) {
        dots += *c == '.';
        FUZZ_CHECK(*c > ' ' && *c < 0x7f && *c != '*' && *c != '>');
    }
    FUZZ_CHECK(dots == 3);
}

static void id_ok(const char *s)
{
    FUZZ_CHECK(s != NULL);
    size_t chars = utf8_chars(s);
    FUZZ_CHECK(chars >= 1 && chars <= WS_ID_MAX);
    subject_shape_ok(s);
}

/* What the callee's edge would render from this caller's frame. */
static void call_ok(const ws_frame_t *f)
{
    char subj[SUBJECT_MAX];
    FUZZ_CHECK(ws_call_subject(f, subj, sizeof subj) == NT_OK);
    size_t dots = 0;
    for (const char *c = subj; *c; c++) {
        dots += *c == '.';
        FUZZ_CHECK(*c > ' ' && *c < 0x7f && *c != '*' && *c != '>');
    }
    FUZZ_CHECK(dots == 3);
    uint8_t *buf = NULL;
    size_t len = 0;
    FUZZ_CHECK(ws_call_pack(f, &buf, &len) == NT_OK);
    Natter__CallReq *r = natter__call_req__unpack(NULL, len, buf);
    FUZZ_CHECK(r != NULL);
    Natter__CallEvent ev = NATTER__CALL_EVENT__INIT;
    ev.call_id = "c";
    ev.conversation_id = r->conversation_id;
    ev.from = "1";
    ev.media = r->media;
    ev.sdp = r->sdp;
    ev.candidate = r->candidate;
    ev.reason = "hangup";
    ev.op = f->op == WS_OP_CALL_OFFER    ? "call_offer"
            : f->op == WS_OP_CALL_ANSWER ? "call_answer"
            : f->op == WS_OP_CALL_ICE    ? "call_ice"
                                         : "call_hangup";
    char *text = ws_call_event_text(&ev);
    FUZZ_CHECK(text != NULL);
    json_t *o = json_loads(text, 0, NULL);
    FUZZ_CHECK(json_is_object(o));
    if (f->op == WS_OP_CALL_ICE)
        FUZZ_CHECK(json_equal(json_object_get(o, "candidate"),
                              json_object_get(f->root, "candidate")));
    else if (f->op != WS_OP_CALL_HANGUP)
        FUZZ_CHECK(strcmp(json_string_value(json_object_get(o, "sdp")), f->sdp) == 0);
    json_decref(o);
    free(text);
    natter__call_req__free_unpacked(r, NULL);
    free(buf);
}

static void call_id_ok(const char *s)
{
    FUZZ_CHECK(s && strlen(s) >= 1 && strlen(s) <= WS_CALL_ID_MAX && subject_token_ok(s));
}

static void frame_ok(const ws_frame_t *f)
{
    FUZZ_CHECK(f->root != NULL);
    FUZZ_CHECK(!f->rid || utf8_chars(f->rid) <= WS_RID_MAX);
    switch (f->op) {
    case WS_OP_SEND:
        id_ok(f->conversation_id);
        id_ok(f->client_msg_id);
        FUZZ_CHECK(f->type && (!strcmp(f->type, "text") || !strcmp(f->type, "image") ||
                               !strcmp(f->type, "file")));
        FUZZ_CHECK(f->body && utf8_chars(f->body) >= 1 && utf8_chars(f->body) <= MAX_BODY);
        FUZZ_CHECK(f->n_mentions <= WS_MENTIONS_MAX);
        for (size_t i = 0; i < f->n_mentions; i++)
            FUZZ_CHECK(f->mentions[i] && f->mentions[i][0]);
        break;
    case WS_OP_ACK:
    case WS_OP_READ:
        id_ok(f->conversation_id);
        FUZZ_CHECK(f->seq >= 0);
        break;
    case WS_OP_SYNC:
        id_ok(f->conversation_id);
        FUZZ_CHECK(f->after_seq >= 0);
        FUZZ_CHECK(f->limit >= 1 && f->limit <= WS_SYNC_LIMIT_MAX);
        break;
    case WS_OP_TYPING:
        id_ok(f->conversation_id);
        break;
    case WS_OP_PING:
        break;
    case WS_OP_CALL_OFFER:
        id_ok(f->conversation_id);
        FUZZ_CHECK(!strcmp(f->media, "audio") || !strcmp(f->media, "video"));
        FUZZ_CHECK(strlen(f->sdp) >= 1 && strlen(f->sdp) <= WS_SDP_MAX);
        call_ok(f);
        break;
    case WS_OP_CALL_ANSWER:
        call_id_ok(f->call_id);
        FUZZ_CHECK(strlen(f->sdp) >= 1 && strlen(f->sdp) <= WS_SDP_MAX);
        call_ok(f);
        break;
    case WS_OP_CALL_ICE:
        call_id_ok(f->call_id);
        FUZZ_CHECK(f->candidate && strlen(f->candidate) <= WS_CANDIDATE_MAX);
        FUZZ_CHECK(json_is_object(json_object_get(f->root, "candidate")));
        call_ok(f);
        break;
    case WS_OP_CALL_HANGUP:
        call_id_ok(f->call_id);
        call_ok(f);
        break;
    default:
        FUZZ_CHECK(!"unknown op accepted");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    ws_frame_t f;
    const char *code = NULL;
    char msg[160], rid[WS_RID_MAX * 4 + 1];
    fuzz_quiet();
    memset(msg, 'x', sizeof msg);
    int rc = ws_frame_parse((const char *)data, n, MAX_BODY, &f, &code, msg, sizeof msg, rid,
                            sizeof rid);
    FUZZ_CHECK(rc == NT_OK || rc == NT_EINVAL);
    if (rc == NT_OK) {
        frame_ok(&f);
        ws_frame_fini(&f);
        FUZZ_CHECK(f.root == NULL);
        return 0;
    }
    FUZZ_CHECK(f.root == NULL);
    FUZZ_CHECK(code && strcmp(code, "bad_request") == 0);
    FUZZ_CHECK(strnlen(msg, sizeof msg) < sizeof msg);
    FUZZ_CHECK(fuzz_utf8_ok(msg, strlen(msg)));
    FUZZ_CHECK(strnlen(rid, sizeof rid) < sizeof rid);
    FUZZ_CHECK(fuzz_utf8_ok(rid, strlen(rid)));
    char *e = ws_frame_error(rid, code, msg);
    FUZZ_CHECK(e != NULL);
    json_t *back = json_loads(e, 0, NULL);
    FUZZ_CHECK(json_is_object(back));
    json_decref(back);
    free(e);
    return 0;
}
