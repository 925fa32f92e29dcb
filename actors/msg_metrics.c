/*
 * msg_metrics.c - the msg pool's /metrics lines (msg_metrics.h).
 */
#include "actors/msg_metrics.h"

#include "actors/msg_loop.h"
#include "actors/msg_pool.h"

#include <stdio.h>

void msg_metrics_init(msg_metrics_t *m)
{
    prom_hist_init(&m->batch_size, prom_le_size, prom_le_size_n);
    prom_hist_init(&m->commit_seconds, prom_le_latency, prom_le_latency_n);
}

static void counter(textbuf_t *o, const char *name, const char *help, prom_counter_t *c)
{
    prom_header(o, name, "counter", help);
    prom_sample(o, name, NULL, (double)prom_get(c));
}

void msg_metrics_render(void *pool, textbuf_t *o)
{
    msg_pool_t *p = pool;
    msg_metrics_t *m = &p->metrics;
    counter(o, "natter_msg_writes_total", "Messages stored (a retried send's original not counted).",
            &m->writes);
    counter(o, "natter_msg_duplicates_total", "Sends answered with the message already stored.",
            &m->duplicates);
    counter(o, "natter_msg_write_failures_total",
            "Sends answered unavailable because their batch could not be stored.",
            &m->write_failures);
    counter(o, "natter_msg_retries_total", "Batch store attempts after the first (transient failures).",
            &m->retries);
    counter(o, "natter_msg_batches_full_path_total",
            "Batches stored the full way (the owner's state could not take them).",
            &m->batches_full);
    prom_header(o, "natter_msg_batch_size", "histogram", "Sends stored per batch (group commit).");
    prom_hist_render(o, "natter_msg_batch_size", NULL, &m->batch_size);
    prom_header(o, "natter_msg_commit_seconds", "histogram", "Time to store one batch.");
    prom_hist_render(o, "natter_msg_commit_seconds", NULL, &m->commit_seconds);
    if (p->sends) {
        msg_batch_stats_t st;
        msg_batch_stats(p->sends, &st);
        prom_header(o, "natter_msg_send_refused_total", "counter",
                    "Sends refused because their worker's queue was full.");
        prom_sample(o, "natter_msg_send_refused_total", NULL, (double)st.refused);
        prom_header(o, "natter_msg_send_queue_depth", "gauge",
                    "Sends queued for each send worker, not yet in a batch.");
        for (int i = 0; i < p->nworkers; i++) {
            char lab[32];
            snprintf(lab, sizeof lab, "worker=\"%d\"", i);
            prom_sample(o, "natter_msg_send_queue_depth", lab,
                        (double)msg_batch_depth(p->sends, i));
        }
    }
    if (p->loop) {
        prom_header(o, "natter_msg_loop_busy_seconds_total", "counter",
                    "Time the msg loop thread was not waiting for its sockets (reading, taking"
                    " sends, committing their batches, writing); a rate near 1 means sends wait"
                    " in the socket, not in the send queues.");
        prom_sample(o, "natter_msg_loop_busy_seconds_total", NULL, msg_loop_busy_seconds(p->loop));
    }
    if (p->fanout) {
        msg_fanout_stats_t fs;
        msg_fanout_stats(p->fanout, &fs);
        prom_header(o, "natter_msg_fanout_queue_depth", "gauge",
                    "Committed messages waiting on the fan-out stage (or being pushed).");
        prom_sample(o, "natter_msg_fanout_queue_depth", NULL, (double)fs.queued);
        prom_header(o, "natter_msg_fanout_pushes_total", "counter",
                    "Pushes published by the fan-out stage (group members).");
        prom_sample(o, "natter_msg_fanout_pushes_total", NULL, (double)fs.units);
    }
}
