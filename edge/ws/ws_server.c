/*
 * ws_server.c - the lws protocol callback (on the edge's loop thread):
 * handshake, address limit and token check, client frames to actions, the
 * outgoing queue, the bus message handler (ws_inbox.c calls it), and
 * /healthz and /metrics on the same port (ws_metrics.c renders; on this
 * loop, so the counters need no lock).
 *
 * Writing: a frame is queued to its session, and the session goes on a
 * flush list.  At the end of the loop turn (a uv_check handle, after every
 * socket, the NATS socket's reads and the inbox were served) each listed
 * session's queue goes out in one send() of up to WS_WRITE_BATCH bytes,
 * framed here (a server frame is a 2-, 4- or 10-byte header and the text,
 * RFC 6455 5.2) and handed to lws as raw bytes; lws keeps what the
 * socket did not take and sends it first when the socket is writable
 * again.  Only what is left after that
 * waits for lws's WRITEABLE callback.  Asking lws for WRITEABLE on every
 * frame cost four epoll_ctl calls per frame on libuv (uv_poll_start
 * re-registers the fd) and a loop turn; most frames now go out with none.
 *
 * Closing: any close we decide (4001 bad token, 1008 slow reader) is stored
 * in the session and done at the next SERVER_WRITEABLE with
 * lws_close_reason + return -1, the way lws wants it, so the client always
 * reads the close code.  Idle sockets get 1001 from a per-socket lws timer
 * that every client frame resets.
 */
#include "edge/ws/ws_internal.h"

#include "common/err.h"
#include "common/log.h"
#include "edge/authn.h"

#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>


static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static ws_state_t *state_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

static void send_error(ws_state_t *st, ws_session_t *s, const char *rid, const char *code,
                       const char *message)
{
    char *text = ws_frame_error(rid, code, message);
    ws_session_send(st, s, text);
    free(text);
}

static void on_frame(ws_state_t *st, ws_session_t *s, const char *buf, size_t len)
{
    ws_frame_t f;
    const char *code;
    char msg[256], rid[WS_RID_MAX * 4 + 1];
    if (ws_frame_parse(buf, len, (int64_t)st->e->max_frame, &f, &code, msg, sizeof msg, rid,
                       sizeof rid) != NT_OK) {
        ws_metrics_frame_in(st, 0);
        char cid[WS_ID_MAX * 4 + 1];
        char *text;
        if (strcmp(code, "bad_request") == 0 && ws_frame_conversation(buf, len, cid, sizeof cid) &&
            (text = ws_frame_error(rid, code, msg)) != NULL)
            ws_request_access(st, s, rid, cid, text); /* authorization first */
        else
            send_error(st, s, rid, code, msg);
        return;
    }
    ws_metrics_frame_in(st, (int)f.op);
    if (f.op == WS_OP_PING) {
        json_t *o = json_pack("{s:s}", "op", "pong");
        if (o && f.rid)
            json_object_set_new(o, "rid", json_string(f.rid));
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        ws_session_send(st, s, text);
        free(text);
        json_decref(o);
    } else if (f.op == WS_OP_ACK) {
        ws_session_ack(st, s, f.conversation_id, f.seq);
    } else if (f.op == WS_OP_TYPING) {
        if (ws_typing(st, s, f.conversation_id) != NT_OK)
            send_error(st, s, f.rid, "bad_request", "conversation_id is not a conversation id");
    } else {
        int rc = ws_request(st, s, &f);
        if (rc != NT_OK)
            send_error(st, s, f.rid, api_code(rc == NT_EBUS ? NT_EUNAVAIL : rc),
                       rc == NT_ERATELIMIT ? "too many requests in flight" : NULL);
    }
    ws_frame_fini(&f);
}

