/*
 * ws_requests.c - asynchronous requests from sessions to the msg pool.
 *
 * One wildcard subscription per edge, _INBOX.<nuid>.*, receives every reply;
 * the last token is the correlation id.  A request is published with that
 * reply subject from the loop thread (publish only buffers; the loop writes
 * it on its next turn), recorded in a hash by id and in a FIFO by deadline (all
 * requests share one timeout, so insertion order is deadline order and the
 * sweep only looks at the head).  Replies are handled on the loop thread
 * as nats.c reads them (ws_inbox.c: bus_inline, or the inbox queue when
 * that is off) and matched here; a reply for a request that timed out or
 * whose session closed is dropped.
 *
 * Sends keep the client's order per session and conversation: at most one
 * send of a (session, conversation) is in flight; the next ones wait,
 * packed, in the session's small FIFO and go out when the previous one is
 * answered or timed out; a full FIFO stops reading the socket.  Two msg
 * processes behind the queue group cannot order a client's sends between
 * them (docs/ws.md), the edge can.
 */
#include "edge/ws/ws_internal.h"

#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"
#include "edge/msg_json.h"
#include "proto/natter.pb-c.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

static void on_reply(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    (void)sub;
    ws_state_t *st = closure;
    ws_inbox_push(&st->inbox, WS_IN_REPLY, msg);
}

int ws_requests_start(ws_state_t *st)
{
    natsInbox *inbox = NULL;
    char subj[80];
    if (natsInbox_Create(&inbox) != NATS_OK)
        return NT_EBUS;
    snprintf(st->inbox_prefix, sizeof st->inbox_prefix, "%s", (const char *)inbox);
    natsInbox_Destroy(inbox);
    snprintf(subj, sizeof subj, "%s.*", st->inbox_prefix);
    if (natsConnection_Subscribe(&st->reply_sub, bus_conn(st->e->bus), subj, on_reply, st) !=
        NATS_OK)
        return NT_EBUS;
    /* Replies on the loop as they are read; on_reply only without that. */
    int rc = ws_inbox_inline(&st->inbox, st->e->bus, subj, WS_IN_REPLY);
    st->inline_on = rc == NT_OK;
    return rc == NT_EUNAVAIL ? NT_OK : rc;
}

void ws_requests_stop(ws_state_t *st)
{
    if (st->reply_sub) {
        natsSubscription_Unsubscribe(st->reply_sub);
        natsSubscription_Destroy(st->reply_sub);
        st->reply_sub = NULL;
    }
}

/* Unlink p from every list and free it. */
static void pending_free(ws_state_t *st, ws_pending_t *p)
{
    ws_pending_t **pp = &st->pend[p->corr & (WS_HASH_SIZE - 1)];
    while (*pp && *pp != p)
        pp = &(*pp)->h_next;
    if (*pp)
        *pp = p->h_next;
    if (p->f_prev)
        p->f_prev->f_next = p->f_next;
    else
        st->fifo_head = p->f_next;
    if (p->f_next)
        p->f_next->f_prev = p->f_prev;
    else
        st->fifo_tail = p->f_prev;
    if (p->s_prev)
        p->s_prev->s_next = p->s_next;
    else
        p->s->pend = p->s_next;
    if (p->s_next)
        p->s_next->s_prev = p->s_prev;
    p->s->n_pend--;
    free(p->req);
    free(p->held);
    free(p);
}

static ws_pending_t *pending_alloc(ws_session_t *s, const ws_frame_t *f)
{
    ws_pending_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->s = s;
    p->op = f->op;
    snprintf(p->rid, sizeof p->rid, "%s", f->rid ? f->rid : "");
    snprintf(p->cid, sizeof p->cid, "%s", f->conversation_id ? f->conversation_id : "");
    return p;
}

/* Give p a correlation id and a deadline from now; into the hash, the
 * deadline FIFO and the session's list. */
static void pending_link(ws_state_t *st, ws_pending_t *p)
{
    ws_session_t *s = p->s;
    p->corr = ++st->next_corr;
    p->deadline_us = lws_now_usecs() + (int64_t)st->e->timeout_ms * 1000;
    uint32_t h = p->corr & (WS_HASH_SIZE - 1);
    p->h_next = st->pend[h];
    st->pend[h] = p;
    p->f_prev = st->fifo_tail;
    if (st->fifo_tail)
        st->fifo_tail->f_next = p;
    else
        st->fifo_head = p;
    st->fifo_tail = p;
    p->s_next = s->pend;
    if (s->pend)
        s->pend->s_prev = p;
    s->pend = p;
    s->n_pend++;
}

