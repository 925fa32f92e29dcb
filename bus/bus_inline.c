/*
 * bus_inline.c - messages handled on the thread that reads the NATS socket
 * (bus.h bus_inline).
 *
 * Why: nats.c hands every message from the thread that reads it to a
 * delivery thread, and offers no way to say "run it here".  On a bus whose
 * socket lives on a libuv loop (the WebSocket edge, the msg pool) the
 * reader IS the loop thread that owns the actor's state, so that hand-off
 * is a futex wake-up there and another (uv_async) back: two context
 * switches per burst, which on this VM were the largest item in both
 * processes' profiles (issue 12).
 *
 * How: nats.c runs a connection's message filter, if one is set, on the
 * reading thread right after it built the message and before it queues it
 * for delivery; a filter that takes the message (sets it to NULL) ends its
 * way there.  The setter is exported by libnats (3.x, unchanged from 3.4 to
 * 3.9) but not declared in its installed headers, so it is looked up with
 * dlsym (nats_private.c): a libnats without it makes bus_inline answer
 * NT_EUNAVAIL and the caller keeps its delivery-thread path, which is why
 * every caller has one.
 *
 * What nats.c still does first: it finds the subscription by its sid (a
 * message for a subscription already gone is dropped before the filter),
 * and copies the message out of its read buffer.  What it then skips for a
 * message we take: the subscription's pending counters, slow-consumer
 * accounting (nothing waits in its queue to count) and its delivered count.
 */
#include "bus/bus.h"

#include "bus/bus_internal.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define BUS_INLINE_MAX 8

typedef void (*nats_filter_fn)(natsConnection *nc, natsMsg **msg, void *closure);
typedef void (*nats_set_filter_fn)(natsConnection *nc, nats_filter_fn f, void *closure);

typedef struct route {
    char pattern[SUBJECT_MAX];
    bus_inline_fn fn;
    void *arg;
} route_t;

/* Routes are appended (under mu) and never changed; the reader sees a
 * route only once n, stored with release order after it, counts it. */
struct bus_inline {
    bus_t *bus;
    route_t r[BUS_INLINE_MAX];
    _Atomic int n;
};

static void on_read(natsConnection *nc, natsMsg **msg, void *closure)
{
    (void)nc;
    bus_inline_t *t = closure;
    const char *subject = natsMsg_GetSubject(*msg);
    int n = atomic_load_explicit(&t->n, memory_order_acquire);
    for (int i = 0; i < n; i++) {
        if (!subject_match(t->r[i].pattern, subject))
            continue;
        if (t->r[i].fn(t->bus, *msg, t->r[i].arg))
            *msg = NULL; /* taken: the callee owns it now */
        return;
    }
}

int bus_inline_new(bus_t *bus, bus_inline_t **out)
{
    *out = NULL;
    nats_set_filter_fn set = NULL; /* once per bus: bus_inline makes one table */
    *(void **)&set = nats_private("natsConn_setFilterWithClosure");
    if (!set)
        return NT_EINTERNAL;
    bus_inline_t *t = calloc(1, sizeof *t);
    if (!t)
        return NT_ENOMEM;
    t->bus = bus;
    set(bus_conn(bus), on_read, t);
    *out = t;
    return NT_OK;
}

int bus_inline_add(bus_inline_t *t, const char *pattern, bus_inline_fn fn, void *arg)
{
    int n = atomic_load_explicit(&t->n, memory_order_relaxed);
    if (n >= BUS_INLINE_MAX)
        return NT_ETOOLARGE;
    size_t len = strlen(pattern);
    if (len == 0 || len >= sizeof t->r[n].pattern)
        return NT_EINVAL;
    memcpy(t->r[n].pattern, pattern, len + 1);
    t->r[n].fn = fn;
    t->r[n].arg = arg;
    atomic_store_explicit(&t->n, n + 1, memory_order_release);
    return NT_OK;
}

void bus_inline_free(bus_inline_t *t)
{
    free(t);
}
