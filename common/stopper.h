/*
 * stopper.h - a sleep that another thread can cut short.
 *
 * Background threads (the presence sweep, the auth pool's token pruning)
 * sleep between rounds and must stop at once on SIGTERM, not after their
 * interval.  A mutex, a condition variable on the monotonic clock (wall
 * clock jumps must not stretch or skip a sleep) and a flag do that; this
 * is the one copy of it.  A poke ends the current (or the next) sleep
 * early without stopping: a loader told that its data changed.
 */
#ifndef NT_STOPPER_H
#define NT_STOPPER_H

#include <pthread.h>

typedef struct stopper {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;   /* mu */
    int poked;  /* mu: the next sleep returns at once (and clears it) */
} stopper_t;

/* NT_OK, or NT_EINTERNAL (nothing to fini then). */
int stopper_init(stopper_t *s);

/* Sleep ms (0: just look) unless stopped; 1 if the caller should stop. */
int stopper_sleep_ms(stopper_t *s, long ms);

/* End the current sleep early, or the next one if none is under way; it
 * returns 0 (not a stop).  Pokes before that sleep count as one. */
void stopper_poke(stopper_t *s);

/* Wake every sleeper; every later sleep returns 1 at once. */
void stopper_stop(stopper_t *s);

void stopper_fini(stopper_t *s);

#endif
