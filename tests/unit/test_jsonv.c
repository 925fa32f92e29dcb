/*
 * test_jsonv.c - client JSON validation (common/jsonv.c).
 *
 * Every error path with its exact message, since the messages are what a
 * client developer reads in a 400.
 */
#include "common/err.h"
#include "common/jsonv.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#define ERRLEN 128

static json_t *parse_ok(const char *s)
{
    json_t *o = NULL;
    char err[ERRLEN] = "";
    cr_assert_eq(jsonv_parse_object(s, strlen(s), &o, err, sizeof err), 0, "%s: %s", s, err);
    cr_assert(json_is_object(o));
    return o;
}

static void parse_fails(const char *buf, size_t len, const char *msg)
{
    json_t *o = (json_t *)1;
    char err[ERRLEN] = "";
    cr_expect_eq(jsonv_parse_object(buf, len, &o, err, sizeof err), NT_EINVAL, "accepted %.*s",
                 (int)len, buf);
    cr_expect_null(o);
    cr_expect_str_eq(err, msg, "for %.*s", (int)len, buf);
}

#define PARSE_FAILS(lit, msg) parse_fails(lit, sizeof(lit) - 1, msg)

/* --- jsonv_parse_object ---------------------------------------------------- */

Test(jsonv, parse_object_ok)
{
    json_t *o = parse_ok("{\"a\":1,\"b\":\"x\"}");
    cr_expect_eq(json_object_size(o), 2);
    json_decref(o);
    o = parse_ok("  {}  \n");
    json_decref(o);
    /* len is honoured: no NUL terminator needed. */
    const char buf[] = {'{', '}', 'X', 'Y'};
    json_t *p = NULL;
    char err[ERRLEN];
    cr_expect_eq(jsonv_parse_object(buf, 2, &p, err, sizeof err), 0);
    json_decref(p);
}

Test(jsonv, parse_not_json)
{
    PARSE_FAILS("", "body is not valid JSON");
    PARSE_FAILS("   ", "body is not valid JSON");
    PARSE_FAILS("{", "body is not valid JSON");
    PARSE_FAILS("{\"a\":}", "body is not valid JSON");
    PARSE_FAILS("{'a':1}", "body is not valid JSON");
    PARSE_FAILS("{\"a\":1,}", "body is not valid JSON");
    PARSE_FAILS("{\"a\":1} {\"b\":2}", "body is not valid JSON");
    PARSE_FAILS("{\"a\":1}x", "body is not valid JSON");
    PARSE_FAILS("{\"a\":NaN}", "body is not valid JSON");
    /* NUL: escaped, raw inside a string, raw after the object. */
    PARSE_FAILS("{\"a\":\"x\\u0000y\"}", "body is not valid JSON");
    PARSE_FAILS("{\"a\\u0000\":1}", "body is not valid JSON");
    PARSE_FAILS("{\"a\":\"x\0y\"}", "body is not valid JSON");
    PARSE_FAILS("{\"a\":1}\0", "body is not valid JSON");
    /* Invalid UTF-8: stray continuation, overlong, truncated, surrogate. */
    PARSE_FAILS("{\"a\":\"\x80\"}", "body is not valid JSON");
    PARSE_FAILS("{\"a\":\"\xc0\xaf\"}", "body is not valid JSON");
    PARSE_FAILS("{\"a\":\"\xe2\x82\"}", "body is not valid JSON");
    PARSE_FAILS("{\"a\":\"\xed\xa0\x80\"}", "body is not valid JSON");
    PARSE_FAILS("{\"\xff\":1}", "body is not valid JSON");
    PARSE_FAILS("{\"a\":\"\\ud800\"}", "body is not valid JSON");
    /* NULL buffer. */
    parse_fails(NULL, 0, "body is not valid JSON");
}

Test(jsonv, parse_duplicate_keys)
{
    PARSE_FAILS("{\"a\":1,\"a\":2}", "body has a duplicate field");
    PARSE_FAILS("{\"a\":1,\"b\":{\"c\":1,\"c\":1}}", "body has a duplicate field");
    /* Same key after escape decoding is still the same key. */
    PARSE_FAILS("{\"a\":1,\"\\u0061\":2}", "body has a duplicate field");
}

Test(jsonv, parse_top_level_not_object)
{
    PARSE_FAILS("[]", "body must be a JSON object");
    PARSE_FAILS("[{\"a\":1}]", "body must be a JSON object");
    PARSE_FAILS("42", "body must be a JSON object");
    PARSE_FAILS("1.5", "body must be a JSON object");
    PARSE_FAILS("\"str\"", "body must be a JSON object");
    PARSE_FAILS("true", "body must be a JSON object");
    PARSE_FAILS("null", "body must be a JSON object");
}

