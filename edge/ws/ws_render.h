/*
 * ws_render.h - the two frames edge-ws writes most, {"op":"message"} (a
 * push) and {"op":"sent"} (a send's reply), written straight from the
 * protobuf message into a reusable buffer.  Pure; unit-tested against
 * jansson's output (tests/unit/test_ws_render.c).
 */
#ifndef NT_WS_RENDER_H
#define NT_WS_RENDER_H

#include "proto/natter.pb-c.h"

#include <stddef.h>

/* A text buffer that grows and is reused: reset len, write, read p. */
typedef struct ws_buf {
    char *p;
    size_t len, cap;
} ws_buf_t;

void ws_buf_free(ws_buf_t *b);

/* {"op":<op>,"message":<m as msg_json renders it>[,"rid":<rid>]} into b
 * (NUL-terminated), byte for byte what json_dumps(JSON_COMPACT) of the
 * jansson tree the edge built before makes.  rid NULL or "": none.
 * NT_EINVAL where json_pack refused (a string that is not UTF-8: the frame
 * is not sent, as before), NT_ENOMEM. */
int ws_render_message(ws_buf_t *b, const char *op, const Natter__Message *m, const char *rid);

#endif
