/*
 * call_timer.c - what happens to calls with time (call_pool.h): ring
 * timeouts, liveness probes and their answers, the busy markers' TTL, the
 * record of each ended call in its conversation, and reaping; plus the
 * service's start, stop and metrics.
 *
 * One thread ticks every CALL_TICK_MS.  Probes are asynchronous: a Push
 * {kind:"call_probe"} published as a request on the party's
 * im.user.<uid>.push with the reply subject <inbox>.<call id>.<c|e>; an
 * edge that hosts the session answers, the others keep quiet.  A reply
 * sets the party's seen time; no responders (no edge hosts the user at
 * all: the socket closed or its edge died, and nats-server dropped its
 * subscriptions at once) ends the call as gone on the next tick; silence
 * ends it after call.gone_ms.
 */
#include "actors/call_pool.h"

#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/natter.pb-c.h"
#include "store/call_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CALL_TICK_MS 100
#define CALL_LINGER_MS 5000   /* an ended, recorded call stays this long (late frames) */
#define CALL_LOG_TRIES 5
#define CALL_LOG_BATCH 16     /* records written per tick at most */

void call_svc_defaults(call_svc_t *s)
{
    s->db_wait_ms = 2000;
    s->ring_timeout_ms = 30000;
    s->probe_ms = 1000;
    s->gone_ms = 3000;
    s->marker_ttl_ms = 30000;
    s->request_timeout_ms = 3000;
}

int call_svc_register(call_svc_t *s, micro_t *m, int workers)
{
    if (!s->mu_ok) {
        if (pthread_mutex_init(&s->mu, NULL) != 0)
            return NT_ENOMEM;
        s->mu_ok = 1;
    }
    return micro_add_endpoint(m, "call_offer", "im.svc.call.offer", workers, call_offer_h, s);
}

/* ---- probes ----------------------------------------------------------- */

static void probe(call_svc_t *s, call_t *c, int party)
{
    char subj[SUBJECT_MAX], reply[128];
    Natter__Push p = NATTER__PUSH__INIT;
    p.kind = "call_probe";
    const char *uid = party == CALL_CALLER ? c->caller : c->callee;
    p.session_id = party == CALL_CALLER ? c->caller_sid : c->callee_sid; /* "" while ringing */
    size_t len = protobuf_c_message_get_packed_size(&p.base);
    uint8_t buf[256];
    if (len > sizeof buf || subject_user_push(subj, sizeof subj, uid) != NT_OK)
        return;
    protobuf_c_message_pack(&p.base, buf);
    snprintf(reply, sizeof reply, "%s.%s.%c", s->inbox, c->id, party);
    if (natsConnection_PublishRequest(bus_conn(s->bus), subj, reply, buf, (int)len) != NATS_OK)
        log_debug("call probe not sent", "call=%s", c->id);
}

static void on_probe_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *arg)
{
    (void)nc;
    (void)sub;
    call_svc_t *s = arg;
    char id[CALL_ID_LEN + 1];
    const char *subj = natsMsg_GetSubject(msg), *tail = subj + strlen(s->inbox);
    size_t n = strlen(tail);
    /* ".<32 hex>.<c|e>" */
    if (strncmp(subj, s->inbox, strlen(s->inbox)) == 0 && n == CALL_ID_LEN + 3 &&
        tail[0] == '.' && tail[CALL_ID_LEN + 1] == '.') {
        memcpy(id, tail + 1, CALL_ID_LEN);
        id[CALL_ID_LEN] = '\0';
        int party = tail[CALL_ID_LEN + 2];
        int64_t at = natsMsg_IsNoResponders(msg) ? 0 : call_now_ms();
        pthread_mutex_lock(&s->mu);
        call_t *c = call_find(s, id);
        if (c && c->state != CALL_ENDED) {
            if (party == CALL_CALLER)
                c->caller_seen_ms = at ? at : -1;
            else if (party == CALL_CALLEE)
                c->callee_seen_ms = at ? at : -1;
        }
        pthread_mutex_unlock(&s->mu);
    }
    natsMsg_Destroy(msg);
}

/* ---- one tick ----------------------------------------------------------- */

