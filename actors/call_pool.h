/*
 * call_pool.h - one-to-one calls: the call actor that relays WebRTC
 * signaling between two users' sessions (API.md "Calls", docs/calls.md).
 *
 * Hosted by `natter presence` (the pool that knows which sessions are
 * online, and has Redis and MariaDB at hand).  A call is created by
 * im.svc.call.offer (queue group "presence": any presence process) and is
 * then kept, for its whole life, by the process that created it: that
 * process subscribes the call's own address im.call.<call_id>.> (answer,
 * ice, hangup), so frames for the call reach exactly its owner, wherever
 * the parties' edges are, and a call that does not exist or is over has
 * no responder (the edge answers not_found).  Starting another presence
 * process adds capacity: new calls spread over the queue group, each stays
 * where it began.
 *
 * State machine: ringing -> active (answer) -> ended, or ringing -> ended
 * (canceled, rejected, timeout, gone); busy and unavailable end a call at
 * once.  Who may say what, and who hears it: call_rules.c (pure).
 * Liveness: every call.probe_ms the owner asks the edges (a Push
 * {kind:"call_probe"} request on im.user.<uid>.push) whether each party's
 * session in the call is still connected; a party no edge vouched for
 * within call.gone_ms (or that no edge hosts at all: no responders) is
 * gone.  Busy: Redis markers per user (store/call_store.h).  Every ended
 * call is recorded once as a system message through the msg pool
 * (im.svc.msg.internal.call_log, retried; its client_msg_id is the call
 * id, so a retry cannot store it twice).
 *
 * Threads: the offer handler and the call subscriptions run on bus
 * delivery threads, the timer (ring timeouts, probes, markers, the call
 * log) on its own thread; `mu` guards the call table and every call in
 * it.  Publishing under mu is fine (nats.c buffers); the call log's
 * requests are made without it.
 */
#ifndef NT_CALL_POOL_H
#define NT_CALL_POOL_H

#include "bus/bus.h"
#include "bus/micro.h"
#include "common/stopper.h"
#include "common/textbuf.h"
#include "store/db.h"
#include "store/redis.h"

#include <pthread.h>
#include <stdint.h>

#define CALL_ID_LEN 32          /* hex characters of a call id (128 random bits) */
#define CALL_SDP_MAX 65536      /* bytes of an sdp */
#define CALL_CANDIDATE_MAX 4096 /* bytes of a candidate's JSON text */
#define CALL_HASH 256
/* The msg pool's endpoint that stores an ended call (edges may not publish it). */
#define CALL_LOG_SUBJECT "im.svc.msg.internal.call_log"

typedef enum { CALL_RINGING = 1, CALL_ACTIVE, CALL_ENDED } call_state_t;

/* End reasons (API.md); CALL_R_COUNT sizes the counters. */
typedef enum {
    CALL_R_HANGUP = 0,
    CALL_R_CANCELED,
    CALL_R_REJECTED,
    CALL_R_TIMEOUT,
    CALL_R_BUSY,
    CALL_R_UNAVAILABLE,
    CALL_R_GONE,
    CALL_R_COUNT
} call_reason_t;

const char *call_reason_name(call_reason_t r);

typedef struct call {
    struct call *next;            /* hash chain */
    char id[CALL_ID_LEN + 1];
    char cid[24];
    char media[8];
    char caller[24], callee[24];  /* user ids */
    char caller_sid[64];          /* the session that offered */
    char callee_sid[64];          /* the session that answered; "" while ringing */
    call_state_t state;
    call_reason_t reason;         /* once ended */
    int64_t created_ms, answered_ms, ended_ms;
    int64_t caller_seen_ms, callee_seen_ms;  /* last time an edge vouched for the party */
    int64_t next_probe_ms, next_keep_ms;
    int markers;                  /* busy markers taken (released at the end) */
    int logged;                   /* 1: system message stored (or given up) */
    int log_tries;
    int64_t next_log_ms;
    natsSubscription *sub;        /* im.call.<id>.>; NULL: none */
} call_t;

