/*
 * msg_batch.h - N worker threads, each with its own queue, that hand their
 * work to a function in batches (DESIGN.md "Actors and threads": a message
 * for conversation cid goes to worker hash(cid) % N).
 *
 * Keying by conversation means one worker, hence one transaction at a
 * time, handles a conversation within this process: its sends are stored
 * in arrival order and never contend with each other for the row lock.
 * (Other processes may serve the same conversation; the store orders them.)
 *
 * Who runs a batch: the worker's own thread, or (inline_batches) the
 * thread that submitted to an idle worker, which then commits and answers
 * itself: a lone send crosses no thread.  Alone that shrinks batches (a
 * delivery thread that commits cannot queue the next sends meanwhile), so
 * the msg pool pairs it with the deferral below (docs/design.md
 * "Conversations and messages").  Either way a submit to a busy worker
 * only queues (no wake-up): its runner takes it next.
 *
 * A worker takes everything queued (up to batch_max) in one go.  It adds
 * no delay when its queue was empty: a lone request is handled at once,
 * and under load the queue fills while the previous batch commits, so the
 * batch size follows the load by itself.  wait_us > 0 makes a worker that
 * found fewer than batch_max items linger that long for more.
 *
 * Batching on the thread that receives: a submitter that knows more
 * requests wait for it (msg_batch_submit_more whose more() says so, e.g.
 * the bus delivery thread while its subscription has messages pending)
 * only queues to an idle worker and wakes nobody; after each submit it
 * calls msg_batch_flush, which, once none are left, runs (inline) or wakes
 * the workers it left items with.  more() is asked only when the worker is
 * idle: under load the worker is busy and a submit costs no more than a
 * queue append.  So a burst becomes one batch and, with inline_batches, crosses no
 * thread: the delivery thread that received it commits and answers it.
 * A worker holding batch_max items, or a batcher that drains, never waits.
 *
 * Items are opaque (void *): the batcher owns an item from a successful
 * msg_batch_submit until it passes it to fn, which then owns it.  The
 * batcher knows nothing of NATS or SQL; msg_send.c supplies fn.
 *
 * Drain (SIGTERM): msg_batch_drain marks the batcher draining and waits
 * for everything submitted before; a submit made while draining says so in
 * its ticket, and its caller waits for that item (msg_batch_wait) before
 * returning, so a bus subscription never completes its drain while work it
 * took is queued (see msg_send.c).  Every wait is for items submitted
 * before it began (per-worker counters), so steady new work cannot starve
 * it.  msg_batch_stop then joins the threads.
 */
#ifndef NT_MSG_BATCH_H
#define NT_MSG_BATCH_H

#include <stdint.h>

typedef struct msg_batch msg_batch_t;

/* Called on worker thread `worker` with n (1..batch_max) items it now owns. */
typedef void (*msg_batch_fn)(void *arg, int worker, void **items, int n);

typedef struct msg_batch_opts {
    int workers;     /* threads, >= 1 */
    int batch_max;   /* items per fn call, >= 1 */
    int queue_max;   /* items queued per worker; submit refuses beyond */
    int wait_us;     /* linger for a fuller batch; 0: never wait */
    int inline_batches; /* > 0 (and wait_us 0): a submit that finds its worker
                           idle runs up to this many batches itself, on the
                           submitting thread, before returning (no thread
                           wake-up); what is left then goes to the worker's
                           thread.  0: always the worker's thread. */
    msg_batch_fn fn;
    void *arg;
    void (*thread_end)(void); /* NULL, or run by each worker before it exits */
} msg_batch_opts_t;

/* Totals since start (msg_batch_stats). */
typedef struct msg_batch_stats {
    int64_t batches;
    int64_t items;
    int64_t max_batch;
    int64_t refused;    /* submits refused: queue full or stopped */
    int64_t queued;     /* items waiting right now */
} msg_batch_stats_t;

/* Where a submitted item stands in its worker's queue. */
typedef struct msg_batch_ticket {
    int worker;
    int64_t seq;       /* the worker's submit count including this item */
    int draining;      /* submitted while draining: wait for it */
} msg_batch_ticket_t;

/* Start the workers.  Free with msg_batch_free. */
int msg_batch_new(const msg_batch_opts_t *o, msg_batch_t **out);

/* Queue item for the worker of key (FNV-1a of the string, modulo workers).
 * NT_OK: the batcher owns item, *t (may be NULL) says where it stands.
 * NT_EUNAVAIL: that worker's queue is full or the batcher is stopped; the
 * caller keeps item. */
int msg_batch_submit(msg_batch_t *b, const char *key, void *item, msg_batch_ticket_t *t);

/* Whether the calling thread will submit again soon (e.g. its bus
 * subscription has messages pending for it). */
typedef int (*msg_batch_more_fn)(void);

/* msg_batch_submit, but an idle worker holding fewer than batch_max items
 * asks more() (only then: a running worker just queues) and, if more is
 * coming, is neither run nor woken: the caller promises msg_batch_flush
 * after each submit.  more may be NULL (= msg_batch_submit). */
int msg_batch_submit_more(msg_batch_t *b, const char *key, void *item, msg_batch_more_fn more,
                          msg_batch_ticket_t *t);

/* If this thread left items deferred and more() (NULL: none) says nothing
 * more is coming, start (inline, or by waking them) the workers holding
 * deferred items.  Cheap when the thread deferred nothing. */
void msg_batch_flush(msg_batch_t *b, msg_batch_more_fn more);

/* 1: no batch runs on a submitting thread (inline_batches is ignored: the
 * worker threads run them all); 0: as configured again.  The msg pool
 * turns it on while its batches fail (the database is down or hangs), so
 * the thread that receives sends, its loop thread above all, goes on
 * reading and answering while a worker waits out the database's timeouts
 * (docs/design.md "Conversations and messages"). */
void msg_batch_inline_pause(msg_batch_t *b, int pause);

/* The worker index msg_batch_submit would queue key for. */
int msg_batch_worker_of(const msg_batch_t *b, const char *key);

/* Block until the item of t has been handled (fn returned for it). */
void msg_batch_wait(msg_batch_t *b, const msg_batch_ticket_t *t);

/* Block until every item submitted before the call has been handled. */
void msg_batch_wait_idle(msg_batch_t *b);

/* Mark draining (later tickets say so), then msg_batch_wait_idle. */
void msg_batch_drain(msg_batch_t *b);

/* 1 once msg_batch_drain was called. */
int msg_batch_draining(msg_batch_t *b);

/* Handle what is queued, then join the workers; later submits are refused.
 * Idempotent. */
void msg_batch_stop(msg_batch_t *b);

/* msg_batch_stop, then free.  NULL is fine. */
void msg_batch_free(msg_batch_t *b);

void msg_batch_stats(msg_batch_t *b, msg_batch_stats_t *out);

/* Items queued for worker now (not yet taken into a batch). */
int64_t msg_batch_depth(msg_batch_t *b, int worker);

#endif
