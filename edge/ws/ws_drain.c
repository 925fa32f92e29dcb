/*
 * ws_drain.c - a rolling restart of one edge-ws loses nothing and does not
 * make every client reconnect in the same second (docs/ws.md "Drain").
 *
 * On the first SIGTERM the role calls ws_edge_drain.  From then on a new
 * WebSocket is closed 1012 right after its upgrade (before hello) and
 * /healthz answers 503, so a balancer stops sending clients here.  The
 * sessions already open are told over ws.drain_s: every 100 ms sweep tells
 * its share (n at the start * elapsed / drain_s).  A told session is no
 * longer read (its later frames stay unsent on the client's side, which
 * sends them again after reconnecting), its requests in flight are
 * answered, and then it is closed 1012 with the reason
 * "service_restart retry_ms=N": N is a jittered delay (100 ms +
 * 0..ws.drain_jitter_ms) the client waits before reconnecting, to another
 * edge.  Pushes it had not acked are not carried anywhere: the client syncs
 * after reconnecting, as after any drop.  When no session is left (or
 * drain_s plus two request timeouts have passed: every told session is
 * closed then, answered or not) the role's done callback runs and the edge
 * stops as before.  Everything here runs on the loop thread.
 */
#include "edge/ws/ws_internal.h"

#include "common/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* How long a 1012 close waits for the client's close frame (or its TCP
 * close) before lws cuts the connection. */
#define WS_DRAIN_CLOSE_WAIT_S 2

/* A jittered delay hint for one close: one of WS_DRAIN_HINTS texts made at
 * the start (close_why must outlive the session). */
static const char *hint(ws_state_t *st)
{
    st->drain_rand = st->drain_rand * 6364136223846793005ull + 1442695040888963407ull;
    return st->drain_hints[(st->drain_rand >> 33) % WS_DRAIN_HINTS];
}

void ws_drain_refuse(ws_state_t *st, ws_session_t *s)
{
    st->drain_refused++;
    s->close_why = hint(st);
    ws_session_close(s, 1012);
}

static void tell(ws_state_t *st, ws_session_t *s)
{
    s->drain_told = 1;
    st->drain_told++;
    ws_server_rx_pause(s);          /* no new requests from it */
}

/* A told session goes once nothing it asked for is unanswered (or, past
 * the hard deadline, at once). */
static void maybe_close(ws_state_t *st, ws_session_t *s, int hard)
{
    if (!hard && (s->n_pend > 0 || s->n_wait > 0))
        return;
    s->close_why = hint(st);
    ws_session_close_after(s, 1012);
    st->drain_closed++;
}

/* The closing handshake done as RFC 6455 says, for 1012: our close frame,
 * then read (and ignore: close_code is set) until the client answers or
 * closes.  The edge's other closes kill the socket right after the close
 * frame; here the told session has not been read for a while, and closing
 * a socket with unread input makes the kernel send RST, which drops the
 * close frame if the client was slow to read it (seen in ops/bench r: a
 * third of the clients reconnected without the hint).  lws answers the
 * client's close and closes; WS_DRAIN_CLOSE_WAIT_S bounds a client that
 * does neither. */
int ws_drain_close(ws_state_t *st, ws_session_t *s)
{
    (void)st;
    if (s->drain_told == 2)
        return 0;                       /* sent; waiting for the client */
    const char *why = s->close_why ? s->close_why : "service_restart";
    size_t n = strlen(why);
    if (n > 123)
        n = 123;
    unsigned char buf[LWS_PRE + 4 + 123], *p = buf + LWS_PRE;
    p[0] = 0x88;                        /* FIN, close */
    p[1] = (unsigned char)(2 + n);
    p[2] = (unsigned char)(s->close_code >> 8);
    p[3] = (unsigned char)s->close_code;
    memcpy(p + 4, why, n);
    if (lws_write(s->wsi, p, 4 + n, LWS_WRITE_HTTP) < (int)(4 + n))
        return -1;
    s->drain_told = 2;
    lws_rx_flow_control(s->wsi, 1);
    lws_set_timeout(s->wsi, PENDING_TIMEOUT_HTTP_KEEPALIVE_IDLE, WS_DRAIN_CLOSE_WAIT_S);
    return 0;
}

void ws_drain_tick(ws_state_t *st, int64_t now_us)
{
    if (!st->draining || st->drain_finished)
        return;
    int64_t elapsed = now_us - st->drain_t0_us;
    size_t target = st->drain_n0;
    if (st->drain_us > 0 && elapsed < st->drain_us)
        target = (size_t)(((double)st->drain_n0 * (double)elapsed + (double)st->drain_us - 1) /
                          (double)st->drain_us);
    int hard = elapsed >= st->drain_us + 2 * (int64_t)st->e->timeout_ms * 1000;
    for (size_t i = 0; i < WS_HASH_SIZE; i++)
        for (ws_user_t *u = st->users[i]; u; u = u->next)
            for (ws_session_t *s = u->sessions; s; s = s->u_next) {
                if (s->close_code)
                    continue;
                if (!s->drain_told && (st->drain_told < target || hard))
                    tell(st, s);
                if (s->drain_told)
                    maybe_close(st, s, hard);
            }
    if (st->n_sessions == 0) {
        st->drain_finished = 1;
        log_info("websocket edge drained", "sessions=%zu told=%zu refused=%llu ms=%lld",
                 st->drain_n0, st->drain_told, (unsigned long long)st->drain_refused,
                 (long long)(elapsed / 1000));
        st->drain_done(st->drain_arg);
    }
}

void ws_edge_drain(ws_edge_t *e, void (*done)(void *arg), void *arg)
{
    ws_state_t *st = e ? e->st : NULL;
    if (!st || st->stopped || st->draining)
        return;
    st->draining = 1;
    st->drain_done = done;
    st->drain_arg = arg;
    st->drain_t0_us = lws_now_usecs();
    st->drain_us = (int64_t)e->drain_ms * 1000;
    st->drain_n0 = st->n_sessions;
    st->drain_rand = (uint64_t)st->drain_t0_us ^ ((uint64_t)getpid() << 32);
    int jitter = e->drain_jitter_ms > 0 ? e->drain_jitter_ms : 0;
    for (int i = 0; i < WS_DRAIN_HINTS; i++)
        snprintf(st->drain_hints[i], sizeof st->drain_hints[i], "service_restart retry_ms=%d",
                 100 + (WS_DRAIN_HINTS > 1 ? jitter * i / (WS_DRAIN_HINTS - 1) : 0));
    log_info("websocket edge draining", "sessions=%zu drain_ms=%d jitter_ms=%d", st->drain_n0,
             e->drain_ms, jitter);
    /* The first share now, the rest on the sweep (ws_edge.c, 100 ms). */
    ws_drain_tick(st, st->drain_t0_us);
}
