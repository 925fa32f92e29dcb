/*
 * role_presence.c - `natter presence`: the presence pool process.
 *
 * Wires config, Redis (where presence lives), MariaDB (last_seen and the
 * contacts that events fan out to) and the bus into the "presence" micro
 * service, starts the sweep thread, then waits for SIGTERM and drains:
 * the sweep stops first (it publishes), then NATS stops routing reports to
 * us, in-flight handlers finish and their publishes are flushed, exit 0.
 * Any number of these may run: every transition is decided by one Redis
 * script, so processes never double-announce.
 */
#include "actors/presence_pool.h"
#include "cmd/role_common.h"
#include "cmd/role_ops.h"
#include "common/err.h"
#include "common/log.h"
#include "common/version.h"

int role_presence(const role_ctx_t *ctx)
{
    presence_pool_t p = {0};
    micro_t *m = NULL;
    role_ops_t *ops = NULL;
    long workers, ttl_s, debounce, sweep_ms, sweep_max, query_max, contacts_max;
    int rc = 1;
    const config_t *c = ctx->cfg;
    if (config_int(c, "presence.workers", 4, 1, 64, &workers) ||
        config_int(c, "presence.ttl_s", 60, 1, 86400, &ttl_s) ||
        config_int(c, "presence.debounce_ms", 2000, 0, 600000, &debounce) ||
        config_int(c, "presence.sweep_ms", 500, 10, 60000, &sweep_ms) ||
        config_int(c, "presence.sweep_max", 1000, 1, 100000, &sweep_max) ||
        config_int(c, "presence.query_max", 200, 1, 1000, &query_max) ||
        config_int(c, "presence.contacts_max", 5000, 1, 100000, &contacts_max))
        return 2;
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
        presence_pool_register(&p, m, (int)workers) != NT_OK || micro_start(m) != NT_OK ||
        presence_sweep_start(&p) != NT_OK) {
        log_error("cannot start the presence service", NULL);
        goto done;
    }
    role_ops_deps_t od = {.micro = m, .bus = p.bus, .db = p.db, .redis = p.redis,
                          .redis_required = 1, .prom = presence_metrics_render,
                          .prom_arg = &p};
    if (role_ops_start(ctx, &od, &ops) != NT_OK)
        goto done;
    log_info("presence pool ready", "id=%s workers=%ld ttl_s=%ld debounce_ms=%ld sweep_ms=%ld",
             micro_id(m), workers, ttl_s, debounce, sweep_ms);
    role_wait_stop(ctx);
    presence_sweep_stop(&p);
    rc = bus_drain(p.bus, 10000) == NT_OK ? 0 : 1;
    log_info("drained", "ok=%s", rc == 0 ? "yes" : "no");
done:
    role_ops_stop(ops); /* it reads m and the pools */
    presence_sweep_stop(&p);   /* idempotent; it uses the bus */
    bus_free(p.bus);           /* first of the frees: no handler may run once m is gone */
    micro_free(m);
    db_pool_free(p.db);
    redis_pool_free(p.redis);
    return rc;
}
