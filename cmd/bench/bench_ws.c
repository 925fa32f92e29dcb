/*
 * bench_ws.c - the lws client side of natter-bench: connecting sessions in
 * bounded batches, the send schedule, and reading API.md frames.
 *
 * Send times travel inside the frames (the rid carries the send time for
 * send->sent, the body carries it for send->deliver), so no per-message
 * table is needed and memory stays flat however long the run.
 */
#include "bench.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONNECT_BATCH 200
#define TICK_US 5000

static bench_t *bench_of(struct lws *wsi)
{
    return lws_context_user(lws_get_context(wsi));
}

void bench_connect_more(bench_t *b)
{
    while (b->connecting < CONNECT_BATCH && b->next_connect < b->n) {
        bench_sess_t *s = &b->sess[b->next_connect++];
        char path[2048];
        snprintf(path, sizeof path, "/ws?token=%s", s->token);
        struct lws_client_connect_info i;
        memset(&i, 0, sizeof i);
        i.context = b->ctx;
        i.address = "127.0.0.1";
        i.port = b->port;
        i.path = path;
        i.host = "127.0.0.1";
        i.origin = "127.0.0.1";
        i.protocol = NULL;
        i.local_protocol_name = "natter-bench";
        i.opaque_user_data = s;
        i.pwsi = &s->wsi;
        b->connecting++;
        if (!lws_client_connect_via_info(&i)) {
            b->connecting--;
            b->st.conn_fail++;
            s->closed = 1;
        }
    }
}

static void on_frame(bench_t *b, bench_sess_t *s, const char *text, size_t len)
{
    json_t *f = json_loadb(text, len, 0, NULL);
    const char *op = json_string_value(json_object_get(f, "op"));
    int64_t now = bench_now_us();
    if (!op) {
        b->st.errors++;
    } else if (strcmp(op, "hello") == 0) {
        snprintf(s->uid, sizeof s->uid, "%s", json_string_value(json_object_get(f, "user_id")) ?: "");
        s->ready = 1;
    } else if (strcmp(op, "sent") == 0) {
        const char *rid = json_string_value(json_object_get(f, "rid"));
        const char *dot = rid ? strchr(rid, '.') : NULL;
        if (dot)
            bench_stats_add(&b->st, 0, (double)(now - atoll(dot + 1)) / 1000.0);
        if (s->inflight > 0)
            s->inflight--;
    } else if (strcmp(op, "message") == 0) {
        json_t *m = json_object_get(f, "message");
        const char *from = json_string_value(json_object_get(m, "sender_id"));
        const char *body = json_string_value(json_object_get(m, "body"));
        const char *cid = json_string_value(json_object_get(m, "conversation_id"));
        int64_t seq = json_integer_value(json_object_get(m, "seq"));
        if (!cid || strcmp(cid, s->conv) != 0) {
            json_decref(f); /* not ours to ack or count (a session has one conversation) */
            return;
        }
        if (seq > s->ack_seq)
            s->ack_seq = seq;
        if (from && strcmp(from, s->uid) != 0 && body && strncmp(body, "t=", 2) == 0)
            bench_stats_add(&b->st, 1, (double)(now - atoll(body + 2)) / 1000.0);
    } else if (strcmp(op, "error") == 0) {
        b->st.errors++;
        if (s->inflight > 0 && json_object_get(f, "rid"))
            s->inflight--;
    }
    json_decref(f);
}

