/*
 * test_http_route.c - the request-line side of routing
 * (edge/http/http_route.c): a path against a route pattern, and an integer
 * from the query string.  tests/fuzz/fuzz_http_route.c feeds both any
 * bytes; here are the cases the routes rely on.
 */
#include "common/err.h"
#include "edge/http/http_edge.h"

#include <criterion/criterion.h>
#include <string.h>

Test(path_match, literal_and_parameters)
{
    char a[72], b[72];
    cr_expect(http_path_match("/api/users/me", "/api/users/me", a, b, sizeof a));
    cr_expect(!http_path_match("/api/users/me", "/api/users/me/", a, b, sizeof a));
    cr_expect(!http_path_match("/api/users/me", "/api/users", a, b, sizeof a));
    cr_expect(http_path_match("/api/users/{id}", "/api/users/42", a, b, sizeof a));
    cr_expect_str_eq(a, "42");
    cr_expect(http_path_match("/api/conversations/{id}/members/{uid}",
                              "/api/conversations/g:7/members/9", a, b, sizeof a));
    cr_expect_str_eq(a, "g:7");
    cr_expect_str_eq(b, "9");
    cr_expect(!http_path_match("/api/users/{id}", "/api/users/", a, b, sizeof a));
    cr_expect(!http_path_match("/api/users/{id}", "/api/users//x", a, b, sizeof a));
    cr_expect(!http_path_match("/api/users/{id}", "/api/users/1/2", a, b, sizeof a));
}

Test(path_match, parameter_must_fit)
{
    char a[8], b[8];
    cr_expect(http_path_match("/f/{id}", "/f/1234567", a, b, sizeof a));
    cr_expect(!http_path_match("/f/{id}", "/f/12345678", a, b, sizeof a));
}

Test(route_table, every_route_has_a_method)
{
    const char *m = NULL, *p;
    size_t i = 0;
    for (; (p = http_route_pattern(i, &m)) != NULL; i++)
        cr_expect(p[0] == '/' && m && *m);
    cr_expect_gt(i, 10);
}

Test(query_int, absent_valid_and_refused)
{
    char err[96];
    long long v = 50;
    cr_expect_eq(http_query_int(NULL, "limit", 1, 100, &v, err, sizeof err), NT_OK);
    cr_expect_eq(v, 50);
    cr_expect_eq(http_query_int("limit=7&x=1", "limit", 1, 100, &v, err, sizeof err), NT_OK);
    cr_expect_eq(v, 7);
    const char *bad[] = {"limit=", "limit=0", "limit=101", "limit=%2B5", "limit=%205",
                         "limit=5x", "limit=99999999999999999999", "limit=-1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        v = 50;
        cr_expect_eq(http_query_int(bad[i], "limit", 1, 100, &v, err, sizeof err), NT_EINVAL,
                     "%s", bad[i]);
        cr_expect_eq(v, 50);
        cr_expect_str_eq(err, "limit must be an integer between 1 and 100");
    }
}
