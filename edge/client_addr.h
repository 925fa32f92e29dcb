/*
 * client_addr.h - the client's address as the edges use it (IP rules,
 * login rate limits, the admin audit log): the TCP peer, or, when the peer
 * is a trusted proxy (config http.trusted_proxies), the address that proxy
 * chain reports in X-Forwarded-For.  Pure functions, unit tested
 * (tests/unit/test_client_addr.c).
 *
 * X-Forwarded-For is read right to left, skipping trusted proxies: the
 * first address that is not one is the client (anything left of it was
 * written by the client and proves nothing).  A malformed entry stops the
 * walk at the last good address; an empty or absent header leaves the
 * peer.  From a peer that is not trusted the header is ignored.
 */
#ifndef NT_CLIENT_ADDR_H
#define NT_CLIENT_ADDR_H

#include "common/cidr.h"

#include <stddef.h>

#define CLIENT_ADDR_PROXIES_MAX 32

/* Parse a comma-separated list of blocks ("" = none) into out (max
 * entries); NT_EINVAL for a bad entry or too many. */
int client_addr_proxies(const char *csv, cidr_t *out, int max, int *n);

/* The client address for peer and the X-Forwarded-For header xff (NULL:
 * absent) into out (n bytes, CIDR_TEXT_MAX is enough). */
void client_addr(const char *peer, const char *xff, const cidr_t *proxies, int nproxies,
                 char *out, size_t n);

#endif