/* The protobuf request for frame f, packed into *buf (caller frees). */
static int pack_req(const ws_frame_t *f, uint8_t **buf, size_t *len)
{
    Natter__SendReq send = NATTER__SEND_REQ__INIT;
    Natter__PageReq page = NATTER__PAGE_REQ__INIT;
    Natter__ReadReq read = NATTER__READ_REQ__INIT;
    const ProtobufCMessage *m;
    if (f->op == WS_OP_SEND) {
        send.conversation_id = (char *)f->conversation_id;
        send.client_msg_id = (char *)f->client_msg_id;
        send.type = (char *)f->type;
        send.body = (char *)f->body;
        send.mentions = (char **)f->mentions;
        send.n_mentions = f->n_mentions;
        m = &send.base;
    } else if (f->op == WS_OP_SYNC) {
        page.conversation_id = (char *)f->conversation_id;
        page.after_seq = f->after_seq;
        page.limit = (int32_t)f->limit;
        m = &page.base;
    } else if (f->op == WS_OP_READ) {
        read.conversation_id = (char *)f->conversation_id;
        read.seq = f->seq;
        m = &read.base;
    } else {
        return NT_EINVAL;
    }
    *len = protobuf_c_message_get_packed_size(m);
    if (!(*buf = malloc(*len ? *len : 1)))
        return NT_ENOMEM;
    protobuf_c_message_pack(m, *buf);
    return NT_OK;
}

/* Publish buf, a packed message of type, on subj with p's reply subject;
 * call requests also say which session of the caller speaks. */
static int publish_subject(ws_state_t *st, const ws_pending_t *p, const char *subj,
                           const char *type, const uint8_t *buf, size_t len)
{
    char reply[128], tp[64];
    natsMsg *m = NULL;
    snprintf(reply, sizeof reply, "%s.%" PRIu64, st->inbox_prefix, p->corr);
    bus_traceparent_new(tp, sizeof tp);
    int rc = NT_EBUS;
    if (natsMsg_Create(&m, subj, reply, (const char *)buf, (int)len) != NATS_OK ||
        natsMsgHeader_Set(m, BUS_H_TYPE, type) != NATS_OK ||
        natsMsgHeader_Set(m, BUS_H_UID, p->s->who.uid) != NATS_OK ||
        (WS_OP_IS_CALL(p->op) && natsMsgHeader_Set(m, BUS_H_SID, p->s->who.sid) != NATS_OK) ||
        natsMsgHeader_Set(m, BUS_H_TRACE, tp) != NATS_OK ||
        natsConnection_PublishMsg(bus_conn(st->e->bus), m) != NATS_OK)
        goto fail;
    rc = NT_OK;
    if (p->op == WS_OP_SEND && log_enabled(LOG_DEBUG)) {   /* the message trail (operations.md "Logs") */
        char trace[40];
        bus_trace_id(tp, trace, sizeof trace);
        log_debug("ws send", "uid=%s sid=%s cid=%s rid=%s corr=%" PRIu64 " trace=%s",
                  p->s->who.uid, p->s->who.sid, p->cid, p->rid, p->corr, trace);
    }
fail:
    bus_msg_free(m);
    return rc;
}

/* Publish buf on im.conv.<p->cid>.<verb>. */
static int publish_conv(ws_state_t *st, const ws_pending_t *p, const char *verb,
                        const char *type, const uint8_t *buf, size_t len)
{
    char subj[SUBJECT_MAX];
    int rc = subject_conv(subj, sizeof subj, p->cid, verb);
    return rc == NT_OK ? publish_subject(st, p, subj, type, buf, len) : rc;
}

/* Publish p's packed request on im.conv.<cid>.<verb> with its reply subject. */
static int publish(ws_state_t *st, const ws_pending_t *p, const uint8_t *buf, size_t len)
{
    const char *verb = p->op == WS_OP_SEND ? "send" : p->op == WS_OP_SYNC ? "sync" : "read";
    const char *type = p->op == WS_OP_SEND   ? natter__send_req__descriptor.name
                       : p->op == WS_OP_SYNC ? natter__page_req__descriptor.name
                                             : natter__read_req__descriptor.name;
    return publish_conv(st, p, verb, type, buf, len);
}

