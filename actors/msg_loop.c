/*
 * msg_loop.c - the msg pool's loop thread (msg_loop.h).
 *
 * The thread owns the uv loop: it connects the bus on it (nats.c attaches
 * the socket from the connecting thread), starts two handles of its own
 * and runs the loop.  stop (a uv_async) is how other threads end it; turn
 * (a uv_check, started after the bus's writer check, so libuv runs it
 * first) ends every loop turn by running the batches the turn's sends
 * left deferred: their replies and pushes are then in the buffer the
 * writer check sends a moment later, in the same turn.
 *
 * What the loop thread shares with the others is what msg_batch, the
 * state's invalidation queue, msg_owner, the pools and the metrics
 * already lock for the delivery threads: a batch is run by one runner at
 * a time (the loop, a delivery thread or the worker's own thread), so the
 * worker's state and connection are never used by two threads at once.
 */
#include "actors/msg_loop.h"

#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"
#include "store/db.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <uv.h>

/* One subject the loop takes, and the endpoint that serves it. */
typedef struct route {
    msg_loop_t *l;
    const char *endpoint;
} route_t;

struct msg_loop {
    uv_loop_t loop;
    uv_async_t stop;
    uv_check_t turn;
    pthread_t tid;
    int joinable;               /* the thread exists and was not joined */
    msg_loop_connect_fn connect;
    void *connect_arg;
    bus_t *bus;                 /* set by the thread before it reports */
    pthread_mutex_t mu;         /* guards state (the start hand-shake) */
    pthread_cond_t cv;
    int state;                  /* 1 connecting, 0 running, < 0 connect failed */
    atomic_int flush_ms;        /* msg_loop_stop's, for the loop */
    _Atomic(msg_batch_t *) sends; /* set by msg_loop_take_sends */
    micro_t *micro;             /* immutable once sends is set */
    uint64_t started_ns;        /* uv_hrtime when the loop began; set before report */
    route_t routes[2];
};

/* End of a loop turn: the sends it read are queued, deferred; run them. */
static void on_turn(uv_check_t *h)
{
    msg_loop_t *l = h->data;
    msg_batch_t *b = atomic_load_explicit(&l->sends, memory_order_acquire);
    if (b)
        msg_batch_flush(b, NULL);
}

static void on_stop(uv_async_t *h)
{
    msg_loop_t *l = h->data;
    on_turn(&l->turn); /* nothing deferred is left behind */
    uv_check_stop(&l->turn);
    uv_close((uv_handle_t *)&l->turn, NULL);
    uv_close((uv_handle_t *)&l->stop, NULL);
    if (l->bus)
        bus_loop_close(l->bus, atomic_load(&l->flush_ms));
}

static void report(msg_loop_t *l, int state)
{
    pthread_mutex_lock(&l->mu);
    l->state = state;
    pthread_cond_broadcast(&l->cv);
    pthread_mutex_unlock(&l->mu);
}

static void *loop_main(void *arg)
{
    msg_loop_t *l = arg;
    pthread_setname_np(pthread_self(), "msg-loop"); /* top -H, perf */
    int rc = l->connect(l->connect_arg, &l->loop, &l->bus);
    if (rc != NT_OK) {
        uv_close((uv_handle_t *)&l->stop, NULL);
        uv_close((uv_handle_t *)&l->turn, NULL);
        uv_run(&l->loop, UV_RUN_NOWAIT); /* the close callbacks */
        report(l, rc < 0 ? rc : NT_EINTERNAL);
        db_thread_end();
        return NULL;
    }
    msg_send_on_loop(); /* sends taken here are queued deferred (msg_send.c) */
    uv_check_start(&l->turn, on_turn); /* after the bus's writer: runs before it */
    l->started_ns = uv_hrtime(); /* busy time counts from here, not from the connect */
    report(l, 0);
    uv_run(&l->loop, UV_RUN_DEFAULT); /* until on_stop closed everything */
    db_thread_end(); /* the batches it ran used the workers' connections */
    return NULL;
}

