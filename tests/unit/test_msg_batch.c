/*
 * test_msg_batch.c - the keyed worker queues of the msg pool
 * (actors/msg_batch.c): one key always reaches the same worker in order,
 * a batch grows while the previous one runs and never waits when there is
 * no wait_us, full queues refuse, and drain/stop handle everything queued.
 */
#include "actors/msg_batch.h"
#include "common/err.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define MAXLOG 4096

/* What fn saw.  mu guards everything; the gate holds fn while closed. */
typedef struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gate_closed;
    int in_fn;                  /* calls waiting at the gate */
    int calls, items;
    int worker_of[MAXLOG];      /* item value -> worker that got it */
    int seq[MAXLOG], nseq;      /* item values in the order handled */
    int sizes[MAXLOG];          /* batch sizes, by call */
} rec_t;

static rec_t r;

static void fn(void *arg, int worker, void **items, int n)
{
    rec_t *x = arg;
    pthread_mutex_lock(&x->mu);
    x->in_fn++;
    pthread_cond_broadcast(&x->cv);
    while (x->gate_closed)
        pthread_cond_wait(&x->cv, &x->mu);
    x->in_fn--;
    x->sizes[x->calls++] = n;
    for (int i = 0; i < n; i++) {
        int v = (int)(intptr_t)items[i];
        x->worker_of[v] = worker;
        x->seq[x->nseq++] = v;
        x->items++;
    }
    pthread_mutex_unlock(&x->mu);
}

static void setup(void)
{
    memset(&r, 0, sizeof r);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
}

TestSuite(msg_batch, .init = setup, .timeout = 20);

static msg_batch_t *start(int workers, int batch_max, int queue_max, int wait_us)
{
    msg_batch_opts_t o = {.workers = workers, .batch_max = batch_max, .queue_max = queue_max,
                          .wait_us = wait_us, .fn = fn, .arg = &r};
    msg_batch_t *b = NULL;
    cr_assert_eq(msg_batch_new(&o, &b), NT_OK);
    return b;
}

static void submit(msg_batch_t *b, const char *key, int v)
{
    cr_assert_eq(msg_batch_submit(b, key, (void *)(intptr_t)v, NULL), NT_OK, "submit %d", v);
}

static void gate(int closed)
{
    pthread_mutex_lock(&r.mu);
    r.gate_closed = closed;
    pthread_cond_broadcast(&r.cv);
    pthread_mutex_unlock(&r.mu);
}

/* Wait until n calls sit at the gate. */
static void wait_in_fn(int n)
{
    pthread_mutex_lock(&r.mu);
    while (r.in_fn < n)
        pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
}

Test(msg_batch, one_key_one_worker_in_order)
{
    msg_batch_t *b = start(4, 8, 1024, 0);
    const char *keys[3] = {"101", "202", "303"};
    for (int i = 0; i < 300; i++)
        submit(b, keys[i % 3], i);
    msg_batch_wait_idle(b);
    cr_assert_eq(r.items, 300);
    for (int i = 3; i < 300; i++)
        cr_assert_eq(r.worker_of[i], r.worker_of[i % 3], "item %d changed worker", i);
    /* per key, handled in submission order */
    int last[3] = {-1, -1, -1};
    for (int k = 0; k < r.nseq; k++) {
        int v = r.seq[k];
        cr_assert_gt(v, last[v % 3], "key %d: %d after %d", v % 3, v, last[v % 3]);
        last[v % 3] = v;
    }
    for (int c = 0; c < r.calls; c++)
        cr_assert(r.sizes[c] >= 1 && r.sizes[c] <= 8);
    msg_batch_free(b);
}

Test(msg_batch, batch_grows_while_the_previous_runs)
{
    msg_batch_t *b = start(1, 16, 1024, 0);
    gate(1);
    submit(b, "k", 0);
    wait_in_fn(1); /* the first call took one item and is running */
    for (int i = 1; i <= 40; i++)
        submit(b, "k", i);
    gate(0);
    msg_batch_wait_idle(b);
    cr_assert_eq(r.items, 41);
    cr_assert_eq(r.sizes[0], 1, "a lone item is not held back");
    cr_assert_eq(r.sizes[1], 16, "then everything queued, up to batch_max");
    cr_assert_eq(r.sizes[2], 16);
    cr_assert_eq(r.sizes[3], 8);
    msg_batch_stats_t st;
    msg_batch_stats(b, &st);
    cr_assert_eq(st.batches, 4);
    cr_assert_eq(st.items, 41);
    cr_assert_eq(st.max_batch, 16);
    msg_batch_free(b);
}

