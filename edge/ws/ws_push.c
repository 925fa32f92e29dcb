/*
 * ws_push.c - pushes from pools (natter.Push on im.user.<uid>.push) to the
 * sessions of that user on this edge.
 *
 * ws_push_deliver runs on the loop thread as nats.c reads the push
 * (ws_inbox.c, bus_inline); only when that is off does ws_push_on_msg, on
 * nats.c's delivery thread, hand it to the inbox queue.  ws_push_deliver
 * decodes once, renders the JSON frame once, and queues it to every session
 * of the user; a `message` push is also tracked per session until acked
 * (ws_unacked.c), sharing that one rendered frame.
 *
 * A group message comes to this edge once per member here, each on that
 * member's subject with the same natter.Push bytes (the msg pool packs the
 * push once; only a mention makes a second variant).  So the last message
 * push stays rendered with its bytes (st->memo): the next push with equal
 * bytes skips decoding and rendering and queues the same frame.  A 500-
 * member group then costs one decode and one render per message, not
 * 500.  Equal bytes mean an equal frame: nothing in the frame depends on
 * who receives it.
 */
#include "edge/ws/ws_internal.h"

#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"
#include "edge/msg_json.h"
#include "proto/natter.pb-c.h"

#include <stdlib.h>
#include <string.h>

/* "im.user.<uid>.push" -> uid */
static int uid_of(const char *subj, char *uid, size_t n)
{
    const char *p = "im.user.";
    if (strncmp(subj, p, strlen(p)) != 0)
        return -1;
    subj += strlen(p);
    const char *dot = strchr(subj, '.');
    if (!dot || (size_t)(dot - subj) >= n || dot == subj)
        return -1;
    memcpy(uid, subj, (size_t)(dot - subj));
    uid[dot - subj] = '\0';
    return 0;
}

void ws_push_on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    ws_state_t *st = closure;
    ws_inbox_push(&st->inbox, WS_IN_PUSH, msg);
}

/* Every user's push subscription (one per user, ws_session.c) is covered
 * by this one pattern, and nothing else in the process subscribes there. */
#define WS_PUSH_PATTERN "im.user.*.push"

int ws_push_start(ws_state_t *st)
{
    int rc = ws_inbox_inline(&st->inbox, st->e->bus, WS_PUSH_PATTERN, WS_IN_PUSH);
    if ((rc == NT_OK) != st->inline_on)
        log_warn("bus_inline took one pattern and not the other", "pushes=%d", rc);
    return rc == NT_EUNAVAIL ? NT_OK : rc;
}

/* Every push but a message (ws_render.c writes those). */
static json_t *render(const Natter__Push *p)
{
    if (p->kind && strcmp(p->kind, "read") == 0 && p->read)
        return json_pack("{s:s, s:s, s:s, s:I}", "op", "read", "conversation_id",
                         p->read->conversation_id, "user_id", p->read->user_id, "seq",
                         (json_int_t)p->read->seq);
    if (p->kind && strcmp(p->kind, "contact") == 0 && p->contact)
        return contact_event_json(p->contact);
    if (p->kind && strcmp(p->kind, "presence") == 0 && p->presence)
        return presence_json(p->presence, "presence");
    if (p->kind && strcmp(p->kind, "revoked") == 0 && p->revoked)
        return json_pack("{s:s, s:s, s:s, s:I}", "op", "revoked", "conversation_id",
                         p->revoked->conversation_id, "message_id", p->revoked->message_id, "seq",
                         (json_int_t)p->revoked->seq);
    if (p->kind && strcmp(p->kind, "member") == 0 && p->member)
        return member_event_json(p->member);
    if (p->kind && strcmp(p->kind, "typing") == 0 && p->typing)
        return json_pack("{s:s, s:s, s:s}", "op", "typing", "conversation_id",
                         p->typing->conversation_id, "user_id", p->typing->user_id);
    return NULL;
}

