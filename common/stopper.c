/*
 * stopper.c - a sleep that another thread can cut short (stopper.h).
 */
#include "common/stopper.h"

#include "common/err.h"

#include <errno.h>
#include <time.h>

int stopper_init(stopper_t *s)
{
    s->stop = 0;
    s->poked = 0;
    if (pthread_mutex_init(&s->mu, NULL) != 0)
        return NT_EINTERNAL;
    pthread_condattr_t ca;
    int ok = pthread_condattr_init(&ca) == 0;
    if (ok) {
        ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
             pthread_cond_init(&s->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!ok) {
        pthread_mutex_destroy(&s->mu);
        return NT_EINTERNAL;
    }
    return NT_OK;
}

int stopper_sleep_ms(stopper_t *s, long ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (!s->stop && !s->poked && pthread_cond_timedwait(&s->cv, &s->mu, &until) != ETIMEDOUT)
        ;
    s->poked = 0;
    int stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

void stopper_poke(stopper_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->poked = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void stopper_stop(stopper_t *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void stopper_fini(stopper_t *s)
{
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
}
