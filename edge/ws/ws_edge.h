/*
 * ws_edge.h - the WebSocket edge (API.md "WebSocket", DESIGN.md "Actors and
 * threads"): one lws service thread owns every socket and session; nats.c
 * threads only append to a locked inbox and wake the loop with
 * lws_cancel_service().  Requests to pools are asynchronous (one wildcard
 * reply subscription per edge, a correlation id per request, timeouts swept
 * by an lws timer), so a slow pool never blocks a socket.
 *
 * The role fills the public fields, calls ws_edge_start, and on the way down
 * ws_edge_stop (no more sockets, no more subscriptions), bus_drain, then
 * ws_edge_free (nats callbacks may still run until the drain is done).
 */
#ifndef NT_WS_EDGE_H
#define NT_WS_EDGE_H

#include "bus/bus.h"
#include "common/metrics.h"
#include "common/token.h"
#include "edge/denylist.h"

#include <stddef.h>

typedef struct ws_state ws_state_t;

/* Set by the role before ws_edge_start, read-only afterwards. */
typedef struct ws_edge {
    bus_t *bus;
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
    ws_state_t *st;            /* private */
} ws_edge_t;

int ws_edge_start(ws_edge_t *e);

/* Close every socket and subscription and join the service thread.
 * Idempotent. */
void ws_edge_stop(ws_edge_t *e);

/* Free the private state; after ws_edge_stop and bus_drain. */
void ws_edge_free(ws_edge_t *e);

#endif
