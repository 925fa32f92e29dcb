/*
 * msg_batch.c - keyed worker queues that hand out batches (msg_batch.h).
 *
 * Each worker has a ring of item pointers and a condition variable; one
 * mutex guards all rings, the counters and the flags.  It is held only to
 * move pointers, never while fn runs, so the delivery threads that submit
 * and the workers that take never wait on each other for longer than a
 * copy of at most batch_max pointers.
 *
 * A worker's batches are run by one runner at a time (`running`): its
 * thread, or, with inline_batches, the submitter that found it idle.  A
 * submit to a busy worker only queues: the runner takes it with its next
 * batch, so no thread is woken per item.
 */
#include "actors/msg_batch.h"

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct worker {
    struct msg_batch *b;
    int index;
    int running;       /* someone (the thread or a submitter) runs batches; mu */
    int deferred;      /* items queued with more to come and nobody told; mu */
    void **items;      /* batch_max slots for whoever runs (running) */
    void **ring;       /* queue_max slots; mu */
    int head, count;   /* mu */
    int64_t submitted; /* items ever queued here; mu */
    int64_t completed; /* items fn returned for (FIFO: the first ones); mu */
    pthread_cond_t cv; /* signalled on submit and on stop */
    pthread_t tid;
    int started;       /* the thread exists (for join) */
} worker_t;

/* opts is immutable after msg_batch_new.  mu guards the rings and every
 * field below it; done is broadcast whenever a worker's completed grows. */
struct msg_batch {
    msg_batch_opts_t o;
    worker_t *w;
    pthread_mutex_t mu;
    pthread_cond_t done;
    int draining, stopping, stopped;
    int paused;        /* msg_batch_inline_pause: batches on the worker threads only */
    msg_batch_stats_t st;
};

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; s && *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static int cond_init_mono(pthread_cond_t *cv)
{
    pthread_condattr_t ca;
    if (pthread_condattr_init(&ca) != 0)
        return NT_ENOMEM;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int rc = pthread_cond_init(cv, &ca) == 0 ? NT_OK : NT_ENOMEM;
    pthread_condattr_destroy(&ca);
    return rc;
}

/* Wait (mu held) until w has batch_max items, the batcher stops, or wait_us
 * passed.  Only called when w already has work. */
static void linger(msg_batch_t *b, worker_t *w)
{
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t ns = (int64_t)dl.tv_nsec + (int64_t)b->o.wait_us * 1000;
    dl.tv_sec += (time_t)(ns / 1000000000);
    dl.tv_nsec = (long)(ns % 1000000000);
    while (w->count < b->o.batch_max && !b->stopping)
        if (pthread_cond_timedwait(&w->cv, &b->mu, &dl) == ETIMEDOUT)
            break;
}

/* Run batches of w (mu held on entry and exit, released while fn runs)
 * until its queue is empty or max batches ran.  Then hand on: if work is
 * left (or the batcher stops), wake the thread. */
static void run_batches(msg_batch_t *b, worker_t *w, int max)
{
    w->running = 1;
    w->deferred = 0;
    for (int k = 0; k < max && w->count > 0; k++) {
        int n = 0;
        int cap = w->items ? b->o.batch_max : 1; /* out of memory: one at a time */
        void *one = NULL;
        void **dst = w->items ? w->items : &one;
        while (n < cap && w->count > 0) {
            dst[n++] = w->ring[w->head];
            w->head = (w->head + 1) % b->o.queue_max;
            w->count--;
        }
        b->st.batches++;
        b->st.items += n;
        if (n > b->st.max_batch)
            b->st.max_batch = n;
        pthread_mutex_unlock(&b->mu);
        b->o.fn(b->o.arg, w->index, dst, n);
        pthread_mutex_lock(&b->mu);
        w->completed += n;
        pthread_cond_broadcast(&b->done);
    }
    w->running = 0;
    if (w->count > 0 || b->stopping)
        pthread_cond_signal(&w->cv);
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    msg_batch_t *b = w->b;
    char name[16];
    snprintf(name, sizeof name, "msg-send-%d", w->index);
    pthread_setname_np(pthread_self(), name); /* top -H, perf */
    pthread_mutex_lock(&b->mu);
    for (;;) {
        /* deferred: a submitter comes back for them (msg_batch_flush) */
        while (w->running || ((w->count == 0 || w->deferred) && !b->stopping))
            pthread_cond_wait(&w->cv, &b->mu);
        if (w->count == 0)
            break; /* stopping, nobody running, nothing left */
        if (b->o.wait_us > 0)
            linger(b, w);
        if (!w->running) /* a submitter may have taken over while we lingered */
            run_batches(b, w, 1);
    }
    pthread_mutex_unlock(&b->mu);
    if (b->o.thread_end)
        b->o.thread_end();
    return NULL;
}