/* Idle: at idle_timeout_s without a client frame the timer closes with
 * 1001 (the client reads why); a client that reads nothing cannot take that
 * close frame, so lws's own timeout cuts the TCP connection a little later.
 *
 * Every frame only records its time.  The lws timer is armed once per idle
 * period and, when it fires while the session was active, re-armed for
 * what is left: arming is an insert into lws's sorted timer list, linear
 * in the number of sockets, and doing it on every frame took a third of
 * the edge's CPU with 1000 sessions sending (perf: lws_dll2_add_sorted). */
static void idle_arm(ws_session_t *s, int64_t after_us)
{
    lws_set_timer_usecs(s->wsi, (lws_usec_t)after_us);
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, (int)(after_us / LWS_US_PER_SEC) + 5);
}

static void idle_reset(ws_state_t *st, ws_session_t *s)
{
    if (st->e->idle_timeout_s > 0)
        s->last_rx_us = lws_now_usecs();
}

/* The idle timer fired: close, or wait for the rest of the period. */
static void idle_check(ws_state_t *st, ws_session_t *s)
{
    int64_t period = (int64_t)st->e->idle_timeout_s * LWS_US_PER_SEC;
    if (s->rx_paused)
        idle_reset(st, s); /* we are the ones not reading: not idle */
    int64_t left = s->last_rx_us + period - (int64_t)lws_now_usecs();
    if (left > 0)
        idle_arm(s, left);
    else
        ws_session_close(s, 1001);
}

/* Backpressure (docs/ws.md "Per-session send order"): lws keeps what it
 * already read and hands it over after the resume. */
void ws_server_rx_pause(ws_session_t *s)
{
    if (s->rx_paused)
        return;
    s->rx_paused = 1;
    lws_rx_flow_control(s->wsi, 0);
}

void ws_server_rx_resume(ws_state_t *st, ws_session_t *s)
{
    if (!s->rx_paused || s->drain_told)
        return;
    s->rx_paused = 0;
    lws_rx_flow_control(s->wsi, 1);
    idle_reset(st, s);
}

static void on_receive(ws_state_t *st, ws_session_t *s, const void *in, size_t len)
{
    struct lws *wsi = s->wsi;
    idle_reset(st, s);
    if (lws_frame_is_binary(wsi))
        s->rx_binary = 1;
    if (s->rx_over || s->rx_binary || s->rx_len + len > st->e->max_frame) {
        s->rx_over = !s->rx_binary;       /* discard the rest, never buffer it */
    } else if (len > 0) {
        /* Sized to the message and freed after it: 100k idle sessions must
         * not hold max_frame bytes each. */
        char *grown = realloc(s->rx, s->rx_len + len);
        if (!grown) {
            s->rx_over = 1;
        } else {
            s->rx = grown;
            memcpy(s->rx + s->rx_len, in, len);
            s->rx_len += len;
        }
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi) > 0)
        return;
    if (s->rx_binary)
        send_error(st, s, NULL, "bad_request", "binary frames are not supported");
    else if (s->rx_over)
        send_error(st, s, NULL, "too_large", "frame is larger than ws.max_frame");
    else
        on_frame(st, s, s->rx ? s->rx : "", s->rx_len);
    free(s->rx);
    s->rx = NULL;
    s->rx_len = 0;
    s->rx_over = s->rx_binary = 0;
}

/* The client's address: the TCP peer or, from a trusted proxy
 * (http.trusted_proxies), the one its X-Forwarded-For names; the same rule
 * as edge-http's (edge/client_addr.h).  A header too long to copy counts
 * as absent: the proxy's own address stands. */
static void client_ip(ws_state_t *st, struct lws *wsi, char *out, size_t n)
{
    char peer[48], xff[2048];
    if (!lws_get_peer_simple(wsi, peer, sizeof peer))
        snprintf(peer, sizeof peer, "?");
    /* lws listens on a dual-stack socket: an IPv4 client shows as
     * "::ffff:a.b.c.d".  Shown and counted as IPv4, as edge-http has it
     * (rules match either form: common/cidr.h). */
    if (strncmp(peer, "::ffff:", 7) == 0 && strchr(peer + 7, '.') && !strchr(peer + 7, ':'))
        memmove(peer, peer + 7, strlen(peer + 7) + 1);
    int got = st->e->nproxies > 0 ? lws_hdr_copy(wsi, xff, sizeof xff, WSI_TOKEN_X_FORWARDED_FOR) : -1;
    client_addr(peer, got > 0 ? xff : NULL, st->e->proxies, st->e->nproxies, out, n);
}

