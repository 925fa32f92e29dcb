/*
 * ws_presence.c - what the WebSocket edge tells the presence pool, and the
 * typing relay (docs/presence.md).
 *
 * Presence: the edge reports a session `up` when the first socket of that
 * session opens here and `down` when its last one closes (two sockets of
 * one token are one session), and every ws.presence_heartbeat_s ONE
 * heartbeat listing every session it hosts, split into parts of at most
 * WS_PRESENCE_PART sessions so no bus message grows past a few hundred KB.
 * The heartbeat is what keeps sessions alive in Redis (their TTL) and
 * what rebuilds presence after Redis lost its data, so a lost up or down
 * costs at most one interval or one TTL.  Every report carries the edge's
 * id and a seq that grows with each report, so the pool can drop a report
 * that it handles after a newer one about the same session.
 *
 * Typing: a `typing` frame goes to im.conv.<cid>.typing (no reply), where
 * the msg pool checks membership and pushes to the other members.  Per
 * session at most one relay per conversation per WS_TYPING_GAP_US; more is
 * dropped silently, as is typing in more than WS_TYPING_SLOTS conversations
 * within one gap.  The limiter lives in a small block hung off the session
 * only once it types (idle sessions pay one NULL pointer).
 *
 * Everything here runs on the loop thread; publishing only buffers.
 */
#include "edge/ws/ws_internal.h"

#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/natter.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* ---- typing limiter (pure) ------------------------------------------- */

