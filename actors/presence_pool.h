/*
 * presence_pool.h - the presence service: who is online, on which edge,
 * and telling a user's contacts when that changes (DESIGN.md "Processes",
 * "Storage"; API.md presence; docs/presence.md).
 *
 * Served in queue group "presence" by `natter presence`, any number of
 * processes.  Subjects (natter.* protobuf):
 *   im.svc.presence.up         PresenceReport, published by an edge when
 *                              the first socket of a session opens there
 *   im.svc.presence.down       PresenceReport, when its last socket closes
 *   im.svc.presence.heartbeat  PresenceReport with every session of the
 *                              edge, every ws.presence_heartbeat_s
 *   im.svc.presence.query      PresenceQuery -> PresenceList (REST)
 * The first three are fire-and-forget: nobody waits for them, and a lost
 * one is repaired by the next heartbeat or by the TTL.
 *
 * The state is in Redis (store/presence_store.h).  A user is online while
 * any session is; when the store reports a transition, the pool publishes
 * natter.Push {kind:"presence"} on im.user.<c>.push of every contact c.
 * Online is published at once; offline only after presence.debounce_ms
 * without a session (a sweep thread claims due offlines, and sessions
 * whose edge stopped refreshing them), and it also writes last_seen to
 * MariaDB.  Visibility: a query shows online and last_seen of the caller
 * and the caller's contacts only; everyone else reads offline with no
 * last_seen.
 */
#ifndef NT_PRESENCE_POOL_H
#define NT_PRESENCE_POOL_H

#include "bus/bus.h"
#include "bus/micro.h"
#include "common/prom.h"
#include "common/stopper.h"
#include "proto/natter.pb-c.h"
#include "store/db.h"
#include "store/presence_store.h"
#include "store/redis.h"

#include <pthread.h>

/* Sessions one report may carry; edges split heartbeats below this. */
#define PRESENCE_REPORT_MAX 5000

/* Read-only after presence_pool_register, except: stopper (its own lock),
 * and sweeper / sweeper_started, which belong to the thread that calls
 * presence_sweep_start and _stop.  Handlers run on bus delivery threads
 * and share everything else; the sweep runs on its own thread. */
typedef struct presence_pool {
    bus_t *bus;
    db_pool_t *db;
    redis_pool_t *redis;
    presence_times_t times;      /* presence.ttl_s, presence.debounce_ms */
    int db_wait_ms;              /* how long a handler waits for a connection */
    int sweep_ms;                /* presence.sweep_ms: pause between sweeps */
    int sweep_max;               /* sessions expired / users claimed per round */
    int query_max;               /* presence.query_max: ids one query may name */
    int contacts_max;            /* contacts one event fans out to */
    pthread_t sweeper;
    int sweeper_started;
    stopper_t stopper;           /* the sweep's pause; presence_sweep_stop cuts it short */
    prom_counter_t swept_offline; /* users the sweep announced offline (any thread) */
} presence_pool_t;

/* role_ops_deps_t.prom (presence_metrics.c): arg is the pool. */
void presence_metrics_render(void *pool, textbuf_t *out);

/* Add the endpoints to m (queue group "presence"), `workers` each. */
int presence_pool_register(presence_pool_t *p, micro_t *m, int workers);

/* Start the sweep thread.  It expires sessions only from one TTL after
 * start, so a pool that starts (or restarts after an outage) hears a round
 * of heartbeats before it expires anything: sessions refreshed meanwhile
 * are not flapped.  Debounced offlines are claimed from the start. */
int presence_sweep_start(presence_pool_t *p);
/* Stop and join it (idempotent); before bus_drain. */
void presence_sweep_stop(presence_pool_t *p);

/* Handlers (presence_pool.c, presence_query.c). */
int presence_up_h(bus_t *bus, natsMsg *msg, void *arg);
int presence_down_h(bus_t *bus, natsMsg *msg, void *arg);
int presence_heartbeat_h(bus_t *bus, natsMsg *msg, void *arg);
int presence_query_h(bus_t *bus, natsMsg *msg, void *arg);

/* Tell u's contacts that u is now online (u->at: when) or offline (u->at:
 * last seen; also stored as last_seen).  An offline whose user is online
 * again by the time the contacts are known is not sent.  NT_EUNAVAIL when
 * the database (contacts) could not be read: nothing was sent. */
int presence_notify(presence_pool_t *p, const presence_user_t *u, int online, const char *trace);

/* The visible answer for one id (pure, presence_query.c): self or a
 * contact sees online and last_seen (now when online, seen when offline,
 * 0 when never seen); anyone else reads offline with last_seen 0. */
void presence_view(int self, int contact, int online, int64_t seen, int64_t now,
                   Natter__Presence *out);

#endif
