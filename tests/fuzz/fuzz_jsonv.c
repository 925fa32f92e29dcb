/*
 * fuzz_jsonv.c - REST request bodies: any bytes through what every JSON
 * route does with its body (http_body_object -> jsonv_parse_object, then
 * jsonv_str / jsonv_int / mentions_from_json per field), on a thread with
 * a civetweb worker's stack, as edge-http runs it.
 *
 * Properties (jsonv.h): results are 0 or NT_EINVAL, a parsed top level is
 * an object, a string accepted with bounds has that many code points, and
 * every message is NUL-terminated valid UTF-8 that fits its buffer (the edge
 * puts it into a jansson string for the 400 body: jansson would refuse it).
 */
#include "fuzz_common.h"

#include "common/err.h"
#include "common/jsonv.h"
#include "edge/msg_json.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Every field a JSON route or frame reads (API.md), and some that none do. */
static const char *const keys[] = {
    "username", "password", "display_name", "device_id", "refresh_token", "old_password",
    "new_password", "avatar_url", "bio", "type", "name", "user_ids", "member_ids",
    "conversation_id", "client_msg_id", "body", "mentions", "seq", "user_id", "role",
    "to_id", "message", "request_id", "action", "file_id", "op", "rid", NULL,
};

static void check_msg(const char *err, size_t errlen)
{
    size_t len = strnlen(err, errlen);
    FUZZ_CHECK(len < errlen);
    FUZZ_CHECK(fuzz_utf8_ok(err, len));
}

static void fields(json_t *obj, const char *key, size_t errlen)
{
    char err[160];
    const char *s = NULL;
    int64_t v = -7;
    size_t lo = (size_t)(strlen(key) % 3), hi = 1 + strlen(key) * 4;
    memset(err, 'x', sizeof err);
    int rc = jsonv_str(obj, key, (int)(hi & 1), lo, hi, &s, err, errlen);
    FUZZ_CHECK(rc == NT_OK || rc == NT_EINVAL);
    if (rc == NT_OK && s) {
        size_t chars = utf8_chars(s);
        FUZZ_CHECK(chars >= lo && chars <= hi);
        FUZZ_CHECK(fuzz_utf8_ok(s, strlen(s)));
    }
    if (rc != NT_OK && errlen)
        check_msg(err, errlen);
    rc = jsonv_int(obj, key, (int)(lo & 1), -5, 1000000, &v, err, errlen);
    FUZZ_CHECK(rc == NT_OK || rc == NT_EINVAL);
    FUZZ_CHECK(rc != NT_OK || v == -7 || (v >= -5 && v <= 1000000));
    if (rc != NT_OK && errlen)
        check_msg(err, errlen);
}

struct input {
    const uint8_t *data;
    size_t n;
};

static void body(void *p)
{
    const struct input *in = p;
    json_t *obj = NULL;
    char err[160];
    /* The edge's own buffer size, and a small one that cuts messages. */
    size_t errlen = in->n && (in->data[0] & 1) ? 7 : sizeof err;
    int rc = jsonv_parse_object((const char *)in->data, in->n, &obj, err, errlen);
    FUZZ_CHECK(rc == NT_OK || rc == NT_EINVAL);
    if (rc != NT_OK) {
        FUZZ_CHECK(obj == NULL);
        check_msg(err, errlen);
        return;
    }
    FUZZ_CHECK(json_is_object(obj));
    for (size_t i = 0; keys[i]; i++)
        fields(obj, keys[i], errlen);
    const char *k;
    json_t *v;
    json_object_foreach(obj, k, v) {
        (void)v;
        FUZZ_CHECK(fuzz_utf8_ok(k, strlen(k)));
        fields(obj, k, errlen);
    }
    const char *ids[MSG_JSON_MENTIONS_MAX];
    size_t nids = 0;
    if (mentions_from_json(obj, ids, MSG_JSON_MENTIONS_MAX, &nids, err, errlen) == NT_OK) {
        FUZZ_CHECK(nids <= MSG_JSON_MENTIONS_MAX);
        for (size_t i = 0; i < nids; i++)
            FUZZ_CHECK(ids[i] && ids[i][0] && strlen(ids[i]) <= 32);
    } else {
        check_msg(err, errlen);
    }
    rc = jsonv_unknown_keys(obj, keys, err, errlen);
    if (rc != NT_OK)
        check_msg(err, errlen);
    json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    struct input in = {data, n};
    fuzz_quiet();
    fuzz_on_worker_stack(body, &in);
    return 0;
}
