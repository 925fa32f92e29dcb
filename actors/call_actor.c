/*
 * call_actor.c - a call once it exists (call_pool.h): its table, its own
 * subscription im.call.<id>.> (answer, ice, hangup), the frames it sends
 * to the parties' sessions, its end, and its record in the conversation.
 *
 * Every verb is answered (Empty, or an error the edge turns into API.md's
 * error frame); what the other party hears goes as Push {kind:"call"} on
 * im.user.<uid>.push with the session filters the edges apply, so a call
 * needs no subscription of its own on any edge.
 */
#include "actors/call_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/natter.pb-c.h"
#include "store/call_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int64_t call_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static unsigned bucket(const char *id)
{
    unsigned h = 2166136261u;
    while (*id)
        h = (h ^ (unsigned char)*id++) * 16777619u;
    return h % CALL_HASH;
}

call_t *call_find(call_svc_t *s, const char *id)
{
    for (call_t *c = s->calls[bucket(id)]; c; c = c->next)
        if (strcmp(c->id, id) == 0)
            return c;
    return NULL;
}

void call_insert(call_svc_t *s, call_t *c)
{
    unsigned b = bucket(c->id);
    c->next = s->calls[b];
    s->calls[b] = c;
    s->n_calls++;
}

void call_push(call_svc_t *s, const call_t *c, const char *uid, const char *sid,
               const char *skip, const char *op, const char *sdp, const char *candidate,
               const char *reason)
{
    char subj[SUBJECT_MAX], tp[64];
    Natter__CallEvent ev = NATTER__CALL_EVENT__INIT;
    ev.op = (char *)op;
    ev.call_id = (char *)c->id;
    ev.conversation_id = (char *)c->cid;
    ev.from = (char *)c->caller;
    ev.media = (char *)c->media;
    ev.sdp = (char *)(sdp ? sdp : "");
    ev.candidate = (char *)(candidate ? candidate : "");
    ev.reason = (char *)(reason ? reason : "");
    Natter__Push push = NATTER__PUSH__INIT;
    push.kind = "call";
    push.call = &ev;
    push.session_id = (char *)(sid ? sid : "");
    push.except_session_id = (char *)(skip ? skip : "");
    bus_traceparent_new(tp, sizeof tp);
    int rc = subject_user_push(subj, sizeof subj, uid);
    if (rc == NT_OK)
        rc = bus_publish_pb(s->bus, subj, &push.base, NULL, tp);
    if (rc != NT_OK)
        log_warn("call push failed", "call=%s uid=%s op=%s err=\"%s\"", c->id, uid, op,
                 nt_strerror(rc));
}

int call_subscribe(call_svc_t *s, call_t *c)
{
    char subj[SUBJECT_MAX];
    /* subject_call refuses '>' (rightly): this wildcard is ours */
    if (subject_call(subj, sizeof subj, c->id, "x") != NT_OK)
        return NT_EINVAL;
    subj[strlen(subj) - 1] = '>';
    if (natsConnection_Subscribe(&c->sub, bus_conn(s->bus), subj, call_on_msg, s) != NATS_OK) {
        c->sub = NULL;
        return NT_EBUS;
    }
    return NT_OK;
}

void call_end(call_svc_t *s, call_t *c, call_reason_t r, int by_party, const char *by_sid)
{
    if (c->state == CALL_ENDED)
        return;
    call_target_t t[2];
    int n = call_end_targets(c, r, by_party, by_sid, t);
    for (int i = 0; i < n; i++)
        call_push(s, c, t[i].uid, t[i].sid, t[i].skip, "call_hangup", NULL, NULL,
                  call_reason_name(r));
    c->state = CALL_ENDED;
    c->reason = r;
    c->ended_ms = call_now_ms();
    c->next_log_ms = c->ended_ms;
    s->ended[r]++;
    /* The address goes now: later frames find no responder (not_found).
     * The subscription object is destroyed when the call is reaped, never
     * inside its own handler. */
    if (c->sub)
        natsSubscription_Unsubscribe(c->sub);
    if (c->markers) {
        const char *uids[2] = {c->caller, c->callee};
        if (call_store_keep(s->redis, uids, 2, c->id, 0) != NT_OK)
            log_warn("busy markers not released", "call=%s (they lapse)", c->id);
        c->markers = 0;
    }
    log_info("call ended", "call=%s cid=%s reason=%s answered=%d", c->id, c->cid,
             call_reason_name(r), c->answered_ms > 0);
}

/* ---- the verbs ----------------------------------------------------- */

static int verb_answer(call_svc_t *s, call_t *c, natsMsg *msg, int party, const char *uid,
                       const char *sid, const Natter__CallReq *req)
{
    if (c->state == CALL_ACTIVE && strcmp(uid, c->callee) == 0)
        return pool_fail(s->bus, msg, NT_ECONFLICT, "call already answered");
    if (party != CALL_CALLEE)
        return pool_fail(s->bus, msg, NT_EFORBIDDEN, "only the callee answers");
    size_t n = strlen(req->sdp);
    if (n == 0 || n > CALL_SDP_MAX)
        return pool_fail(s->bus, msg, NT_EINVAL, "sdp must be a string of 1-65536 bytes");
    c->state = CALL_ACTIVE;
    snprintf(c->callee_sid, sizeof c->callee_sid, "%s", sid);
    c->answered_ms = c->callee_seen_ms = call_now_ms();
    s->answered++;
    Natter__Empty e = NATTER__EMPTY__INIT;
    int rc = bus_reply_pb(s->bus, msg, &e.base);
    call_push(s, c, c->caller, c->caller_sid, "", "call_answer", req->sdp, NULL, NULL);
    call_push(s, c, c->callee, "", sid, "call_hangup", NULL, NULL, "answered_elsewhere");
    log_info("call answered", "call=%s", c->id);
    return rc;
}

