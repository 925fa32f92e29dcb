/*
 * msg_fanout.h - the fan-out stage of the msg pool: threads that push
 * committed messages to their members, fairly across conversations
 * (docs/messages.md "Fan-out").
 *
 * Why a stage of its own: a send worker (msg_batch.h) that pushed a
 * 2000-member group's message itself would hold up every conversation
 * hashed to it for as long as 2000 publishes take.  The worker commits and
 * hands the messages here; it is free for the next batch at once.
 *
 * Why lanes: a job (one message) has `units` (its members) and is done a
 * `chunk` of units at a time.  Jobs of one key (a conversation) form a
 * lane, run strictly in submit order on one thread (hash(key) % threads),
 * so a conversation's pushes stay in seq order.  A thread serves its lanes
 * round robin, one chunk per turn, so a big fan-out shares the thread with
 * the small ones instead of running ahead of them: a 1:1 message waits at
 * most one chunk per other busy conversation of its thread.
 *
 * Jobs are opaque (void *): the stage owns one from a successful submit
 * until it passes it to done (after the last step), which then owns it.
 * step and done run on a fan-out thread, never under the stage's lock.
 *
 * Bounded: at most queue_max jobs are queued in all; a submit beyond waits
 * for room (back-pressure on the send workers, which is what a stage that
 * cannot keep up must do rather than grow without bound).
 */
#ifndef NT_MSG_FANOUT_H
#define NT_MSG_FANOUT_H

#include <stdint.h>

typedef struct msg_fanout msg_fanout_t;

/* Do units [from, to) of job (0 <= from < to <= units). */
typedef void (*msg_fanout_step_fn)(void *arg, void *job, int from, int to);
/* Every unit of job is done (also for a job of 0 units): finish, free it. */
typedef void (*msg_fanout_done_fn)(void *arg, void *job);

typedef struct msg_fanout_opts {
    int threads;     /* >= 1 */
    int chunk;       /* units per turn, >= 1 */
    int queue_max;   /* jobs queued in all, >= 1; submit waits beyond */
    msg_fanout_step_fn step;
    msg_fanout_done_fn done;
    void *arg;
    void (*thread_end)(void); /* NULL, or run by each thread before it exits */
} msg_fanout_opts_t;

typedef struct msg_fanout_stats {
    int64_t jobs;      /* done */
    int64_t units;     /* done */
    int64_t turns;     /* steps run (chunks) */
    int64_t waits;     /* submits that waited for room */
    int64_t queued;    /* jobs waiting or running now */
} msg_fanout_stats_t;

/* Start the threads.  Free with msg_fanout_free. */
int msg_fanout_new(const msg_fanout_opts_t *o, msg_fanout_t **out);

/* Queue job (units >= 0) behind the earlier jobs of key.  Waits while
 * queue_max jobs are queued.  NT_OK: the stage owns job.  NT_EUNAVAIL
 * (stopped) or NT_ENOMEM: the caller keeps job (and may do it inline). */
int msg_fanout_submit(msg_fanout_t *f, const char *key, void *job, int units);

/* Block until every job submitted before the call is done; jobs submitted
 * meanwhile do not prolong the wait. */
void msg_fanout_wait_idle(msg_fanout_t *f);

/* Finish everything queued, then join the threads; later submits are
 * refused.  Idempotent; NULL is fine. */
void msg_fanout_stop(msg_fanout_t *f);

/* msg_fanout_stop, then free.  NULL is fine. */
void msg_fanout_free(msg_fanout_t *f);

void msg_fanout_stats(msg_fanout_t *f, msg_fanout_stats_t *out);

#endif
