/*
 * bus_loop.c - a bus whose NATS socket lives on a libuv loop (bus.h
 * bus_opts_t.loop), so one thread can serve both the NATS connection and
 * other sockets on the same loop (the WebSocket edge, DESIGN.md "Actors and
 * threads"): no reader thread, no flusher thread.
 *
 * Writing.  nats.c's libuv adapter, asked to write, starts polling the
 * socket for "writable" (an epoll_ctl), writes on the next loop turn and
 * stops polling (another epoll_ctl); and without SendAsap nats.c first
 * wakes its flusher thread, which lingers 1 ms and then asks the loop
 * through a uv_async: two thread hand-offs per burst of publishes.  Here
 * the bus always runs with SendAsap, and the adapter's write request is
 * intercepted: on the loop thread it only marks the connection (and
 * starts an idle handle, so the loop does not block in epoll while data
 * waits); a check handle, at the end of the turn, writes everything the
 * turn published in one send().  Only if the socket takes less is the
 * adapter asked to poll for writable, as before.  From another thread
 * (nats.c's PING timer, its reconnect thread) the request wakes the loop
 * with a uv_async.
 *
 * What it does not change: nats.c still runs message callbacks on its
 * delivery threads (STACK.md) unless bus_inline takes them on the loop.
 * And nats.c's close on a loop shuts the socket without writing what is
 * buffered, so a clean stop waits here, on the loop, until the buffer is
 * empty first.
 */
#include "bus/bus_loop.h"

#include "common/err.h"
#include "common/log.h"

#include <nats/adapters/libuv.h>
#include <stdatomic.h>
#include <stdlib.h>

#define BUS_LOOP_CLOSE_TICK_MS 5

/* On a loop nats.c reads the socket once per readable event, at most its
 * I/O buffer (32 KB by default, ~30 pushes), so a loop that also serves
 * thousands of WebSockets read NATS slower than a burst arrived and
 * nats-server cut it off as a slow consumer (1,000 sockets, 300k pushes:
 * 20 MB pending after 10 s).  A larger buffer reads a burst in a few turns. */
#define BUS_LOOP_IO_BUF (512 * 1024)

/* The loop that runs on this thread (bus_loop_thread). */
static _Thread_local void *thread_loop;

/* One per process (one bus per process, DESIGN.md), made by the first
 * attach, on the loop thread; its handles close with bus_loop_close.
 * want and polling may be touched from nats.c's threads (a write request,
 * a disconnect), the rest only on the loop thread. */
typedef struct writer {
    uv_check_t check;
    uv_idle_t idle;
    uv_async_t wake;
    uv_loop_t *loop;
    natsConnection *nc;
    void *nle;              /* the adapter's state for this connection */
    atomic_int want;        /* nats.c asked to write and has not said done */
    atomic_int polling;     /* the adapter polls for writable (socket was full) */
    int open_handles;       /* closing: freed when the last one closed */
} writer_t;

static writer_t *the_writer;

static void idle_noop(uv_idle_t *h)
{
    (void)h;
}

/* End of a loop turn: write what the turn published. */
static void write_check(uv_check_t *h)
{
    writer_t *w = h->data;
    uv_idle_stop(&w->idle);
    if (!atomic_load(&w->want) || atomic_load(&w->polling))
        return;
    natsConnection_ProcessWriteEvent(w->nc); /* all written: nats.c says REMOVE */
    if (atomic_load(&w->want) && !atomic_exchange(&w->polling, 1))
        natsLibuv_Write(w->nle, true);       /* the rest when the socket drains */
}

static void write_wake(uv_async_t *h)
{
    writer_t *w = h->data;
    if (atomic_load(&w->want))
        uv_idle_start(&w->idle, idle_noop);
}

static natsStatus writer_start(writer_t **out, uv_loop_t *loop, natsConnection *nc)
{
    writer_t *w = calloc(1, sizeof *w);
    if (!w)
        return NATS_NO_MEMORY;
    w->loop = loop;
    w->nc = nc;
    if (uv_check_init(loop, &w->check) != 0 || uv_idle_init(loop, &w->idle) != 0 ||
        uv_async_init(loop, &w->wake, write_wake) != 0) {
        free(w); /* only a bad loop fails these, and then none took */
        return NATS_ERR;
    }
    w->check.data = w->idle.data = w->wake.data = w;
    w->open_handles = 3;
    uv_check_start(&w->check, write_check);
    *out = w;
    return NATS_OK;
}

