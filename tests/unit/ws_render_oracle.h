/*
 * ws_render_oracle.h - what edge-ws sent before ws_render.c: the jansson
 * tree (json_pack of msg_json, then "rid", json_dumps JSON_COMPACT), NULL
 * where json_pack refused.  The reference test_ws_render.c and
 * fuzz_ws_render.c hold ws_render_message to, byte for byte.
 */
#ifndef NT_WS_RENDER_ORACLE_H
#define NT_WS_RENDER_ORACLE_H

#include "edge/msg_json.h"

#include <jansson.h>

static inline char *ws_render_oracle(const char *op, const Natter__Message *m, const char *rid)
{
    json_t *o = json_pack("{s:s, s:o}", "op", op, "message", msg_json(m));
    if (!o)
        return NULL;
    if (rid && *rid)
        json_object_set_new(o, "rid", json_string(rid));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

#endif