Test(jsonv, parse_err_may_be_null)
{
    json_t *o = NULL;
    cr_expect_eq(jsonv_parse_object("[", 1, &o, NULL, 0), NT_EINVAL);
    cr_expect_eq(jsonv_parse_object("{}", 2, NULL, NULL, 0), NT_EINVAL);
}

/* --- utf8_chars -------------------------------------------------------------- */

Test(jsonv, utf8_counting)
{
    cr_expect_eq(utf8_chars(""), 0);
    cr_expect_eq(utf8_chars(NULL), 0);
    cr_expect_eq(utf8_chars("abc"), 3);
    cr_expect_eq(utf8_chars("h\xc3\xa9llo"), 5);               /* é: 2 bytes */
    cr_expect_eq(utf8_chars("\xe4\xbd\xa0\xe5\xa5\xbd"), 2);     /* 你好: 3 bytes each */
    cr_expect_eq(utf8_chars("\xf0\x9f\x98\x80!"), 2);            /* 😀: 4 bytes */
    cr_expect_eq(utf8_chars("a\xc3\xa9\xe4\xbd\xa0\xf0\x9f\x98\x80"), 4);
}

/* --- jsonv_str --------------------------------------------------------------- */

Test(jsonv, str_ok_and_optional)
{
    json_t *o = parse_ok("{\"username\":\"alice\",\"bio\":\"\"}");
    const char *s = NULL;
    char err[ERRLEN] = "";
    cr_expect_eq(jsonv_str(o, "username", 1, 3, 32, &s, err, sizeof err), 0);
    cr_expect_str_eq(s, "alice");
    cr_expect_eq(jsonv_str(o, "bio", 0, 0, 10, &s, err, sizeof err), 0);
    cr_expect_str_eq(s, "");
    s = "sentinel";
    cr_expect_eq(jsonv_str(o, "display_name", 0, 1, 64, &s, err, sizeof err), 0);
    cr_expect_null(s, "missing optional gives NULL");
    cr_expect_str_eq(err, "", "no message on success");
    json_decref(o);
}

static void str_fails(json_t *o, const char *key, int req, size_t mn, size_t mx, const char *msg)
{
    const char *s = "sentinel";
    char err[ERRLEN] = "";
    cr_expect_eq(jsonv_str(o, key, req, mn, mx, &s, err, sizeof err), NT_EINVAL, "key %s", key);
    cr_expect_null(s);
    cr_expect_str_eq(err, msg);
}

Test(jsonv, str_errors)
{
    json_t *o = parse_ok("{\"n\":5,\"f\":1.5,\"b\":true,\"z\":null,\"a\":[\"x\"],\"o\":{},"
                         "\"short\":\"ab\",\"long\":\"abcdefghijk\"}");
    str_fails(o, "username", 1, 3, 32, "username is required");
    str_fails(o, "n", 1, 0, 10, "n must be a string");
    str_fails(o, "f", 0, 0, 10, "f must be a string");
    str_fails(o, "b", 0, 0, 10, "b must be a string");
    str_fails(o, "z", 0, 0, 10, "z must be a string");
    str_fails(o, "a", 0, 0, 10, "a must be a string");
    str_fails(o, "o", 0, 0, 10, "o must be a string");
    str_fails(o, "short", 1, 3, 32, "short must be 3-32 characters");
    str_fails(o, "long", 1, 3, 10, "long must be 3-10 characters");
    json_decref(o);

    json_t *arr = json_array();
    str_fails(arr, "x", 1, 0, 1, "body must be a JSON object");
    str_fails(NULL, "x", 1, 0, 1, "body must be a JSON object");
    json_decref(arr);
}

