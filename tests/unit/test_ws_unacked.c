/*
 * test_ws_unacked.c - message pushes waiting for their ack, and their
 * resend (edge/ws/ws_unacked.c), driven with a fake clock and a recording
 * resend callback: no lws loop, no sockets.
 *
 * What must hold: an ack is cumulative per conversation and touches no
 * other conversation or session; an entry is resent after the ack timeout
 * at most resend_max times and then forgotten; a session never holds more
 * than max_unacked entries or max_bytes of frames (the oldest go); the
 * rendered frame is shared and freed with its last reference; the sweep
 * stops at the first entry not yet due.
 */
#include "common/err.h"
#include "edge/ws/ws_internal.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#define SEC 1000000

typedef struct {
    int n;
    ws_session_t *s[64];
    char text[64][64];
} rec_t;

static void record(void *arg, ws_session_t *s, const ws_text_t *text)
{
    rec_t *r = arg;
    cr_assert_lt(r->n, 64);
    r->s[r->n] = s;
    snprintf(r->text[r->n], sizeof r->text[0], "%s", text->data);
    r->n++;
}

/* Track a push of (cid, seq) whose frame text is "<cid>/<seq>". */
static void push(ws_unacked_t *u, ws_session_t *s, const char *cid, int64_t seq, int64_t now)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%s/%lld", cid, (long long)seq);
    ws_text_t *t = ws_text_new(buf);
    cr_assert_not_null(t);
    cr_assert_eq(ws_unacked_track(u, s, cid, seq, t, now), NT_OK);
    ws_text_unref(t);
}

static void sweep(ws_unacked_t *u, int64_t now, rec_t *r)
{
    memset(r, 0, sizeof *r);
    ws_unacked_sweep(u, now, 1000, record, r);
}

/* The session's entries as "cid/seq cid/seq ...", oldest first. */
static const char *dump(const ws_session_t *s)
{
    static char out[512];
    size_t n = 0;
    out[0] = '\0';
    for (const ws_unacked_ent_t *e = s->ua_head; e && n < sizeof out - 40; e = e->s_next)
        n += (size_t)snprintf(out + n, sizeof out - n, "%s%s", n ? " " : "", e->text->data);
    return out;
}

Test(ws_unacked, ack_is_cumulative_per_conversation)
{
    ws_unacked_t u;
    ws_session_t s = {0};
    ws_unacked_init(&u, 10 * SEC, 3, 512, 1 << 20);
    push(&u, &s, "c1", 1, 0);
    push(&u, &s, "c2", 1, 0);
    push(&u, &s, "c1", 3, 0);
    push(&u, &s, "c1", 2, 0);   /* pushes may arrive out of seq order */
    push(&u, &s, "c10", 1, 0);
    ws_unacked_ack(&u, &s, "c1", 2, 0);
    cr_expect_str_eq(dump(&s), "c2/1 c1/3 c10/1");
    ws_unacked_ack(&u, &s, "c1", 1, 0);          /* going back changes nothing */
    cr_expect_str_eq(dump(&s), "c2/1 c1/3 c10/1");
    ws_unacked_ack(&u, &s, "nope", 100, 0);      /* unknown conversation: no effect, no memory */
    cr_expect_str_eq(dump(&s), "c2/1 c1/3 c10/1");
    ws_unacked_ack(&u, &s, "c1", 99, 0);
    ws_unacked_ack(&u, &s, "c2", 1, 0);
    cr_expect_str_eq(dump(&s), "c10/1");
    cr_expect_eq(s.n_unacked, 1);
    ws_unacked_ack(&u, &s, "c10", 1, 0);
    cr_expect_null(s.ua_head);
    cr_expect_null(s.ua_tail);
    cr_expect_null(u.head);
    cr_expect_null(u.tail);
    cr_expect_eq(s.n_unacked, 0);
    cr_expect_eq(s.ua_bytes, 0);
}

Test(ws_unacked, ack_touches_only_its_session)
{
    ws_unacked_t u;
    ws_session_t a = {0}, b = {0};
    ws_unacked_init(&u, 10 * SEC, 3, 512, 1 << 20);
    ws_text_t *t = ws_text_new("shared");
    ws_unacked_track(&u, &a, "c", 5, t, 0);
    ws_unacked_track(&u, &b, "c", 5, t, 0);
    cr_expect_eq(t->refs, 3);                 /* one frame, shared */
    ws_unacked_ack(&u, &a, "c", 5, 0);
    cr_expect_null(a.ua_head);
    cr_expect_eq(b.n_unacked, 1);
    cr_expect_eq(t->refs, 2);
    ws_unacked_drop_session(&u, &b);
    cr_expect_eq(t->refs, 1);
    cr_expect_null(u.head);
    ws_text_unref(t);
}

