/*
 * micro_prom.c - a service's endpoint counters as Prometheus text.
 *
 * The same numbers `$SRV.STATS` answers on the bus, for operators who
 * scrape HTTP instead (a pool's /metrics, cmd/role_ops.c).  Counters only:
 * the rates and averages are the scraper's business.  Names are fixed and
 * labels come from the service's own endpoint names, never from requests.
 */
#include "bus/micro.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EP_MAX 64

typedef struct text {
    char *buf;
    size_t len, cap;
    int failed;
} text_t;

static void put(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(text_t *t, const char *fmt, ...)
{
    for (int tries = 0; !t->failed && tries < 2; tries++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, t->cap - t->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
        } else if ((size_t)n < t->cap - t->len) {
            t->len += (size_t)n;
            return;
        } else {
            size_t cap = t->cap * 2 + (size_t)n + 1;
            char *b = realloc(t->buf, cap);
            if (!b)
                t->failed = 1;
            else {
                t->buf = b;
                t->cap = cap;
            }
        }
    }
}

char *micro_prometheus(micro_t *m, size_t *len)
{
    micro_ep_stat_t eps[EP_MAX];
    int n = micro_endpoint_stats(m, eps, EP_MAX);
    const char *svc = micro_name(m);
    text_t t = {malloc(1024), 0, 1024, 0};
    if (!t.buf)
        return NULL;
    t.buf[0] = '\0';
    put(&t, "# HELP natter_requests_total Requests an endpoint of this process handled.\n"
            "# TYPE natter_requests_total counter\n");
    for (int i = 0; i < n; i++)
        put(&t, "natter_requests_total{service=\"%s\",endpoint=\"%s\"} %lld\n", svc, eps[i].name,
            (long long)eps[i].num_requests);
    put(&t, "# HELP natter_request_errors_total Requests answered with an error.\n"
            "# TYPE natter_request_errors_total counter\n");
    for (int i = 0; i < n; i++)
        put(&t, "natter_request_errors_total{service=\"%s\",endpoint=\"%s\"} %lld\n", svc,
            eps[i].name, (long long)eps[i].num_errors);
    put(&t, "# HELP natter_request_seconds_total Time spent handling requests.\n"
            "# TYPE natter_request_seconds_total counter\n");
    for (int i = 0; i < n; i++)
        put(&t, "natter_request_seconds_total{service=\"%s\",endpoint=\"%s\"} %.6f\n", svc,
            eps[i].name, (double)eps[i].processing_ns / 1e9);
    if (t.failed) {
        free(t.buf);
        return NULL;
    }
    if (len)
        *len = t.len;
    return t.buf;
}