Test(jsonv, str_length_counts_code_points)
{
    /* "héllo" is 6 bytes, 5 characters; "你好世" is 9 bytes, 3 characters;
     * "😀😀" is 8 bytes, 2 characters. */
    json_t *o = parse_ok("{\"a\":\"h\xc3\xa9llo\",\"b\":\"\xe4\xbd\xa0\xe5\xa5\xbd\xe4\xb8\x96\","
                         "\"c\":\"\xf0\x9f\x98\x80\xf0\x9f\x98\x80\",\"d\":\"\\u00e9\\u00e9\"}");
    const char *s;
    char err[ERRLEN];
    cr_expect_eq(jsonv_str(o, "a", 1, 5, 5, &s, err, sizeof err), 0);
    cr_expect_eq(jsonv_str(o, "b", 1, 3, 3, &s, err, sizeof err), 0);
    cr_expect_eq(jsonv_str(o, "c", 1, 2, 2, &s, err, sizeof err), 0);
    cr_expect_eq(jsonv_str(o, "d", 1, 2, 2, &s, err, sizeof err), 0, "escapes decode first");
    cr_expect_str_eq(s, "\xc3\xa9\xc3\xa9");
    str_fails(o, "b", 1, 4, 8, "b must be 4-8 characters");
    str_fails(o, "b", 1, 0, 2, "b must be 0-2 characters");
    str_fails(o, "c", 1, 3, 8, "c must be 3-8 characters");
    json_decref(o);
}

Test(jsonv, str_with_nul_refused)
{
    /* Parsing never yields one, but objects built in code can. */
    json_t *o = json_object();
    json_object_set_new(o, "k", json_stringn("a\0b", 3));
    str_fails(o, "k", 1, 0, 10, "k must not contain NUL");
    json_decref(o);
}

Test(jsonv, str_bad_call)
{
    json_t *o = parse_ok("{}");
    char err[ERRLEN];
    cr_expect_eq(jsonv_str(o, "k", 1, 0, 1, NULL, err, sizeof err), NT_EINVAL);
    const char *s;
    cr_expect_eq(jsonv_str(o, NULL, 1, 0, 1, &s, err, sizeof err), NT_EINVAL);
    cr_expect_eq(jsonv_str(o, "k", 1, 0, 1, &s, NULL, 0), NT_EINVAL, "err may be NULL");
    json_decref(o);
}

/* --- jsonv_int ----------------------------------------------------------------- */

Test(jsonv, int_ok_bounds_and_optional)
{
    json_t *o = parse_ok("{\"limit\":100,\"lo\":1,\"neg\":-5,\"zero\":0,"
                         "\"big\":9223372036854775807,\"small\":-9223372036854775808}");
    int64_t v = -1;
    char err[ERRLEN] = "";
    cr_expect_eq(jsonv_int(o, "limit", 1, 1, 100, &v, err, sizeof err), 0);
    cr_expect_eq(v, 100);
    cr_expect_eq(jsonv_int(o, "lo", 1, 1, 100, &v, err, sizeof err), 0);
    cr_expect_eq(v, 1);
    cr_expect_eq(jsonv_int(o, "neg", 1, -10, 10, &v, err, sizeof err), 0);
    cr_expect_eq(v, -5);
    cr_expect_eq(jsonv_int(o, "big", 1, INT64_MIN, INT64_MAX, &v, err, sizeof err), 0);
    cr_expect_eq(v, INT64_MAX);
    cr_expect_eq(jsonv_int(o, "small", 1, INT64_MIN, INT64_MAX, &v, err, sizeof err), 0);
    cr_expect_eq(v, INT64_MIN);
    v = 50;
    cr_expect_eq(jsonv_int(o, "absent", 0, 1, 100, &v, err, sizeof err), 0);
    cr_expect_eq(v, 50, "missing optional leaves the default");
    json_decref(o);
}

static void int_fails(json_t *o, const char *key, int req, int64_t mn, int64_t mx, const char *msg)
{
    int64_t v = 77;
    char err[ERRLEN] = "";
    cr_expect_eq(jsonv_int(o, key, req, mn, mx, &v, err, sizeof err), NT_EINVAL, "key %s", key);
    cr_expect_eq(v, 77, "out untouched on error");
    cr_expect_str_eq(err, msg);
}

Test(jsonv, int_errors)
{
    json_t *o = parse_ok("{\"real\":1.0,\"real2\":1e2,\"str\":\"5\",\"b\":false,\"z\":null,"
                         "\"a\":[1],\"limit\":101,\"neg\":-1}");
    int_fails(o, "seq", 1, 0, 10, "seq is required");
    int_fails(o, "real", 1, 0, 10, "real must be an integer");
    int_fails(o, "real2", 0, 0, 1000, "real2 must be an integer");
    int_fails(o, "str", 1, 0, 10, "str must be an integer");
    int_fails(o, "b", 1, 0, 10, "b must be an integer");
    int_fails(o, "z", 0, 0, 10, "z must be an integer");
    int_fails(o, "a", 0, 0, 10, "a must be an integer");
    int_fails(o, "limit", 1, 1, 100, "limit must be between 1 and 100");
    int_fails(o, "neg", 1, 0, INT64_MAX, "neg must be between 0 and 9223372036854775807");
    json_decref(o);
    int_fails(NULL, "x", 1, 0, 1, "body must be a JSON object");
}

