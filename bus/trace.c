/*
 * trace.c - W3C trace context for bus messages (see bus.h).
 *
 * The edge that takes a client request starts a trace ("traceparent"
 * header, created here); every pool copies it into its replies and its own
 * requests (bus_reply does), and every log line carries the trace id, so
 * one grep follows a request across processes.  Trace ids are not secrets,
 * but they must not collide: they come from the OpenSSL CSPRNG, with
 * getrandom(2) behind it, fetched 1 KB per thread at a time (one
 * RAND_bytes call per trace id was 8% of edge-ws's profile at 2,000
 * msg/s; the bytes are as random either way).  A process that forked
 * would share its parent's unused bytes; natter's roles do not fork.
 */
#include "bus/bus.h"

#include <errno.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static void random_bytes(unsigned char *b, size_t n)
{
    if (RAND_bytes(b, (int)n) == 1)
        return;
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(b + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got < n) /* ids for tracing, not secrets: never fail over this */
        for (size_t i = got; i < n; i++)
            b[i] = (unsigned char)(rand() & 0xff);
}

#define TRACE_POOL 1024

/* n <= TRACE_POOL bytes from this thread's pool, refilled when short. */
static void pooled_bytes(unsigned char *b, size_t n)
{
    static _Thread_local unsigned char pool[TRACE_POOL];
    static _Thread_local size_t left;
    if (left < n) {
        random_bytes(pool, sizeof pool);
        left = sizeof pool;
    }
    memcpy(b, pool + sizeof pool - left, n);
    memset(pool + sizeof pool - left, 0, n); /* used once */
    left -= n;
}

static void hex(char *out, const unsigned char *b, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[b[i] >> 4];
        out[2 * i + 1] = digits[b[i] & 15];
    }
    out[2 * n] = '\0';
}

void bus_traceparent_new(char *buf, size_t n)
{
    if (!buf || n == 0)
        return;
    if (n < 56) {
        buf[0] = '\0';
        return;
    }
    unsigned char b[24];
    pooled_bytes(b, sizeof b);
    b[0] |= 1;  /* all-zero trace id is invalid (W3C) */
    b[16] |= 1; /* so is an all-zero span id */
    char trace[33], span[17];
    hex(trace, b, 16);
    hex(span, b + 16, 8);
    snprintf(buf, n, "00-%s-%s-01", trace, span);
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

void bus_trace_id(const char *traceparent, char *buf, size_t n)
{
    if (!buf || n == 0)
        return;
    const char *t = traceparent;
    /* "vv-<32 hex>-<16 hex>-ff": 55 chars; later versions may append more */
    int ok = t && strnlen(t, 56) >= 55 && is_lower_hex(t, 2) && t[2] == '-' &&
             is_lower_hex(t + 3, 32) && t[35] == '-' && is_lower_hex(t + 36, 16) && t[52] == '-' &&
             is_lower_hex(t + 53, 2);
    if (ok && n >= 33) {
        memcpy(buf, t + 3, 32);
        buf[32] = '\0';
    } else {
        snprintf(buf, n, "-");
    }
}
