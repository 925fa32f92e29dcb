/* test_config.c - INI parsing, environment overrides, integer bounds. */
#include "common/config.h"
#include "common/err.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

Test(config, parses_sections_keys_and_comments)
{
    config_t *c = NULL;
    cr_assert_eq(config_parse("# top\n[http]\nport = 8080   # inline\n; other\n"
                              "bind=127.0.0.1\n\n[db]\n name = natter \n",
                              &c),
                 NT_OK);
    cr_assert_str_eq(config_str(c, "http.port", NULL), "8080");
    cr_assert_str_eq(config_str(c, "http.bind", NULL), "127.0.0.1");
    cr_assert_str_eq(config_str(c, "db.name", NULL), "natter");
    cr_assert_null(config_str(c, "db.port", NULL));
    cr_assert_str_eq(config_str(c, "db.port", "13306"), "13306");
    config_free(c);
}

Test(config, empty_value_and_later_line_wins)
{
    config_t *c = NULL;
    cr_assert_eq(config_parse("[nats]\nuser =\nuser = a\nuser = b\npassword = # none\n", &c), NT_OK);
    cr_assert_str_eq(config_str(c, "nats.user", NULL), "b");
    cr_assert_str_eq(config_str(c, "nats.password", "x"), "");
    config_free(c);
}

Test(config, rejects_bad_syntax)
{
    config_t *c = NULL;
    cr_assert_eq(config_parse("key = before_section\n", &c), NT_ECONFIG);
    cr_assert_eq(config_parse("[http\nport=1\n", &c), NT_ECONFIG);
    cr_assert_eq(config_parse("[http]\njust a line\n", &c), NT_ECONFIG);
    cr_assert_eq(config_parse("[ht tp]\nport=1\n", &c), NT_ECONFIG);
    cr_assert_eq(config_parse("[http]\nbad key = 1\n", &c), NT_ECONFIG);
}

Test(config, environment_overrides_file)
{
    config_t *c = NULL;
    cr_assert_eq(config_parse("[http]\nmax_body = 10\n", &c), NT_OK);
    setenv("NATTER_HTTP_MAX_BODY", "20", 1);
    cr_assert_str_eq(config_str(c, "http.max_body", NULL), "20");
    unsetenv("NATTER_HTTP_MAX_BODY");
    cr_assert_str_eq(config_str(c, "http.max_body", NULL), "10");
    config_free(c);
}

Test(config, integers_are_checked)
{
    config_t *c = NULL;
    long v = 0;
    cr_assert_eq(config_parse("[a]\nok = 42\nneg = -3\nword = 4x\nbig = 99999999999999999999\n", &c),
                 NT_OK);
    cr_assert_eq(config_int(c, "a.ok", 0, 0, 100, &v), NT_OK);
    cr_assert_eq(v, 42);
    cr_assert_eq(config_int(c, "a.missing", 7, 0, 100, &v), NT_OK);
    cr_assert_eq(v, 7);
    cr_assert_eq(config_int(c, "a.neg", 0, 0, 100, &v), NT_ECONFIG);
    cr_assert_eq(config_int(c, "a.word", 0, 0, 100, &v), NT_ECONFIG);
    cr_assert_eq(config_int(c, "a.big", 0, 0, 100, &v), NT_ECONFIG);
    cr_assert_eq(config_int(c, "a.ok", 0, 0, 41, &v), NT_ECONFIG);
    config_free(c);
}

Test(config, missing_file_optional_or_required)
{
    config_t *c = NULL;
    cr_assert_eq(config_load("/nonexistent/natter.conf", 1, &c), NT_ECONFIG);
    cr_assert_eq(config_load("/nonexistent/natter.conf", 0, &c), NT_OK);
    cr_assert_str_eq(config_str(c, "x.y", "d"), "d");
    config_free(c);
}

Test(config, shipped_file_parses)
{
    config_t *c = NULL;
    cr_assert_eq(config_load(NATTER_SOURCE_DIR "/config/natter.conf", 1, &c), NT_OK);
    long v;
    cr_assert_eq(config_int(c, "http.port", 0, 1, 65535, &v), NT_OK);
    cr_assert_eq(v, 8080);
    cr_assert_str_eq(config_str(c, "log.level", NULL), "info");
    cr_assert_str_eq(config_str(c, "nats.user", "unset"), "");
    config_free(c);
}

/* Found by tests/fuzz/fuzz_config.c: a NUL byte used to end the file
 * early, so every setting after it was silently dropped. */
Test(config, nul_byte_in_file_is_refused)
{
    char path[] = "/tmp/natter-config-XXXXXX";
    static const char text[] = "[http]\nport = 80\0\n[db]\npassword = x\n";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, text, sizeof text - 1), (ssize_t)(sizeof text - 1));
    close(fd);
    config_t *c = NULL;
    cr_expect_eq(config_load(path, 1, &c), NT_ECONFIG);
    cr_expect_null(c);
    unlink(path);
}