/* Calls (ws_calls.c): an event goes only to the sessions it names; a
 * probe (a request) is answered when the session it names, or any session
 * of the user when it names none, is connected here.  Silence is the
 * other answer: the actor counts a party gone when no edge answers. */
static void call_deliver(ws_state_t *st, natsMsg *msg, const char *uid, const Natter__Push *p)
{
    if (strcmp(p->kind, "call_probe") == 0) {
        const char *reply = natsMsg_GetReply(msg);
        if (reply && *reply && ws_users_has(st, uid, p->session_id) &&
            natsConnection_Publish(bus_conn(st->e->bus), reply, "", 0) != NATS_OK)
            log_debug("call probe not answered", "uid=%s", uid);
        return;
    }
    char *text = strcmp(p->kind, "call") == 0 && p->call ? ws_call_event_text(p->call) : NULL;
    if (!text) {
        log_debug("call push not delivered", "uid=%s kind=%s", uid, p->kind);
        return;
    }
    ws_users_push_sid(st, uid, text, p->session_id, p->except_session_id);
    free(text);
}

void ws_push_memo_clear(ws_push_memo_t *m)
{
    free(m->bytes);
    free(m->cid);
    ws_text_unref(m->text);
    *m = (ws_push_memo_t){0};
}

/* Keep text as the rendering of this message push (best effort: on ENOMEM
 * the memo is just empty). */
static void memo_keep(ws_push_memo_t *m, natsMsg *msg, ws_text_t *text, const char *cid,
                      int64_t seq)
{
    ws_push_memo_clear(m);
    size_t len = (size_t)natsMsg_GetDataLength(msg);
    m->bytes = malloc(len ? len : 1);
    m->cid = strdup(cid);
    if (!m->bytes || !m->cid) {
        ws_push_memo_clear(m);
        return;
    }
    memcpy(m->bytes, natsMsg_GetData(msg), len);
    m->len = len;
    m->text = text;
    text->refs++;
    m->seq = seq;
}

/* 1 if msg is the memo's push again: queued with the memo's frame. */
static int memo_deliver(ws_state_t *st, natsMsg *msg, const char *uid)
{
    ws_push_memo_t *m = &st->memo;
    int len = natsMsg_GetDataLength(msg);
    if (!m->text || len < 0 || (size_t)len != m->len ||
        memcmp(natsMsg_GetData(msg), m->bytes, m->len) != 0)
        return 0;
    ws_users_push(st, uid, m->text, m->cid, m->seq);
    st->stats.push_memo_hits++;
    return 1;
}

void ws_push_deliver(ws_state_t *st, natsMsg *msg)
{
    char uid[TOKEN_ID_MAX];
    int len = natsMsg_GetDataLength(msg);
    if (uid_of(natsMsg_GetSubject(msg), uid, sizeof uid) != 0)
        return;
    if (memo_deliver(st, msg, uid))
        return;
    Natter__Push *p = natter__push__unpack(NULL, (size_t)(len > 0 ? len : 0),
                                           (const uint8_t *)natsMsg_GetData(msg));
    if (!p) {
        log_warn("malformed push", "uid=%s", uid);
        return;
    }
    if (p->kind && strncmp(p->kind, "call", 4) == 0) {
        call_deliver(st, msg, uid, p);
        natter__push__free_unpacked(p, NULL);
        return;
    }
    /* A revoked message must not be resent with its old body. */
    if (p->kind && strcmp(p->kind, "revoked") == 0 && p->revoked && p->revoked->conversation_id)
        ws_users_forget(st, uid, p->revoked->conversation_id, p->revoked->seq);
    int rendered = 0;
    ws_text_t *text = NULL;
    json_t *o = NULL;
    char *dump = NULL;
    if (p->kind && strcmp(p->kind, "message") == 0 && p->message) {
        int rc = ws_render_message(&st->rbuf, "message", p->message, NULL);
        rendered = rc != NT_EINVAL;
        text = rc == NT_OK ? ws_text_new(st->rbuf.p) : NULL;
    } else if ((o = render(p)) != NULL) {
        rendered = 1;
        dump = json_dumps(o, JSON_COMPACT);
        text = dump ? ws_text_new(dump) : NULL;
    }
    if (!rendered) {
        log_debug("push kind not delivered", "uid=%s kind=%s", uid, p->kind ? p->kind : "");
    } else if (!text) {
        log_error("cannot render push", "uid=%s", uid);
    } else if (strcmp(p->kind, "message") == 0 && p->message->conversation_id) {
        /* Only messages are tracked for resend; receipts are fire-and-forget. */
        ws_users_push(st, uid, text, p->message->conversation_id, p->message->seq);
        memo_keep(&st->memo, msg, text, p->message->conversation_id, p->message->seq);
        if (log_enabled(LOG_DEBUG)) {
            char trace[40];
            bus_trace_id(bus_header(msg, BUS_H_TRACE), trace, sizeof trace);
            log_debug("push delivered", "uid=%s msg_id=%s cid=%s seq=%lld trace=%s", uid,
                      p->message->id ? p->message->id : "", p->message->conversation_id,
                      (long long)p->message->seq, trace);
        }
    } else {
        ws_users_push(st, uid, text, NULL, 0);
    }
    ws_text_unref(text);
    free(dump);
    json_decref(o);
    natter__push__free_unpacked(p, NULL);
}