typedef struct call_svc {
    bus_t *bus;
    db_pool_t *db;
    redis_pool_t *redis;
    int db_wait_ms;
    int64_t ring_timeout_ms;      /* call.ring_timeout_s */
    int64_t probe_ms;             /* call.probe_ms */
    int64_t gone_ms;              /* call.gone_ms */
    int64_t marker_ttl_ms;        /* busy markers live this long unless extended */
    int request_timeout_ms;       /* the call log's request to msg */
    pthread_mutex_t mu;
    int mu_ok;
    call_t *calls[CALL_HASH];     /* live calls and ended ones not yet reaped */
    int n_calls;
    char inbox[64];               /* probe replies: <inbox>.<call id>.<c|e> */
    natsSubscription *probe_sub;
    pthread_t timer;
    int timer_started;
    stopper_t stopper;
    /* counters (under mu) */
    uint64_t started, answered, ended[CALL_R_COUNT], log_failed;
} call_svc_t;

/* Defaults for the settings above; then the role overrides from config. */
void call_svc_defaults(call_svc_t *s);

/* Add the offer endpoint (im.svc.call.offer) to m, `workers` subscriptions;
 * before micro_start.  s must have bus, db and redis. */
int call_svc_register(call_svc_t *s, micro_t *m, int workers);

/* After micro_start: the probe reply subscription and the timer thread. */
int call_svc_start(call_svc_t *s);

/* Before bus_drain: stop the timer, end every live call (reason gone: its
 * keeper is going away), try once to record each, drop the subscriptions.
 * Idempotent. */
void call_svc_stop(call_svc_t *s);

/* Free what is left (after bus_free). */
void call_svc_free(call_svc_t *s);

/* Prometheus text: natter_calls_started_total, natter_calls_answered_total,
 * natter_calls_ended_total{reason}, natter_calls_active. */
void call_svc_prometheus(void *arg, textbuf_t *out);

/* ---- the rules (call_rules.c, pure) ---- */

#define CALL_CALLER 'c'
#define CALL_CALLEE 'e'

/* Who gets a frame: uid's sessions sid ("" = all), except skip ("" = none). */
typedef struct call_target {
    const char *uid, *sid, *skip;
} call_target_t;

/* Which party (uid, sid) is in c: CALL_CALLER (the offering session),
 * CALL_CALLEE (any of the callee's sessions while ringing, the answering
 * one once active), or 0: not in the call. */
int call_party(const call_t *c, const char *uid, const char *sid);
/* The reason a hangup by party gives: hangup once active, canceled by the
 * caller and rejected by the callee while ringing. */
call_reason_t call_hangup_reason(const call_t *c, int party);
/* Where party's ICE candidate goes: the caller's to every ringing session
 * of the callee, then to the one that answered; the callee's to the
 * caller's session. */
void call_ice_target(const call_t *c, int party, call_target_t *out);
/* Who hears that c ended with r (c still in the state it ended from);
 * by_party / by_sid: who ended it (hangup) or who is gone (gone; by_party
 * 0: both sides are told, the keeper is going away).  Fills out[0..2),
 * returns how many. */
int call_end_targets(const call_t *c, call_reason_t r, int by_party, const char *by_sid,
                     call_target_t out[2]);

/* ---- inside the actor (call_actor.c, call_offer.c, call_timer.c) ---- */

int64_t call_now_ms(void);
call_t *call_find(call_svc_t *s, const char *id);          /* under mu */
void call_insert(call_svc_t *s, call_t *c);                 /* under mu */
/* End c (under mu): state ended, counters, the hangup frames to whoever
 * must hear it (call_rules.c), markers released, subscription cut. */
void call_end(call_svc_t *s, call_t *c, call_reason_t r, int by_party, const char *by_sid);
/* Publish a call event to uid's sessions (sid "" = all, skip "" = none). */
void call_push(call_svc_t *s, const call_t *c, const char *uid, const char *sid,
               const char *skip, const char *op, const char *sdp, const char *candidate,
               const char *reason);
/* The handler of a call's own subscription (answer, ice, hangup). */
void call_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure);
/* Subscribe im.call.<c->id>.> (under mu). */
int call_subscribe(call_svc_t *s, call_t *c);
int call_offer_h(bus_t *bus, natsMsg *msg, void *arg);
/* Record c as a system message (no lock held; c is a copy). */
int call_log(call_svc_t *s, const call_t *c);

#endif
