/*
 * ws_unacked.c - message pushes sent to a session and not acked yet, and
 * their resend (API.md: "Resent if not acked in time"; DESIGN.md: delivery
 * is at-least-once, the client acks a seq per conversation, cumulative, and
 * dedups by seq).
 *
 * An entry is one `message` push to one session: conversation, seq and the
 * rendered frame (refcounted, shared by every session of the user that got
 * the same push).  Each entry is on two lists:
 *  - the session's, oldest first.  An ack scans it (at most max_unacked
 *    entries, a hash compare each) and drops every entry of that
 *    conversation with seq <= the acked one.  When the session is at its
 *    bound (entries or bytes) the oldest entry goes: the client will see a
 *    gap in seq and catch up with sync, so memory never grows with a client
 *    that does not ack.
 *  - one edge-wide FIFO by resend deadline.  Every entry waits the same
 *    ack timeout, so appending keeps the FIFO sorted (the clock is
 *    monotonic) and the 100 ms sweep only looks at its head: 100k idle
 *    sessions cost the sweep nothing.  A resent entry moves to the tail.
 * A session with nothing unacked holds two NULL pointers and two zeros.
 *
 * Pure: no lws, no bus.  The sweep resends through a callback, so
 * tests/unit/test_ws_unacked.c drives it with a fake clock.  Loop thread only.
 */
#include "edge/ws/ws_internal.h"

#include "common/err.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

ws_text_t *ws_text_new(const char *s)
{
    size_t len = strlen(s);
    ws_text_t *t = malloc(sizeof *t + len + 1);
    if (!t)
        return NULL;
    t->refs = 1;
    t->len = len;
    memcpy(t->data, s, len + 1);
    return t;
}

void ws_text_unref(ws_text_t *t)
{
    if (t && --t->refs == 0)
        free(t);
}

static uint32_t hash_cid(const char *s)
{
    uint32_t h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h;
}

void ws_unacked_init(ws_unacked_t *u, int64_t timeout_us, unsigned resend_max, size_t max_n,
                     size_t max_bytes)
{
    memset(u, 0, sizeof *u);
    assert(timeout_us > 0);
    u->timeout_us = timeout_us;
    u->resend_max = resend_max;
    u->max_n = max_n;
    u->max_bytes = max_bytes;
    prom_hist_init(&u->ack_seconds, prom_le_latency, prom_le_latency_n);
}

static void fifo_unlink(ws_unacked_t *u, ws_unacked_ent_t *e)
{
    if (e->f_prev)
        e->f_prev->f_next = e->f_next;
    else
        u->head = e->f_next;
    if (e->f_next)
        e->f_next->f_prev = e->f_prev;
    else
        u->tail = e->f_prev;
    e->f_prev = e->f_next = NULL;
}

static void fifo_append(ws_unacked_t *u, ws_unacked_ent_t *e)
{
    e->f_next = NULL;
    e->f_prev = u->tail;
    if (u->tail)
        u->tail->f_next = e;
    else
        u->head = e;
    u->tail = e;
}

static void ent_free(ws_unacked_t *u, ws_unacked_ent_t *e)
{
    ws_session_t *s = e->s;
    fifo_unlink(u, e);
    if (e->s_prev)
        e->s_prev->s_next = e->s_next;
    else
        s->ua_head = e->s_next;
    if (e->s_next)
        e->s_next->s_prev = e->s_prev;
    else
        s->ua_tail = e->s_prev;
    assert(s->n_unacked > 0 && s->ua_bytes >= e->text->len);
    s->n_unacked--;
    s->ua_bytes -= (uint32_t)e->text->len;
    u->held--;
    ws_text_unref(e->text);
    free(e);
}

int ws_unacked_track(ws_unacked_t *u, ws_session_t *s, const char *cid, int64_t seq,
                     ws_text_t *text, int64_t now_us)
{
    if (u->resend_max == 0 || u->max_n == 0 || text->len > u->max_bytes)
        return NT_OK;               /* tracking off, or a frame that could never fit */
    while (s->ua_head &&
           (s->n_unacked >= u->max_n || s->ua_bytes + text->len > u->max_bytes)) {
        ent_free(u, s->ua_head);    /* full: the oldest goes, the client will sync */
        u->dropped++;
    }
    size_t clen = strlen(cid);
    ws_unacked_ent_t *e = malloc(sizeof *e + clen + 1);
    if (!e)
        return NT_ENOMEM;
    memset(e, 0, sizeof *e);
    memcpy(e->cid, cid, clen + 1);
    e->cid_hash = hash_cid(cid);
    e->seq = seq;
    e->s = s;
    e->text = text;
    text->refs++;
    e->deadline_us = now_us + u->timeout_us;
    e->sent_us = now_us;
    u->held++;
    fifo_append(u, e);
    e->s_prev = s->ua_tail;
    if (s->ua_tail)
        s->ua_tail->s_next = e;
    else
        s->ua_head = e;
    s->ua_tail = e;
    s->n_unacked++;
    s->ua_bytes += (uint32_t)text->len;
    return NT_OK;
}

void ws_unacked_ack(ws_unacked_t *u, ws_session_t *s, const char *cid, int64_t seq,
                    int64_t now_us)
{
    if (!s->ua_head)
        return;
    uint32_t h = hash_cid(cid);
    for (ws_unacked_ent_t *e = s->ua_head, *next; e; e = next) {
        next = e->s_next;
        if (e->cid_hash == h && e->seq <= seq && strcmp(e->cid, cid) == 0) {
            int64_t dt = now_us - e->sent_us;
            prom_hist_observe(&u->ack_seconds, dt > 0 ? (double)dt / 1e6 : 0.0);
            ent_free(u, e);
        }
    }
}

void ws_unacked_forget(ws_unacked_t *u, ws_session_t *s, const char *cid, int64_t seq)
{
    if (!s->ua_head)
        return;
    uint32_t h = hash_cid(cid);
    for (ws_unacked_ent_t *e = s->ua_head, *next; e; e = next) {
        next = e->s_next;
        if (e->cid_hash == h && e->seq == seq && strcmp(e->cid, cid) == 0)
            ent_free(u, e);
    }
}

void ws_unacked_sweep(ws_unacked_t *u, int64_t now_us, size_t max, ws_resend_fn fn, void *arg)
{
    /* A rearmed entry's deadline is now_us + timeout > now_us, so the loop
     * ends at it at the latest; max bounds one tick's work after a burst. */
    for (size_t n = 0; n < max && u->head && u->head->deadline_us <= now_us; n++) {
        ws_unacked_ent_t *e = u->head;
        fn(arg, e->s, e->text);
        u->resent++;
        if (++e->tries >= u->resend_max) {
            ent_free(u, e);         /* given up: the client catches up with sync */
            u->dropped++;
            u->timed_out++;
            continue;
        }
        fifo_unlink(u, e);
        e->deadline_us = now_us + u->timeout_us;
        fifo_append(u, e);
    }
}

void ws_unacked_drop_session(ws_unacked_t *u, ws_session_t *s)
{
    while (s->ua_head)
        ent_free(u, s->ua_head);
}