Test(jsonv, int_too_big_for_int64_is_not_json_we_accept)
{
    /* jansson refuses integers past int64 at parse time. */
    PARSE_FAILS("{\"n\":9223372036854775808}", "body is not valid JSON");
}

/* --- jsonv_unknown_keys ------------------------------------------------------------ */

static const char *const login_fields[] = {"username", "password", "device_id", "platform", NULL};

Test(jsonv, unknown_keys_ok)
{
    char err[ERRLEN] = "";
    json_t *o = parse_ok("{\"username\":\"a\",\"password\":\"b\"}");
    cr_expect_eq(jsonv_unknown_keys(o, login_fields, err, sizeof err), 0);
    json_decref(o);
    o = parse_ok("{}");
    cr_expect_eq(jsonv_unknown_keys(o, login_fields, err, sizeof err), 0);
    json_decref(o);
}

static void unknown_fails(const char *body, const char *msg)
{
    char err[ERRLEN] = "";
    json_t *o = parse_ok(body);
    cr_expect_eq(jsonv_unknown_keys(o, login_fields, err, sizeof err), NT_EINVAL, "%s", body);
    cr_expect_str_eq(err, msg);
    json_decref(o);
}

Test(jsonv, unknown_keys_errors)
{
    unknown_fails("{\"username\":\"a\",\"admin\":true}", "unknown field admin");
    unknown_fails("{\"Username\":\"a\"}", "unknown field Username");
    unknown_fails("{\"\":1}", "unknown field ");
    /* Control characters are not echoed as such. */
    unknown_fails("{\"a\\nb\\u001b\":1}", "unknown field a?b?");
    /* Multibyte keys are echoed whole. */
    unknown_fails("{\"n\xc3\xa4me\":1}", "unknown field n\xc3\xa4me");
    /* Long keys are truncated (48 bytes) with "...". */
    unknown_fails("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}",
                  "unknown field aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...");
    /* ... and never in the middle of a character: 47 ASCII bytes then é. */
    unknown_fails("{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\xc3\xa9z\":1}",
                  "unknown field aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...");

    char err[ERRLEN];
    json_t *arr = json_array();
    cr_expect_eq(jsonv_unknown_keys(arr, login_fields, err, sizeof err), NT_EINVAL);
    cr_expect_str_eq(err, "body must be a JSON object");
    cr_expect_eq(jsonv_unknown_keys(NULL, login_fields, err, sizeof err), NT_EINVAL);
    json_t *o = parse_ok("{}");
    cr_expect_eq(jsonv_unknown_keys(o, NULL, err, sizeof err), NT_EINVAL);
    json_decref(o);
    json_decref(arr);
}

/* --- messages stay valid UTF-8 when err is small ------------------------------------ */

Test(jsonv, truncated_message_is_valid_utf8)
{
    /* "unknown field " is 14 bytes; with errlen 16 only 15 fit: the first
     * byte of the 2-byte é would be cut in half, so it is dropped. */
    json_t *o = parse_ok("{\"\xc3\xa9t\xc3\xa9\":1}");
    char err[16];
    cr_expect_eq(jsonv_unknown_keys(o, login_fields, err, sizeof err), NT_EINVAL);
    cr_expect_str_eq(err, "unknown field ");
    char err2[17];
    cr_expect_eq(jsonv_unknown_keys(o, login_fields, err2, sizeof err2), NT_EINVAL);
    cr_expect_str_eq(err2, "unknown field \xc3\xa9");
    /* And the message round-trips through jansson. */
    json_t *m = json_string(err);
    cr_expect_not_null(m);
    json_decref(m);
    json_decref(o);

    /* A 4-byte character cut after 1, 2 or 3 of its bytes. */
    o = parse_ok("{\"\xf0\x9f\x98\x80\":1}");
    for (size_t n = 15; n <= 19; n++) {
        char e[19];
        cr_expect_eq(jsonv_unknown_keys(o, login_fields, e, n), NT_EINVAL);
        cr_expect_str_eq(e, n == 19 ? "unknown field \xf0\x9f\x98\x80" : "unknown field ",
                         "errlen %zu", n);
        json_t *s = json_string(e);
        cr_expect_not_null(s, "errlen %zu gave invalid UTF-8", n);
        json_decref(s);
    }
    json_decref(o);
}
