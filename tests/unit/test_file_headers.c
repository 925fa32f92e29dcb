/*
 * test_file_headers.c - the header work of the file routes
 * (edge/http/file_headers.c): one byte range against a size (RFC 9110),
 * the upload name rule, and Content-Disposition with an RFC 5987
 * filename*.  The stack test (tests/stack/test_media.py) checks the same
 * over HTTP; here are the odd inputs a client could send.
 */
#include "common/err.h"
#include "edge/http/http_edge.h"

#include <criterion/criterion.h>
#include <string.h>

static int rng(const char *h, long long size, long long *a, long long *b)
{
    *a = *b = -7;
    return http_range_parse(h, size, a, b);
}

Test(range, the_three_forms)
{
    long long a, b;
    cr_expect_eq(rng("bytes=0-9", 100, &a, &b), HTTP_RANGE_PARTIAL);
    cr_expect(a == 0 && b == 9);
    cr_expect_eq(rng("bytes=90-", 100, &a, &b), HTTP_RANGE_PARTIAL);
    cr_expect(a == 90 && b == 99);
    cr_expect_eq(rng("bytes=-10", 100, &a, &b), HTTP_RANGE_PARTIAL);
    cr_expect(a == 90 && b == 99);
    cr_expect_eq(rng("bytes=99-99", 100, &a, &b), HTTP_RANGE_PARTIAL);
    cr_expect(a == 99 && b == 99);
}

Test(range, clamped_to_the_representation)
{
    long long a, b;
    cr_expect_eq(rng("bytes=50-1000", 100, &a, &b), HTTP_RANGE_PARTIAL);
    cr_expect(a == 50 && b == 99, "last-pos past the end is the end");
    cr_expect_eq(rng("bytes=-1000", 100, &a, &b), HTTP_RANGE_PARTIAL);
    cr_expect(a == 0 && b == 99, "a suffix longer than the file is the file");
    cr_expect_eq(rng("bytes=0-99999999999999999999999", 100, &a, &b), HTTP_RANGE_PARTIAL);
    cr_expect(a == 0 && b == 99, "a huge last-pos saturates");
    cr_expect_eq(rng(" Bytes = 1-2 ", 100, &a, &b), HTTP_RANGE_PARTIAL, "unit is case-insensitive");
    cr_expect(a == 1 && b == 2);
}

Test(range, unsatisfiable)
{
    long long a, b;
    cr_expect_eq(rng("bytes=100-", 100, &a, &b), HTTP_RANGE_UNSATISFIABLE);
    cr_expect_eq(rng("bytes=100-200", 100, &a, &b), HTTP_RANGE_UNSATISFIABLE);
    cr_expect_eq(rng("bytes=-0", 100, &a, &b), HTTP_RANGE_UNSATISFIABLE);
    cr_expect_eq(rng("bytes=99999999999999999999-", 100, &a, &b), HTTP_RANGE_UNSATISFIABLE);
    cr_expect_eq(rng("bytes=0-", 0, &a, &b), HTTP_RANGE_UNSATISFIABLE, "nothing in an empty file");
}

Test(range, ignored_means_whole)
{
    long long a, b;
    const char *bad[] = {"", "bytes", "bytes=", "bytes=-", "bytes=a-b", "bytes=5-2",
                         "bytes=1-2,4-5", "bytes=1-2, 4-5", "items=0-1", "bytes=0-1x",
                         "bytes=+1-2", "bytes=1--2", "bytes 0-1", "bytes=--1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_expect_eq(rng(bad[i], 100, &a, &b), HTTP_RANGE_NONE, "%s", bad[i]);
        cr_expect(a == -7 && b == -7, "%s: outputs untouched", bad[i]);
    }
    cr_expect_eq(http_range_parse(NULL, 100, &a, &b), HTTP_RANGE_NONE);
}

static int name_ok(const char *s)
{
    return http_file_name_ok(s, strlen(s));
}

