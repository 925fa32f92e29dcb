/*
 * prom.h - lock-free counters and histograms for hot paths, rendered in
 * the Prometheus text format (exposition 0.0.4).
 *
 * common/metrics.c is a registry behind one mutex, right for edge-http's
 * per-request series.  The realtime paths (the WebSocket edge's loop, the
 * msg pool's workers) count per frame or per batch and must not take a
 * lock for it: there a metric is a field of the module's own struct,
 * bumped with a relaxed atomic add (or a plain add on a single thread),
 * and /metrics reads them when scraped.  Histograms have fixed bucket
 * bounds chosen by the caller (base units: seconds, items).
 */
#ifndef NT_PROM_H
#define NT_PROM_H

#include "common/textbuf.h"

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define PROM_HIST_MAX 20

typedef _Atomic uint64_t prom_counter_t;

/* Buckets hold counts of observations <= le[i] (not cumulative here; the
 * renderer sums), the last one everything above le[n-1] (+Inf).  sum_u is
 * the sum in millionths of the unit, so it stays an integer add. */
typedef struct prom_hist {
    const double *le;          /* ascending, n entries, static */
    size_t n;                  /* <= PROM_HIST_MAX */
    _Atomic uint64_t bucket[PROM_HIST_MAX + 1];
    _Atomic uint64_t sum_u;
} prom_hist_t;

/* Bounds every histogram may share. */
extern const double prom_le_latency[];   /* 1 ms .. 10 s, for send->ack, commits */
extern const size_t prom_le_latency_n;
extern const double prom_le_size[];      /* 1 .. 1024, powers of two, for batch sizes */
extern const size_t prom_le_size_n;

static inline void prom_inc(prom_counter_t *c, uint64_t n)
{
    atomic_fetch_add_explicit(c, n, memory_order_relaxed);
}

static inline uint64_t prom_get(prom_counter_t *c)
{
    return atomic_load_explicit(c, memory_order_relaxed);
}

void prom_hist_init(prom_hist_t *h, const double *le, size_t n);
void prom_hist_observe(prom_hist_t *h, double v);

/* "# HELP name help\n# TYPE name type\n". */
void prom_header(textbuf_t *o, const char *name, const char *type, const char *help);
/* One sample line: name{labels} value (labels "" or NULL for none). */
void prom_sample(textbuf_t *o, const char *name, const char *labels, double v);
/* name_bucket{labels,le=...}, name_sum, name_count; the header is the caller's. */
void prom_hist_render(textbuf_t *o, const char *name, const char *labels, prom_hist_t *h);

#endif