int msg_batch_new(const msg_batch_opts_t *o, msg_batch_t **out)
{
    *out = NULL;
    if (!o || o->workers < 1 || o->batch_max < 1 || o->queue_max < 1 || o->wait_us < 0 || !o->fn)
        return NT_EINVAL;
    msg_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return NT_ENOMEM;
    b->o = *o;
    int rc = NT_ENOMEM;
    if (pthread_mutex_init(&b->mu, NULL) != 0) {
        free(b);
        return rc;
    }
    if (cond_init_mono(&b->done) != NT_OK) {
        pthread_mutex_destroy(&b->mu);
        free(b);
        return rc;
    }
    /* From here msg_batch_free undoes whatever was made. */
    if (!(b->w = calloc((size_t)o->workers, sizeof *b->w)))
        goto fail;
    for (int i = 0; i < o->workers; i++) {
        worker_t *w = &b->w[i];
        w->b = b;
        w->index = i;
        if (!(w->ring = calloc((size_t)o->queue_max, sizeof *w->ring)) ||
            cond_init_mono(&w->cv) != NT_OK) {
            free(w->ring);
            w->ring = NULL;
            goto fail;
        }
        w->items = calloc((size_t)o->batch_max, sizeof *w->items); /* NULL: one at a time */
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0)
            goto fail;
        w->started = 1;
    }
    *out = b;
    return NT_OK;
fail:
    log_error("cannot start msg workers", "workers=%d", o->workers);
    msg_batch_free(b);
    return rc;
}

int msg_batch_worker_of(const msg_batch_t *b, const char *key)
{
    return (int)(fnv1a(key) % (uint32_t)b->o.workers);
}

/* Get w going (mu held): run its batches here if it is idle and inline
 * runs are on, else wake its thread; a worker that is running already
 * takes what is queued with its next batch. */
static void start_worker(msg_batch_t *b, worker_t *w)
{
    if (w->running || w->count == 0)
        return;
    w->deferred = 0;
    if (b->o.inline_batches > 0 && b->o.wait_us == 0 && !b->paused)
        run_batches(b, w, b->o.inline_batches); /* idle: no thread to wake */
    else
        pthread_cond_signal(&w->cv);
}

/* The batcher this thread left deferred items with (msg_batch_flush). */
static __thread msg_batch_t *tl_deferred;

int msg_batch_submit_more(msg_batch_t *b, const char *key, void *item, msg_batch_more_fn more,
                          msg_batch_ticket_t *t)
{
    worker_t *w = &b->w[fnv1a(key) % (uint32_t)b->o.workers];
    int rc = NT_EUNAVAIL;
    pthread_mutex_lock(&b->mu);
    if (!b->stopping && w->count < b->o.queue_max) {
        w->ring[(w->head + w->count) % b->o.queue_max] = item;
        w->count++;
        w->submitted++;
        if (t)
            *t = (msg_batch_ticket_t){w->index, w->submitted, b->draining};
        /* A running worker takes it with its next batch: only an idle one
         * asks whether more is coming (more() may take locks of its own). */
        if (!w->running && more && !b->draining && w->count < b->o.batch_max && more()) {
            w->deferred = 1; /* the caller comes back (msg_batch_flush) */
            tl_deferred = b;
        } else {
            start_worker(b, w);
        }
        rc = NT_OK;
    } else {
        b->st.refused++;
    }
    pthread_mutex_unlock(&b->mu);
    return rc;
}

int msg_batch_submit(msg_batch_t *b, const char *key, void *item, msg_batch_ticket_t *t)
{
    return msg_batch_submit_more(b, key, item, NULL, t);
}

