/*
 * jsonv.c - client JSON validation with human 400 messages (see jsonv.h).
 *
 * One place decides what "a valid field" means, so every endpoint answers a
 * bad body the same way.  Messages may echo a client's key; that echo is
 * truncated and stripped of control bytes, and every message is cut at a
 * UTF-8 character boundary, because the edge puts it back into a jansson
 * string and jansson refuses invalid UTF-8.
 */
#include "common/jsonv.h"

#include "common/err.h"
#include "common/json_depth.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Longest client-supplied key echoed back in a message, in bytes. */
#define ECHO_MAX 48

/* Cut s so it does not end inside a multi-byte UTF-8 sequence. */
static void utf8_trim_tail(char *s)
{
    size_t len = strlen(s), i = len, back = 0;
    while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0) {
        s[0] = '\0'; /* nothing but continuation bytes: no valid prefix */
        return;
    }
    unsigned char lead = (unsigned char)s[i - 1];
    size_t need = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (need > back + 1)
        s[i - 1] = '\0';
}

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        if (n < 0)
            err[0] = '\0';
        else if ((size_t)n >= errlen)
            utf8_trim_tail(err);
    }
    return NT_EINVAL;
}

size_t utf8_chars(const char *s)
{
    size_t n = 0;
    if (!s)
        return 0;
    for (; *s; s++)
        if (((unsigned char)*s & 0xC0) != 0x80)
            n++;
    return n;
}

int jsonv_parse_object(const char *buf, size_t len, json_t **out, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root;

    if (!out)
        return fail(err, errlen, "internal: no output");
    *out = NULL;
    if (!buf || len == 0)
        return fail(err, errlen, "body is not valid JSON");
    /* No JSON_ALLOW_NUL: "\u0000" is refused, as is a raw NUL byte.
     * JSON_DECODE_ANY so that 42 or "x" is told "must be a JSON object"
     * rather than "not valid JSON". */
    root = json_depth_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, JSON_DEPTH_MAX,
                            &jerr);
    if (!root) {
        if (json_error_code(&jerr) == json_error_stack_overflow)
            return fail(err, errlen, "body is nested more than %d levels deep", JSON_DEPTH_MAX);
        if (json_error_code(&jerr) == json_error_duplicate_key)
            return fail(err, errlen, "body has a duplicate field");
        return fail(err, errlen, "body is not valid JSON");
    }
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(err, errlen, "body must be a JSON object");
    }
    *out = root;
    return 0;
}

int jsonv_str(json_t *obj, const char *key, int required, size_t min_chars, size_t max_chars,
              const char **out, char *err, size_t errlen)
{
    if (!out || !key)
        return fail(err, errlen, "internal: bad field check");
    *out = NULL;
    if (!json_is_object(obj))
        return fail(err, errlen, "body must be a JSON object");

    json_t *v = json_object_get(obj, key);
    if (!v)
        return required ? fail(err, errlen, "%s is required", key) : 0;
    if (!json_is_string(v))
        return fail(err, errlen, "%s must be a string", key);
    const char *s = json_string_value(v);
    size_t bytes = json_string_length(v);
    /* Only possible for values built with json_stringn, but C callers would
     * silently see a shorter string. */
    if (memchr(s, '\0', bytes))
        return fail(err, errlen, "%s must not contain NUL", key);
    size_t chars = utf8_chars(s);
    if (chars < min_chars || chars > max_chars)
        return fail(err, errlen, "%s must be %zu-%zu characters", key, min_chars, max_chars);
    *out = s;
    return 0;
}

int jsonv_int(json_t *obj, const char *key, int required, int64_t min, int64_t max,
              int64_t *out, char *err, size_t errlen)
{
    if (!out || !key)
        return fail(err, errlen, "internal: bad field check");
    if (!json_is_object(obj))
        return fail(err, errlen, "body must be a JSON object");

    json_t *v = json_object_get(obj, key);
    if (!v)
        return required ? fail(err, errlen, "%s is required", key) : 0;
    if (!json_is_integer(v))
        return fail(err, errlen, "%s must be an integer", key);
    int64_t x = (int64_t)json_integer_value(v);
    if (x < min || x > max)
        return fail(err, errlen, "%s must be between %" PRId64 " and %" PRId64, key, min, max);
    *out = x;
    return 0;
}

/* A printable, bounded copy of a client's key for a message. */
static void echo_key(const char *k, char dst[static ECHO_MAX + 4])
{
    size_t o = 0;
    const char *p = k;
    while (*p) {
        /* Length of the next character; a broken sequence counts as one
         * byte (jansson validated k, so this is only defensive).  The scan
         * stops at the NUL, which is not a continuation byte. */
        unsigned char c = (unsigned char)*p;
        size_t cl = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        for (size_t i = 1; i < cl; i++)
            if (((unsigned char)p[i] & 0xC0) != 0x80) {
                cl = 1;
                break;
            }
        if (o + cl > ECHO_MAX)
            break;
        if (cl == 1 && (c < 0x20 || c >= 0x7F))
            dst[o++] = '?';
        else
            for (size_t i = 0; i < cl; i++)
                dst[o++] = p[i];
        p += cl;
    }
    if (*p) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

int jsonv_unknown_keys(json_t *obj, const char *const *allowed, char *err, size_t errlen)
{
    const char *k;
    json_t *v;

    if (!allowed)
        return fail(err, errlen, "internal: bad field check");
    if (!json_is_object(obj))
        return fail(err, errlen, "body must be a JSON object");
    json_object_foreach(obj, k, v) {
        (void)v;
        int found = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, k) == 0) {
                found = 1;
                break;
            }
        if (!found) {
            char shown[ECHO_MAX + 4];
            echo_key(k, shown);
            return fail(err, errlen, "unknown field %s", shown);
        }
    }
    return 0;
}