static int write_one(bench_t *b, bench_sess_t *s)
{
    unsigned char buf[LWS_PRE + 512];
    char *p = (char *)buf + LWS_PRE;
    int n;
    if (s->want_send) {
        int64_t t = bench_now_us();
        n = snprintf(p, 512,
                     "{\"op\":\"send\",\"rid\":\"%zu.%lld\",\"conversation_id\":\"%s\","
                     "\"client_msg_id\":\"b%x-%zu-%llu\",\"type\":\"text\",\"body\":\"t=%lld\"}",
                     (size_t)(s - b->sess), (long long)t, s->conv, b->run_id, (size_t)(s - b->sess),
                     (unsigned long long)++s->seq_no, (long long)t);
        s->want_send = 0;
        s->inflight++;
        b->st.sends++;
    } else if (s->ack_seq > s->acked_seq) {
        n = snprintf(p, 512, "{\"op\":\"ack\",\"conversation_id\":\"%s\",\"seq\":%lld}", s->conv,
                     (long long)s->ack_seq);
        s->acked_seq = s->ack_seq;
    } else {
        return 0;
    }
    if (lws_write(s->wsi, (unsigned char *)p, (size_t)n, LWS_WRITE_TEXT) < n)
        return -1;
    if (s->want_send || s->ack_seq > s->acked_seq)
        lws_callback_on_writable(s->wsi);
    return 0;
}

static int receive(bench_t *b, bench_sess_t *s, struct lws *wsi, void *in, size_t len)
{
    if (s->rx_len + len > s->rx_cap) {
        size_t cap = (s->rx_len + len) * 2;
        char *nb = realloc(s->rx, cap);
        if (!nb)
            return -1;
        s->rx = nb;
        s->rx_cap = cap;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (lws_is_final_fragment(wsi)) {
        on_frame(b, s, s->rx, s->rx_len);
        s->rx_len = 0;
    }
    return 0;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    (void)user;
    bench_sess_t *s = lws_get_opaque_user_data(wsi);
    bench_t *b = bench_of(wsi);
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        b->connecting--;
        bench_connect_more(b);
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        b->connecting--;
        b->st.conn_fail++;
        if (s) {
            s->closed = 1;
            s->wsi = NULL;
        }
        bench_connect_more(b);
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (s && receive(b, s, wsi, in, len) != 0)
            return -1;
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (s && !b->stopping)
            return write_one(b, s);
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        if (s) {
            if (!b->stopping)
                b->st.closes++;
            s->closed = 1;
            s->wsi = NULL;
        }
        break;
    default:
        break;
    }
    return 0;
}

const struct lws_protocols bench_protocols[] = {
    {"natter-bench", callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* Pick sessions to send, per the rate or to keep the window full. */
static void schedule_sends(bench_t *b, int64_t now)
{
    size_t budget = b->n_send;
    if (b->rate > 0) {
        uint64_t want = (uint64_t)(b->rate * (double)(now - b->t_start_us) / 1e6);
        while (b->due < want && budget--) {
            bench_sess_t *s = &b->sess[b->rr++ % b->n_send];
            if (!s->ready || s->closed || s->want_send || s->inflight >= b->window)
                continue;
            s->want_send = 1;
            lws_callback_on_writable(s->wsi);
            b->due++;
        }
        return;
    }
    for (size_t i = 0; i < b->n_send; i++) {
        bench_sess_t *s = &b->sess[i];
        if (s->ready && !s->closed && !s->want_send && s->inflight < b->window) {
            s->want_send = 1;
            lws_callback_on_writable(s->wsi);
        }
    }
}

void bench_tick(lws_sorted_usec_list_t *sul)
{
    bench_t *b = lws_container_of(sul, bench_t, tick);
    int64_t now = bench_now_us();
    static unsigned ticks;
    if (b->t_start_us && now >= b->t_start_us && now < b->t_end_us && !b->idle)
        schedule_sends(b, now);
    if (++ticks % 20 == 0) /* acks every ~100 ms, cumulative */
        for (size_t i = 0; i < b->n; i++)
            if (b->sess[i].wsi && b->sess[i].ack_seq > b->sess[i].acked_seq)
                lws_callback_on_writable(b->sess[i].wsi);
    if (b->t_stop_us && now >= b->t_stop_us) {
        b->stopping = 1;
        return;
    }
    lws_sul_schedule(b->ctx, 0, &b->tick, bench_tick, TICK_US);
}