static void writer_closed(uv_handle_t *h)
{
    writer_t *w = h->data;
    if (--w->open_handles == 0)
        free(w);
}

static void writer_close(writer_t *w)
{
    if (!w)
        return;
    uv_close((uv_handle_t *)&w->check, writer_closed);
    uv_close((uv_handle_t *)&w->idle, writer_closed);
    uv_close((uv_handle_t *)&w->wake, writer_closed);
}

static natsStatus on_attach(void **data, void *loop, natsConnection *nc, natsSock sock)
{
    natsStatus s = natsLibuv_Attach(data, loop, nc, sock);
    if (s == NATS_OK && !the_writer) /* the first connect, on the loop thread */
        s = writer_start(&the_writer, loop, nc);
    if (s == NATS_OK)
        the_writer->nle = *data;
    return s;
}

/* nats.c asks (add) or says it is done (remove); with SendAsap the first
 * publish of a burst asks, under the connection's lock. */
static natsStatus on_write(void *data, bool add)
{
    writer_t *w = the_writer;
    if (!w)
        return NATS_OK; /* closed: nats.c's last "done" */
    if (!add) {
        atomic_store(&w->want, 0);
        if (atomic_exchange(&w->polling, 0))
            return natsLibuv_Write(data, false);
        return NATS_OK;
    }
    if (atomic_exchange(&w->want, 1))
        return NATS_OK;
    if (thread_loop == w->loop)
        return uv_idle_start(&w->idle, idle_noop) == 0 ? NATS_OK : NATS_ERR;
    return uv_async_send(&w->wake) == 0 ? NATS_OK : NATS_ERR;
}

natsStatus bus_loop_opts(natsOptions *o, void *loop)
{
    natsStatus s = natsOptions_SetIOBufSize(o, BUS_LOOP_IO_BUF);
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(o, true); /* no flusher thread; see the top */
    if (s != NATS_OK)
        return s;
    return natsOptions_SetEventLoop(o, loop, on_attach, natsLibuv_Read, on_write,
                                    natsLibuv_Detach);
}

void bus_loop_thread(void *loop)
{
    natsLibuv_Init();
    natsLibuv_SetThreadLocalLoop(loop);
    thread_loop = loop;
}

/* The closing timer: owned by itself, freed by its close callback. */
typedef struct closer {
    uv_timer_t timer;
    bus_t *bus;
    uint64_t deadline_ms;
} closer_t;

static void closer_free(uv_handle_t *h)
{
    free(h->data);
}

static void close_tick(uv_timer_t *t)
{
    closer_t *c = t->data;
    natsConnection *nc = bus_conn(c->bus);
    int64_t left = natsConnection_Buffered(nc);
    if (left > 0 && uv_now(t->loop) < c->deadline_ms)
        return;                     /* the loop is still writing it */
    if (left > 0)
        log_warn("bus close: unsent bytes dropped", "bytes=%lld", (long long)left);
    natsConnection_Close(nc);       /* on the loop thread: detaches at once */
    writer_close(the_writer);
    the_writer = NULL;
    uv_timer_stop(t);
    uv_close((uv_handle_t *)t, closer_free);
}

int bus_loop_close(bus_t *bus, int max_ms)
{
    uv_loop_t *loop = bus_loop_get(bus);
    if (!loop)
        return NT_EINVAL;
    closer_t *c = calloc(1, sizeof *c);
    if (!c) {
        natsConnection_Close(bus_conn(bus));
        return NT_ENOMEM;
    }
    c->bus = bus;
    c->deadline_ms = uv_now(loop) + (uint64_t)(max_ms > 0 ? max_ms : 0);
    c->timer.data = c;
    if (uv_timer_init(loop, &c->timer) != 0) {
        free(c);
        natsConnection_Close(bus_conn(bus));
        return NT_EINTERNAL;
    }
    uv_timer_start(&c->timer, close_tick, 0, BUS_LOOP_CLOSE_TICK_MS);
    return NT_OK;
}