/* Is a send of s on cid in flight (then the next one waits)? */
static int send_busy(const ws_session_t *s, const char *cid)
{
    for (const ws_pending_t *p = s->pend; p; p = p->s_next)
        if (p->op == WS_OP_SEND && strcmp(p->cid, cid) == 0)
            return 1;
    return 0;
}

static void send_error(ws_state_t *st, ws_session_t *s, const char *rid, const char *code,
                       const char *message)
{
    char *text = ws_frame_error(rid, code, message);
    ws_session_send(st, s, text);
    free(text);
}

/* The previous send of s on cid is answered or timed out: issue the first
 * waiting send of cid.  One whose publish fails gets its error and the
 * next goes.  A closing session (kicked, too slow) sends nothing more. */
static void send_next(ws_state_t *st, ws_session_t *s, const char *cid)
{
    ws_pending_t **pp = &s->wait;
    while (*pp) {
        ws_pending_t *w = *pp;
        if (strcmp(w->cid, cid) != 0) {
            pp = &w->w_next;
            continue;
        }
        *pp = w->w_next;            /* unlink; pp now points at the next one */
        s->n_wait--;
        w->w_next = NULL;
        if (s->n_wait <= WS_MAX_WAITING / 2)
            ws_server_rx_resume(st, s);
        if (s->close_code) {
            free(w->req);
            free(w);
            continue;
        }
        pending_link(st, w);
        int rc = publish(st, w, w->req, w->req_len);
        free(w->req);
        w->req = NULL;
        if (rc == NT_OK)
            return;
        send_error(st, s, w->rid, api_code(rc == NT_EBUS ? NT_EUNAVAIL : rc), NULL);
        pending_free(st, w);
    }
}

/* Park a send behind the one in flight for its conversation; at
 * WS_MAX_WAITING stop reading the socket until half of them went out. */
static int send_wait(ws_session_t *s, const ws_frame_t *f)
{
    if (s->n_wait >= WS_MAX_WAITING)
        return NT_ERATELIMIT;
    ws_pending_t *w = pending_alloc(s, f);
    if (!w)
        return NT_ENOMEM;
    int rc = pack_req(f, &w->req, &w->req_len);
    if (rc != NT_OK) {
        free(w);
        return rc;
    }
    ws_pending_t **pp = &s->wait;
    while (*pp)                     /* at most WS_MAX_WAITING */
        pp = &(*pp)->w_next;
    *pp = w;
    if (++s->n_wait >= WS_MAX_WAITING)
        ws_server_rx_pause(s);
    return NT_OK;
}

/* Record f as a request in flight and publish buf (taken): on subj (a
 * call request), or on f's conversation verb when subj is NULL. */
static int issue(ws_state_t *st, ws_session_t *s, const ws_frame_t *f, const char *subj,
                 uint8_t *buf, size_t len)
{
    ws_pending_t *p = pending_alloc(s, f);
    int rc = NT_ENOMEM;
    if (p) {
        pending_link(st, p);
        rc = subj ? publish_subject(st, p, subj, natter__call_req__descriptor.name, buf, len)
                  : publish(st, p, buf, len);
        if (rc != NT_OK)
            pending_free(st, p);    /* no send of this cid was in flight: none waits */
    }
    free(buf);
    return rc;
}

/* A call frame: a request to the call actor (ws_calls.c).  A call id
 * that cannot be one is not_found, like a conversation id. */
static int call_request(ws_state_t *st, ws_session_t *s, const ws_frame_t *f)
{
    char subj[SUBJECT_MAX];
    if (f->op == WS_OP_CALL_OFFER && !subject_token_ok(f->conversation_id))
        return NT_ENOTFOUND;
    int rc = ws_call_subject(f, subj, sizeof subj);
    if (rc != NT_OK)
        return rc;
    if (s->n_pend >= WS_MAX_INFLIGHT)
        return NT_ERATELIMIT;
    uint8_t *buf = NULL;
    size_t len = 0;
    if ((rc = ws_call_pack(f, &buf, &len)) != NT_OK)
        return rc;
    return issue(st, s, f, subj, buf, len);
}

int ws_request(ws_state_t *st, ws_session_t *s, const ws_frame_t *f)
{
    if (WS_OP_IS_CALL(f->op))
        return call_request(st, s, f);
    if (!subject_token_ok(f->conversation_id))
        return NT_ENOTFOUND;    /* cannot be a conversation id */
    if (f->op == WS_OP_SEND && send_busy(s, f->conversation_id))
        return send_wait(s, f);
    if (s->n_pend >= WS_MAX_INFLIGHT)
        return NT_ERATELIMIT;
    uint8_t *buf = NULL;
    size_t len = 0;
    int rc = pack_req(f, &buf, &len);
    return rc == NT_OK ? issue(st, s, f, NULL, buf, len) : rc;
}

