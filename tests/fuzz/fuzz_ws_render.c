/*
 * fuzz_ws_render.c - a push as it comes off the bus (a natter.Push, any
 * bytes: a pool's bug or a forged publish) through ws_render.c, the way
 * ws_push_deliver renders a message push and ws_requests a sent reply.
 *
 * Properties (ws_render.h): the frame is byte for byte what the jansson
 * tree the edge used before dumps (json_pack of msg_json, then the rid,
 * json_dumps JSON_COMPACT), or NT_EINVAL exactly where json_pack refused;
 * what it writes parses as JSON.  The rid is the push's kind field, so it
 * gets arbitrary bytes too.
 */
#include "fuzz_common.h"

#include "common/err.h"
#include "edge/ws/ws_render.h"
#include "tests/unit/ws_render_oracle.h"
#include "proto/natter.pb-c.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static ws_buf_t b;      /* reused across inputs, as the edge reuses it */
    Natter__Push *p = natter__push__unpack(NULL, size, data);
    if (!p)
        return 0;
    if (p->message) {
        const char *rid = p->kind;
        for (int sent = 0; sent < 2; sent++) {
            const char *op = sent ? "sent" : "message";
            const char *r = sent ? rid : NULL;
            char *want = ws_render_oracle(op, p->message, r);
            int rc = ws_render_message(&b, op, p->message, r);
            if (!want) {
                FUZZ_CHECK(rc == NT_EINVAL);
            } else {
                FUZZ_CHECK(rc == NT_OK);
                FUZZ_CHECK(b.len == strlen(want) && strcmp(b.p, want) == 0);
                json_t *back = json_loads(b.p, 0, NULL);
                FUZZ_CHECK(back != NULL);
                json_decref(back);
            }
            free(want);
        }
    }
    natter__push__free_unpacked(p, NULL);
    return 0;
}
