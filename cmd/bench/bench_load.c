/*
 * bench_load.c - what natter-bench sends and what it makes of the replies
 * (docs/API.md frames): the send schedule (a fixed total rate, or a window
 * per session kept full), cumulative acks every ~100 ms riding in the same
 * write as a send when there is one, idle pings, and the latency samples.
 *
 * Send times travel inside the frames (the rid carries the send time for
 * send->sent, the body carries it for send->deliver), so no per-message
 * table is needed and memory stays flat however long the run.
 *
 * The edge's frames are compact JSON written by natter; the handful of
 * fields needed are found by scanning for "key": rather than by parsing
 * the whole document (a JSON parser per frame was a good part of the old
 * client's CPU).  A frame without them counts as an error.
 */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACK_EVERY_US 100000

/* The value of "key" (first occurrence) as a string without quotes
 * (escapes left as they are: the bench only compares ids and digits). */
static int field_str(const char *p, size_t n, const char *key, const char **v, size_t *vl)
{
    char pat[40];
    int pl = snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *k = memmem(p, n, pat, (size_t)pl), *e = p + n;
    if (!k)
        return -1;
    k += pl;
    while (k < e && (*k == ' ' || *k == ':'))
        k++;
    if (k >= e || *k != '"')
        return -1;
    const char *s = ++k;
    while (k < e && *k != '"')
        k += *k == '\\' ? 2 : 1;
    if (k >= e)
        return -1;
    *v = s;
    *vl = (size_t)(k - s);
    return 0;
}

static int field_int(const char *p, size_t n, const char *key, long long *out)
{
    char pat[40];
    int pl = snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *k = memmem(p, n, pat, (size_t)pl), *e = p + n;
    if (!k)
        return -1;
    k += pl;
    while (k < e && (*k == ' ' || *k == ':'))
        k++;
    if (k >= e || (*k != '-' && (*k < '0' || *k > '9')))
        return -1;
    long long v = 0;
    int neg = *k == '-';
    for (k += neg; k < e && *k >= '0' && *k <= '9'; k++)
        v = v * 10 + (*k - '0');
    *out = neg ? -v : v;
    return 0;
}

static int eq(const char *v, size_t vl, const char *lit)
{
    return strlen(lit) == vl && memcmp(v, lit, vl) == 0;
}

static long long digits(const char *v, size_t vl)
{
    long long x = 0;
    for (size_t i = 0; i < vl && v[i] >= '0' && v[i] <= '9'; i++)
        x = x * 10 + (v[i] - '0');
    return x;
}

static void on_message(bench_t *b, bench_sess_t *s, const char *m, size_t n, int64_t now)
{
    const char *cid, *from, *body;
    size_t cl, fl, bl;
    long long seq;
    if (field_str(m, n, "conversation_id", &cid, &cl) != 0 || field_int(m, n, "seq", &seq) != 0) {
        b->st.errors++;
        return;
    }
    if (!eq(cid, cl, s->conv))
        return; /* not ours to ack or count (a session has one conversation) */
    if (seq > s->ack_seq)
        s->ack_seq = seq;
    if (field_str(m, n, "sender_id", &from, &fl) == 0 && !eq(from, fl, s->uid) &&
        field_str(m, n, "body", &body, &bl) == 0 && bl > 2 && memcmp(body, "t=", 2) == 0)
        bench_stats_add(&b->st, 1, (double)(now - digits(body + 2, bl - 2)) / 1000.0);
}

void bench_on_frame(bench_t *b, bench_sess_t *s, const char *f, size_t n)
{
    const char *op, *v;
    size_t ol, vl;
    int64_t now = bench_now_us();
    if (field_str(f, n, "op", &op, &ol) != 0) {
        b->st.errors++;
    } else if (eq(op, ol, "message")) {
        on_message(b, s, f, n, now);
    } else if (eq(op, ol, "sent")) {
        if (field_str(f, n, "rid", &v, &vl) == 0) {
            const char *dot = memchr(v, '.', vl);
            if (dot)
                bench_stats_add(&b->st, 0,
                                (double)(now - digits(dot + 1, vl - (size_t)(dot + 1 - v))) / 1000.0);
        }
        if (s->inflight > 0)
            s->inflight--;
    } else if (eq(op, ol, "pong")) {
        b->st.pongs++;
    } else if (eq(op, ol, "hello")) {
        if (field_str(f, n, "user_id", &v, &vl) == 0 && vl < sizeof s->uid) {
            memcpy(s->uid, v, vl);
            s->uid[vl] = 0;
        }
        if (!s->ready)
            b->n_ready++;
        s->ready = 1;
    } else if (eq(op, ol, "error")) {
        b->st.errors++;
        if (s->inflight > 0 && field_str(f, n, "rid", &v, &vl) == 0)
            s->inflight--;
    }
}

