/*
 * presence_sweep.c - the thread that notices users going offline.
 *
 * Nobody reports a session that vanished with its edge (SIGKILL, a lost
 * network): its deadline in Redis passes.  Redis keyspace notifications
 * would tell us about expired keys, but they are fire-and-forget pub/sub
 * (lost while no presence process listens, delivered to every listener,
 * and an expired key is only noticed when Redis gets to it), so instead
 * every pool process runs this loop: one script expires the sessions
 * whose deadline passed (the sorted set pr:dl, by deadline) and claims
 * the users whose offline is due (the debounce window passed without a
 * session coming back).  The script runs atomically, so each transition
 * is claimed by exactly one process; a claim whose fan-out fails (the
 * database is down) is put back and tried again next round.
 */
#include "actors/presence_pool.h"

#include "common/err.h"
#include "common/log.h"

#include <stdlib.h>
#include <time.h>

/* One round; the number of users claimed, or < 0 when Redis failed. */
static int sweep_once(presence_pool_t *p, int expire)
{
    presence_user_t *off = NULL;
    int n = 0;
    int rc = presence_store_sweep(p->redis, &p->times, p->sweep_max, expire, &off, &n);
    if (rc != NT_OK)
        return rc;
    for (int i = 0; i < n; i++) {
        char tp[64];
        bus_traceparent_new(tp, sizeof tp);
        if (presence_notify(p, &off[i], 0, tp) == NT_OK) {
            prom_inc(&p->swept_offline, 1);
            continue;
        }
        log_warn("offline not announced, retrying", "uid=%s", off[i].uid);
        if (presence_store_requeue(p->redis, &off[i]) != NT_OK)
            log_error("offline lost", "uid=%s last_seen=%lld", off[i].uid, (long long)off[i].at);
    }
    free(off);
    return n;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *sweep_main(void *arg)
{
    presence_pool_t *p = arg;
    int failing = 0;
    /* Expiry waits one TTL after start (see presence_pool.h); debounced
     * offlines from `down` reports are claimed from the start. */
    int64_t expire_from = mono_ms() + p->times.ttl_ms;
    for (;;) {
        int n = sweep_once(p, mono_ms() >= expire_from);
        if (n < 0 && !failing)
            log_warn("presence sweep failed", "err=\"%s\"", nt_strerror(n));
        else if (n >= 0 && failing)
            log_info("presence sweep recovered", NULL);
        failing = n < 0;
        /* A full round means more is due: go again at once. */
        if (stopper_sleep_ms(&p->stopper, n >= p->sweep_max ? 0 : p->sweep_ms))
            break;
    }
    db_thread_end();
    return NULL;
}

int presence_sweep_start(presence_pool_t *p)
{
    if (stopper_init(&p->stopper) != NT_OK)
        return NT_EINTERNAL;
    if (pthread_create(&p->sweeper, NULL, sweep_main, p) != 0) {
        stopper_fini(&p->stopper);
        return NT_EINTERNAL;
    }
    p->sweeper_started = 1;
    return NT_OK;
}

void presence_sweep_stop(presence_pool_t *p)
{
    if (!p->sweeper_started)
        return;
    stopper_stop(&p->stopper);
    pthread_join(p->sweeper, NULL);
    p->sweeper_started = 0;
    stopper_fini(&p->stopper);
}