Test(ws_unacked, resent_after_timeout_at_most_resend_max)
{
    ws_unacked_t u;
    ws_session_t s = {0};
    rec_t r;
    ws_unacked_init(&u, 10 * SEC, 3, 512, 1 << 20);
    push(&u, &s, "c", 1, 0);
    sweep(&u, 10 * SEC - 1, &r);
    cr_expect_eq(r.n, 0, "resent before the timeout");
    sweep(&u, 10 * SEC, &r);
    cr_assert_eq(r.n, 1);
    cr_expect_eq(r.s[0], &s);
    cr_expect_str_eq(r.text[0], "c/1");
    sweep(&u, 15 * SEC, &r);
    cr_expect_eq(r.n, 0, "the timeout restarts at each resend");
    sweep(&u, 20 * SEC, &r);
    cr_expect_eq(r.n, 1);
    sweep(&u, 30 * SEC, &r);
    cr_expect_eq(r.n, 1);
    cr_expect_null(s.ua_head, "dropped after the third resend");
    cr_expect_eq(u.resent, 3);
    cr_expect_eq(u.dropped, 1);
    sweep(&u, 100 * SEC, &r);
    cr_expect_eq(r.n, 0);
}

Test(ws_unacked, acked_entry_is_not_resent)
{
    ws_unacked_t u;
    ws_session_t s = {0};
    rec_t r;
    ws_unacked_init(&u, SEC, 3, 512, 1 << 20);
    push(&u, &s, "c", 1, 0);
    push(&u, &s, "c", 2, 0);
    push(&u, &s, "d", 7, 0);
    sweep(&u, SEC, &r);
    cr_expect_eq(r.n, 3);
    ws_unacked_ack(&u, &s, "c", 2, 0);
    sweep(&u, 2 * SEC, &r);
    cr_assert_eq(r.n, 1);
    cr_expect_str_eq(r.text[0], "d/7");
    ws_unacked_drop_session(&u, &s);
}

Test(ws_unacked, sweep_goes_in_deadline_order_and_stops_at_the_first_not_due)
{
    ws_unacked_t u;
    ws_session_t a = {0}, b = {0};
    rec_t r;
    ws_unacked_init(&u, SEC, 2, 512, 1 << 20);
    push(&u, &a, "c", 1, 0);
    push(&u, &b, "c", 1, SEC / 2);
    push(&u, &a, "c", 2, SEC);
    sweep(&u, SEC + SEC / 2, &r);
    cr_assert_eq(r.n, 2);
    cr_expect(r.s[0] == &a && r.s[1] == &b);
    sweep(&u, 2 * SEC, &r);                   /* a's c/2 is due, the resent ones are not */
    cr_assert_eq(r.n, 1);
    cr_expect_str_eq(r.text[0], "c/2");
    /* The FIFO stays sorted by deadline. */
    for (ws_unacked_ent_t *e = u.head; e && e->f_next; e = e->f_next)
        cr_expect_leq(e->deadline_us, e->f_next->deadline_us);
    ws_unacked_drop_session(&u, &a);
    ws_unacked_drop_session(&u, &b);
    cr_expect_null(u.head);
}

Test(ws_unacked, sweep_work_per_call_is_bounded)
{
    ws_unacked_t u;
    ws_session_t s = {0};
    int n = 0;
    ws_unacked_init(&u, SEC, 1, 512, 1 << 20);
    for (int i = 1; i <= 10; i++)
        push(&u, &s, "c", i, 0);
    rec_t r = {0};
    ws_unacked_sweep(&u, SEC, 4, record, &r);
    n += r.n;
    cr_expect_eq(r.n, 4);
    memset(&r, 0, sizeof r);
    ws_unacked_sweep(&u, SEC, 100, record, &r);
    n += r.n;
    cr_expect_eq(n, 10);
    cr_expect_null(s.ua_head);
}

Test(ws_unacked, full_session_drops_the_oldest)
{
    ws_unacked_t u;
    ws_session_t s = {0};
    ws_unacked_init(&u, SEC, 3, 4, 1 << 20);
    for (int i = 1; i <= 6; i++)
        push(&u, &s, "c", i, 0);
    cr_expect_str_eq(dump(&s), "c/3 c/4 c/5 c/6");
    cr_expect_eq(s.n_unacked, 4);
    cr_expect_eq(u.dropped, 2);
    ws_unacked_drop_session(&u, &s);
}

