/*
 * backoff.c - capped exponential back-off (see backoff.h).
 */
#include "common/backoff.h"

void backoff_init(backoff_t *b, int first_ms, int max_ms)
{
    b->first_ms = first_ms < 1 ? 1 : first_ms;
    b->max_ms = max_ms < b->first_ms ? b->first_ms : max_ms;
    backoff_reset(b);
}

void backoff_reset(backoff_t *b)
{
    b->next_ms = b->first_ms;
    b->attempt = 0;
}

int backoff_next(backoff_t *b)
{
    int d = b->next_ms;
    b->next_ms = d > b->max_ms / 2 ? b->max_ms : d * 2;
    b->attempt++;
    return d;
}