/* A live call's clocks (under mu). */
static void tick_live(call_svc_t *s, call_t *c, int64_t now)
{
    if (c->state == CALL_RINGING && now - c->created_ms >= s->ring_timeout_ms) {
        call_end(s, c, CALL_R_TIMEOUT, 0, NULL);
        return;
    }
    /* seen < 0: no edge hosts the party at all (no responders) */
    if (c->caller_seen_ms < 0 || now - c->caller_seen_ms > s->gone_ms) {
        call_end(s, c, CALL_R_GONE, CALL_CALLER, c->caller_sid);
        return;
    }
    if (c->callee_seen_ms < 0 || now - c->callee_seen_ms > s->gone_ms) {
        call_end(s, c, CALL_R_GONE, CALL_CALLEE, c->callee_sid);
        return;
    }
    if (now >= c->next_probe_ms) {
        c->next_probe_ms = now + s->probe_ms;
        probe(s, c, CALL_CALLER);
        probe(s, c, CALL_CALLEE);
    }
    if (c->markers && now >= c->next_keep_ms) {
        const char *uids[2] = {c->caller, c->callee};
        c->next_keep_ms = now + s->marker_ttl_ms / 3;
        if (call_store_keep(s->redis, uids, 2, c->id, s->marker_ttl_ms) != NT_OK)
            log_warn("busy markers not extended", "call=%s", c->id);
    }
}

static void reap(call_svc_t *s, call_t **pp)
{
    call_t *c = *pp;
    *pp = c->next;
    s->n_calls--;
    if (c->sub)
        natsSubscription_Destroy(c->sub);
    free(c);
}

/* Under mu: advance every call; copy up to max ended calls due for their
 * record into todo. */
static int tick_all(call_svc_t *s, int64_t now, call_t *todo, int max)
{
    int n = 0;
    for (int b = 0; b < CALL_HASH; b++) {
        call_t **pp = &s->calls[b];
        while (*pp) {
            call_t *c = *pp;
            if (c->state != CALL_ENDED)
                tick_live(s, c, now);
            if (c->state == CALL_ENDED && !c->logged && now >= c->next_log_ms && n < max) {
                todo[n++] = *c;
                c->next_log_ms = now + 1000;   /* not again before that one is done */
            }
            if (c->state == CALL_ENDED && c->logged && now - c->ended_ms >= CALL_LINGER_MS) {
                reap(s, pp);
                continue;
            }
            pp = &c->next;
        }
    }
    return n;
}

/* Write the records (no lock held), then note the outcome. */
static void write_logs(call_svc_t *s, call_t *todo, int n)
{
    for (int i = 0; i < n; i++) {
        int rc = call_log(s, &todo[i]);
        pthread_mutex_lock(&s->mu);
        call_t *c = call_find(s, todo[i].id);
        if (c) {
            c->log_tries++;
            if (rc == NT_OK || c->log_tries >= CALL_LOG_TRIES) {
                c->logged = 1;
                if (rc != NT_OK) {
                    s->log_failed++;
                    log_error("call not recorded", "call=%s cid=%s err=\"%s\"", c->id, c->cid,
                              nt_strerror(rc));
                }
            }
        }
        pthread_mutex_unlock(&s->mu);
    }
}

static void *timer_main(void *arg)
{
    call_svc_t *s = arg;
    call_t todo[CALL_LOG_BATCH];
    while (stopper_sleep_ms(&s->stopper, CALL_TICK_MS) == 0) {
        pthread_mutex_lock(&s->mu);
        int n = tick_all(s, call_now_ms(), todo, CALL_LOG_BATCH);
        pthread_mutex_unlock(&s->mu);
        write_logs(s, todo, n);
    }
    return NULL;
}

