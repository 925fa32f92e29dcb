/*
 * ws_metrics.c - the WebSocket edge's /metrics (docs/operations.md
 * "Metrics"): connections, closes by code, auth failures, frames in and
 * out by op, message pushes, resends, ack timeouts, send->ack latency,
 * slow-consumer closes and the send queue, then the NATS connection's
 * and the process's numbers.
 *
 * Everything here runs on the edge's loop thread: the counters are plain
 * fields of ws_state_t bumped where the event happens, and /metrics is
 * rendered on the same loop when scraped (a few hundred lines, tens of
 * microseconds), so the realtime path pays an add per event and no lock.
 * Labels come from fixed tables, never from client bytes.
 */
#include "edge/ws/ws_internal.h"

#include "common/proc_stat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* By ws_op_t value (0: unparsable).  A new op needs its name here and a
 * larger WS_IN_OPS; until then it counts as "other" (the last). */
static const char *const in_ops[WS_IN_OPS] = {
    "invalid",    "send",        "ack",      "sync",        "read", "typing", "ping",
    "call_offer", "call_answer", "call_ice", "call_hangup", "other"};

/* Outgoing frames by their "op" (every frame the edge writes starts
 * {"op":"<name>"); index 0 is anything else. */
static const char *const out_ops[WS_OUT_OPS] = {
    "other", "hello",   "pong",  "message", "sent",    "sync",   "ok",     "error",
    "read",  "typing",  "presence", "contact", "member", "revoked", "kicked",
    "call_offer", "call_answer", "call_ice", "call_hangup"};

static const int close_codes[WS_CLOSE_KINDS] = {0,    1000, 1001, 1006, 1008, 1011,
                                                1012, 4001, 4002, 4003, 4029, 1005};

void ws_metrics_frame_in(ws_state_t *st, int op)
{
    st->stats.frames_in[op >= 0 && op < WS_IN_OPS ? op : WS_IN_OPS - 1]++;
}

void ws_metrics_frame_out(ws_state_t *st, const char *text)
{
    static const char pre[] = "{\"op\":\"";
    size_t i = 0;
    if (strncmp(text, pre, sizeof pre - 1) == 0) {
        const char *op = text + sizeof pre - 1, *end = strchr(op, '"');
        size_t n = end ? (size_t)(end - op) : 0;
        for (i = WS_OUT_OPS - 1; i > 0; i--)
            if (strlen(out_ops[i]) == n && memcmp(out_ops[i], op, n) == 0)
                break;
    }
    st->stats.frames_out[i]++;
}

void ws_metrics_peer_close(ws_session_t *s, const void *in, size_t len)
{
    const unsigned char *p = in;
    s->peer_close = len >= 2 ? (uint16_t)(p[0] << 8 | p[1]) : 1005; /* 1005: no code sent */
}

void ws_metrics_closed(ws_state_t *st, ws_session_t *s)
{
    /* Ours if we decided it, else the client's code, else the TCP
     * connection went without a close frame (1006). */
    int by_client = !s->close_code;
    int code = s->close_code ? s->close_code : s->peer_close ? s->peer_close : 1006;
    size_t k = 0;
    for (size_t i = 1; i < WS_CLOSE_KINDS; i++)
        if (close_codes[i] == code)
            k = i;
    st->stats.closes[k][by_client]++;
}

static void counter(textbuf_t *o, const char *name, const char *help, uint64_t v)
{
    prom_header(o, name, "counter", help);
    prom_sample(o, name, NULL, (double)v);
}

static void gauge(textbuf_t *o, const char *name, const char *help, double v)
{
    prom_header(o, name, "gauge", help);
    prom_sample(o, name, NULL, v);
}

static void render_frames(textbuf_t *o, const ws_stats_t *m)
{
    char lab[48];
    prom_header(o, "natter_ws_frames_in_total", "counter",
                "Client text frames by op (invalid: refused before its op was known).");
    for (size_t i = 0; i < WS_IN_OPS; i++) {
        snprintf(lab, sizeof lab, "op=\"%s\"", in_ops[i]);
        prom_sample(o, "natter_ws_frames_in_total", lab, (double)m->frames_in[i]);
    }
    prom_header(o, "natter_ws_frames_out_total", "counter",
                "Frames queued to clients by op (resends included).");
    for (size_t i = 0; i < WS_OUT_OPS; i++) {
        snprintf(lab, sizeof lab, "op=\"%s\"", out_ops[i]);
        prom_sample(o, "natter_ws_frames_out_total", lab, (double)m->frames_out[i]);
    }
    prom_header(o, "natter_ws_closes_total", "counter",
                "WebSocket closes by code and by who closed (code 0: any other code).");
    for (size_t i = 0; i < WS_CLOSE_KINDS; i++)
        for (int by = 0; by < 2; by++) {
            if (!m->closes[i][by] && close_codes[i] != 1000 && close_codes[i] != 1008)
                continue;   /* keep the page short; the common ones always show */
            snprintf(lab, sizeof lab, "code=\"%d\",by=\"%s\"", close_codes[i],
                     by ? "client" : "server");
            prom_sample(o, "natter_ws_closes_total", lab, (double)m->closes[i][by]);
        }
}

