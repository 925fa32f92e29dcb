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
 */
#include "fuzz_common.h"

#include "bus/subject.h"
#include "common/err.h"
#include "common/jsonv.h"
#include "edge/ws/ws_frames.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define MAX_BODY 4000 /* ws.max_frame's default is 16 KiB; body chars are less */

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