void ws_request_access(ws_state_t *st, ws_session_t *s, const char *rid, const char *cid,
                       char *error_text)
{
    /* The same rule as edge-http's http_access.c: one request on the error
     * path only, to the verb every conversation answers by membership. */
    if (!subject_token_ok(cid) || strlen(cid) >= WS_ID_MAX) {
        free(error_text);
        send_error(st, s, rid, "not_found", "conversation not found");
        return;
    }
    if (s->n_pend >= WS_MAX_INFLIGHT) { /* cannot ask now: tell nothing */
        free(error_text);
        send_error(st, s, rid, "rate_limited", "too many requests in flight");
        return;
    }
    Natter__ConvGetReq req = NATTER__CONV_GET_REQ__INIT;
    req.conversation_id = (char *)cid;
    size_t len = protobuf_c_message_get_packed_size(&req.base);
    uint8_t *buf = malloc(len ? len : 1);
    ws_pending_t *p = buf ? calloc(1, sizeof *p) : NULL;
    if (!p) {
        free(buf);
        free(error_text);
        send_error(st, s, rid, "unavailable", "internal error");
        return;
    }
    protobuf_c_message_pack(&req.base, buf);
    p->s = s;
    p->held = error_text;
    snprintf(p->rid, sizeof p->rid, "%s", rid ? rid : "");
    snprintf(p->cid, sizeof p->cid, "%s", cid);
    pending_link(st, p);
    int rc = publish_conv(st, p, "get", natter__conv_get_req__descriptor.name, buf, len);
    free(buf);
    if (rc != NT_OK) {
        send_error(st, s, p->rid, "unavailable", "service unavailable, try again");
        pending_free(st, p);
    }
}

void ws_request_hello(ws_state_t *st, ws_session_t *s)
{
    char subj[128];
    ws_pending_t *p = s->n_pend < WS_MAX_INFLIGHT ? calloc(1, sizeof *p) : NULL;
    if (!p) {
        ws_server_hello(st, s);
        return;
    }
    p->s = s;
    p->hello = 1;
    pending_link(st, p);
    snprintf(subj, sizeof subj, "%s.%" PRIu64, st->inbox_prefix, p->corr);
    if (natsConnection_Publish(bus_conn(st->e->bus), subj, "", 0) != NATS_OK) {
        pending_free(st, p);
        ws_server_hello(st, s);
    }
}

/* Free a finished request; a send lets the next waiting one of its
 * conversation go. */
static void pending_done(ws_state_t *st, ws_pending_t *p)
{
    char cid[sizeof p->cid];
    ws_session_t *s = p->s;
    int was_send = p->op == WS_OP_SEND;
    memcpy(cid, p->cid, sizeof cid);
    pending_free(st, p);
    if (was_send && s->wait)
        send_next(st, s, cid);
}

static json_t *render_ok(ws_pending_t *p, natsMsg *msg)
{
    json_t *o = NULL;
    int n = natsMsg_GetDataLength(msg);
    size_t len = (size_t)(n > 0 ? n : 0);
    const uint8_t *data = (const uint8_t *)natsMsg_GetData(msg);
    if (p->op == WS_OP_SEND) {
        return NULL;                /* render_sent, or it was malformed */
    } else if (p->op == WS_OP_SYNC) {
        Natter__MessagePage *pg = natter__message_page__unpack(NULL, len, data);
        json_t *arr = pg ? json_array() : NULL;
        for (size_t i = 0; arr && i < pg->n_messages; i++)
            json_array_append_new(arr, msg_json(pg->messages[i]));
        if (arr)
            o = json_pack("{s:s, s:s, s:o, s:b}", "op", "sync", "conversation_id", p->cid,
                          "messages", arr, "has_more", pg->has_more);
        if (pg)
            natter__message_page__free_unpacked(pg, NULL);
    } else {
        o = json_pack("{s:s}", "op", "ok");
    }
    return o;
}

