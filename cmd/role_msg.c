/*
 * role_msg.c - `natter msg`: the msg pool process (conversations and
 * messages).
 *
 * Wires config, database pool, the send workers and the bus into the "msg"
 * micro service, then waits for SIGTERM and drains: the send workers finish
 * what is queued, NATS stops routing new requests to us (a send that still
 * arrives is committed and answered before the drain completes, see
 * msg_send.c), replies are flushed, then we exit 0.  Any number of these
 * may run: the store orders messages.
 *
 * Threads: the bus lives on a libuv loop run by its own thread
 * (msg_loop.h), which also takes the sends and commits their batches; the
 * main thread waits for the stop signal and runs the drain; the other
 * endpoints run on nats.c's delivery threads (msg.workers of them).
 */
#include "actors/msg_loop.h"
#include "actors/msg_pool.h"
#include "cmd/role_common.h"
#include "cmd/role_ops.h"
#include "common/err.h"
#include "common/log.h"
#include "common/version.h"

static void log_batch_stats(const msg_pool_t *p)
{
    msg_batch_stats_t st;
    msg_batch_stats(p->sends, &st);
    int64_t fast = 0, full = 0, conflicts = 0, stmts = 0;
    for (int i = 0; i < p->nworkers; i++) {
        fast += p->workers[i].fast;
        full += p->workers[i].full;
        conflicts += p->workers[i].conflicts;
        stmts += p->workers[i].statements;
    }
    log_info("send batches",
             "batches=%lld sends=%lld avg=%.1f max=%lld refused=%lld owner=%lld full=%lld"
             " conflicts=%lld owner_statements=%.2f",
             (long long)st.batches, (long long)st.items,
             st.batches ? (double)st.items / (double)st.batches : 0.0, (long long)st.max_batch,
             (long long)st.refused, (long long)fast, (long long)full, (long long)conflicts,
             fast ? (double)stmts / (double)fast : 0.0);
}

#define MSG_CLOSE_FLUSH_MS 2000   /* at most this long to write out the bus buffer */

typedef struct connect_arg {
    const role_ctx_t *ctx;
    int workers;
} connect_arg_t;

/* msg_loop_connect_fn, on the loop thread. */
static int connect_on_loop(void *arg, void *loop, bus_t **bus)
{
    const connect_arg_t *a = arg;
    return role_bus_connect_loop_threads(a->ctx, "msg", loop, a->workers, bus);
}

