/*
 * bus.h - natter's thin layer over nats.c.
 *
 * One bus_t per process: a NATS connection with reconnect, a connection name
 * ("natter-<role>-<host>-<pid>"), SendAsap for low request latency, and
 * global message delivery with a bounded thread pool (so thousands of
 * subscriptions do not mean thousands of threads; STACK.md).  Messages carry
 * natter's headers so `nats sub 'im.>'` shows who talks to whom:
 *
 *   Natter-Type   protobuf message name of the payload ("natter.LoginReq")
 *   Natter-Uid    authenticated user; set only by edges after token checks
 *   traceparent   W3C trace context; created at the edge, copied by pools
 *   Natter-Error  API.md error code on a failed reply; payload is natter.Error
 *
 * nats.c types are visible on purpose: callers read natsMsg with the nats.c
 * accessors; bus adds what natter needs on top.  All functions are
 * thread-safe (nats.c connections are).
 */
#ifndef NT_BUS_H
#define NT_BUS_H

#include "common/textbuf.h"

#include <nats/nats.h>
#include <stdint.h>

#define BUS_H_TYPE "Natter-Type"
#define BUS_H_UID "Natter-Uid"
#define BUS_H_SID "Natter-Sid"   /* the caller's session (calls); set only by edges */
#define BUS_H_TRACE "traceparent"
#define BUS_H_ERROR "Natter-Error"

typedef struct bus bus_t;

typedef struct bus_opts {
    const char *url;        /* "nats://127.0.0.1:14222"; comma-separated list allowed */
    const char *role;       /* used in the connection name */
    const char *user;       /* NULL for no auth */
    const char *password;
    int delivery_threads;   /* global delivery pool size; <= 0 means 4 */
    int send_asap;          /* 1: one socket write per publish (see bus.c) */
    /* Polled while waiting for a server that is not up yet: nonzero ends
     * the wait (a stop signal).  NULL: wait until the server answers. */
    int (*stop_requested)(void *arg);
    void *stop_arg;
    void *loop;             /* a uv_loop_t: socket I/O on that loop (bus_loop.c); NULL:
                               nats.c's own reader and flusher threads */
    int inline_off;         /* 1: bus_inline refuses (nats.inline = 0), so the
                               delivery-thread path can be run and tested */
} bus_opts_t;

/* Connect, waiting as long as it takes if the server is not up yet (tries
 * after 0.1 s, doubling to 5 s, one log line per try; BUS_RETRY_*), with
 * the same back-off for reconnects forever afterwards.  NT_ECONFIG if the
 * server refused our credentials, NT_EUNAVAIL if stop_requested ended the
 * wait.  Caller frees with bus_free.  With opts->loop, call it on the
 * thread that will run that loop, after bus_loop_thread(loop) and before
 * uv_run: the handshake is synchronous and the socket is attached to the
 * loop from the calling thread. */
int bus_connect(const bus_opts_t *opts, bus_t **out);

/* bus_loop.c.  Mark the calling thread as the one that runs loop (a
 * uv_loop_t); once per process, before bus_connect with that loop. */
void bus_loop_thread(void *loop);

/* On the loop thread: write out what is buffered (at most max_ms), then
 * close the connection; the loop's bus handles close with it, so uv_run can
 * return.  Publishes made before this call are not lost on a clean stop.
 * bus_drain / bus_free afterwards wait for nats.c's callbacks as usual. */
int bus_loop_close(bus_t *bus, int max_ms);

/* Drain subscriptions and the connection (finish in-flight handlers, flush
 * replies), waiting at most timeout_ms.  Safe to call once before bus_free. */
int bus_drain(bus_t *bus, int timeout_ms);

/* Close and free.  NULL is fine. */
void bus_free(bus_t *bus);

natsConnection *bus_conn(bus_t *bus);

/* 1 while connected (for /healthz). */
int bus_connected(bus_t *bus);

/* A new outgoing message with Natter-Type set, plus Natter-Uid and
 * traceparent when non-NULL; data is copied.  Caller owns *out
 * (natsMsg_Destroy) unless it passes it to a bus_ send function. */
int bus_msg_new(const char *subject, const char *type, const char *uid,
                const char *traceparent, const void *data, int len, natsMsg **out);

/* Free a message nobody else holds, here: one a bus_inline function took,
 * one a handler kept, one made by bus_msg_new and not handed to a bus_
 * send function.  natsMsg_Destroy also works, but hands each message to
 * nats.c's garbage-collector thread (a lock and a wake-up per message;
 * bus_msgfree.c).  NULL is fine. */
void bus_msg_free(natsMsg *msg);

/* Header value or NULL (pointer valid while msg lives). */
const char *bus_header(natsMsg *msg, const char *name);

