/*
 * msg_metrics.h - what the msg pool shows on /metrics beyond the endpoint
 * counters every pool has (docs/operations.md "Metrics"): messages
 * written, write failures, retries, batch sizes and commit latency, the
 * depth of each send worker's queue and of the fan-out stage.
 *
 * The send workers count once per batch with relaxed atomic adds
 * (common/prom.h): no lock on the send path.  Queue depths are read when
 * scraped.
 */
#ifndef NT_MSG_METRICS_H
#define NT_MSG_METRICS_H

#include "common/prom.h"

typedef struct msg_metrics {
    prom_counter_t writes;          /* messages stored (duplicates not counted) */
    prom_counter_t duplicates;      /* sends answered with the stored original */
    prom_counter_t write_failures;  /* sends not stored for a store failure */
    prom_counter_t retries;         /* full-path attempts after the first */
    prom_counter_t batches_full;    /* batches the owner's state could not take */
    prom_hist_t batch_size;         /* sends per batch */
    prom_hist_t commit_seconds;     /* msg_commit of one batch */
} msg_metrics_t;

void msg_metrics_init(msg_metrics_t *m);

/* role_ops_deps_t.prom: arg is the msg_pool_t. */
void msg_metrics_render(void *pool, textbuf_t *out);

#endif
