/*
 * denylist.c - a chained hash set of revoked session ids (see denylist.h).
 */
#include "edge/denylist.h"

#include "common/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#define NBUCKETS 4096
#define SWEEP_EVERY 512
#define SID_MAX 64

typedef struct entry {
    struct entry *next;
    int64_t expires_at;
    char sid[SID_MAX];
} entry_t;

struct denylist {
    pthread_mutex_t lock; /* guards everything below */
    entry_t *buckets[NBUCKETS];
    size_t n;
    unsigned adds;
};

static unsigned hash(const char *s)
{
    unsigned h = 2166136261u; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 16777619u;
    return h % NBUCKETS;
}

static int64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

int denylist_new(denylist_t **out)
{
    denylist_t *d = calloc(1, sizeof *d);
    if (!d)
        return NT_ENOMEM;
    pthread_mutex_init(&d->lock, NULL);
    *out = d;
    return NT_OK;
}

void denylist_free(denylist_t *d)
{
    if (!d)
        return;
    for (size_t i = 0; i < NBUCKETS; i++) {
        for (entry_t *e = d->buckets[i], *next; e; e = next) {
            next = e->next;
            free(e);
        }
    }
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* Unlink expired entries of one chain; lock held. */
static void sweep_chain(denylist_t *d, entry_t **pp, int64_t now, size_t *dropped)
{
    while (*pp) {
        entry_t *e = *pp;
        if (e->expires_at <= now) {
            *pp = e->next;
            free(e);
            d->n--;
            (*dropped)++;
        } else {
            pp = &e->next;
        }
    }
}

size_t denylist_sweep(denylist_t *d, int64_t now)
{
    size_t dropped = 0;
    pthread_mutex_lock(&d->lock);
    for (size_t i = 0; i < NBUCKETS; i++)
        sweep_chain(d, &d->buckets[i], now, &dropped);
    pthread_mutex_unlock(&d->lock);
    return dropped;
}

int denylist_add(denylist_t *d, const char *sid, int64_t expires_at)
{
    if (!sid || !*sid || strlen(sid) >= SID_MAX)
        return NT_EINVAL;
    unsigned h = hash(sid);
    int rc = NT_OK, sweep;
    pthread_mutex_lock(&d->lock);
    entry_t *e = d->buckets[h];
    while (e && strcmp(e->sid, sid) != 0)
        e = e->next;
    if (e) {
        if (expires_at > e->expires_at)
            e->expires_at = expires_at;
    } else if ((e = calloc(1, sizeof *e)) != NULL) {
        strcpy(e->sid, sid); /* length checked above */
        e->expires_at = expires_at;
        e->next = d->buckets[h];
        d->buckets[h] = e;
        d->n++;
    } else {
        rc = NT_ENOMEM;
    }
    sweep = ++d->adds % SWEEP_EVERY == 0;
    pthread_mutex_unlock(&d->lock);
    if (sweep)
        denylist_sweep(d, now_ms());
    return rc;
}

int denylist_has(denylist_t *d, const char *sid, int64_t now)
{
    if (!sid)
        return 0;
    unsigned h = hash(sid);
    size_t dropped = 0;
    int found = 0;
    pthread_mutex_lock(&d->lock);
    sweep_chain(d, &d->buckets[h], now, &dropped);
    for (entry_t *e = d->buckets[h]; e; e = e->next) {
        if (strcmp(e->sid, sid) == 0) {
            found = 1;
            break;
        }
    }
    pthread_mutex_unlock(&d->lock);
    return found;
}

size_t denylist_size(denylist_t *d)
{
    pthread_mutex_lock(&d->lock);
    size_t n = d->n;
    pthread_mutex_unlock(&d->lock);
    return n;
}