char *ws_metrics_render(ws_state_t *st, size_t *len)
{
    textbuf_t o = {0};
    const ws_stats_t *m = &st->stats;
    ws_unacked_t *u = &st->unacked;
    gauge(&o, "natter_ws_connections", "Authenticated WebSocket sessions open now.",
          (double)st->n_sessions);
    counter(&o, "natter_ws_connects_total", "WebSocket sessions authenticated and opened.",
            m->connects);
    counter(&o, "natter_ws_auth_failures_total", "Upgrades refused for a bad or revoked token (4001).",
            m->auth_failures);
    counter(&o, "natter_ws_refused_total", "Upgrades refused: too many sockets from one address.",
            st->addrs.refused);
    render_frames(&o, m);
    counter(&o, "natter_ws_message_pushes_total",
            "Message pushes queued to a session, first sends (resends not included).",
            m->message_pushes);
    counter(&o, "natter_ws_push_resends_total", "Message pushes sent again for want of an ack.",
            u->resent);
    counter(&o, "natter_ws_push_ack_timeouts_total",
            "Message pushes given up after ws.resend_max resends without an ack.", u->timed_out);
    counter(&o, "natter_ws_push_dropped_total",
            "Unacked pushes forgotten (session's unacked table full, or timed out).", u->dropped);
    gauge(&o, "natter_ws_push_unacked", "Message pushes waiting for their ack now.",
          (double)u->held);
    prom_header(&o, "natter_ws_push_ack_seconds", "histogram",
                "Message push: first send to the client's ack.");
    prom_hist_render(&o, "natter_ws_push_ack_seconds", NULL, &u->ack_seconds);
    counter(&o, "natter_ws_slow_consumer_closes_total",
            "Sessions closed (1008) because the client did not read its queue.", m->slow_closes);
    gauge(&o, "natter_ws_send_queue_frames", "Frames queued to clients, not yet written.",
          (double)m->outq_frames);
    gauge(&o, "natter_ws_send_queue_bytes", "Bytes queued to clients, not yet written.",
          (double)m->outq_bytes);
    counter(&o, "natter_ws_socket_writes_total", "send() calls to client sockets.", st->writes);
    counter(&o, "natter_ws_inbox_messages_total",
            "Bus messages handed to the loop by a nats.c delivery thread.", st->inbox.items);
    counter(&o, "natter_ws_inline_messages_total",
            "Bus messages handled on the loop as they were read (nats.inline).",
            st->inbox.inline_items);
    counter(&o, "natter_ws_push_rendered_reused_total",
            "Message pushes queued with the frame of the push before them (same bytes: a group "
            "message to several members here), not decoded and rendered again.",
            m->push_memo_hits);
    gauge(&o, "natter_denylist_sessions", "Revoked sessions held.",
          (double)denylist_size(st->e->deny));
    bus_prometheus(st->e->bus, &o);
    proc_stat_prometheus(&o);
    return textbuf_take(&o, len);
}

int ws_metrics_http_answer(ws_state_t *st, ws_session_t *s, struct lws *wsi)
{
    unsigned char buf[LWS_PRE + 512], *start = buf + LWS_PRE, *p = start;
    unsigned char *end = buf + sizeof buf - 1;
    free(s->rx);                    /* a plain HTTP connection: rx holds only this body */
    s->rx = ws_metrics_render(st, &s->rx_len);
    s->http_status = s->rx ? 200 : 503;
    if (!s->rx) {
        /* http_body answers the 503 as for /healthz */
        if (lws_add_http_common_headers(wsi, 503, "application/json",
                                        LWS_ILLEGAL_HTTP_CONTENT_LEN, &p, end) ||
            lws_finalize_write_http_header(wsi, start, &p, end))
            return -1;
    } else if (lws_add_http_common_headers(wsi, 200, "text/plain; version=0.0.4", s->rx_len, &p,
                                           end) ||
               lws_finalize_write_http_header(wsi, start, &p, end)) {
        return -1;
    }
    lws_callback_on_writable(wsi);
    return 0;
}

int ws_metrics_http_body(ws_session_t *s, struct lws *wsi)
{
    /* lws keeps what the socket does not take and writes it first. */
    unsigned char *b = malloc(LWS_PRE + s->rx_len);
    int ok = b != NULL;
    if (ok) {
        memcpy(b + LWS_PRE, s->rx, s->rx_len);
        ok = lws_write(wsi, b + LWS_PRE, s->rx_len, LWS_WRITE_HTTP_FINAL) == (int)s->rx_len;
    }
    free(b);
    free(s->rx);
    s->rx = NULL;
    s->rx_len = 0;
    if (!ok)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}
