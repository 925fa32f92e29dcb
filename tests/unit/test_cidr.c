/* test_cidr.c - common/cidr.c: parsing, canonical form, matching. */
#include "common/cidr.h"
#include "common/err.h"

#include <criterion/criterion.h>

static void canon(const char *in, const char *want)
{
    cidr_t c;
    char buf[CIDR_TEXT_MAX];
    cr_assert_eq(cidr_parse(in, &c), NT_OK, "%s", in);
    cr_assert_eq(cidr_format(&c, buf, sizeof buf), NT_OK);
    cr_assert_str_eq(buf, want, "%s", in);
}

Test(cidr, parses_and_canonicalises)
{
    canon("203.0.113.0/24", "203.0.113.0/24");
    canon("203.0.113.77/24", "203.0.113.0/24");
    canon("10.1.2.3", "10.1.2.3/32");
    canon("0.0.0.0/0", "0.0.0.0/0");
    canon("10.255.255.255/9", "10.128.0.0/9");
    canon("2001:db8::/32", "2001:db8::/32");
    canon("2001:DB8:1:2::5/48", "2001:db8:1::/48");
    canon("::1", "::1/128");
    canon("::/0", "::/0");
    canon("fe80::1/127", "fe80::/127");
}

Test(cidr, refuses_malformed)
{
    static const char *bad[] = {"", "/24", "203.0.113.0/", "203.0.113.0/33", "203.0.113.0/024",
                                "203.0.113.0/-1", "203.0.113.0/2a", "203.0.113/24",
                                "256.0.0.0/8", "1.2.3.4.5", " 1.2.3.4", "1.2.3.4 ", "1.2.3.4/8/8",
                                "2001:db8::/129", "2001:db8:::/32", "gggg::/16", "localhost",
                                "2001:db8::/1000", "1.2.3.4/ 8"};
    cidr_t c;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(cidr_parse(bad[i], &c), NT_EINVAL, "'%s'", bad[i]);
    cr_assert_eq(cidr_parse(NULL, &c), NT_EINVAL);
    char big[200];
    memset(big, '1', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(cidr_parse(big, &c), NT_EINVAL);
}

Test(cidr, matches)
{
    cidr_t c;
    cr_assert_eq(cidr_parse("203.0.113.0/24", &c), NT_OK);
    cr_assert(cidr_contains(&c, "203.0.113.0"));
    cr_assert(cidr_contains(&c, "203.0.113.255"));
    cr_assert(!cidr_contains(&c, "203.0.114.0"));
    cr_assert(!cidr_contains(&c, "203.0.112.255"));
    cr_assert(cidr_contains(&c, "::ffff:203.0.113.9")); /* dual-stack socket */
    cr_assert(!cidr_contains(&c, "2001:db8::1"));
    cr_assert(!cidr_contains(&c, "not an address"));
    cr_assert(!cidr_contains(&c, NULL));
    cr_assert_eq(cidr_parse("10.0.0.0/9", &c), NT_OK);
    cr_assert(cidr_contains(&c, "10.127.255.255"));
    cr_assert(!cidr_contains(&c, "10.128.0.0"));
    cr_assert_eq(cidr_parse("0.0.0.0/0", &c), NT_OK);
    cr_assert(cidr_contains(&c, "127.0.0.1"));
    cr_assert(!cidr_contains(&c, "::1"));
    cr_assert_eq(cidr_parse("2001:db8::/32", &c), NT_OK);
    cr_assert(cidr_contains(&c, "2001:db8:ffff::1"));
    cr_assert(!cidr_contains(&c, "2001:db9::1"));
    cr_assert(!cidr_contains(&c, "1.2.3.4"));
    cr_assert_eq(cidr_parse("127.0.0.1", &c), NT_OK);
    cr_assert(cidr_contains(&c, "127.0.0.1"));
    cr_assert(!cidr_contains(&c, "127.0.0.2"));
}
