/*
 * msg_state.c - the conversations a send worker holds in memory
 * (msg_state.h): a chained hash table by cid, and a locked list of
 * invalidations that other threads queue for it.
 */
#include "actors/msg_state.h"

#include "common/err.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define INVAL_MAX 1024 /* queued invalidations; beyond: drop everything */

struct msg_state {
    msg_conv_state_t **buckets; /* nbuckets, a power of two */
    int nbuckets, count, cap;
    pthread_mutex_t mu;         /* guards inval, ninval, inval_all */
    int64_t inval[INVAL_MAX];
    int ninval, inval_all;
};

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

int msg_state_new(int cap, msg_state_t **out)
{
    msg_state_t *s = calloc(1, sizeof *s);
    *out = NULL;
    if (!s)
        return NT_ENOMEM;
    s->cap = cap > 0 ? cap : 1;
    s->nbuckets = 64;
    while (s->nbuckets < s->cap && s->nbuckets < (1 << 20))
        s->nbuckets <<= 1;
    if (!(s->buckets = calloc((size_t)s->nbuckets, sizeof *s->buckets)) ||
        pthread_mutex_init(&s->mu, NULL) != 0) {
        free(s->buckets);
        free(s);
        return NT_ENOMEM;
    }
    *out = s;
    return NT_OK;
}

static void entry_free(msg_conv_state_t *e)
{
    conv_rec_fini(&e->conv);
    free(e);
}

void msg_state_drop(msg_state_t *s, int64_t cid)
{
    for (int b = cid ? (int)(mix((uint64_t)cid) & (uint64_t)(s->nbuckets - 1)) : 0;
         b < s->nbuckets; b++) {
        msg_conv_state_t **pp = &s->buckets[b];
        while (*pp) {
            msg_conv_state_t *e = *pp;
            if (cid == 0 || e->cid == cid) {
                *pp = e->next;
                entry_free(e);
                s->count--;
            } else {
                pp = &e->next;
            }
        }
        if (cid)
            break;
    }
}

void msg_state_free(msg_state_t *s)
{
    if (!s)
        return;
    msg_state_drop(s, 0);
    pthread_mutex_destroy(&s->mu);
    free(s->buckets);
    free(s);
}

msg_conv_state_t *msg_state_get(msg_state_t *s, int64_t cid)
{
    msg_conv_state_t *e = s->buckets[mix((uint64_t)cid) & (uint64_t)(s->nbuckets - 1)];
    while (e && e->cid != cid)
        e = e->next;
    return e;
}

int msg_state_put(msg_state_t *s, int64_t cid, const conv_rec_t *c, msg_conv_state_t **out)
{
    if (out)
        *out = NULL;
    msg_conv_state_t *e = msg_state_get(s, cid);
    conv_rec_t copy;
    if (conv_rec_copy(&copy, c) != NT_OK) {
        if (e)
            msg_state_drop(s, cid);
        return NT_ENOMEM;
    }
    if (!e) {
        if (s->count >= s->cap)
            msg_state_drop(s, 0);
        if (!(e = calloc(1, sizeof *e))) {
            conv_rec_fini(&copy);
            return NT_ENOMEM;
        }
        e->cid = cid;
        uint64_t b = mix((uint64_t)cid) & (uint64_t)(s->nbuckets - 1);
        e->next = s->buckets[b];
        s->buckets[b] = e;
        s->count++;
    } else {
        conv_rec_fini(&e->conv);
    }
    e->conv = copy;
    if (out)
        *out = e;
    return NT_OK;
}

void msg_state_invalidate(msg_state_t *s, int64_t cid)
{
    pthread_mutex_lock(&s->mu);
    if (cid == 0 || s->ninval == INVAL_MAX)
        s->inval_all = 1;
    else
        s->inval[s->ninval++] = cid;
    pthread_mutex_unlock(&s->mu);
}

void msg_state_apply(msg_state_t *s)
{
    int64_t v[INVAL_MAX];
    pthread_mutex_lock(&s->mu);
    int n = s->ninval, all = s->inval_all;
    if (n > 0)
        memcpy(v, s->inval, (size_t)n * sizeof *v);
    s->ninval = 0;
    s->inval_all = 0;
    pthread_mutex_unlock(&s->mu);
    if (all) {
        msg_state_drop(s, 0);
        return;
    }
    for (int i = 0; i < n; i++)
        msg_state_drop(s, v[i]);
}

uint64_t msg_state_key(int64_t sender, const char *client_msg_id)
{
    uint64_t h = 1469598103934665603ULL ^ mix((uint64_t)sender);
    for (const char *p = client_msg_id; p && *p; p++)
        h = (h ^ (uint8_t)*p) * 1099511628211ULL;
    return h ? h : 1;
}

int msg_state_key_seen(const msg_conv_state_t *st, uint64_t h)
{
    for (int i = 0; i < st->nkeys; i++)
        if (st->keys[i] == h)
            return 1;
    return 0;
}

void msg_state_key_add(msg_conv_state_t *st, uint64_t h)
{
    st->keys[st->kpos] = h;
    st->kpos = (st->kpos + 1) % MSG_STATE_KEYS;
    if (st->nkeys < MSG_STATE_KEYS)
        st->nkeys++;
}

int msg_state_count(const msg_state_t *s)
{
    return s->count;
}
