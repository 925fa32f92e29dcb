/*
 * call_offer.c - im.svc.call.offer: a new call (call_pool.h).
 *
 * Checks in order: the request's shape (media, sdp); the conversation
 * (exists: else not_found; the caller is a member: else forbidden; direct:
 * else bad_request), read from MariaDB like every pool reads what it
 * needs; whether the callee has any session online (presence, Redis:
 * none ends the call at once as `unavailable`); then the busy markers of
 * both users (either in another call ends it at once as `busy`).  A call
 * that got this far has an id: the caller is answered {call_id} and, for
 * a call that ended at once, then hears call_hangup with the reason (both
 * from this process on one connection, so in that order).  A ringing call
 * first subscribes its own address, so the callee's answer cannot arrive
 * before anyone listens, then answers the caller, then rings every session
 * of the callee.
 */
#include "actors/call_pool.h"

#include "actors/pool.h"
#include "bus/pb.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/natter.pb-c.h"
#include "store/call_store.h"
#include "store/conv_store.h"
#include "store/presence_store.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int id_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 19 && s[0] != '0' && strspn(s, "0123456789") == n;
}

static int new_id(char out[CALL_ID_LEN + 1])
{
    unsigned char b[CALL_ID_LEN / 2];
    if (RAND_bytes(b, sizeof b) != 1)
        return NT_ECRYPTO;
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 2 * i, 3, "%02x", b[i]);
    return NT_OK;
}

/* The conversation's rules for a call by uid; *peer is the callee. */
static int conversation(call_svc_t *s, const char *cid, const char *uid, char *peer, size_t n,
                        const char **why)
{
    MYSQL *db;
    conv_rec_t c = {0};
    *why = NULL;
    if (db_acquire(s->db, s->db_wait_ms, &db) != NT_OK)
        return NT_EUNAVAIL;
    int rc = conv_get(db, cid, &c);
    db_release(s->db, db, db_is_broken(rc));
    if (rc == NT_ENOTFOUND) {
        *why = "conversation not found";
    } else if (rc == NT_OK) {
        int member = 0;
        const char *other = NULL;
        for (int i = 0; i < c.n_members; i++) {
            if (strcmp(c.members[i].user_id, uid) == 0)
                member = 1;
            else
                other = c.members[i].user_id;
        }
        if (!member) {
            rc = NT_EFORBIDDEN;
            *why = "not a member of this conversation";
        } else if (strcmp(c.type, "direct") != 0 || !other) {
            rc = NT_EINVAL;
            *why = "calls are one-to-one: not a direct conversation";
        } else {
            snprintf(peer, n, "%s", other);
        }
    }
    conv_rec_fini(&c);
    return rc;
}

static void count_session(void *arg, const char *sid, const char *edge, const char *address,
                          int64_t since)
{
    (void)sid;
    (void)edge;
    (void)address;
    (void)since;
    (*(int *)arg)++;
}

static int check_req(const Natter__CallReq *r, const char **why)
{
    size_t n = strlen(r->sdp);
    if (!id_ok(r->conversation_id))
        *why = "conversation_id must be a conversation id";
    else if (strcmp(r->media, "audio") != 0 && strcmp(r->media, "video") != 0)
        *why = "media must be audio or video";
    else if (n == 0 || n > CALL_SDP_MAX)
        *why = "sdp must be a string of 1-65536 bytes";
    else
        return NT_OK;
    return NT_EINVAL;
}

static call_t *call_new(const Natter__CallReq *r, const char *uid, const char *sid,
                        const char *peer)
{
    call_t *c = calloc(1, sizeof *c);
    if (!c || new_id(c->id) != NT_OK) {
        free(c);
        return NULL;
    }
    snprintf(c->cid, sizeof c->cid, "%s", r->conversation_id);
    snprintf(c->media, sizeof c->media, "%s", r->media);
    snprintf(c->caller, sizeof c->caller, "%s", uid);
    snprintf(c->caller_sid, sizeof c->caller_sid, "%s", sid);
    snprintf(c->callee, sizeof c->callee, "%s", peer);
    c->state = CALL_RINGING;
    c->created_ms = c->caller_seen_ms = c->callee_seen_ms = call_now_ms();
    return c;
}