Test(ws_unacked, bytes_are_bounded_too)
{
    ws_unacked_t u;
    ws_session_t s = {0};
    ws_unacked_init(&u, SEC, 3, 512, 12);     /* "c/N" is 3 bytes: four fit */
    for (int i = 1; i <= 6; i++)
        push(&u, &s, "c", i, 0);
    cr_expect_str_eq(dump(&s), "c/3 c/4 c/5 c/6");
    cr_expect_eq(s.ua_bytes, 12);
    ws_text_t *big = ws_text_new("far more than twelve bytes");
    cr_expect_eq(ws_unacked_track(&u, &s, "c", 7, big, 0), NT_OK);
    cr_expect_str_eq(dump(&s), "c/3 c/4 c/5 c/6", "a frame that can never fit is not tracked");
    ws_text_unref(big);
    ws_unacked_drop_session(&u, &s);
}

Test(ws_unacked, off_when_resend_max_or_max_unacked_is_zero)
{
    ws_unacked_t u;
    ws_session_t s = {0};
    ws_unacked_init(&u, SEC, 0, 512, 1 << 20);
    push(&u, &s, "c", 1, 0);
    cr_expect_null(s.ua_head);
    ws_unacked_init(&u, SEC, 3, 0, 1 << 20);
    push(&u, &s, "c", 1, 0);
    cr_expect_null(s.ua_head);
    cr_expect_null(u.head);
}

Test(ws_unacked, drop_session_leaves_others_linked)
{
    ws_unacked_t u;
    ws_session_t a = {0}, b = {0};
    rec_t r;
    ws_unacked_init(&u, SEC, 3, 512, 1 << 20);
    push(&u, &a, "c", 1, 0);
    push(&u, &b, "c", 1, 0);
    push(&u, &a, "c", 2, 0);
    push(&u, &b, "c", 2, 0);
    ws_unacked_drop_session(&u, &a);
    cr_expect_eq(a.n_unacked, 0);
    sweep(&u, SEC, &r);
    cr_assert_eq(r.n, 2);
    cr_expect(r.s[0] == &b && r.s[1] == &b);
    ws_unacked_drop_session(&u, &b);
    cr_expect_null(u.head);
    cr_expect_null(u.tail);
}

Test(ws_unacked, forget_drops_exactly_that_message)
{
    ws_unacked_t u;
    ws_session_t s = {0};
    rec_t r;
    ws_unacked_init(&u, 10 * SEC, 3, 512, 1 << 20);
    push(&u, &s, "c1", 1, 0);
    push(&u, &s, "c1", 2, 0);
    push(&u, &s, "c1", 3, 0);
    push(&u, &s, "c2", 2, 0);
    ws_unacked_forget(&u, &s, "c1", 2);       /* revoked: never resent with its body */
    cr_expect_str_eq(dump(&s), "c1/1 c1/3 c2/2");
    ws_unacked_forget(&u, &s, "c1", 9);       /* nothing of that seq: no effect */
    cr_expect_eq(s.n_unacked, 3);
    sweep(&u, 11 * SEC, &r);
    cr_expect_eq(r.n, 3);
    for (int i = 0; i < r.n; i++)
        cr_expect_str_neq(r.text[i], "c1/2");
    ws_unacked_drop_session(&u, &s);
}

Test(ws_unacked, ack_latency_from_first_send_and_timeouts_counted)
{
    ws_unacked_t u;
    ws_session_t s = {0};
    rec_t r = {0};
    ws_unacked_init(&u, 10 * SEC, 1, 512, 1 << 20);
    push(&u, &s, "c", 1, 0);
    push(&u, &s, "c", 2, 0);
    push(&u, &s, "d", 1, 0);
    cr_expect_eq(u.held, 3);
    sweep(&u, 10 * SEC, &r);                 /* resend_max 1: resent once, then given up */
    cr_expect_eq(u.resent, 3);
    cr_expect_eq(u.timed_out, 3);
    cr_expect_eq(u.held, 0);
    push(&u, &s, "c", 3, 20 * SEC);
    push(&u, &s, "c", 4, 21 * SEC);
    ws_unacked_ack(&u, &s, "c", 4, 21 * SEC + SEC / 2);   /* 1.5 s and 0.5 s after their sends */
    cr_expect_eq(u.held, 0);
    cr_expect_eq(atomic_load(&u.ack_seconds.bucket[8]), 1);  /* le 0.5 */
    cr_expect_eq(atomic_load(&u.ack_seconds.bucket[10]), 1); /* le 2.5 */
    cr_expect_eq(atomic_load(&u.ack_seconds.sum_u), 2000000);
}
