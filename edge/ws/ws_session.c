/*
 * ws_session.c - session actors and the per-user table of one edge.
 *
 * A session is the lws per-connection data; it lives and dies on the loop
 * thread.  Sessions of the same user on this edge share ONE subscription
 * to im.user.<uid>.push (refcounted by the user's session list), so a push
 * costs the server one delivery per edge, not per socket, and an edge only
 * hears about the users it hosts (docs/ws.md says why not a wildcard).
 *
 * Outgoing frames queue per session, bounded by frames and bytes: a client
 * that does not read gets closed (1008) rather than growing our memory.
 * Message pushes are also remembered until acked (ws_unacked.c).
 */
#include "edge/ws/ws_internal.h"

#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

static uint32_t hash_str(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h & (WS_HASH_SIZE - 1);
}

static void free_outq(ws_session_t *s)
{
    while (s->out_head) {
        ws_out_t *o = s->out_head;
        s->out_head = o->next;
        free(o);
    }
    s->out_tail = NULL;
    s->out_n = s->out_bytes = 0;
}

void ws_session_close(ws_session_t *s, int code)
{
    if (s->close_code)
        return;
    s->close_code = code;
    free_outq(s);
    lws_callback_on_writable(s->wsi);
}

void ws_session_close_after(ws_session_t *s, int code)
{
    if (s->close_code)
        return;
    s->close_code = code;
    lws_callback_on_writable(s->wsi);
}

void ws_session_send(ws_state_t *st, ws_session_t *s, const char *text)
{
    if (!text || s->close_code)
        return;
    size_t len = strlen(text);
    if (s->out_n + 1 > st->e->max_outq || s->out_bytes + len > st->e->max_outq_bytes) {
        log_warn("client does not read, closing", "sid=%s queued=%zu", s->who.sid, s->out_n);
        ws_session_close(s, 1008);
        return;
    }
    ws_out_t *o = malloc(sizeof *o + LWS_PRE + len);
    if (!o) {
        ws_session_close(s, 1011);
        return;
    }
    o->next = NULL;
    o->len = len;
    memcpy(o->buf + LWS_PRE, text, len);
    if (s->out_tail)
        s->out_tail->next = o;
    else
        s->out_head = o;
    s->out_tail = o;
    s->out_n++;
    s->out_bytes += len;
    ws_server_want_flush(st, s);
}

static ws_user_t *user_find(ws_state_t *st, const char *uid)
{
    for (ws_user_t *u = st->users[hash_str(uid)]; u; u = u->next)
        if (strcmp(u->uid, uid) == 0)
            return u;
    return NULL;
}

static int user_new(ws_state_t *st, const char *uid, ws_user_t **out)
{
    char subj[SUBJECT_MAX];
    int rc = subject_user_push(subj, sizeof subj, uid);
    if (rc != NT_OK)
        return rc;
    ws_user_t *u = calloc(1, sizeof *u);
    if (!u)
        return NT_ENOMEM;
    snprintf(u->uid, sizeof u->uid, "%s", uid);
    if (natsConnection_Subscribe(&u->sub, bus_conn(st->e->bus), subj, ws_push_on_msg, st) !=
        NATS_OK) {
        log_error("cannot subscribe", "subject=%s", subj);
        free(u);
        return NT_EBUS;
    }
    uint32_t h = hash_str(uid);
    u->next = st->users[h];
    st->users[h] = u;
    *out = u;
    return NT_OK;
}

static void user_free(ws_state_t *st, ws_user_t *u)
{
    ws_user_t **pp = &st->users[hash_str(u->uid)];
    while (*pp && *pp != u)
        pp = &(*pp)->next;
    if (*pp)
        *pp = u->next;
    if (u->sub) {
        natsSubscription_Unsubscribe(u->sub);
        natsSubscription_Destroy(u->sub);
    }
    free(u);
}