static void queue_ack(bench_t *b, bench_sess_t *s)
{
    char f[160];
    int n = snprintf(f, sizeof f, "{\"op\":\"ack\",\"conversation_id\":\"%s\",\"seq\":%lld}",
                     s->conv, (long long)s->ack_seq);
    if (n > 0 && (size_t)n < sizeof f && bench_queue_text(b, s, f, (size_t)n) == 0)
        s->acked_seq = s->ack_seq;
}

static void queue_send(bench_t *b, bench_sess_t *s)
{
    char f[512];
    long long t = (long long)bench_now_us();
    size_t i = (size_t)(s - b->sess);
    int n = snprintf(f, sizeof f,
                     "{\"op\":\"send\",\"rid\":\"%zu.%lld\",\"conversation_id\":\"%s\","
                     "\"client_msg_id\":\"b%x-%zu-%llu\",\"type\":\"text\",\"body\":\"t=%lld\"}",
                     i, t, s->conv, b->run_id, i, (unsigned long long)(s->seq_no + 1), t);
    if (n <= 0 || (size_t)n >= sizeof f || bench_queue_text(b, s, f, (size_t)n) != 0)
        return;
    s->seq_no++;
    s->inflight++;
    b->st.sends++;
    if (s->ack_seq > s->acked_seq) /* the ack rides in the same write */
        queue_ack(b, s);
}

static int can_send(const bench_t *b, const bench_sess_t *s)
{
    return s->ready && s->state == BS_OPEN && s->inflight < b->window;
}

/* Pick sessions to send, per the rate or to keep the window full. */
static void schedule_sends(bench_t *b, int64_t now)
{
    if (b->rate > 0) {
        uint64_t want = (uint64_t)(b->rate * (double)(now - b->t_start_us) / 1e6);
        size_t budget = b->n_send;
        while (b->due < want && budget--) {
            bench_sess_t *s = &b->sess[b->rr++ % b->n_send];
            if (!can_send(b, s))
                continue;
            queue_send(b, s);
            b->due++;
        }
        return;
    }
    for (size_t i = 0; i < b->n_send; i++)
        while (can_send(b, &b->sess[i]))
            queue_send(b, &b->sess[i]);
}

/* Idle: each open session pings once per ping_s, spread evenly. */
static void schedule_pings(bench_t *b, int64_t now)
{
    uint64_t want = (uint64_t)((double)b->n * (double)(now - b->t_hold_us) / (b->ping_s * 1e6));
    size_t budget = b->n;
    while (b->pinged < want && budget--) {
        bench_sess_t *s = &b->sess[b->ping_rr++ % b->n];
        b->pinged++;
        if (s->state != BS_OPEN)
            continue;
        static const char ping[] = "{\"op\":\"ping\",\"rid\":\"p\"}";
        if (bench_queue_text(b, s, ping, sizeof ping - 1) == 0)
            b->st.pings++;
    }
}

void bench_tick(bench_t *b, int64_t now)
{
    bench_connect_more(b);
    if (b->idle && b->t_hold_us && b->ping_s > 0)
        schedule_pings(b, now);
    if (!b->idle && b->t_start_us && now >= b->t_start_us && now < b->t_end_us)
        schedule_sends(b, now);
    if (now >= b->next_ack_us) { /* cumulative, so every ~100 ms is enough */
        b->next_ack_us = now + ACK_EVERY_US;
        for (size_t i = 0; i < b->n; i++)
            if (b->sess[i].state == BS_OPEN && b->sess[i].ack_seq > b->sess[i].acked_seq)
                queue_ack(b, &b->sess[i]);
    }
    bench_flush(b);
}