/* Answer {call_id}; a call ended at once (reason r) then tells the caller
 * why and waits in the table for its record; a ringing one rings the
 * callee's sessions with sdp.  Takes c. */
static int start(call_svc_t *s, natsMsg *msg, call_t *c, int ended, call_reason_t r,
                 const char *sdp)
{
    Natter__CallReply rep = NATTER__CALL_REPLY__INIT;
    rep.call_id = c->id;
    pthread_mutex_lock(&s->mu);
    if (!ended && call_subscribe(s, c) != NT_OK) {
        pthread_mutex_unlock(&s->mu);
        const char *uids[2] = {c->caller, c->callee};
        call_store_keep(s->redis, uids, 2, c->id, 0);
        free(c);
        return pool_fail(s->bus, msg, NT_EUNAVAIL, "call service unavailable, try again");
    }
    s->started++;
    call_insert(s, c);
    int rc = bus_reply_pb(s->bus, msg, &rep.base);
    if (ended) {
        call_end(s, c, r, 0, NULL);
    } else {
        c->markers = 1;
        c->next_probe_ms = c->created_ms + s->probe_ms;
        c->next_keep_ms = c->created_ms + s->marker_ttl_ms / 3;
        call_push(s, c, c->callee, "", "", "call_offer", sdp, NULL, NULL);
        log_info("call ringing", "call=%s cid=%s caller=%s callee=%s media=%s", c->id, c->cid,
                 c->caller, c->callee, c->media);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int call_offer_h(bus_t *bus, natsMsg *msg, void *arg)
{
    call_svc_t *s = arg;
    const char *uid = bus_header(msg, BUS_H_UID), *sid = bus_header(msg, BUS_H_SID);
    const char *why = NULL;
    char peer[24];
    if (!uid || !sid || !id_ok(uid) || strlen(sid) >= sizeof ((call_t *)0)->caller_sid)
        return pool_fail(bus, msg, NT_EUNAUTH, "not logged in");
    Natter__CallReq *r = pool_unpack(bus, msg, &natter__call_req__descriptor);
    if (!r)
        return NT_EINVAL;
    int rc = check_req(r, &why);
    if (rc == NT_OK)
        rc = conversation(s, r->conversation_id, uid, peer, sizeof peer, &why);
    if (rc != NT_OK) {
        rc = pool_fail(bus, msg, rc, why ? why : "call service unavailable, try again");
        goto done;
    }
    int sessions = 0;
    if (presence_store_sessions(s->redis, peer, count_session, &sessions) != NT_OK) {
        rc = pool_fail(bus, msg, NT_EUNAVAIL, "presence unavailable, try again");
        goto done;
    }
    call_t *c = call_new(r, uid, sid, peer);
    if (!c) {
        rc = pool_fail(bus, msg, NT_ENOMEM, "");
        goto done;
    }
    /* The sdp is not kept: it goes to the callee's sessions once, now. */
    int ended = 0;
    call_reason_t reason = CALL_R_UNAVAILABLE;
    if (sessions == 0) {
        ended = 1;
    } else if ((rc = call_store_take(s->redis, uid, peer, c->id, s->marker_ttl_ms)) ==
               NT_ECONFLICT) {
        ended = 1;
        reason = CALL_R_BUSY;
    } else if (rc != NT_OK) {
        free(c);
        rc = pool_fail(bus, msg, NT_EUNAVAIL, "presence unavailable, try again");
        goto done;
    }
    rc = start(s, msg, c, ended, reason, r->sdp);
done:
    natter__call_req__free_unpacked(r, NULL);
    return rc;
}
