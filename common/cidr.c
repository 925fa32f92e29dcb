/*
 * cidr.c - address blocks (cidr.h), on inet_pton / inet_ntop.
 */
#include "common/cidr.h"

#include "common/err.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* Clear the bits of a past prefix (len bytes). */
static void mask(uint8_t *a, int len, int prefix)
{
    for (int i = 0; i < len; i++) {
        int keep = prefix - i * 8;
        if (keep >= 8)
            continue;
        a[i] &= keep <= 0 ? 0 : (uint8_t)(0xFF << (8 - keep));
    }
}

/* Parse an address alone: 4 or 6 into *family, bytes into a; NT_EINVAL. */
static int parse_addr(const char *s, int *family, uint8_t *a)
{
    memset(a, 0, 16);
    if (strchr(s, ':')) {
        if (inet_pton(AF_INET6, s, a) != 1)
            return NT_EINVAL;
        *family = 6;
        return NT_OK;
    }
    if (inet_pton(AF_INET, s, a) != 1)
        return NT_EINVAL;
    *family = 4;
    return NT_OK;
}

int cidr_parse(const char *s, cidr_t *out)
{
    char host[CIDR_TEXT_MAX];
    if (!s)
        return NT_EINVAL;
    const char *slash = strchr(s, '/');
    size_t hlen = slash ? (size_t)(slash - s) : strlen(s);
    if (hlen == 0 || hlen >= sizeof host)
        return NT_EINVAL;
    memcpy(host, s, hlen);
    host[hlen] = '\0';
    cidr_t c = {0};
    if (parse_addr(host, &c.family, c.addr) != NT_OK)
        return NT_EINVAL;
    int max = c.family == 4 ? 32 : 128;
    c.prefix = max;
    if (slash) {
        const char *p = slash + 1;
        size_t plen = strlen(p);
        if (plen < 1 || plen > 3 || strspn(p, "0123456789") != plen || (plen > 1 && p[0] == '0'))
            return NT_EINVAL;
        int v = 0;
        for (size_t i = 0; i < plen; i++)
            v = v * 10 + (p[i] - '0');
        if (v > max)
            return NT_EINVAL;
        c.prefix = v;
    }
    mask(c.addr, c.family == 4 ? 4 : 16, c.prefix);
    *out = c;
    return NT_OK;
}

int cidr_format(const cidr_t *c, char *buf, size_t n)
{
    char a[INET6_ADDRSTRLEN];
    if (!inet_ntop(c->family == 4 ? AF_INET : AF_INET6, c->addr, a, sizeof a))
        return NT_EINVAL;
    int w = snprintf(buf, n, "%s/%d", a, c->prefix);
    return w < 0 || (size_t)w >= n ? NT_EINVAL : NT_OK;
}

int cidr_contains(const cidr_t *c, const char *addr)
{
    static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
    uint8_t a[16];
    int family;
    if (!addr || strlen(addr) >= CIDR_TEXT_MAX || parse_addr(addr, &family, a) != NT_OK)
        return 0;
    if (family == 6 && c->family == 4 && memcmp(a, v4mapped, sizeof v4mapped) == 0) {
        memmove(a, a + 12, 4);
        family = 4;
    }
    if (family != c->family)
        return 0;
    mask(a, family == 4 ? 4 : 16, c->prefix);
    return memcmp(a, c->addr, family == 4 ? 4 : 16) == 0;
}
