/*
 * ws_addrs.c - how many sockets each client address holds on this edge, so
 * one address cannot take every socket the process may open
 * (ws.max_conns_per_addr; docs/ws.md "Bounds").  An upgraded socket is
 * counted from the handshake until it closes; the one past the limit is
 * closed at once with 4029.  A small chained hash of the addresses that
 * have a socket open; an entry goes with its last socket.
 *
 * Pure: no lws, no bus (tests/unit/test_ws_addrs.c).  Loop thread only.
 */
#include "edge/ws/ws_internal.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

static uint32_t hash_ip(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % WS_ADDR_BUCKETS;
}

int ws_addrs_take(ws_addrs_t *a, const char *ip, ws_addr_t **out)
{
    *out = NULL;
    uint32_t h = hash_ip(ip);
    ws_addr_t *e = a->b[h];
    while (e && strcmp(e->ip, ip) != 0)
        e = e->next;
    if (e && a->max > 0 && e->n >= a->max) {
        a->refused++;
        return NT_ERATELIMIT;
    }
    if (!e) {
        if (!(e = calloc(1, sizeof *e)))
            return NT_ENOMEM;
        snprintf(e->ip, sizeof e->ip, "%s", ip);
        e->next = a->b[h];
        a->b[h] = e;
    }
    e->n++;
    *out = e;
    return NT_OK;
}

void ws_addrs_release(ws_addrs_t *a, ws_addr_t *e)
{
    if (!e || --e->n > 0)
        return;
    ws_addr_t **pp = &a->b[hash_ip(e->ip)];
    while (*pp && *pp != e)
        pp = &(*pp)->next;
    if (*pp)
        *pp = e->next;
    free(e);
}

void ws_addrs_fini(ws_addrs_t *a)
{
    for (size_t i = 0; i < WS_ADDR_BUCKETS; i++)
        while (a->b[i]) {
            ws_addr_t *e = a->b[i];
            a->b[i] = e->next;
            free(e);
        }
}