int ws_typing_allow(ws_typing_t **tp, const char *cid, int64_t now_us)
{
    ws_typing_t *t = *tp;
    if (strlen(cid) >= sizeof t->slot[0].cid)
        return 0;
    if (!t && !(t = *tp = calloc(1, sizeof *t)))
        return 0;
    int free_slot = -1;
    for (int i = 0; i < WS_TYPING_SLOTS; i++) {
        int idle = !t->slot[i].cid[0] || now_us - t->slot[i].at_us >= WS_TYPING_GAP_US;
        if (t->slot[i].cid[0] && strcmp(t->slot[i].cid, cid) == 0) {
            if (!idle)
                return 0;
            t->slot[i].at_us = now_us;
            return 1;
        }
        if (idle && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0)
        return 0;
    snprintf(t->slot[free_slot].cid, sizeof t->slot[free_slot].cid, "%s", cid);
    t->slot[free_slot].at_us = now_us;
    return 1;
}

void ws_typing_free(ws_typing_t *t)
{
    free(t);
}

int ws_typing(ws_state_t *st, ws_session_t *s, const char *cid)
{
    char subj[SUBJECT_MAX];
    if (subject_conv(subj, sizeof subj, cid, "typing") != NT_OK)
        return NT_EINVAL;   /* no conversation has such an id */
    if (!ws_typing_allow(&s->typing, cid, lws_now_usecs()))
        return NT_OK;       /* too soon again: dropped silently */
    Natter__TypingReq req = NATTER__TYPING_REQ__INIT;
    req.conversation_id = (char *)cid;
    char tp[64];
    bus_traceparent_new(tp, sizeof tp);
    int rc = bus_publish_pb(st->e->bus, subj, &req.base, s->who.uid, tp);
    if (rc != NT_OK)
        log_debug("typing not relayed", "sid=%s err=\"%s\"", s->who.sid, nt_strerror(rc));
    return NT_OK;
}

/* ---- presence reports ------------------------------------------------ */

int ws_presence_start(ws_state_t *st)
{
    natsInbox *inbox = NULL;
    if (natsInbox_Create(&inbox) != NATS_OK)
        return NT_EBUS;
    const char *id = strrchr((const char *)inbox, '.');
    snprintf(st->edge_id, sizeof st->edge_id, "%s", id ? id + 1 : (const char *)inbox);
    natsInbox_Destroy(inbox);
    int hb = st->e->presence_heartbeat_s;
    st->presence_next_us = hb > 0 ? lws_now_usecs() + (int64_t)hb * 1000000 : 0;
    log_info("presence reports", "edge=%s heartbeat_s=%d", st->edge_id, hb);
    return NT_OK;
}

/* Publish a report of sessions v[0..n) on im.svc.presence.<op>. */
static void report(ws_state_t *st, const char *op, Natter__PresenceSession **v, size_t n)
{
    char subj[SUBJECT_MAX];
    Natter__PresenceReport r = NATTER__PRESENCE_REPORT__INIT;
    r.edge_id = st->edge_id;
    r.seq = ++st->presence_seq;
    r.n_sessions = n;
    r.sessions = v;
    char tp[64];
    bus_traceparent_new(tp, sizeof tp);
    int rc = subject_svc(subj, sizeof subj, "presence", op);
    if (rc == NT_OK)
        rc = bus_publish_pb(st->e->bus, subj, &r.base, NULL, tp);
    if (rc != NT_OK)
        log_warn("presence report failed", "op=%s sessions=%zu err=\"%s\"", op, n,
                 nt_strerror(rc));
}

static void report_one(ws_state_t *st, const char *op, const ws_session_t *s)
{
    Natter__PresenceSession one = NATTER__PRESENCE_SESSION__INIT;
    Natter__PresenceSession *v[1] = {&one};
    one.user_id = (char *)s->who.uid;
    one.session_id = (char *)s->who.sid;
    one.address = s->addr ? s->addr->ip : "";
    one.since = s->since_ms;
    report(st, op, v, 1);
}

/* Another socket of s's session, from list, other than s itself. */
static int sid_elsewhere(const ws_session_t *list, const ws_session_t *s)
{
    for (const ws_session_t *o = list; o; o = o->u_next)
        if (o != s && strcmp(o->who.sid, s->who.sid) == 0)
            return 1;
    return 0;
}

void ws_presence_attach(ws_state_t *st, ws_session_t *s)
{
    if (st->e->presence_heartbeat_s > 0 && s->user && !sid_elsewhere(s->user->sessions, s))
        report_one(st, "up", s);
}

void ws_presence_detach(ws_state_t *st, ws_user_t *u, ws_session_t *s)
{
    ws_typing_free(s->typing);
    s->typing = NULL;
    if (st->e->presence_heartbeat_s > 0 && !sid_elsewhere(u->sessions, s))
        report_one(st, "down", s);
}

/* The heartbeat: every session of this edge once (sockets of one session
 * collapse), in parts of at most WS_PRESENCE_PART. */
static void heartbeat(ws_state_t *st)
{
    Natter__PresenceSession *items = calloc(WS_PRESENCE_PART, sizeof *items);
    Natter__PresenceSession **v = calloc(WS_PRESENCE_PART, sizeof *v);
    size_t n = 0, total = 0;
    if (!items || !v) {
        log_error("presence heartbeat skipped", "err=\"%s\"", nt_strerror(NT_ENOMEM));
        goto done;
    }
    for (size_t b = 0; b < WS_HASH_SIZE; b++)
        for (ws_user_t *u = st->users[b]; u; u = u->next)
            for (ws_session_t *s = u->sessions; s; s = s->u_next) {
                int dup = 0;    /* an earlier socket of the same session */
                for (ws_session_t *o = u->sessions; o != s && !dup; o = o->u_next)
                    dup = strcmp(o->who.sid, s->who.sid) == 0;
                if (dup)
                    continue;
                natter__presence_session__init(&items[n]);
                items[n].user_id = s->who.uid;
                items[n].session_id = s->who.sid;
                items[n].address = s->addr ? s->addr->ip : "";
                items[n].since = s->since_ms;
                v[n] = &items[n];
                if (++n == WS_PRESENCE_PART) {
                    report(st, "heartbeat", v, n);
                    total += n;
                    n = 0;
                }
            }
    if (n > 0)
        report(st, "heartbeat", v, n);
    total += n;
    log_debug("presence heartbeat", "edge=%s sessions=%zu", st->edge_id, total);
done:
    free(items);
    free(v);
}

void ws_presence_tick(ws_state_t *st, int64_t now_us)
{
    int hb = st->e->presence_heartbeat_s;
    if (hb <= 0 || now_us < st->presence_next_us)
        return;
    st->presence_next_us = now_us + (int64_t)hb * 1000000;
    heartbeat(st);
}
