/*
 * role_presence.c - `natter presence`: the presence pool process.
 *
 * Wires config, Redis (where presence lives), MariaDB (last_seen and the
 * contacts that events fan out to) and the bus into the "presence" micro
 * service, which also keeps calls (actors/call_pool.h: the offer endpoint,
 * each call's own subscription, their timer thread and /metrics
 * counters), starts the sweep thread, then waits for SIGTERM and drains
 * (live calls end first, as gone):
 * the sweep stops first (it publishes), then NATS stops routing reports to
 * us, in-flight handlers finish and their publishes are flushed, exit 0.
 * Any number of these may run: every transition is decided by one Redis
 * script, so processes never double-announce.
 */
#include "actors/call_pool.h"
#include "actors/presence_pool.h"
#include "cmd/role_common.h"
#include "cmd/role_ops.h"
#include "common/err.h"
#include "common/log.h"
#include "common/version.h"

#include <string.h>

/* /metrics of the process: the presence pool's and the calls' counters. */
typedef struct presence_metrics_args {
    presence_pool_t *pool;
    call_svc_t *calls;
} presence_metrics_args_t;

static void presence_role_metrics(void *arg, textbuf_t *out)
{
    presence_metrics_args_t *a = arg;
    presence_metrics_render(a->pool, out);
    call_svc_prometheus(a->calls, out);
}

int role_presence(const role_ctx_t *ctx)
{
    presence_pool_t p = {0};
    presence_metrics_args_t pm = {.pool = &p, .calls = NULL};
    static call_svc_t calls; /* ~2 KB of table: not on the stack */
    micro_t *m = NULL;
    role_ops_t *ops = NULL;
    long workers, ttl_s, debounce, sweep_ms, sweep_max, query_max, contacts_max;
    long ring_s, probe_ms, gone_ms, timeout_ms;
    int rc = 1;
    const config_t *c = ctx->cfg;
    if (config_int(c, "presence.workers", 4, 1, 64, &workers) ||
        config_int(c, "presence.ttl_s", 60, 1, 86400, &ttl_s) ||
        config_int(c, "presence.debounce_ms", 2000, 0, 600000, &debounce) ||
        config_int(c, "presence.sweep_ms", 500, 10, 60000, &sweep_ms) ||
        config_int(c, "presence.sweep_max", 1000, 1, 100000, &sweep_max) ||
        config_int(c, "presence.query_max", 200, 1, 1000, &query_max) ||
        config_int(c, "presence.contacts_max", 5000, 1, 100000, &contacts_max) ||
        config_int(c, "call.ring_timeout_s", 30, 1, 3600, &ring_s) ||
        config_int(c, "call.probe_ms", 1000, 100, 60000, &probe_ms) ||
        config_int(c, "call.gone_ms", 3000, 200, 600000, &gone_ms) ||
        config_int(c, "nats.request_timeout_ms", 3000, 100, 600000, &timeout_ms))
        return 2;
    if (gone_ms <= probe_ms) {
        log_error("call.gone_ms must be more than call.probe_ms", NULL);
        return 2;
    }
    memset(&calls, 0, sizeof calls);
    pm.calls = &calls;
    call_svc_defaults(&calls);
    calls.ring_timeout_ms = ring_s * 1000;
    calls.probe_ms = probe_ms;
    calls.gone_ms = gone_ms;
    calls.request_timeout_ms = (int)timeout_ms;
    p.times.ttl_ms = ttl_s * 1000;
    p.times.debounce_ms = debounce;
    p.db_wait_ms = 2000;
    p.sweep_ms = (int)sweep_ms;
    p.sweep_max = (int)sweep_max;
    p.query_max = (int)query_max;
    p.contacts_max = (int)contacts_max;
    if (role_redis_open(ctx, (int)workers + 1, &p.redis) != NT_OK ||
        role_redis_wait(ctx, p.redis) != NT_OK || role_db_open(ctx, &p.db) != NT_OK ||
        role_bus_connect(ctx, "presence", (int)workers, &p.bus) != NT_OK)
        goto done;
    if (micro_new(p.bus, "presence", NATTER_VERSION, "natter presence: who is online, events",
                  &m) != NT_OK ||
        presence_pool_register(&p, m, (int)workers) != NT_OK ||
        (calls.bus = p.bus, calls.db = p.db, calls.redis = p.redis,
         call_svc_register(&calls, m, (int)workers)) != NT_OK ||
        micro_start(m) != NT_OK || presence_sweep_start(&p) != NT_OK ||
        call_svc_start(&calls) != NT_OK) {
        log_error("cannot start the presence service", NULL);
        goto done;
    }
    role_ops_deps_t od = {.micro = m, .bus = p.bus, .db = p.db, .redis = p.redis,
                          .redis_required = 1, .prom = presence_role_metrics,
                          .prom_arg = &pm};
    if (role_ops_start(ctx, &od, &ops) != NT_OK)
        goto done;
    log_info("presence pool ready", "id=%s workers=%ld ttl_s=%ld debounce_ms=%ld sweep_ms=%ld",
             micro_id(m), workers, ttl_s, debounce, sweep_ms);
    role_wait_stop(ctx);
    call_svc_stop(&calls);      /* publishes and asks msg: before the drain */
    presence_sweep_stop(&p);
    rc = bus_drain(p.bus, 10000) == NT_OK ? 0 : 1;
    log_info("drained", "ok=%s", rc == 0 ? "yes" : "no");
done:
    role_ops_stop(ops); /* it reads m and the pools */
    presence_sweep_stop(&p);   /* idempotent; it uses the bus */
    call_svc_stop(&calls);     /* idempotent */
    bus_free(p.bus);           /* first of the frees: no handler may run once m is gone */
    call_svc_free(&calls);
    micro_free(m);
    db_pool_free(p.db);
    redis_pool_free(p.redis);
    return rc;
}