int ws_session_attach(ws_state_t *st, ws_session_t *s)
{
    ws_user_t *u = user_find(st, s->who.uid);
    if (!u) {
        int rc = user_new(st, s->who.uid, &u);
        if (rc != NT_OK)
            return rc;
    }
    s->user = u;
    s->u_prev = NULL;
    s->u_next = u->sessions;
    if (u->sessions)
        u->sessions->u_prev = s;
    u->sessions = s;
    st->n_sessions++;
    ws_presence_attach(st, s);
    return NT_OK;
}

void ws_session_detach(ws_state_t *st, ws_session_t *s)
{
    ws_server_unflush(st, s);
    ws_requests_drop_session(st, s);
    ws_unacked_drop_session(&st->unacked, s);
    free_outq(s);
    free(s->rx);
    s->rx = NULL;
    ws_user_t *u = s->user;
    if (!u)
        return;
    if (s->u_prev)
        s->u_prev->u_next = s->u_next;
    else
        u->sessions = s->u_next;
    if (s->u_next)
        s->u_next->u_prev = s->u_prev;
    s->user = NULL;
    st->n_sessions--;
    ws_presence_detach(st, u, s);
    if (!u->sessions)
        user_free(st, u);
}

void ws_session_ack(ws_state_t *st, ws_session_t *s, const char *cid, int64_t seq)
{
    ws_unacked_ack(&st->unacked, s, cid, seq);
}

void ws_users_kick(ws_state_t *st, const char *uid, const char *sid, const char *reason,
                   const char *text)
{
    /* An admin's act closes 4003 with its reason (API.md "Admin"), so a
     * client can tell it from a logout elsewhere without parsing a frame. */
    const char *why = strcmp(reason, "banned") == 0            ? "banned"
                      : strcmp(reason, "kicked_by_admin") == 0 ? "kicked_by_admin"
                                                               : NULL;
    ws_user_t *u = user_find(st, uid);
    for (ws_session_t *s = u ? u->sessions : NULL; s; s = s->u_next)
        if (strcmp(s->who.sid, sid) == 0 && !s->close_code) {
            ws_session_send(st, s, text);
            s->close_why = why;
            ws_session_close_after(s, why ? 4003 : 4002);
        }
}

void ws_users_push(ws_state_t *st, const char *uid, ws_text_t *text, const char *cid,
                   int64_t seq)
{
    ws_user_t *u = user_find(st, uid);
    int64_t now = cid ? lws_now_usecs() : 0;
    for (ws_session_t *s = u ? u->sessions : NULL; s; s = s->u_next) {
        if (s->close_code)
            continue;               /* closing: nothing to deliver, nothing to track */
        ws_session_send(st, s, text->data);
        if (cid && !s->close_code && ws_unacked_track(&st->unacked, s, cid, seq, text, now) != NT_OK)
            log_warn("cannot track push for resend", "sid=%s cid=%s seq=%lld", s->who.sid, cid,
                     (long long)seq);
    }
}

void ws_users_forget(ws_state_t *st, const char *uid, const char *cid, int64_t seq)
{
    ws_user_t *u = user_find(st, uid);
    for (ws_session_t *s = u ? u->sessions : NULL; s; s = s->u_next)
        ws_unacked_forget(&st->unacked, s, cid, seq);
}

int ws_users_close_denied(ws_state_t *st)
{
    int n = 0;
    if (!st->e->iprules)
        return 0;
    for (size_t i = 0; i < WS_HASH_SIZE; i++)
        for (ws_user_t *u = st->users[i]; u; u = u->next)
            for (ws_session_t *s = u->sessions; s; s = s->u_next)
                if (!s->close_code && s->addr && iprules_denied(st->e->iprules, s->addr->ip)) {
                    s->close_why = "ip_denied";
                    ws_session_close(s, 4003);
                    n++;
                }
    return n;
}

void ws_users_unsubscribe_all(ws_state_t *st)
{
    for (size_t i = 0; i < WS_HASH_SIZE; i++)
        for (ws_user_t *u = st->users[i]; u; u = u->next)
            if (u->sub) {
                natsSubscription_Unsubscribe(u->sub);
                natsSubscription_Destroy(u->sub);
                u->sub = NULL;
            }
}