/* Before the upgrade: a denied address gets 403 and no WebSocket. */
static int confirm_upgrade(ws_state_t *st, struct lws *wsi)
{
    char ip[48];
    if (!st->e->iprules)
        return 0;
    client_ip(st, wsi, ip, sizeof ip);
    if (!iprules_denied(st->e->iprules, ip))
        return 0;
    st->ip_refused++;
    log_info("websocket refused, address denied", "addr=%s", ip);
    return lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL) ? -1 : 1;
}

static void on_established(ws_state_t *st, ws_session_t *s)
{
    char buf[4096], uri[64], ip[48];
    s->is_ws = 1;
    s->since_ms = now_ms();
    if (st->draining) {
        ws_drain_refuse(st, s);     /* go elsewhere: 1012 with a delay hint */
        return;
    }
    client_ip(st, s->wsi, ip, sizeof ip);   /* counted and matched by this address */
    int rc = ws_addrs_take(&st->addrs, ip, &s->addr);
    if (rc != NT_OK) {
        if (rc == NT_ERATELIMIT)
            log_warn("too many sockets from one address, refused", "addr=%s max=%u", ip,
                     st->addrs.max);
        ws_session_close(s, rc == NT_ERATELIMIT ? 4029 : 1011);
        return;
    }
    if (st->e->sndbuf > 0) {
        /* The kernel grows a socket's send buffer up to tcp_wmem's max (MBs
         * on loopback) for a client that does not read: cap it, so such a
         * client costs the host a bounded amount beyond our own queue. */
        int v = st->e->sndbuf;
        setsockopt(lws_get_socket_fd(s->wsi), SOL_SOCKET, SO_SNDBUF, &v, sizeof v);
    }
    const char *tok = lws_get_urlarg_by_name(s->wsi, "token=", buf, sizeof buf);
    if (lws_hdr_copy(s->wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0 || strcmp(uri, "/ws") != 0 ||
        !tok || authn_token(tok, st->e->keys, st->e->deny, now_ms(), &s->who) != NT_OK) {
        st->stats.auth_failures++;
        ws_session_close(s, 4001);
        return;
    }
    if (ws_session_attach(st, s) != NT_OK) {
        ws_session_close(s, 1011);
        return;
    }
    s->authed = 1;
    idle_reset(st, s);
    if (st->e->idle_timeout_s > 0)
        idle_arm(s, (int64_t)st->e->idle_timeout_s * LWS_US_PER_SEC);
    ws_request_hello(st, s); /* once the push subscription is in place */
    log_debug("ws session open", "uid=%s sid=%s", s->who.uid, s->who.sid);
}

void ws_server_hello(ws_state_t *st, ws_session_t *s)
{
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "op", "hello", "session_id", s->who.sid,
                          "user_id", s->who.uid, "server_time", (json_int_t)now_ms());
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    ws_session_send(st, s, text);
    free(text);
    json_decref(o);
}

/* The header of an unmasked final text frame of len bytes into h (>= 10
 * bytes); its length. */
