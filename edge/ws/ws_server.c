/*
 * ws_server.c - the lws context, its one service thread and the protocol
 * callback: handshake and token check, client frames to actions, the
 * outgoing queue, the inbox drain, the request timeout sweep, and /healthz
 * on the same port.
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
        send_error(st, s, rid, code, msg);
        return;
    }
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
    if (!s->rx_paused)
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

static void on_established(ws_state_t *st, ws_session_t *s)
{
    char buf[4096], uri[64];
    const char *tok = lws_get_urlarg_by_name(s->wsi, "token=", buf, sizeof buf);
    s->is_ws = 1;
    if (lws_hdr_copy(s->wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0 || strcmp(uri, "/ws") != 0 ||
        !tok || authn_token(tok, st->e->keys, st->e->deny, now_ms(), &s->who) != NT_OK) {
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
    json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "op", "hello", "session_id", s->who.sid,
                          "user_id", s->who.uid, "server_time", (json_int_t)now_ms());
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    ws_session_send(st, s, text);
    free(text);
    json_decref(o);
    log_debug("ws session open", "uid=%s sid=%s", s->who.uid, s->who.sid);
}

static int on_writeable(ws_session_t *s)
{
    if (s->close_code && !s->out_head) {
        const char *why = s->close_why           ? s->close_why
                          : s->close_code == 4001 ? "unauthorized"
                          : s->close_code == 1001 ? "idle"
                          : s->close_code == 1008 ? "client does not read"
                          : s->close_code == 4002 ? "kicked"
                                                  : "closing";
        lws_close_reason(s->wsi, (enum lws_close_status)s->close_code, (unsigned char *)why,
                         strlen(why));
        return -1;
    }
    ws_out_t *o = s->out_head;
    if (!o)
        return 0;
    if (lws_write(s->wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT) < (int)o->len)
        return -1;
    s->out_head = o->next;
    if (!s->out_head)
        s->out_tail = NULL;
    s->out_n--;
    s->out_bytes -= o->len;
    free(o);
    if (s->out_head || s->close_code)
        lws_callback_on_writable(s->wsi);
    return 0;
}

static void drain_inbox(ws_state_t *st)
{
    ws_in_t *in = ws_inbox_take_all(&st->inbox);
    while (in) {
        ws_in_t *next = in->next;
        if (in->kind == WS_IN_REPLY)
            ws_requests_reply(st, in);
        else if (in->kind == WS_IN_KICK)
            ws_kick_deliver(st, in);
        else
            ws_push_deliver(st, in);
        free(in);
        in = next;
    }
}

static int http_answer(ws_state_t *st, ws_session_t *s, struct lws *wsi, const char *path)
{
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start;
    unsigned char *end = buf + sizeof buf - 1;
    if (path && strcmp(path, "/healthz") == 0)
        s->http_status = bus_connected(st->e->bus) ? 200 : 503;
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
        return on_writeable(s);
    case LWS_CALLBACK_CLOSED:
        if (s->is_ws)
            ws_session_detach(st, s);
        return 0;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        if (st)
            drain_inbox(st);
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
