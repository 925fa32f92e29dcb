/*
 * ws_inbox.c - the doors from the bus into the loop.
 *
 * The NATS socket is on the edge's libuv loop, so the loop thread is the
 * one that reads every message.  The frequent ones (pushes, request
 * replies) are handled right there: bus_inline (bus.h) runs on_inline for
 * them in the middle of nats.c's parse of a read buffer, which calls the
 * handler at once.  No thread hand-off, no uv_async: on edge-ws at 2,000
 * msg/s the hand-off to nats.c's delivery thread and back was ~40% of the
 * CPU (futex, cond signal, task switches; issue 12).  Frames the handler
 * queues still go out at the end of the loop turn (ws_server.c's check
 * handle), so a read buffer of pushes still costs one send() per socket.
 *
 * Everything else (kicks: edge/revocations.c subscribes to the same
 * subject in this process, so bus_inline's one-subscription rule rules
 * them out; IP-rule changes, which come from another thread), and every
 * message when bus_inline is unavailable or turned off (nats.inline = 0),
 * comes the old way: nats.c calls the subscription's handler on a
 * delivery thread, which appends the natsMsg (not copied) here under a
 * mutex; the first append into an empty queue wakes the loop with
 * uv_async_send, later ones ride on that wake-up.  The loop swaps the whole
 * queue out and handles it in batches of WS_INBOX_BATCH, yielding to socket
 * I/O between batches.
 *
 * Why the inline handler is safe where it runs: nats.c holds no lock while
 * it parses (publishing from the handler, as replies and hello probes do,
 * is fine), the handler is the one the queue path runs (also on the loop
 * thread, in a uv_async callback), and it never frees a session or
 * unsubscribes: closes go through lws's timer and detach in its CLOSED
 * callback, a later loop callback.  A message for a user whose last
 * session left is for a subscription nats.c no longer has, so it drops it
 * before the filter.  After ws_inbox_close (the edge stopped) messages are
 * dropped, as the queue drops them.
 */
#include "edge/ws/ws_internal.h"

#include "common/err.h"

#include <stdlib.h>

/* Messages handled per loop turn before sockets get their turn again. */
#define WS_INBOX_BATCH 1024

static void on_async(uv_async_t *h)
{
    ws_inbox_t *q = h->data;
    size_t budget = WS_INBOX_BATCH;
    q->wakeups++;
    for (;;) {
        while (q->work_i < q->work_n && budget > 0) {
            ws_in_t *in = &q->work[q->work_i++];
            q->fn(q->arg, in);
            bus_msg_free(in->msg);
            in->msg = NULL;
            budget--;
            q->items++;
        }
        if (q->work_i < q->work_n || budget == 0) {
            if (q->open)            /* more to do: after the sockets had a turn */
                uv_async_send(h);
            return;
        }
        /* work is empty: take what the producers queued meanwhile */
        ws_in_t *v = q->work;
        size_t cap = q->work_cap;
        pthread_mutex_lock(&q->mu);
        q->work = q->v;
        q->work_cap = q->cap;
        q->work_n = q->n;
        q->v = v;
        q->cap = cap;
        q->n = 0;
        pthread_mutex_unlock(&q->mu);
        q->work_i = 0;
        if (q->work_n == 0)
            return;
    }
}

/* bus_inline's callback: on the loop thread, inside nats.c's read. */
static int on_inline(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    ws_inbox_route_t *r = arg;
    ws_inbox_t *q = r->q;
    if (q->open) {                  /* written only by this thread: no lock */
        ws_in_t in = {.msg = msg, .kind = r->kind};
        q->fn(q->arg, &in);
        q->inline_items++;
    }
    bus_msg_free(msg);
    return 1;
}

int ws_inbox_inline(ws_inbox_t *q, bus_t *bus, const char *pattern, ws_in_kind_t kind)
{
    if (kind <= 0 || kind >= WS_IN_KINDS)
        return NT_EINVAL;
    q->route[kind].q = q;
    q->route[kind].kind = kind;
    return bus_inline(bus, pattern, on_inline, &q->route[kind]);
}

int ws_inbox_init(ws_inbox_t *q, uv_loop_t *loop, ws_inbox_fn fn, void *arg)
{
    q->v = q->work = NULL;
    q->n = q->cap = q->work_n = q->work_cap = q->work_i = 0;
    q->fn = fn;
    q->arg = arg;
    if (pthread_mutex_init(&q->mu, NULL) != 0)
        return NT_EINTERNAL;
    if (uv_async_init(loop, &q->async, on_async) != 0) {
        pthread_mutex_destroy(&q->mu);
        return NT_EINTERNAL;
    }
    q->async.data = q;
    q->open = 1;
    return NT_OK;
}

void ws_inbox_push(ws_inbox_t *q, ws_in_kind_t kind, natsMsg *msg)
{
    pthread_mutex_lock(&q->mu);
    if (!q->open)                   /* the loop is going: nobody will read it */
        goto drop;
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        ws_in_t *v = realloc(q->v, cap * sizeof *v);
        if (!v)
            goto drop;              /* as if lost on the wire: acks and resends cover it */
        q->v = v;
        q->cap = cap;
    }
    q->v[q->n].msg = msg;
    q->v[q->n].kind = kind;
    if (q->n++ == 0)
        uv_async_send(&q->async);   /* under mu: close cannot run meanwhile */
    pthread_mutex_unlock(&q->mu);
    return;
drop:
    pthread_mutex_unlock(&q->mu);
    bus_msg_free(msg);
}

void ws_inbox_close(ws_inbox_t *q)
{
    pthread_mutex_lock(&q->mu);
    int was_open = q->open;
    q->open = 0;
    pthread_mutex_unlock(&q->mu);
    if (was_open)
        uv_close((uv_handle_t *)&q->async, NULL);
}

void ws_inbox_fini(ws_inbox_t *q)
{
    for (size_t i = q->work_i; i < q->work_n; i++)
        bus_msg_free(q->work[i].msg);
    for (size_t i = 0; i < q->n; i++)
        bus_msg_free(q->v[i].msg);
    free(q->work);
    free(q->v);
    q->work = q->v = NULL;
    q->n = q->work_n = q->work_i = 0;
    pthread_mutex_destroy(&q->mu);
}
