/*
 * bus_loop.c - a bus whose NATS socket lives on a libuv loop (bus.h
 * bus_opts_t.loop), so one thread can serve both the NATS connection and
 * other sockets on the same loop (the WebSocket edge, DESIGN.md "Actors and
 * threads"): no reader thread, no flusher thread, publishes written on the
 * loop's next turn.
 *
 * What it does not change: nats.c still runs message callbacks on its
 * delivery threads (STACK.md), so a caller that wants them on the loop
 * hands them over itself (edge/ws/ws_inbox.c).  And nats.c's close on a
 * loop shuts the socket without writing what is buffered, so a clean stop
 * waits here, on the loop, until the buffer is empty first.
 */
#include "bus/bus_loop.h"

#include "common/err.h"
#include "common/log.h"

#include <nats/adapters/libuv.h>
#include <stdlib.h>

#define BUS_LOOP_CLOSE_TICK_MS 5

/* On a loop nats.c reads the socket once per readable event, at most its
 * I/O buffer (32 KB by default, ~30 pushes), so a loop that also serves
 * thousands of WebSockets read NATS slower than a burst arrived and
 * nats-server cut it off as a slow consumer (1,000 sockets, 300k pushes:
 * 20 MB pending after 10 s).  A larger buffer reads a burst in a few turns. */
#define BUS_LOOP_IO_BUF (512 * 1024)

natsStatus bus_loop_opts(natsOptions *o, void *loop)
{
    natsStatus s = natsOptions_SetIOBufSize(o, BUS_LOOP_IO_BUF);
    if (s != NATS_OK)
        return s;
    return natsOptions_SetEventLoop(o, loop, natsLibuv_Attach, natsLibuv_Read, natsLibuv_Write,
                                    natsLibuv_Detach);
}

void bus_loop_thread(void *loop)
{
    natsLibuv_Init();
    natsLibuv_SetThreadLocalLoop(loop);
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