static int verb_ice(call_svc_t *s, call_t *c, natsMsg *msg, int party,
                    const Natter__CallReq *req)
{
    size_t n = strlen(req->candidate);
    if (n < 2 || n > CALL_CANDIDATE_MAX || req->candidate[0] != '{' ||
        req->candidate[n - 1] != '}')
        return pool_fail(s->bus, msg, NT_EINVAL, "candidate must be an object");
    call_target_t t;
    call_ice_target(c, party, &t);
    call_push(s, c, t.uid, t.sid, t.skip, "call_ice", NULL, req->candidate, NULL);
    Natter__Empty e = NATTER__EMPTY__INIT;
    return bus_reply_pb(s->bus, msg, &e.base);
}

/* im.call.<id>.<verb> -> id (n bytes) and verb; 0 if malformed. */
static int parse_subject(const char *subj, char *id, size_t n, const char **verb)
{
    const char *p = "im.call.";
    if (strncmp(subj, p, strlen(p)) != 0)
        return 0;
    subj += strlen(p);
    const char *dot = strchr(subj, '.');
    if (!dot || dot == subj || (size_t)(dot - subj) >= n)
        return 0;
    memcpy(id, subj, (size_t)(dot - subj));
    id[dot - subj] = '\0';
    *verb = dot + 1;
    return 1;
}

static int handle(call_svc_t *s, natsMsg *msg)
{
    char id[CALL_ID_LEN + 8];
    const char *verb;
    const char *uid = bus_header(msg, BUS_H_UID), *sid = bus_header(msg, BUS_H_SID);
    if (!parse_subject(natsMsg_GetSubject(msg), id, sizeof id, &verb))
        return pool_fail(s->bus, msg, NT_ENOTFOUND, "call not found");
    if (!uid || !sid)
        return pool_fail(s->bus, msg, NT_EUNAUTH, "not logged in");
    Natter__CallReq *req = pool_unpack(s->bus, msg, &natter__call_req__descriptor);
    if (!req)
        return NT_EINVAL;
    int rc;
    pthread_mutex_lock(&s->mu);
    call_t *c = call_find(s, id);
    int party = c ? call_party(c, uid, sid) : 0;
    if (!c || c->state == CALL_ENDED) {
        rc = pool_fail(s->bus, msg, NT_ENOTFOUND, "call not found");
    } else if (strcmp(verb, "answer") == 0) {
        rc = verb_answer(s, c, msg, party, uid, sid, req);
    } else if (!party) {
        rc = pool_fail(s->bus, msg, NT_EFORBIDDEN, "not in this call");
    } else if (strcmp(verb, "ice") == 0) {
        rc = verb_ice(s, c, msg, party, req);
    } else if (strcmp(verb, "hangup") == 0) {
        Natter__Empty e = NATTER__EMPTY__INIT;
        rc = bus_reply_pb(s->bus, msg, &e.base);
        call_end(s, c, call_hangup_reason(c, party), party, sid);
    } else {
        rc = pool_fail(s->bus, msg, NT_ENOTFOUND, "no such call operation");
    }
    pthread_mutex_unlock(&s->mu);
    natter__call_req__free_unpacked(req, NULL);
    return rc;
}

void call_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    if (natsMsg_GetReply(msg) && *natsMsg_GetReply(msg))
        handle(closure, msg);
    natsMsg_Destroy(msg);
}

/* ---- the record in the conversation ---------------------------------- */

int call_log(call_svc_t *s, const call_t *c)
{
    char subj[SUBJECT_MAX], tp[64];
    Natter__CallLogReq r = NATTER__CALL_LOG_REQ__INIT;
    r.conversation_id = (char *)c->cid;
    r.call_id = (char *)c->id;
    r.caller_id = (char *)c->caller;
    r.callee_id = (char *)c->callee;
    r.media = (char *)c->media;
    r.answered = c->answered_ms > 0;
    r.duration_s = c->answered_ms > 0 ? (c->ended_ms - c->answered_ms + 500) / 1000 : 0;
    r.reason = (char *)call_reason_name(c->reason);
    natsMsg *req = NULL, *reply = NULL;
    bus_traceparent_new(tp, sizeof tp);
    snprintf(subj, sizeof subj, "%s", CALL_LOG_SUBJECT);
    int rc = bus_msg_new_pb(subj, &r.base, c->caller, tp, &req);
    if (rc == NT_OK)
        rc = bus_request(s->bus, req, s->request_timeout_ms, &reply);
    if (rc == NT_OK) {
        char err[128];
        rc = bus_reply_status(reply, err, sizeof err);
        if (rc != NT_OK)
            log_warn("call log refused", "call=%s err=\"%s\"", c->id, err);
    }
    if (reply)
        natsMsg_Destroy(reply);
    return rc;
}