int call_svc_start(call_svc_t *s)
{
    natsInbox *inbox = NULL;
    char subj[96];
    if (natsInbox_Create(&inbox) != NATS_OK)
        return NT_EBUS;
    snprintf(s->inbox, sizeof s->inbox, "%s", (const char *)inbox);
    natsInbox_Destroy(inbox);
    snprintf(subj, sizeof subj, "%s.>", s->inbox);
    if (natsConnection_Subscribe(&s->probe_sub, bus_conn(s->bus), subj, on_probe_reply, s) !=
        NATS_OK)
        return NT_EBUS;
    if (stopper_init(&s->stopper) != NT_OK)
        return NT_ENOMEM;
    if (pthread_create(&s->timer, NULL, timer_main, s) != 0) {
        stopper_fini(&s->stopper);
        return NT_ENOMEM;
    }
    s->timer_started = 1;
    log_info("calls ready", "ring_timeout_ms=%lld probe_ms=%lld gone_ms=%lld",
             (long long)s->ring_timeout_ms, (long long)s->probe_ms, (long long)s->gone_ms);
    return NT_OK;
}

void call_svc_stop(call_svc_t *s)
{
    if (s->timer_started) {
        stopper_stop(&s->stopper);
        pthread_join(s->timer, NULL);
        stopper_fini(&s->stopper);
        s->timer_started = 0;
    }
    if (!s->mu_ok)
        return;
    /* The keeper is going: end what lives (the parties hear gone) and try
     * once to record every call not recorded yet. */
    call_t todo[CALL_LOG_BATCH];
    int n;
    do {
        pthread_mutex_lock(&s->mu);
        n = 0;
        for (int b = 0; b < CALL_HASH; b++)
            for (call_t *c = s->calls[b]; c; c = c->next) {
                if (c->state != CALL_ENDED)
                    call_end(s, c, CALL_R_GONE, 0, NULL);
                if (!c->logged && n < CALL_LOG_BATCH) {
                    c->log_tries = CALL_LOG_TRIES - 1;   /* one try each */
                    todo[n++] = *c;
                }
            }
        pthread_mutex_unlock(&s->mu);
        write_logs(s, todo, n);
    } while (n == CALL_LOG_BATCH);
    if (s->probe_sub) {
        natsSubscription_Unsubscribe(s->probe_sub);
    }
}

void call_svc_free(call_svc_t *s)
{
    for (int b = 0; b < CALL_HASH; b++)
        while (s->calls[b])
            reap(s, &s->calls[b]);
    if (s->probe_sub)
        natsSubscription_Destroy(s->probe_sub);
    s->probe_sub = NULL;
    if (s->mu_ok)
        pthread_mutex_destroy(&s->mu);
    s->mu_ok = 0;
}

void call_svc_prometheus(void *arg, textbuf_t *out)
{
    call_svc_t *s = arg;
    if (!s || !s->mu_ok)
        return;
    pthread_mutex_lock(&s->mu);
    int live = 0;
    for (int b = 0; b < CALL_HASH; b++)
        for (call_t *c = s->calls[b]; c; c = c->next)
            live += c->state != CALL_ENDED;
    textbuf_printf(out,
                   "# HELP natter_calls_started_total Calls offered (every call that got an id).\n"
                   "# TYPE natter_calls_started_total counter\n"
                   "natter_calls_started_total %llu\n"
                   "# HELP natter_calls_answered_total Calls answered.\n"
                   "# TYPE natter_calls_answered_total counter\n"
                   "natter_calls_answered_total %llu\n"
                   "# HELP natter_calls_ended_total Calls ended, by reason.\n"
                   "# TYPE natter_calls_ended_total counter\n",
                   (unsigned long long)s->started, (unsigned long long)s->answered);
    for (int r = 0; r < CALL_R_COUNT; r++)
        textbuf_printf(out, "natter_calls_ended_total{reason=\"%s\"} %llu\n",
                       call_reason_name((call_reason_t)r), (unsigned long long)s->ended[r]);
    textbuf_printf(out,
                   "# HELP natter_calls_unrecorded_total Ended calls whose system message "
                   "could not be stored.\n"
                   "# TYPE natter_calls_unrecorded_total counter\n"
                   "natter_calls_unrecorded_total %llu\n"
                   "# HELP natter_calls_active Calls ringing or active in this process.\n"
                   "# TYPE natter_calls_active gauge\n"
                   "natter_calls_active %d\n",
                   (unsigned long long)s->log_failed, live);
    pthread_mutex_unlock(&s->mu);
}
