/*
 * backoff.h - capped exponential back-off for waiting on something that is
 * not there yet (NATS, MariaDB, Redis at start; a lost connection later).
 *
 * A process started before its dependency must wait for it rather than
 * exit (docs/operations.md "Start-up order"): it tries, and between tries
 * sleeps first_ms, then twice that, up to max_ms.  One log line per step
 * (the caller logs the delay it got), so a dependency that is down for an
 * hour costs a line every max_ms, not a line per try.  Plain data, no
 * locking: one owner at a time.
 */
#ifndef NT_BACKOFF_H
#define NT_BACKOFF_H

typedef struct backoff {
    int first_ms;   /* the first delay */
    int max_ms;     /* no delay is longer */
    int next_ms;    /* what backoff_next returns next */
    int attempt;    /* delays handed out since init/reset */
} backoff_t;

/* first_ms < 1 becomes 1; max_ms < first_ms becomes first_ms. */
void backoff_init(backoff_t *b, int first_ms, int max_ms);

/* The delay before the next try, in ms, and move on a step. */
int backoff_next(backoff_t *b);

/* Start again from first_ms (after a success). */
void backoff_reset(backoff_t *b);

#endif
