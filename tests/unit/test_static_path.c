/*
 * test_static_path.c - the path rule of the web client's file route
 * (edge/http/routes_static.c, docs/web.md): only plain names get looked
 * up.  The stack test (tests/stack/test_web_static.py) sends the same
 * shapes over HTTP and also checks realpath containment and symlinks.
 */
#include "edge/http/http_edge.h"

#include <criterion/criterion.h>
#include <string.h>

Test(static_path, plain_names_pass)
{
    cr_expect(http_static_path_ok("/"));
    cr_expect(http_static_path_ok("/index.html"));
    cr_expect(http_static_path_ok("/js/views/chat.js"));
    cr_expect(http_static_path_ok("/img/a-b_c.1.svg"));
}

Test(static_path, dots_and_hidden_fail)
{
    const char *bad[] = {"/..", "/../x.js", "/js/../x.js", "/js/..", "/.", "/./x.js",
                         "/js/./x.js", "/.hidden", "/js/.git/config", "/..%2fx.js"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(http_static_path_ok(bad[i]), "%s", bad[i]);
}

Test(static_path, odd_shapes_fail)
{
    const char *bad[] = {"", "x.js", "//etc/passwd", "/js//x.js", "/js/", "/a\\b.js",
                         "/a b.js", "/a%2e.js", "/a?b.js", "/caf\xc3\xa9.js", "/a:b.js"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(http_static_path_ok(bad[i]), "%s", bad[i]);
}

Test(static_path, length_is_capped)
{
    char p[260];
    p[0] = '/';
    memset(p + 1, 'a', 196);
    strcpy(p + 197, ".js"); /* 200 bytes */
    cr_expect(http_static_path_ok(p));
    memset(p + 1, 'a', 197);
    strcpy(p + 198, ".js"); /* 201 */
    cr_expect_not(http_static_path_ok(p));
}
