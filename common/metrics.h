/*
 * metrics.h - Prometheus counters and histograms, rendered as text for
 * GET /metrics.
 *
 * A series is a metric name plus a fixed label string ("route=\"/x\",status=\"200\"").
 * Series are created on first use and live until metrics_free; the number is
 * bounded (METRICS_MAX_SERIES) because labels come from route patterns and
 * status codes, never from client data.  One mutex guards the table; the
 * work under it is a short linear scan, cheap next to a bus round trip.
 */
#ifndef NT_METRICS_H
#define NT_METRICS_H

#include <stddef.h>

#define METRICS_MAX_SERIES 512

typedef struct metrics metrics_t;

int metrics_new(metrics_t **out);
void metrics_free(metrics_t *m);

/* Add delta to counter name{labels} (labels may be ""). */
void metrics_count(metrics_t *m, const char *name, const char *help, const char *labels,
                   double delta);

/* Set gauge name{labels}. */
void metrics_gauge(metrics_t *m, const char *name, const char *help, const char *labels,
                   double value);

/* Observe value (seconds) in histogram name{labels}; buckets are fixed,
 * 0.5 ms .. 10 s, tuned for request latencies. */
void metrics_observe(metrics_t *m, const char *name, const char *help, const char *labels,
                     double value);

/* Render everything in the Prometheus text format.  Caller frees. */
char *metrics_render(metrics_t *m, size_t *len);

#endif
