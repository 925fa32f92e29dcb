/* test_client_addr.c - edge/client_addr.c: X-Forwarded-For only from
 * trusted proxies, read right to left. */
#include "edge/client_addr.h"
#include "common/err.h"

#include <criterion/criterion.h>

static cidr_t px[CLIENT_ADDR_PROXIES_MAX];
static int npx;

static const char *addr(const char *peer, const char *xff)
{
    static char out[CIDR_TEXT_MAX];
    client_addr(peer, xff, px, npx, out, sizeof out);
    return out;
}

Test(client_addr, proxies_list)
{
    cr_assert_eq(client_addr_proxies("", px, 4, &npx), NT_OK);
    cr_assert_eq(npx, 0);
    cr_assert_eq(client_addr_proxies(NULL, px, 4, &npx), NT_OK);
    cr_assert_eq(client_addr_proxies("10.0.0.0/8, ::1 ,127.0.0.1", px, 4, &npx), NT_OK);
    cr_assert_eq(npx, 3);
    cr_assert_eq(client_addr_proxies("10.0.0.0/8,,127.0.0.1", px, 4, &npx), NT_EINVAL);
    cr_assert_eq(client_addr_proxies("10.0.0.0/8,nonsense", px, 4, &npx), NT_EINVAL);
    cr_assert_eq(client_addr_proxies("1.1.1.1,2.2.2.2,3.3.3.3", px, 2, &npx), NT_EINVAL);
}

Test(client_addr, header_ignored_from_untrusted_peers)
{
    npx = 0;
    cr_assert_str_eq(addr("203.0.113.5", "198.51.100.1"), "203.0.113.5");
    cr_assert_eq(client_addr_proxies("10.0.0.0/8", px, 4, &npx), NT_OK);
    cr_assert_str_eq(addr("203.0.113.5", "198.51.100.1"), "203.0.113.5");
    cr_assert_str_eq(addr("10.1.1.1", NULL), "10.1.1.1");
    cr_assert_str_eq(addr("10.1.1.1", ""), "10.1.1.1");
}

Test(client_addr, right_to_left_skipping_proxies)
{
    cr_assert_eq(client_addr_proxies("10.0.0.0/8,2001:db8::/32", px, 4, &npx), NT_OK);
    cr_assert_str_eq(addr("10.1.1.1", "198.51.100.1"), "198.51.100.1");
    /* The client wrote the left part; the proxy appended the real peer. */
    cr_assert_str_eq(addr("10.1.1.1", "6.6.6.6, 198.51.100.1"), "198.51.100.1");
    cr_assert_str_eq(addr("10.1.1.1", "6.6.6.6, 198.51.100.1, 10.2.2.2"), "198.51.100.1");
    cr_assert_str_eq(addr("10.1.1.1", "198.51.100.1,2001:db8::7"), "198.51.100.1");
    cr_assert_str_eq(addr("10.1.1.1", "2001:db9::1"), "2001:db9::1");
    /* Every hop a proxy: the leftmost. */
    cr_assert_str_eq(addr("10.1.1.1", "10.3.3.3, 10.2.2.2"), "10.3.3.3");
    /* Malformed: stop at the last good address. */
    cr_assert_str_eq(addr("10.1.1.1", "garbage"), "10.1.1.1");
    cr_assert_str_eq(addr("10.1.1.1", "198.51.100.1, garbage, 10.2.2.2"), "10.2.2.2");
    cr_assert_str_eq(addr("10.1.1.1", "198.51.100.0/24"), "10.1.1.1");
    cr_assert_str_eq(addr("10.1.1.1", ",,,"), "10.1.1.1");
    cr_assert_str_eq(addr("10.1.1.1", " 198.51.100.1 "), "198.51.100.1");
}
