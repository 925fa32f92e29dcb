/*
 * presence_metrics.c - the presence pool's /metrics lines: who is online
 * (from Redis, shared by every presence process, so each one reports the
 * same numbers: aggregate with max, not sum) and how many users this
 * process's sweep announced offline.
 */
#include "actors/presence_pool.h"

#include "common/err.h"

void presence_metrics_render(void *pool, textbuf_t *o)
{
    presence_pool_t *p = pool;
    int64_t users = 0, sessions = 0;
    if (presence_store_counts(p->redis, &users, &sessions) == NT_OK) {
        prom_header(o, "natter_presence_users_online", "gauge",
                    "Users with at least one live session (all edges; same on every presence process).");
        prom_sample(o, "natter_presence_users_online", NULL, (double)users);
        prom_header(o, "natter_presence_sessions", "gauge",
                    "Live sessions (all edges; same on every presence process).");
        prom_sample(o, "natter_presence_sessions", NULL, (double)sessions);
    }
    prom_header(o, "natter_presence_expirations_total", "counter",
                "Users this process's sweep turned offline: every session expired (no heartbeat "
                "within presence.ttl_s) or closed longer than presence.debounce_ms ago.");
    prom_sample(o, "natter_presence_expirations_total", NULL, (double)prom_get(&p->swept_offline));
}