static size_t frame_header(unsigned char *h, size_t len)
{
    h[0] = 0x81;
    if (len < 126) {
        h[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(len >> 8);
        h[3] = (unsigned char)len;
        return 4;
    }
    h[1] = 127;
    for (int i = 0; i < 8; i++)
        h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
    return 10;
}

static void outq_pop(ws_state_t *st, ws_session_t *s)
{
    ws_out_t *o = s->out_head;
    st->stats.outq_frames--;
    st->stats.outq_bytes -= o->len;
    s->out_head = o->next;
    if (!s->out_head)
        s->out_tail = NULL;
    s->out_n--;
    s->out_bytes -= o->len;
    free(o);
}

/* Write the queue's head frames: as many as fit in one batch. */
static int write_queued(ws_state_t *st, ws_session_t *s)
{
    ws_out_t *o = s->out_head;
    st->writes++;
    if (!o->next || o->len + 10 + 14 > WS_WRITE_BATCH) {
        st->frames++;
        if (lws_write(s->wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len)
            return -1;
        outq_pop(st, s);
        return 0;
    }
    size_t n = 0;
    while ((o = s->out_head) && n + 10 + o->len <= WS_WRITE_BATCH) {
        n += frame_header(st->wbuf + n, o->len);
        memcpy(st->wbuf + n, o->buf + LWS_PRE, o->len);
        n += o->len;
        outq_pop(st, s);
        st->frames++;
    }
    /* LWS_WRITE_HTTP: raw bytes on a ws connection (the frames are whole,
     * so lws's own close or pong can only come between them). */
    return lws_write(s->wsi, st->wbuf, n, LWS_WRITE_HTTP) < (int)n ? -1 : 0;
}

static int on_writeable(ws_state_t *st, ws_session_t *s)
{
    if (s->close_code == 1012 && !s->out_head)
        return ws_drain_close(st, s);   /* the full closing handshake */
    if (s->close_code && !s->out_head) {
        const char *why = s->close_why            ? s->close_why
                          : s->close_code == 4001 ? "unauthorized"
                          : s->close_code == 1001 ? "idle"
                          : s->close_code == 1008 ? "client does not read"
                          : s->close_code == 4002 ? "kicked"
                          : s->close_code == 4029 ? "too many connections from this address"
                                                  : "closing";
        lws_close_reason(s->wsi, (enum lws_close_status)s->close_code, (unsigned char *)why,
                         strlen(why));
        /* Not `return -1`: Debian's lws 4.1.6 is built with _DEBUG, and
         * on libuv a close asked for from a service callback is repeated
         * at once ("uv repeat test" in lws_service_fd_tsi), which skips
         * the close frame.  A close from lws's timer on the next turn
         * sends it; the keep-alive reason is the one timeout lws does not
         * treat as a dead socket (lws_sul_wsitimeout_cb). */
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, LWS_TO_KILL_ASYNC);
        return 0;
    }
    if (!s->out_head)
        return 0;
    if (write_queued(st, s) != 0)
        return -1;
    if (s->out_head || s->close_code)
        lws_callback_on_writable(s->wsi);
    return 0;
}

static void on_flush(uv_check_t *h);

void ws_server_want_flush(ws_state_t *st, ws_session_t *s)
{
    if (s->dirty)
        return;
    if (!st->flush_ok) {            /* no loop handle (not started): lws's way */
        lws_callback_on_writable(s->wsi);
        return;
    }
    s->dirty = 1;
    s->d_prev = NULL;
    s->d_next = st->dirty;
    if (st->dirty)
        st->dirty->d_prev = s;
    else
        uv_check_start(&st->flush, on_flush);
    st->dirty = s;
}

void ws_server_unflush(ws_state_t *st, ws_session_t *s)
{
    if (!s->dirty)
        return;
    if (s->d_prev)
        s->d_prev->d_next = s->d_next;
    else
        st->dirty = s->d_next;
    if (s->d_next)
        s->d_next->d_prev = s->d_prev;
    s->d_prev = s->d_next = NULL;
    s->dirty = 0;
}

static void flush_one(ws_state_t *st, ws_session_t *s)
{
    if (!s->close_code && !s->out_head)
        return;                             /* the WRITEABLE callback got there first */
    if (s->close_code || lws_partial_buffered(s->wsi)) {
        lws_callback_on_writable(s->wsi);   /* closing, or lws still has bytes: its turn */
        return;
    }
    if (write_queued(st, s) != 0) {
        lws_set_timeout(s->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
        return;
    }
    if (s->out_head)
        lws_callback_on_writable(s->wsi);   /* more than one batch */
}

static void on_flush(uv_check_t *h)
{
    ws_state_t *st = h->data;
    while (st->dirty) {
        ws_session_t *s = st->dirty;
        ws_server_unflush(st, s);
        flush_one(st, s);
    }
    uv_check_stop(h);
}

int ws_server_flush_start(ws_state_t *st)
{
    if (uv_check_init(st->e->loop, &st->flush) != 0)
        return NT_EINTERNAL;
    st->flush.data = st;
    st->flush_ok = 1;
    return NT_OK;
}

void ws_server_flush_stop(ws_state_t *st)
{
    if (!st->flush_ok)
        return;
    while (st->dirty)
        ws_server_unflush(st, st->dirty);
    st->flush_ok = 0;
    uv_close((uv_handle_t *)&st->flush, NULL);
}

void ws_server_on_inbox(void *arg, ws_in_t *in)
{
    ws_state_t *st = arg;
    if (in->kind == WS_IN_REPLY)
        ws_requests_reply(st, in->msg);
    else if (in->kind == WS_IN_KICK)
        ws_kick_deliver(st, in->msg);
    else if (in->kind == WS_IN_IPRULES) {
        int n = ws_users_close_denied(st);
        st->ip_closed += (uint64_t)n;
        log_info("ip rules changed", "sockets_closed=%d", n);
    }
    else
        ws_push_deliver(st, in->msg);
}

static int http_answer(ws_state_t *st, ws_session_t *s, struct lws *wsi, const char *path)
{
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start;
    unsigned char *end = buf + sizeof buf - 1;
    if (path && strcmp(path, "/metrics") == 0)
        return ws_metrics_http_answer(st, s, wsi);
    if (path && strcmp(path, "/healthz") == 0)
        /* Ready once the bus is up and the IP rules are loaded (a rule
         * holds from the first socket after a restart), until a drain. */
        s->http_status = bus_connected(st->e->bus) && !st->draining &&
                                 (!st->e->iprules || iprules_loaded(st->e->iprules))
                             ? 200
                             : 503;
    else
        s->http_status = 404;
    if (lws_add_http_common_headers(wsi, (unsigned int)s->http_status, "application/json",
                                    LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int http_body(ws_session_t *s, struct lws *wsi)
{
    if (s->rx)                      /* a /metrics body is waiting */
        return ws_metrics_http_body(s, wsi);
    char body[LWS_PRE + 64];
    const char *text = s->http_status == 200   ? "{\"status\":\"ok\"}"
                       : s->http_status == 503 ? "{\"status\":\"unavailable\"}"
                                               : "{\"error\":{\"code\":\"not_found\"}}";
    size_t n = strlen(text);
    memcpy(body + LWS_PRE, text, n);
    if (lws_write(wsi, (unsigned char *)body + LWS_PRE, n, LWS_WRITE_HTTP_FINAL) != (int)n)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int ws_server_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    ws_session_t *s = user;
    ws_state_t *st = wsi ? state_of(wsi) : NULL;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return http_answer(st, s, wsi, in);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return http_body(s, wsi);
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(st, wsi);
    case LWS_CALLBACK_ESTABLISHED:
        s->wsi = wsi;
        on_established(st, s);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (s->authed && !s->close_code)
            on_receive(st, s, in, len);
        return 0;
    case LWS_CALLBACK_TIMER:
        if (s->is_ws && st->e->idle_timeout_s > 0)
            idle_check(st, s);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return on_writeable(st, s);
    case LWS_CALLBACK_CLOSED_HTTP:  /* gone before its /metrics body was written */
        if (s && !s->is_ws) {
            free(s->rx);
            s->rx = NULL;
        }
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        ws_metrics_peer_close(s, in, len);
        return 0;
    case LWS_CALLBACK_CLOSED:
        if (s->is_ws) {
            ws_metrics_closed(st, s);
            ws_session_detach(st, s);
        }
        ws_addrs_release(&st->addrs, s->addr);
        s->addr = NULL;
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
