/*
 * ws_edge.h - the WebSocket edge (API.md "WebSocket", DESIGN.md "Actors and
 * threads"): one libuv loop, run by the role's thread, carries every
 * WebSocket (lws on libuv: epoll, no per-wake-up scan of the sockets) and
 * the NATS connection (bus_opts_t.loop); that thread owns every session.
 * Pushes and request replies are handled on that thread as nats.c reads
 * them (bus_inline); the rest (or everything, with nats.inline = 0) comes
 * from nats.c's delivery thread through a locked inbox that the loop
 * drains in batches (ws_inbox.c).  Requests to pools are asynchronous
 * (one wildcard reply subscription per edge, a correlation id per request,
 * timeouts swept by an lws timer), so a slow pool never blocks a socket.
 *
 * The role makes the loop, connects the bus on it, fills the public fields
 * and calls ws_edge_start on the loop's thread before uv_run; to stop, on
 * the loop thread, ws_edge_stop (no more sockets, no more subscriptions,
 * the loop handles close), then bus_loop_close; once uv_run has returned
 * and the bus is drained, ws_edge_free.
 */
#ifndef NT_WS_EDGE_H
#define NT_WS_EDGE_H

#include "bus/bus.h"
#include "common/metrics.h"
#include "common/token.h"
#include "edge/client_addr.h"
#include "edge/denylist.h"
#include "edge/iprules.h"

#include <stddef.h>

typedef struct ws_state ws_state_t;

/* Set by the role before ws_edge_start, read-only afterwards. */
typedef struct ws_edge {
    bus_t *bus;                /* connected on loop */
    void *loop;                /* uv_loop_t run by the calling thread */
    const token_keys_t *keys;
    denylist_t *deny;
    metrics_t *metrics;
    const char *bind;          /* interface address, "127.0.0.1" */
    int port;
    size_t max_frame;          /* bytes of one client text message */
    int idle_timeout_s;        /* no client frame for this long -> close */
    size_t max_outq;           /* frames queued to one client before it is dropped */
    size_t max_outq_bytes;     /* bytes queued to one client before it is dropped */
    int timeout_ms;            /* pool request timeout */
    int ack_timeout_s;         /* a message push not acked this long is resent (>= 1) */
    int resend_max;            /* resends of one push before it is given up (0: none) */
    size_t max_unacked;        /* message pushes remembered per session; oldest dropped */
    int presence_heartbeat_s;  /* presence heartbeat interval; 0: no presence reports */
    int max_conns_per_addr;    /* WebSockets open from one client address; 0: no limit */
    int sndbuf;                /* SO_SNDBUF of each WebSocket (kernel doubles it); 0: kernel's */
    int drain_ms;              /* ws.drain_s: a drain closes the sessions over this long */
    int drain_jitter_ms;       /* ws.drain_jitter_ms: spread of the reconnect delay hints */
    /* The admin's IP rules (NULL: none).  Set after ws_edge_start, before
     * uv_run, started with ws_edge_iprules_changed as its callback and
     * stopped before ws_edge_free. */
    iprules_t *iprules;
    /* http.trusted_proxies: peers whose X-Forwarded-For names the client
     * (client_addr.h), as on edge-http. */
    cidr_t proxies[CLIENT_ADDR_PROXIES_MAX];
    int nproxies;
    ws_state_t *st;            /* private */
} ws_edge_t;

/* On the loop thread, before uv_run.  On failure call ws_edge_stop, let
 * the loop run out, then ws_edge_free. */
int ws_edge_start(ws_edge_t *e);

/* On the loop thread: close every socket (sessions detach, presence `down`
 * reports are published), every subscription and the edge's loop handles.
 * Idempotent. */
void ws_edge_stop(ws_edge_t *e);

/* On the loop thread, on the first stop signal (docs/ws.md "Drain"): new
 * sockets are closed 1012 and /healthz answers 503; the open sessions are
 * closed 1012 with a jittered "service_restart retry_ms=N" reason, spread
 * over drain_ms, each once its requests in flight are answered.  done(arg)
 * runs on the loop thread (inside an lws timer: do not stop the edge from
 * it directly) once no session is left.  Then ws_edge_stop as usual. */
void ws_edge_drain(ws_edge_t *e, void (*done)(void *arg), void *arg);

/* iprules_start's callback (any thread; arg is the ws_edge_t): the loop
 * closes every socket whose client address a deny rule now covers. */
void ws_edge_iprules_changed(void *arg);

/* One line of counters (messages inline, inbox wake-ups and messages, socket writes and
 * frames, refused addresses) into the log; loop thread. */
void ws_edge_log_stats(ws_edge_t *e);

/* Free the private state (and the lws context, whose last part lws frees
 * only after the loop has closed its handles); after uv_run returned and
 * bus_drain, before uv_loop_close. */
void ws_edge_free(ws_edge_t *e);

#endif