/* Publish msg; consumes it (destroys it) in all cases. */
int bus_publish(bus_t *bus, natsMsg *msg);

/* Publish a copy of msg (data, every header, the same reply subject) to
 * subject: hand a request on to the one that should answer it, which then
 * answers the original requester directly.  msg stays the caller's. */
int bus_forward(bus_t *bus, natsMsg *msg, const char *subject);

/* Synchronous request: consumes req; on success *reply is owned by the
 * caller.  No responder -> NT_EUNAVAIL at once; no reply in timeout_ms ->
 * NT_ETIMEDOUT. */
int bus_request(bus_t *bus, natsMsg *req, int timeout_ms, natsMsg **reply);

/* Reply to req (which must have a reply subject) with a typed payload.
 * The reply copies req's traceparent.  Does not take req. */
int bus_reply(bus_t *bus, natsMsg *req, const char *type, const void *data, int len);

/* Reply with an error: header Natter-Error: <api code> and a natter.Error
 * protobuf payload {code, message}.  err is an NT_E* code. */
int bus_reply_error(bus_t *bus, natsMsg *req, int err, const char *message);
/* The same with detail: "" or a JSON object whose members the edge adds to
 * the API error object (natter.Error.detail). */
int bus_reply_error_detail(bus_t *bus, natsMsg *req, int err, const char *message,
                           const char *detail);

/* If reply carries Natter-Error, decode it: returns the NT_E* code (<0) and
 * copies the message text into msgbuf; returns 0 if it is not an error. */
int bus_reply_status(natsMsg *reply, char *msgbuf, size_t msgbuf_len);
/* The same, also copying natter.Error.detail ("" if none) into detail. */
int bus_reply_status_detail(natsMsg *reply, char *msgbuf, size_t msgbuf_len, char *detail,
                            size_t detail_len);

/* Handler for a subscription.  msg belongs to the bus (freed after the
 * handler returns); the handler must not keep it. */
typedef void (*bus_handler_fn)(bus_t *bus, natsMsg *msg, void *arg);

/* Subscribe (queue may be NULL for a plain subscription).  The subscription
 * is owned by the bus and drained/closed by bus_drain/bus_free. */
int bus_subscribe(bus_t *bus, const char *subject, const char *queue,
                  bus_handler_fn fn, void *arg);

/* Messages handled where they are read (bus_inline.c).  For every message
 * whose subject matches pattern (NATS wildcards), fn runs on the thread
 * that reads the NATS socket (for a bus on a loop: the loop's thread),
 * instead of nats.c queueing it for a delivery thread.  fn returns 1 when
 * it took the message (it owns it: bus_msg_free when done), 0 to let it
 * go on to its subscription's handler as usual.  The message must still
 * belong to a live subscription of this connection (bus_subscribe, or
 * nats.c's own; nats.c drops messages of unknown subscriptions before
 * this), and no two subscriptions of the
 * process may both match a subject the pattern covers: the server would
 * send it once per subscription and fn would see it twice.  fn must not
 * block for long: while it runs nothing else is read.  Returns
 * NT_EUNAVAIL when the bus has it turned off (bus_opts_t.inline_off) or
 * libnats lacks the filter; the caller then keeps its handler path.  At
 * most 8 patterns per bus. */
typedef int (*bus_inline_fn)(bus_t *bus, natsMsg *msg, void *arg);
int bus_inline(bus_t *bus, const char *pattern, bus_inline_fn fn, void *arg);

/* Called from a handler: 1 if the subscription it serves has more
 * messages waiting for this delivery thread (nats.c counts them before the
 * handler runs), so the handler can leave work queued for its next call
 * (batching on the thread that receives).  0 outside a handler. */
int bus_more_pending(void);

/* Count a request that got no answer in time (bus_request does; callers
 * with their own asynchronous requests call it); any thread. */
void bus_note_timeout(bus_t *bus);
uint64_t bus_timeouts(bus_t *bus);

/* The connection's counters as Prometheus text (bus_prom.c):
 * natter_nats_reconnects_total, natter_nats_request_timeouts_total,
 * natter_nats_messages_{in,out}_total, natter_nats_bytes_{in,out}_total,
 * natter_nats_connected. */
void bus_prometheus(bus_t *bus, textbuf_t *out);

/* A fresh W3C traceparent ("00-<32 hex>-<16 hex>-01") into buf (>= 56 bytes). */
void bus_traceparent_new(char *buf, size_t n);

/* Trace id part of a traceparent for logs ("-" if absent/malformed);
 * writes 32 hex chars + NUL into buf (>= 33 bytes). */
void bus_trace_id(const char *traceparent, char *buf, size_t n);

#endif
