/*
 * client_addr.c - the client address behind trusted proxies (client_addr.h).
 */
#include "edge/client_addr.h"

#include "common/err.h"

#include <stdio.h>
#include <string.h>

static int trusted(const char *addr, const cidr_t *proxies, int n)
{
    for (int i = 0; i < n; i++)
        if (cidr_contains(&proxies[i], addr))
            return 1;
    return 0;
}

/* Copy s[0, len) without surrounding spaces into out (n bytes); 0 if it
 * does not fit or is empty. */
static int trimmed(const char *s, size_t len, char *out, size_t n)
{
    while (len && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (!len || len >= n)
        return 0;
    memcpy(out, s, len);
    out[len] = '\0';
    return 1;
}

int client_addr_proxies(const char *csv, cidr_t *out, int max, int *n)
{
    char one[CIDR_TEXT_MAX];
    *n = 0;
    for (const char *p = csv ? csv : ""; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (*n == max || !trimmed(p, len, one, sizeof one) || cidr_parse(one, &out[*n]) != NT_OK)
            return NT_EINVAL;
        (*n)++;
        p += len + (comma ? 1 : 0);
    }
    return NT_OK;
}

void client_addr(const char *peer, const char *xff, const cidr_t *proxies, int nproxies,
                 char *out, size_t n)
{
    snprintf(out, n, "%s", peer ? peer : "");
    if (!xff || !trusted(out, proxies, nproxies))
        return;
    char hop[CIDR_TEXT_MAX];
    cidr_t probe;
    size_t end = strlen(xff);
    for (int hops = 0; end > 0 && hops < 64; hops++) { /* bounded: the header is the client's */
        size_t start = end;
        while (start > 0 && xff[start - 1] != ',')
            start--;
        /* A hop must be a bare address (cidr_parse without a '/'). */
        if (!trimmed(xff + start, end - start, hop, sizeof hop) || strchr(hop, '/') ||
            cidr_parse(hop, &probe) != NT_OK)
            return;
        snprintf(out, n, "%s", hop);
        if (!trusted(hop, proxies, nproxies))
            return;
        end = start > 0 ? start - 1 : 0;
    }
}