int role_msg(const role_ctx_t *ctx)
{
    msg_pool_t p = {0};
    micro_t *m = NULL;
    role_ops_t *ops = NULL;
    msg_loop_t *loop = NULL;
    long workers, text_max, batch_max, wait_us, queue_max, revoke_window, group_max;
    long fanout_threads, fanout_chunk, conv_cache, beat_ms, inline_batches, send_workers;
    int rc = 1;
    if (config_int(ctx->cfg, "msg.workers", 4, 1, 64, &workers) ||
        config_int(ctx->cfg, "msg.text_max", 4000, 1, 65536, &text_max) ||
        config_int(ctx->cfg, "msg.batch_max", 256, 1, MSG_BATCH_MAX, &batch_max) ||
        config_int(ctx->cfg, "msg.batch_wait_us", 0, 0, 100000, &wait_us) ||
        config_int(ctx->cfg, "msg.queue_max", 4096, 1, 1 << 20, &queue_max) ||
        config_int(ctx->cfg, "msg.revoke_window_s", 120, 0, 86400 * 365, &revoke_window) ||
        config_int(ctx->cfg, "msg.group_max", 2000, 2, CONV_MEMBERS_MAX, &group_max) ||
        config_int(ctx->cfg, "msg.fanout_threads", 2, 1, 64, &fanout_threads) ||
        config_int(ctx->cfg, "msg.fanout_chunk", 64, 1, 100000, &fanout_chunk) ||
        config_int(ctx->cfg, "msg.conv_cache", 20000, 1, 10000000, &conv_cache) ||
        config_int(ctx->cfg, "msg.instance_beat_ms", 500, 50, 60000, &beat_ms) ||
        config_int(ctx->cfg, "msg.inline_batches", 4, 0, 1000, &inline_batches) ||
        config_int(ctx->cfg, "msg.send_workers", 1, 1, 64, &send_workers))
        return 2;
    p.text_max = text_max;
    p.group_max = (int)group_max;
    p.conv_cache = (int)conv_cache;
    p.revoke_window_s = revoke_window;
    p.db_wait_ms = 2000;
    msg_metrics_init(&p.metrics);
    msg_batch_opts_t bo = {.workers = (int)send_workers, .batch_max = (int)batch_max,
                           .queue_max = (int)queue_max, .wait_us = (int)wait_us,
                           .inline_batches = (int)inline_batches};
    /* The stage holds what the send queues held: a bound of the same size. */
    msg_fanout_opts_t fo = {.threads = (int)fanout_threads, .chunk = (int)fanout_chunk,
                            .queue_max = (int)(queue_max * send_workers)};
    /* Sends are limited on delivery threads, at most one Redis call each at
     * a time: a connection per worker is plenty (the pool waits for one). */
    if (role_rate_rule(ctx, "msg.send_rate", "20/40", &p.send_rate) != NT_OK ||
        (p.send_rate.per_s > 0 && role_redis_open(ctx, (int)workers, &p.redis) != NT_OK))
        goto done;
    connect_arg_t ca = {.ctx = ctx, .workers = (int)workers};
    if (role_db_open(ctx, &p.db) != NT_OK ||
        msg_loop_start(connect_on_loop, &ca, &p.bus, &loop) != NT_OK)
        goto done;
    p.loop = loop;
    msg_owner_opts_t oo = {.bus = p.bus, .beat_ms = (int)beat_ms, .expire_ms = (int)(beat_ms * 3)};
    if (msg_deliver_start(&p, fo) != NT_OK || msg_sends_start(&p, bo) != NT_OK ||
        micro_new(p.bus, "msg", NATTER_VERSION, "natter conversations and messages", &m) != NT_OK ||
        (oo.self = micro_id(m), msg_owner_start(&oo, &p.owner)) != NT_OK ||
        msg_pool_watch(&p) != NT_OK || msg_pool_register(&p, m, (int)workers) != NT_OK) {
        log_error("cannot start the msg service", NULL);
        goto done;
    }
    int inl = msg_loop_take_sends(loop, &p, m);
    if ((inl != NT_OK && inl != NT_EUNAVAIL) || micro_start(m) != NT_OK) {
        log_error("cannot start the msg service", NULL);
        goto done;
    }
    if (msg_owner_join(p.owner) != NT_OK) {
        log_error("cannot start the msg service", "what=ownership");
        goto done;
    }
    role_ops_deps_t od = {.micro = m, .bus = p.bus, .db = p.db, .redis = p.redis,
                          .prom = msg_metrics_render, .prom_arg = &p};
    if (role_ops_start(ctx, &od, &ops) != NT_OK)
        goto done;
    log_info("msg pool ready",
             "id=%s workers=%ld send_workers=%ld text_max=%ld batch_max=%ld batch_wait_us=%ld"
             " sends=%s send_rate=%s",
             micro_id(m), workers, send_workers, text_max, batch_max, wait_us,
             inl == NT_OK ? "loop" : "delivery_threads",
             config_str(ctx->cfg, "msg.send_rate", "20/40"));
    role_wait_stop(ctx);
    msg_owner_leave(p.owner); /* the others take our conversations from now on */
    msg_batch_drain(p.sends);
    msg_fanout_wait_idle(p.fanout); /* the replies of what the workers committed */
    rc = bus_drain(p.bus, 10000) == NT_OK ? 0 : 1;
    msg_batch_stop(p.sends); /* anything a timed-out drain left, while the bus is alive */
    log_batch_stats(&p);
    log_info("drained", "ok=%s", rc == 0 ? "yes" : "no");
done:
    role_ops_stop(ops); /* it reads m and the pools */
    msg_owner_stop(p.owner); /* its beat publishes: before the bus goes */
    msg_batch_stop(p.sends);  /* NULL-safe; workers reply through the bus */
    msg_fanout_stop(p.fanout); /* after the workers that feed it, before the bus */
    msg_loop_stop(loop, MSG_CLOSE_FLUSH_MS); /* writes their replies, closes the bus */
    bus_free(p.bus); /* first of the frees: no handler may run once m is gone */
    micro_free(m);
    msg_owner_free(p.owner); /* announcements arrived on the bus's threads */
    msg_batch_free(p.sends);
    msg_sends_free(&p);
    msg_fanout_free(p.fanout);
    msg_loop_free(loop);
    db_pool_free(p.db);
    redis_pool_free(p.redis);
    return rc;
}