/* ---- kicks: a revoked session's live sockets get {"op":"kicked"}, 4002 ----
 * Auth publishes natter.SessionRevoked on im.evt.session.<sid> (logout,
 * refresh reuse, replaced by a new login, password change).  The deny-list
 * (edge/revocations.c) refuses the token for new sockets; this closes the
 * ones already open.  Revocations are rare and every edge needs all of
 * them anyway, so one wildcard subscription per edge is right here. */

static void on_revoked(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    ws_state_t *st = closure;
    ws_inbox_push(&st->inbox, WS_IN_KICK, msg);
}

int ws_kicks_start(ws_state_t *st)
{
    char subj[SUBJECT_MAX];
    int rc = subject_evt_all(subj, sizeof subj, "session");
    if (rc != NT_OK)
        return rc;
    if (natsConnection_Subscribe(&st->revoked_sub, bus_conn(st->e->bus), subj, on_revoked, st) !=
        NATS_OK)
        return NT_EBUS;
    return NT_OK;
}

void ws_kicks_stop(ws_state_t *st)
{
    if (st->revoked_sub) {
        natsSubscription_Unsubscribe(st->revoked_sub);
        natsSubscription_Destroy(st->revoked_sub);
        st->revoked_sub = NULL;
    }
}

/* Every reason gets {"op":"kicked","reason"} then close 4002 (4003 for
 * "banned" and "kicked_by_admin", ws_users_kick), except
 * "renewed": the same device logged in again, so the client that owns the
 * old socket is the one holding the new session, and telling it that it
 * was kicked would only make it show a logout it did not suffer.  Its old
 * sockets just close with 4002 (API.md: "same device replaces quietly"). */
void ws_kick_deliver(ws_state_t *st, natsMsg *msg)
{
    Natter__SessionRevoked *ev = natter__session_revoked__unpack(
        NULL, (size_t)natsMsg_GetDataLength(msg), (const uint8_t *)natsMsg_GetData(msg));
    if (!ev || !ev->user_id || !ev->session_id)
        goto done;
    const char *reason = ev->reason && *ev->reason ? ev->reason : "revoked";
    if (strcmp(reason, "renewed") == 0) {
        ws_users_kick(st, ev->user_id, ev->session_id, reason, NULL); /* NULL text: close only */
        goto done;
    }
    json_t *o = json_pack("{s:s, s:s}", "op", "kicked", "reason", reason);
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    if (text)
        ws_users_kick(st, ev->user_id, ev->session_id, reason, text);
    free(text);
    json_decref(o);
done:
    if (ev)
        natter__session_revoked__free_unpacked(ev, NULL);
}
