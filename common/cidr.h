/*
 * cidr.h - IPv4 and IPv6 address blocks ("203.0.113.0/24", "2001:db8::/32")
 * for the admin's IP rules (docs/API.md "Admin").  Pure functions, unit
 * tested (tests/unit/test_cidr.c); thread-safe.
 *
 * An address without "/n" is a single host (/32 or /128).  Bits past the
 * prefix are cleared, so "203.0.113.7/24" is the block 203.0.113.0/24 and
 * cidr_format gives the canonical text.  An IPv4-mapped IPv6 client
 * address (::ffff:a.b.c.d, what a dual-stack socket reports) matches IPv4
 * blocks.
 */
#ifndef NT_CIDR_H
#define NT_CIDR_H

#include <stddef.h>
#include <stdint.h>

#define CIDR_TEXT_MAX 64 /* INET6_ADDRSTRLEN (46) + "/128" + NUL, rounded up */

typedef struct cidr {
    int family;          /* 4 or 6 */
    uint8_t addr[16];    /* network order; IPv4 uses the first 4 */
    int prefix;          /* 0-32 or 0-128 */
} cidr_t;

/* Parse s; NT_EINVAL if it is not an address with an optional /prefix in
 * range (no spaces, no leading zeros in the prefix). */
int cidr_parse(const char *s, cidr_t *out);

/* Canonical text ("203.0.113.0/24") into buf; NT_EINVAL if n is too small. */
int cidr_format(const cidr_t *c, char *buf, size_t n);

/* 1 if the address text addr (IPv4 or IPv6) lies in c, 0 if not or if addr
 * is not an address. */
int cidr_contains(const cidr_t *c, const char *addr);

#endif
