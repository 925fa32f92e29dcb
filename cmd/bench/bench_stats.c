/*
 * bench_stats.c - latency samples and the one-line-per-figure report that
 * ops/bench prints.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int64_t bench_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts); /* wall clock: send times travel in bodies */
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void bench_stats_add(bench_stats_t *s, int deliv, double ms)
{
    double **arr = deliv ? &s->deliv_lat : &s->sent_lat;
    size_t *n = deliv ? &s->n_deliv : &s->n_sent;
    if (*n == s->cap)
        return; /* bounded: the report says how many were kept */
    if (!*arr && !(*arr = malloc(s->cap * sizeof **arr)))
        return;
    (*arr)[(*n)++] = ms;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void pct(const char *what, double *v, size_t n)
{
    if (!n) {
        printf("%s_ms p50=- p99=- max=- (no samples)\n", what);
        return;
    }
    qsort(v, n, sizeof *v, cmp);
    printf("%s_ms p50=%.2f p99=%.2f max=%.2f samples=%zu\n", what, v[n / 2],
           v[(size_t)((double)n * 0.99)], v[n - 1], n);
}

void bench_stats_print(bench_t *b, double seconds)
{
    bench_stats_t *s = &b->st;
    printf("sessions=%zu senders=%zu seconds=%.1f\n", b->n, b->n_send, seconds);
    printf("sent_per_s=%.0f (sends=%llu acknowledged=%zu)\n", (double)s->n_sent / seconds,
           (unsigned long long)s->sends, s->n_sent);
    printf("delivered_per_s=%.0f (deliveries=%zu)\n", (double)s->n_deliv / seconds, s->n_deliv);
    pct("send_to_sent", s->sent_lat, s->n_sent);
    pct("send_to_deliver", s->deliv_lat, s->n_deliv);
    printf("errors=%llu closes=%llu connect_failures=%llu\n", (unsigned long long)s->errors,
           (unsigned long long)s->closes, (unsigned long long)s->conn_fail);
}
