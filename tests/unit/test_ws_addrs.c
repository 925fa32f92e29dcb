/*
 * test_ws_addrs.c - the per-address socket count of the WebSocket edge
 * (edge/ws/ws_addrs.c): the limit, release, and entries going with their
 * last socket.
 */
#include "common/err.h"
#include "edge/ws/ws_internal.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static size_t entries(const ws_addrs_t *a)
{
    size_t n = 0;
    for (size_t i = 0; i < WS_ADDR_BUCKETS; i++)
        for (const ws_addr_t *e = a->b[i]; e; e = e->next)
            n++;
    return n;
}

Test(ws_addrs, limit_per_address)
{
    static ws_addrs_t a;
    memset(&a, 0, sizeof a);
    a.max = 3;
    ws_addr_t *e[4];
    for (int i = 0; i < 3; i++)
        cr_assert_eq(ws_addrs_take(&a, "10.0.0.1", &e[i]), NT_OK);
    cr_assert_eq(ws_addrs_take(&a, "10.0.0.1", &e[3]), NT_ERATELIMIT);
    cr_assert_null(e[3]);
    cr_assert_eq(a.refused, 1);
    ws_addr_t *other;
    cr_assert_eq(ws_addrs_take(&a, "10.0.0.2", &other), NT_OK, "another address is not limited");
    ws_addrs_release(&a, e[0]);
    cr_assert_eq(ws_addrs_take(&a, "10.0.0.1", &e[0]), NT_OK, "room again after a close");
    for (int i = 0; i < 3; i++)
        ws_addrs_release(&a, e[i]);
    ws_addrs_release(&a, other);
    cr_assert_eq(entries(&a), 0, "an address goes with its last socket");
    ws_addrs_release(&a, NULL);
    ws_addrs_fini(&a);
}

Test(ws_addrs, zero_means_no_limit)
{
    static ws_addrs_t a;
    memset(&a, 0, sizeof a);
    ws_addr_t *e = NULL;
    for (int i = 0; i < 10000; i++)
        cr_assert_eq(ws_addrs_take(&a, "::1", &e), NT_OK);
    cr_assert_eq(e->n, 10000);
    char ip[48];
    for (int i = 0; i < 5000; i++) {   /* many addresses, chained */
        snprintf(ip, sizeof ip, "10.1.%d.%d", i / 256, i % 256);
        cr_assert_eq(ws_addrs_take(&a, ip, &e), NT_OK);
    }
    cr_assert_eq(entries(&a), 5001);
    ws_addrs_fini(&a);
    cr_assert_eq(entries(&a), 0);
}
