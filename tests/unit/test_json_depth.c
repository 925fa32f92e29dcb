/*
 * test_json_depth.c - the nesting scan in front of jansson
 * (common/json_depth.c), and jsonv_parse_object's use of it.
 *
 * The crash this guards against (issue 11) only shows on a small stack,
 * so the "deep input" cases run on a thread with a 128 KiB stack, smaller
 * than jansson needs for the inputs used: without the scan they would
 * overflow it and kill the test program.
 */
#include "common/err.h"
#include "common/json_depth.h"
#include "common/jsonv.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define SMALL_STACK (128 * 1024)

static size_t depth_of(const char *s)
{
    return json_depth(s, strlen(s), 1000);
}

Test(json_depth, scalars_and_flat)
{
    cr_expect_eq(depth_of(""), 0);
    cr_expect_eq(depth_of("42"), 0);
    cr_expect_eq(depth_of("\"x\""), 0);
    cr_expect_eq(depth_of("[]"), 1);
    cr_expect_eq(depth_of("{}"), 1);
    cr_expect_eq(depth_of("{\"a\":1,\"b\":[1,2],\"c\":{}}"), 2);
    cr_expect_eq(depth_of("[[],[],[]]"), 2, "siblings do not add up");
    cr_expect_eq(depth_of("[[[1]],[2]]"), 3);
    cr_expect_eq(json_depth(NULL, 5, 10), 0);
}

Test(json_depth, brackets_in_strings_do_not_count)
{
    cr_expect_eq(depth_of("[\"[[[[{{{{\"]"), 1);
    cr_expect_eq(depth_of("{\"[[[\":\"]]]\"}"), 1);
    /* An escaped quote does not end the string... */
    cr_expect_eq(depth_of("[\"\\\"[[[[\"]"), 1);
    /* ...and an escaped backslash does not escape the quote after it. */
    cr_expect_eq(depth_of("[\"\\\\\",[[1]]]"), 3);
    cr_expect_eq(depth_of("[\"\\u005b[[\"]"), 1);
}

Test(json_depth, malformed_input_is_not_its_business)
{
    /* Closers without openers never make the count negative (then
     * "]]]][[[[" would look shallow). */
    cr_expect_eq(depth_of("]]]][[[["), 4);
    cr_expect_eq(depth_of("[[[["), 4, "unclosed counts as deep");
    cr_expect_eq(depth_of("[\"unterminated [[[["), 1);
    /* A NUL byte is just a byte: the length decides. */
    cr_expect_eq(json_depth("[\0[[", 4, 10), 3);
    /* A trailing backslash in a string must not read past the end. */
    cr_expect_eq(json_depth("[\"\\", 3, 10), 1);
}

Test(json_depth, stops_early)
{
    size_t n = 1 << 20;
    char *s = malloc(n);
    cr_assert_not_null(s);
    memset(s, '[', n);
    cr_expect_eq(json_depth(s, n, 64), 65);
    cr_expect_eq(json_depth(s, 64, 64), 64);
    free(s);
}

Test(json_depth, loadb_limit_is_inclusive)
{
    char buf[256];
    json_error_t e;
    for (int d = 63; d <= 65; d++) {
        memset(buf, '[', (size_t)d);
        memset(buf + d, ']', (size_t)d);
        json_t *j = json_depth_loadb(buf, (size_t)d * 2, 0, JSON_DEPTH_MAX, &e);
        if (d <= JSON_DEPTH_MAX) {
            cr_expect_not_null(j, "depth %d: %s", d, e.text);
        } else {
            cr_expect_null(j, "depth %d accepted", d);
            cr_expect_eq(json_error_code(&e), json_error_stack_overflow);
            cr_expect_str_eq(e.text, "nested more than 64 levels deep");
        }
        json_decref(j);
    }
    /* Not deep: jansson's own errors come through. */
    cr_expect_null(json_depth_loadb("[1,", 3, 0, JSON_DEPTH_MAX, &e));
    cr_expect_neq(json_error_code(&e), json_error_stack_overflow);
    cr_expect_null(json_depth_loadb("[[1]]", 5, 0, 1, NULL), "NULL err is allowed");
}

/* --- deep input on a small stack ----------------------------------------- */

struct deep {
    size_t levels;
    char open;
    int rc;
    char err[128];
};

static void *parse_deep(void *arg)
{
    struct deep *d = arg;
    size_t n = d->levels * 5 + 2;
    char *s = malloc(n);
    if (!s)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < d->levels; i++) {
        if (d->open == '{' && i > 0) /* {"a":{"a":{... */
            memcpy(s + o, "\"a\":", 4), o += 4;
        s[o++] = d->open;
    }
    json_t *j = NULL;
    d->rc = jsonv_parse_object(s, o, &j, d->err, sizeof d->err);
    json_decref(j);
    free(s);
    return NULL;
}

static void run_small(struct deep *d)
{
    pthread_attr_t a;
    pthread_t t;
    cr_assert_eq(pthread_attr_init(&a), 0);
    cr_assert_eq(pthread_attr_setstacksize(&a, SMALL_STACK), 0);
    cr_assert_eq(pthread_create(&t, &a, parse_deep, d), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&a);
}

Test(json_depth, jsonv_refuses_deep_bodies_on_a_small_stack)
{
    size_t levels[] = {65, 1000, 5000, 100000};
    for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
        struct deep d = {.levels = levels[i], .open = '['};
        run_small(&d);
        cr_expect_eq(d.rc, NT_EINVAL, "%zu levels", levels[i]);
        cr_expect_str_eq(d.err, "body is nested more than 64 levels deep");
        d = (struct deep){.levels = levels[i], .open = '{'};
        run_small(&d);
        cr_expect_eq(d.rc, NT_EINVAL, "%zu levels of objects", levels[i]);
        cr_expect_str_eq(d.err, "body is nested more than 64 levels deep");
    }
}

Test(json_depth, jsonv_accepts_64_levels)
{
    char buf[64 * 6 + 16];
    size_t o = 0;
    for (int i = 0; i < 64; i++)
        o += (size_t)snprintf(buf + o, sizeof buf - o, "{\"a\":");
    buf[o++] = '1';
    for (int i = 0; i < 64; i++)
        buf[o++] = '}';
    json_t *j = NULL;
    char err[128] = "";
    cr_expect_eq(jsonv_parse_object(buf, o, &j, err, sizeof err), 0, "%s", err);
    json_decref(j);
}