Test(msg_batch, no_wait_when_idle)
{
    msg_batch_t *b = start(2, 256, 64, 0);
    for (int i = 0; i < 20; i++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        submit(b, "solo", i);
        msg_batch_wait_idle(b);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long us = (t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000;
        cr_assert_lt(us, 200000, "a lone item took %ld us", us);
    }
    cr_assert_eq(r.calls, 20);
    msg_batch_free(b);
}

Test(msg_batch, wait_us_collects_a_fuller_batch)
{
    msg_batch_t *b = start(1, 4, 64, 2000000); /* up to 2 s, or until 4 are queued */
    for (int i = 0; i < 4; i++)
        submit(b, "k", i);
    msg_batch_wait_idle(b);
    cr_assert_eq(r.calls, 1);
    cr_assert_eq(r.sizes[0], 4);
    msg_batch_free(b);
}

Test(msg_batch, full_queue_refuses)
{
    msg_batch_t *b = start(1, 4, 8, 0);
    gate(1);
    submit(b, "k", 0);
    wait_in_fn(1);
    for (int i = 1; i <= 8; i++)
        submit(b, "k", i);
    cr_assert_eq(msg_batch_submit(b, "k", (void *)(intptr_t)9, NULL), NT_EUNAVAIL);
    msg_batch_stats_t st;
    msg_batch_stats(b, &st);
    cr_assert_eq(st.refused, 1);
    cr_assert_eq(st.queued, 8);
    gate(0);
    msg_batch_wait_idle(b);
    cr_assert_eq(r.items, 9);
    msg_batch_free(b);
}

typedef struct drainer {
    msg_batch_t *b;
    int done;
} drainer_t;

static void *drain_main(void *arg)
{
    drainer_t *d = arg;
    msg_batch_drain(d->b);
    __atomic_store_n(&d->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

Test(msg_batch, drain_waits_for_queued_and_stop_handles_the_rest)
{
    msg_batch_t *b = start(2, 4, 64, 0);
    cr_assert_eq(msg_batch_draining(b), 0);
    gate(1);
    for (int i = 0; i < 10; i++)
        submit(b, i % 2 ? "a" : "b", i);
    drainer_t d = {b, 0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, drain_main, &d), 0);
    usleep(50000);
    cr_assert_eq(__atomic_load_n(&d.done, __ATOMIC_SEQ_CST), 0, "drain returned with work queued");
    cr_assert_eq(msg_batch_draining(b), 1);
    msg_batch_ticket_t t;
    cr_assert_eq(msg_batch_submit(b, "b", (void *)(intptr_t)10, &t), NT_OK);
    cr_assert_eq(t.draining, 1, "a submit during the drain is told to wait");
    gate(0);
    msg_batch_wait(b, &t);
    pthread_mutex_lock(&r.mu);
    int seen = 0;
    for (int k = 0; k < r.nseq; k++)
        seen += r.seq[k] == 10;
    pthread_mutex_unlock(&r.mu);
    cr_assert_eq(seen, 1, "msg_batch_wait returned before its item was handled");
    pthread_join(th, NULL);
    cr_assert_eq(r.items, 11);
    /* stop: what is queued is handled, later submits are refused */
    gate(1);
    for (int i = 11; i < 21; i++)
        submit(b, "a", i);
    wait_in_fn(1);
    gate(0);
    msg_batch_stop(b);
    cr_assert_eq(r.items, 21);
    cr_assert_eq(msg_batch_submit(b, "a", (void *)(intptr_t)21, NULL), NT_EUNAVAIL);
    msg_batch_free(b);
}

/* inline_batches: who ran each item (1: the submitting thread). */
static pthread_t submitter;
static int ran_inline[MAXLOG];

static void fn_who(void *arg, int worker, void **items, int n)
{
    for (int i = 0; i < n; i++)
        ran_inline[(int)(intptr_t)items[i]] = pthread_equal(pthread_self(), submitter);
    fn(arg, worker, items, n);
}

/* A batcher whose fn records which thread ran each item (fn_who). */
static msg_batch_t *start_inline(int workers, int batch_max, int inline_batches)
{
    msg_batch_opts_t o = {.workers = workers, .batch_max = batch_max, .queue_max = 64,
                          .inline_batches = inline_batches, .fn = fn_who, .arg = &r};
    msg_batch_t *b = NULL;
    cr_assert_eq(msg_batch_new(&o, &b), NT_OK);
    return b;
}

static void *submit_one(void *arg)
{
    submit(arg, "k", 2); /* the worker is idle: runs it here, held at the gate */
    return NULL;
}

Test(msg_batch, an_idle_worker_is_run_by_the_submitter_a_busy_one_is_not)
{
    msg_batch_t *b = start_inline(1, 8, 1);
    submitter = pthread_self();
    submit(b, "k", 1);                    /* idle: done before submit returns */
    cr_assert_eq(r.items, 1);
    cr_assert_eq(ran_inline[1], 1, "ran on the submitting thread");
    /* Busy: another thread runs the worker (held at the gate in fn); our
     * submit only queues, and the worker's thread takes it afterwards. */
    gate(1);
    pthread_t t;
    submitter = (pthread_t)0;
    msg_batch_ticket_t tk;
    pthread_create(&t, NULL, submit_one, b);
    pthread_mutex_lock(&r.mu);
    while (r.in_fn == 0)
        pthread_cond_wait(&r.cv, &r.mu);   /* item 2 is in fn, on that thread */
    pthread_mutex_unlock(&r.mu);
    submitter = pthread_self();
    cr_assert_eq(msg_batch_submit(b, "k", (void *)(intptr_t)3, &tk), NT_OK);
    cr_assert_eq(r.items, 1, "a busy worker's submit does not run it");
    gate(0);
    pthread_join(t, NULL);
    msg_batch_wait(b, &tk);
    cr_assert_eq(r.items, 3);
    cr_assert_eq(ran_inline[3], 0, "item 3 ran on the runner, not on its submitter");
    cr_assert_eq(r.seq[1], 2);
    cr_assert_eq(r.seq[2], 3);
    msg_batch_free(b);
}

/* Batching on the thread that receives: while more() says more is coming,
 * submits leave an idle worker alone (nothing runs, nobody is woken) and
 * flushes do nothing; once more() says no, the flush runs the whole burst
 * as one batch on the submitting thread.  A full batch never waits, a
 * busy worker never asks more(), and a drain starts what a submitter left
 * deferred. */
static int more_flag, more_asked;

static int more_fn(void)
{
    more_asked++;
    return more_flag;
}

static void submit_more(msg_batch_t *b, const char *key, int v)
{
    cr_assert_eq(msg_batch_submit_more(b, key, (void *)(intptr_t)v, more_fn, NULL), NT_OK);
    msg_batch_flush(b, more_fn);
}

Test(msg_batch, more_defers_until_the_flush_then_one_batch_runs_here)
{
    msg_batch_t *b = start_inline(2, 4, 4);
    submitter = pthread_self();
    more_flag = 1;
    for (int i = 1; i <= 3; i++)
        submit_more(b, "k", i);
    usleep(20000);
    cr_assert_eq(r.items, 0, "a deferred item ran before more() said no");
    more_flag = 0;
    msg_batch_flush(b, more_fn);
    cr_assert_eq(r.items, 3, "the flush ran the burst before returning");
    cr_assert_eq(r.calls, 1, "one batch");
    cr_assert_eq(r.sizes[0], 3);
    for (int i = 1; i <= 3; i++)
        cr_assert_eq(ran_inline[i], 1, "item %d ran on the submitting thread", i);
    /* batch_max items: runs at once even with more to come */
    more_flag = 1;
    for (int i = 4; i <= 7; i++)
        submit_more(b, "k", i);
    cr_assert_eq(r.items, 7, "a full batch waited for the flush");
    /* the last of a burst: all in one batch, in order */
    submit_more(b, "k", 8);
    more_flag = 0;
    submit_more(b, "k", 9);
    cr_assert_eq(r.items, 9);
    cr_assert_eq(r.sizes[r.calls - 1], 2);
    cr_assert_eq(r.seq[7], 8);
    cr_assert_eq(r.seq[8], 9);
    /* left deferred by a submitter that never came back: the drain starts it */
    more_flag = 1;
    submit_more(b, "other", 10);
    usleep(20000);
    cr_assert_eq(r.items, 9);
    msg_batch_drain(b);
    cr_assert_eq(r.items, 10, "the drain handled the deferred item");
    msg_batch_free(b);
}

static void *run_one_held(void *arg)
{
    submit(arg, "k", 2); /* idle: runs here, held at the gate */
    return NULL;
}

Test(msg_batch, a_busy_worker_does_not_ask_more)
{
    msg_batch_t *b = start_inline(1, 8, 1);
    gate(1);
    pthread_t t;
    pthread_create(&t, NULL, run_one_held, b);
    wait_in_fn(1);
    more_flag = 1;
    more_asked = 0;
    cr_assert_eq(msg_batch_submit_more(b, "k", (void *)(intptr_t)3, more_fn, NULL), NT_OK);
    cr_assert_eq(more_asked, 0, "asked more() although the worker runs");
    msg_batch_flush(b, more_fn); /* deferred nothing: asks nothing */
    cr_assert_eq(more_asked, 0);
    gate(0);
    pthread_join(t, NULL);
    msg_batch_wait_idle(b);
    cr_assert_eq(r.items, 2, "the runner took the queued item");
    msg_batch_free(b);
}

/* msg_batch_inline_pause: while paused, an idle worker's batch runs on the
 * worker's own thread (the submitter goes on at once, as the msg loop must
 * while the database fails); unpaused, on the submitter again. */
Test(msg_batch, paused_batches_run_on_the_worker_thread)
{
    msg_batch_t *b = start_inline(1, 8, 4);
    submitter = pthread_self();
    msg_batch_inline_pause(b, 1);
    gate(1);
    msg_batch_ticket_t tk;
    cr_assert_eq(msg_batch_submit(b, "k", (void *)(intptr_t)1, &tk), NT_OK);
    wait_in_fn(1); /* held in fn, and yet our submit returned: another thread runs it */
    gate(0);
    msg_batch_wait(b, &tk);
    cr_assert_eq(ran_inline[1], 0, "a paused batcher ran the batch on the submitter");
    msg_batch_inline_pause(b, 0);
    submit(b, "k", 2);
    cr_assert_eq(r.items, 2, "unpaused: done before submit returns");
    cr_assert_eq(ran_inline[2], 1);
    msg_batch_free(b);
}