int msg_loop_start(msg_loop_connect_fn connect, void *arg, bus_t **bus, msg_loop_t **out)
{
    *out = NULL;
    *bus = NULL;
    msg_loop_t *l = calloc(1, sizeof *l);
    if (!l)
        return NT_ENOMEM;
    l->connect = connect;
    l->connect_arg = arg;
    l->state = 1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cv, NULL);
    *out = l; /* from here msg_loop_free undoes it */
    if (uv_loop_init(&l->loop) != 0) {
        l->state = NT_EINTERNAL;
        return NT_EINTERNAL;
    }
    uv_loop_configure(&l->loop, UV_METRICS_IDLE_TIME); /* msg_loop_busy_seconds */
    /* Only a bad loop fails these. */
    if (uv_async_init(&l->loop, &l->stop, on_stop) != 0 || uv_check_init(&l->loop, &l->turn) != 0)
        return NT_EINTERNAL;
    l->stop.data = l->turn.data = l;
    if (pthread_create(&l->tid, NULL, loop_main, l) != 0) {
        uv_close((uv_handle_t *)&l->stop, NULL);
        uv_close((uv_handle_t *)&l->turn, NULL);
        uv_run(&l->loop, UV_RUN_NOWAIT);
        return NT_ENOMEM;
    }
    l->joinable = 1;
    pthread_mutex_lock(&l->mu);
    while (l->state == 1)
        pthread_cond_wait(&l->cv, &l->mu);
    int rc = l->state;
    pthread_mutex_unlock(&l->mu);
    if (rc != 0) {
        pthread_join(l->tid, NULL);
        l->joinable = 0;
        return rc;
    }
    *bus = l->bus;
    return NT_OK;
}

/* bus_inline_fn: a send, on the loop thread.  Its endpoint's handler
 * (msg_send_h) queues it deferred; on_turn commits it. */
static int take(bus_t *bus, natsMsg *msg, void *arg)
{
    route_t *r = arg;
    if (micro_call(r->l->micro, r->endpoint, bus, msg) != NT_OK)
        log_error("inline send without its endpoint", "endpoint=%s", r->endpoint);
    bus_msg_free(msg);
    return 1;
}

int msg_loop_take_sends(msg_loop_t *l, msg_pool_t *p, micro_t *m)
{
    char fwd[SUBJECT_MAX];
    snprintf(fwd, sizeof fwd, "im.svc.msg.fwd.%s.*", micro_id(m));
    l->micro = m;
    l->routes[0] = (route_t){l, "send"};
    l->routes[1] = (route_t){l, "send_owned"};
    atomic_store_explicit(&l->sends, p->sends, memory_order_release);
    int rc = bus_inline(l->bus, "im.conv.*.send", take, &l->routes[0]);
    if (rc == NT_OK)
        rc = bus_inline(l->bus, fwd, take, &l->routes[1]);
    /* NT_EUNAVAIL comes from the first call or not at all (the switch and
     * the filter are the bus's, not the pattern's). */
    return rc;
}

double msg_loop_busy_seconds(msg_loop_t *l)
{
    uint64_t now = uv_hrtime(), idle = uv_metrics_idle_time(&l->loop); /* thread-safe */
    uint64_t up = now - l->started_ns;
    return up > idle ? (double)(up - idle) / 1e9 : 0.0;
}

void msg_loop_stop(msg_loop_t *l, int flush_ms)
{
    if (!l || !l->joinable)
        return;
    atomic_store(&l->flush_ms, flush_ms);
    uv_async_send(&l->stop);
    pthread_join(l->tid, NULL);
    l->joinable = 0;
}

void msg_loop_free(msg_loop_t *l)
{
    if (!l)
        return;
    msg_loop_stop(l, 0);
    if (l->state != NT_EINTERNAL && uv_loop_close(&l->loop) != 0)
        log_warn("msg loop closed with handles open", NULL);
    pthread_cond_destroy(&l->cv);
    pthread_mutex_destroy(&l->mu);
    free(l);
}