/* A send's reply as its {"op":"sent"} frame, into st->rbuf. */
static int render_sent(ws_state_t *st, const ws_pending_t *p, natsMsg *msg)
{
    int n = natsMsg_GetDataLength(msg);
    Natter__SendReply *r = natter__send_reply__unpack(NULL, (size_t)(n > 0 ? n : 0),
                                                      (const uint8_t *)natsMsg_GetData(msg));
    int rc = r && r->message ? ws_render_message(&st->rbuf, "sent", r->message, p->rid)
                             : NT_EINVAL;
    if (r)
        natter__send_reply__free_unpacked(r, NULL);
    return rc;
}

void ws_requests_reply(ws_state_t *st, natsMsg *msg)
{
    const char *dot = strrchr(natsMsg_GetSubject(msg), '.');
    if (!dot)
        return;
    uint64_t corr = strtoull(dot + 1, NULL, 10);
    ws_pending_t *p = st->pend[corr & (WS_HASH_SIZE - 1)];
    while (p && p->corr != corr)
        p = p->h_next;
    if (!p)
        return;                     /* timed out or the session is gone */
    if (p->hello) {                 /* the barrier's probe is back */
        ws_server_hello(st, p->s);
        pending_free(st, p);
        return;
    }
    char *text = NULL, errmsg[200];
    int err;
    if (natsMsg_IsNoResponders(msg) && WS_OP_IS_CALL(p->op) && p->op != WS_OP_CALL_OFFER) {
        err = NT_ENOTFOUND;     /* a call's address exists only while the call does */
        snprintf(errmsg, sizeof errmsg, "call not found");
    } else if (natsMsg_IsNoResponders(msg)) {
        err = NT_EUNAVAIL;
        snprintf(errmsg, sizeof errmsg, "service unavailable, try again");
    } else {
        err = bus_reply_status(msg, errmsg, sizeof errmsg);
    }
    if (p->held) {                  /* an access check: its answer, or the held 400 */
        if (err == NT_OK) {
            text = p->held;
            p->held = NULL;
        } else {
            text = ws_frame_error(p->rid, api_code(err), errmsg[0] ? errmsg : NULL);
        }
    } else if (err == NT_EINVAL && p->cid[0]) {
        /* A pool's 400 about a conversation goes through the same check. */
        char *held = ws_frame_error(p->rid, api_code(err), errmsg[0] ? errmsg : NULL);
        ws_session_t *s = p->s;
        char rid[sizeof p->rid], cid[sizeof p->cid];
        memcpy(rid, p->rid, sizeof rid);
        memcpy(cid, p->cid, sizeof cid);
        pending_done(st, p);
        if (held)
            ws_request_access(st, s, rid, cid, held);
        return;
    } else if (err != NT_OK) {
        text = ws_frame_error(p->rid, api_code(err), errmsg[0] ? errmsg : NULL);
    } else if (WS_OP_IS_CALL(p->op)) {
        json_t *o = ws_call_ok(p->op, p->rid, msg);
        if (o && p->rid[0])
            json_object_set_new(o, "rid", json_string(p->rid));
        text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (!o && p->op == WS_OP_CALL_OFFER)
            text = ws_frame_error(p->rid, "unavailable", "internal error");
        json_decref(o);
    } else if (p->op == WS_OP_SEND && render_sent(st, p, msg) == NT_OK) {
        ws_session_send(st, p->s, st->rbuf.p);     /* copied: no text to free */
    } else {
        json_t *o = render_ok(p, msg);
        if (o) {
            if (p->rid[0])
                json_object_set_new(o, "rid", json_string(p->rid));
            text = json_dumps(o, JSON_COMPACT);
            json_decref(o);
        } else {
            log_error("malformed pool reply", "op=%d", (int)p->op);
            text = ws_frame_error(p->rid, "unavailable", "internal error");
        }
    }
    ws_session_send(st, p->s, text);
    free(text);
    pending_done(st, p);
}

void ws_requests_sweep(ws_state_t *st, int64_t now_us)
{
    while (st->fifo_head && st->fifo_head->deadline_us <= now_us) {
        ws_pending_t *p = st->fifo_head;
        if (p->hello) {
            ws_server_hello(st, p->s);
        } else {
            bus_note_timeout(st->e->bus);
            send_error(st, p->s, p->rid, "unavailable", "service unavailable, try again");
        }
        pending_done(st, p);        /* a waiting send gets a fresh deadline: > now_us */
    }
}

void ws_requests_drop_session(ws_state_t *st, ws_session_t *s)
{
    while (s->pend)
        pending_free(st, s->pend);
    while (s->wait) {
        ws_pending_t *w = s->wait;
        s->wait = w->w_next;
        free(w->req);
        free(w);
    }
    s->n_wait = 0;
}