/* Mu held: start every worker that holds deferred items. */
static void start_deferred(msg_batch_t *b)
{
    for (int i = 0; i < b->o.workers; i++)
        if (b->w[i].deferred)
            start_worker(b, &b->w[i]);
}

void msg_batch_flush(msg_batch_t *b, msg_batch_more_fn more)
{
    if (tl_deferred != b || (more && more()))
        return; /* nothing left here by this thread, or it comes back */
    tl_deferred = NULL;
    pthread_mutex_lock(&b->mu);
    start_deferred(b);
    pthread_mutex_unlock(&b->mu);
}

void msg_batch_inline_pause(msg_batch_t *b, int pause)
{
    pthread_mutex_lock(&b->mu);
    b->paused = pause != 0;
    pthread_mutex_unlock(&b->mu);
}

int msg_batch_draining(msg_batch_t *b)
{
    pthread_mutex_lock(&b->mu);
    int d = b->draining;
    pthread_mutex_unlock(&b->mu);
    return d;
}

void msg_batch_wait(msg_batch_t *b, const msg_batch_ticket_t *t)
{
    pthread_mutex_lock(&b->mu);
    start_deferred(b);
    while (b->w[t->worker].completed < t->seq)
        pthread_cond_wait(&b->done, &b->mu);
    pthread_mutex_unlock(&b->mu);
}

/* Wait for everything submitted so far, optionally marking draining in the
 * same critical section (so no submit falls between the two). */
static void wait_snapshot(msg_batch_t *b, int drain)
{
    int64_t *upto = calloc((size_t)b->o.workers, sizeof *upto);
    pthread_mutex_lock(&b->mu);
    if (drain)
        b->draining = 1;
    for (int i = 0; i < b->o.workers; i++) /* nobody comes back for them now */
        if (b->w[i].deferred && !b->w[i].running) {
            b->w[i].deferred = 0;
            pthread_cond_signal(&b->w[i].cv);
        }
    for (int i = 0; upto && i < b->o.workers; i++)
        upto[i] = b->w[i].submitted;
    for (int i = 0; i < b->o.workers; i++) {
        /* out of memory: a later target per worker; still a fixed one */
        int64_t target = upto ? upto[i] : b->w[i].submitted;
        while (b->w[i].completed < target)
            pthread_cond_wait(&b->done, &b->mu);
    }
    pthread_mutex_unlock(&b->mu);
    free(upto);
}

void msg_batch_wait_idle(msg_batch_t *b)
{
    wait_snapshot(b, 0);
}

void msg_batch_drain(msg_batch_t *b)
{
    wait_snapshot(b, 1);
}

void msg_batch_stop(msg_batch_t *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->mu);
    int first = !b->stopped;
    b->stopping = b->stopped = 1;
    for (int i = 0; b->w && i < b->o.workers; i++)
        if (b->w[i].ring)
            pthread_cond_signal(&b->w[i].cv);
    pthread_mutex_unlock(&b->mu);
    for (int i = 0; first && b->w && i < b->o.workers; i++)
        if (b->w[i].started) {
            pthread_join(b->w[i].tid, NULL);
            b->w[i].started = 0;
        }
}

void msg_batch_free(msg_batch_t *b)
{
    if (!b)
        return;
    msg_batch_stop(b);
    for (int i = 0; b->w && i < b->o.workers; i++) {
        if (b->w[i].ring) {
            pthread_cond_destroy(&b->w[i].cv);
            free(b->w[i].ring);
            free(b->w[i].items);
        }
    }
    free(b->w);
    pthread_cond_destroy(&b->done);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

int64_t msg_batch_depth(msg_batch_t *b, int worker)
{
    if (worker < 0 || worker >= b->o.workers)
        return 0;
    pthread_mutex_lock(&b->mu);
    int64_t n = b->w[worker].count;
    pthread_mutex_unlock(&b->mu);
    return n;
}

void msg_batch_stats(msg_batch_t *b, msg_batch_stats_t *out)
{
    pthread_mutex_lock(&b->mu);
    *out = b->st;
    out->queued = 0;
    for (int i = 0; i < b->o.workers; i++)
        out->queued += b->w[i].count;
    pthread_mutex_unlock(&b->mu);
}
