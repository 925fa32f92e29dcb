/*
 * fuzz_client_addr.c - the client address behind trusted proxies
 * (edge/client_addr.c), as both edges meet it: the X-Forwarded-For header
 * is the client's (edge-http's REST requests, edge-ws's upgrade), the
 * proxy list comes from the config.
 *
 * Input: line 1 the TCP peer, line 2 the X-Forwarded-For value, the rest
 * an http.trusted_proxies list.  Properties: the result is the peer or an
 * address (it parses, with no '/'), and it differs from the peer only
 * when the peer is a trusted proxy; the proxy list parser either fails or
 * gives at most max blocks.
 */
#include "fuzz_common.h"

#include "common/cidr.h"
#include "common/err.h"
#include "edge/client_addr.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PROXIES "127.0.0.1/32, 10.0.0.0/8, ::1, 2001:db8::/32"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static cidr_t fixed[8];
    static int nfixed = -1;
    if (nfixed < 0) {
        fuzz_quiet();
        FUZZ_CHECK(client_addr_proxies(PROXIES, fixed, 8, &nfixed) == NT_OK && nfixed == 4);
    }
    const uint8_t *p1, *p2;
    size_t n1, n2;
    fuzz_take_line(&data, &size, &p1, &n1);
    fuzz_take_line(&data, &size, &p2, &n2);
    char *peer = fuzz_cstr(p1, n1), *xff = fuzz_cstr(p2, n2), *csv = fuzz_cstr(data, size);
    char out[48], whole[CIDR_TEXT_MAX + 64];
    cidr_t probe;

    client_addr(peer, xff, fixed, nfixed, out, sizeof out);
    snprintf(whole, sizeof whole, "%s", peer);
    if (strncmp(out, whole, sizeof out - 1) != 0) {
        int trusted = 0;
        for (int i = 0; i < nfixed; i++)
            trusted |= cidr_contains(&fixed[i], peer);
        FUZZ_CHECK(trusted);
        FUZZ_CHECK(!strchr(out, '/'));
        FUZZ_CHECK(cidr_parse(out, &probe) == NT_OK);
    }
    client_addr(peer, NULL, fixed, nfixed, out, sizeof out);
    FUZZ_CHECK(strncmp(out, whole, sizeof out - 1) == 0);   /* no header: the peer */

    cidr_t blocks[4];
    int n = -1;
    if (client_addr_proxies(csv, blocks, 4, &n) == NT_OK)
        FUZZ_CHECK(n >= 0 && n <= 4);
    free(peer);
    free(xff);
    free(csv);
    return 0;
}