Test(file_name, accepted)
{
    cr_expect(name_ok("photo.png"));
    cr_expect(name_ok("report 2026 (final).pdf"));
    cr_expect(name_ok("\xe5\x9b\xbe\xe7\x89\x87.jpg"), "CJK");
    cr_expect(name_ok("\xf0\x9f\x98\x80"), "an emoji (4 bytes)");
    cr_expect(name_ok("..hidden"));
    char max[256];
    memset(max, 'a', 255);
    max[255] = '\0';
    cr_expect(name_ok(max), "255 bytes");
}

Test(file_name, refused)
{
    char big[257];
    memset(big, 'a', 256);
    big[256] = '\0';
    const char *bad[] = {"", ".", "..", "a/b", "a\\b", "a\nb", "a\tb", "a\x7f", "\x1b[31m",
                         "a\xc2\x85", /* C1 NEL */
                         "\xc0\xaf", /* overlong '/' */
                         "\xed\xa0\x80", /* a surrogate */
                         "\xf4\x90\x80\x80", /* past U+10FFFF */
                         "\xe5\x9b", /* cut short */
                         "\xff", big};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect(!name_ok(bad[i]), "entry %zu", i);
    cr_expect(!http_file_name_ok("a\0b", 3), "an embedded NUL");
    cr_expect(!http_file_name_ok(NULL, 0));
}

Test(disposition, ascii_and_utf8)
{
    char out[1400];
    cr_assert_eq(http_content_disposition("a b.pdf", 0, out, sizeof out), NT_OK);
    cr_expect_str_eq(out, "attachment; filename=\"a b.pdf\"; filename*=UTF-8''a%20b.pdf");
    cr_assert_eq(http_content_disposition("x\"y\\z.png", 1, out, sizeof out), NT_OK);
    cr_expect_str_eq(out, "inline; filename=\"x_y_z.png\"; filename*=UTF-8''x%22y%5Cz.png");
    cr_assert_eq(http_content_disposition("\xe5\x9b\xbe.jpg", 1, out, sizeof out), NT_OK);
    cr_expect_str_eq(out, "inline; filename=\"_.jpg\"; filename*=UTF-8''%E5%9B%BE.jpg");
}

Test(disposition, longest_name_fits_and_small_buffers_fail)
{
    char name[256], out[1400], small[40];
    memset(name, '\xff', 255); /* worst case: every byte encoded (bytes, not checked here) */
    name[255] = '\0';
    cr_expect_eq(http_content_disposition(name, 0, out, sizeof out), NT_OK);
    cr_expect_lt(strlen(out), sizeof out);
    cr_expect_eq(http_content_disposition("abcdefghijklmnopqrstuvwxyz", 0, small, sizeof small),
                 NT_EINVAL);
}

Test(upload_name, from_the_query_string)
{
    char name[1024];
    cr_expect_eq(http_upload_name(NULL, name, sizeof name), NT_OK);
    cr_expect_str_eq(name, "file");
    cr_expect_eq(http_upload_name("x=1", name, sizeof name), NT_OK);
    cr_expect_str_eq(name, "file");
    cr_expect_eq(http_upload_name("name=a%20b.txt&x=1", name, sizeof name), NT_OK);
    cr_expect_str_eq(name, "a b.txt");
    cr_expect_eq(http_upload_name("name=%E6%97%A5.png", name, sizeof name), NT_OK);
    cr_expect_str_eq(name, "\xe6\x97\xa5.png");
    cr_expect_eq(http_upload_name("name=", name, sizeof name), NT_EINVAL);
    cr_expect_eq(http_upload_name("name=..", name, sizeof name), NT_EINVAL);
    cr_expect_eq(http_upload_name("name=a%2Fb", name, sizeof name), NT_EINVAL);
    cr_expect_eq(http_upload_name("name=a%00b", name, sizeof name), NT_EINVAL);
    cr_expect_eq(http_upload_name("name=%C2%85", name, sizeof name), NT_EINVAL);
    cr_expect_eq(http_upload_name("name=abcdef", name, 4), NT_EINVAL); /* does not fit */
}
