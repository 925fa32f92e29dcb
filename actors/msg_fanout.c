/*
 * msg_fanout.c - keyed lanes served round robin, a chunk per turn
 * (msg_fanout.h).
 *
 * Each thread has the lanes of its keys: a hash table to find a key's lane
 * and a round-robin list of the lanes that have work.  A lane exists
 * exactly while it has jobs; it is either on its thread's list or being
 * run (then off the list, so no one else runs it, and put back at the
 * tail after its turn if it still has jobs).  One mutex guards everything
 * and is never held while step or done runs.
 */
#include "actors/msg_fanout.h"

#include "common/err.h"
#include "common/log.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS 256 /* per thread; chains stay short for thousands of busy conversations */

typedef struct fjob {
    struct fjob *next;
    void *job;
    int units, done;  /* done: units finished (written by the thread running it, under mu) */
    int64_t seq;      /* submit order across the stage (msg_fanout_wait_idle) */
} fjob_t;

typedef struct lane {
    struct lane *rr_next;   /* on the thread's round-robin list */
    struct lane *hash_next; /* in its bucket */
    fjob_t *head, *tail;    /* the key's jobs in submit order; never empty */
    uint32_t hash;
    char key[];
} lane_t;

typedef struct fthread {
    struct msg_fanout *f;
    lane_t *rr_head, *rr_tail; /* lanes waiting for a turn; mu */
    lane_t *running;           /* the lane taking its turn, or NULL; mu */
    lane_t **bucket;           /* BUCKETS chains of all its lanes; mu */
    pthread_cond_t cv;         /* signalled when a lane joins the list, and on stop */
    pthread_t tid;
    int started;
} fthread_t;

/* o is immutable after msg_fanout_new; mu guards everything else. */
struct msg_fanout {
    msg_fanout_opts_t o;
    fthread_t *t;
    pthread_mutex_t mu;
    pthread_cond_t room;  /* broadcast whenever a job is done, and on stop */
    int stopping, stopped;
    int64_t submitted;    /* seq of the latest job */
    msg_fanout_stats_t st;
};

static uint32_t fnv1a(const char *s)
{
    uint32_t h = 2166136261u;
    for (; s && *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

static lane_t **bucket_of(msg_fanout_t *f, fthread_t *t, uint32_t h)
{
    return &t->bucket[(h / (uint32_t)f->o.threads) % BUCKETS];
}

static void rr_append(fthread_t *t, lane_t *l)
{
    l->rr_next = NULL;
    if (t->rr_tail)
        t->rr_tail->rr_next = l;
    else
        t->rr_head = l;
    t->rr_tail = l;
}

static lane_t *rr_pop(fthread_t *t)
{
    lane_t *l = t->rr_head;
    t->rr_head = l->rr_next;
    if (!t->rr_head)
        t->rr_tail = NULL;
    l->rr_next = NULL;
    return l;
}

static void lane_remove(msg_fanout_t *f, fthread_t *t, lane_t *l)
{
    lane_t **pp = bucket_of(f, t, l->hash);
    while (*pp && *pp != l)
        pp = &(*pp)->hash_next;
    if (*pp)
        *pp = l->hash_next;
    free(l);
}

/* One turn of lane l (mu held on entry and exit). */
static void take_turn(msg_fanout_t *f, fthread_t *t, lane_t *l)
{
    fjob_t *j = l->head;
    int from = j->done;
    int to = j->units - from > f->o.chunk ? from + f->o.chunk : j->units;
    t->running = l;
    pthread_mutex_unlock(&f->mu);
    if (to > from)
        f->o.step(f->o.arg, j->job, from, to);
    if (to == j->units)
        f->o.done(f->o.arg, j->job);
    pthread_mutex_lock(&f->mu);
    t->running = NULL;
    j->done = to;
    f->st.units += to - from;
    f->st.turns += to > from;
    if (to == j->units) {
        l->head = j->next;
        if (!l->head)
            l->tail = NULL;
        free(j);
        f->st.jobs++;
        f->st.queued--;
        pthread_cond_broadcast(&f->room);
    }
    if (l->head)
        rr_append(t, l);
    else
        lane_remove(f, t, l);
}

static void *thread_main(void *arg)
{
    fthread_t *t = arg;
    msg_fanout_t *f = t->f;
    pthread_setname_np(pthread_self(), "msg-fanout"); /* top -H, perf */
    pthread_mutex_lock(&f->mu);
    for (;;) {
        while (!t->rr_head && !f->stopping)
            pthread_cond_wait(&t->cv, &f->mu);
        if (!t->rr_head)
            break; /* stopping and nothing left */
        take_turn(f, t, rr_pop(t));
    }
    pthread_mutex_unlock(&f->mu);
    if (f->o.thread_end)
        f->o.thread_end();
    return NULL;
}

int msg_fanout_new(const msg_fanout_opts_t *o, msg_fanout_t **out)
{
    *out = NULL;
    if (!o || o->threads < 1 || o->chunk < 1 || o->queue_max < 1 || !o->step || !o->done)
        return NT_EINVAL;
    msg_fanout_t *f = calloc(1, sizeof *f);
    if (!f)
        return NT_ENOMEM;
    f->o = *o;
    if (pthread_mutex_init(&f->mu, NULL) != 0) {
        free(f);
        return NT_ENOMEM;
    }
    if (pthread_cond_init(&f->room, NULL) != 0) {
        pthread_mutex_destroy(&f->mu);
        free(f);
        return NT_ENOMEM;
    }
    /* From here msg_fanout_free undoes whatever was made. */
    if (!(f->t = calloc((size_t)o->threads, sizeof *f->t)))
        goto fail;
    for (int i = 0; i < o->threads; i++) {
        fthread_t *t = &f->t[i];
        t->f = f;
        if (!(t->bucket = calloc(BUCKETS, sizeof *t->bucket)) ||
            pthread_cond_init(&t->cv, NULL) != 0) {
            free(t->bucket);
            t->bucket = NULL;
            goto fail;
        }
        if (pthread_create(&t->tid, NULL, thread_main, t) != 0)
            goto fail;
        t->started = 1;
    }
    *out = f;
    return NT_OK;
fail:
    log_error("cannot start fan-out threads", "threads=%d", o->threads);
    msg_fanout_free(f);
    return NT_ENOMEM;
}

int msg_fanout_submit(msg_fanout_t *f, const char *key, void *job, int units)
{
    uint32_t h = fnv1a(key);
    fthread_t *t = &f->t[h % (uint32_t)f->o.threads];
    fjob_t *j = calloc(1, sizeof *j);
    if (!j || units < 0) {
        free(j);
        return units < 0 ? NT_EINVAL : NT_ENOMEM;
    }
    j->job = job;
    j->units = units;
    pthread_mutex_lock(&f->mu);
    if (f->st.queued >= f->o.queue_max && !f->stopping)
        f->st.waits++;
    while (f->st.queued >= f->o.queue_max && !f->stopping)
        pthread_cond_wait(&f->room, &f->mu);
    lane_t *l = *bucket_of(f, t, h);
    while (l && (l->hash != h || strcmp(l->key, key) != 0))
        l = l->hash_next;
    if (!l && !f->stopping && (l = calloc(1, sizeof *l + strlen(key) + 1))) {
        l->hash = h;
        strcpy(l->key, key);
        l->hash_next = *bucket_of(f, t, h);
        *bucket_of(f, t, h) = l;
        rr_append(t, l);
        pthread_cond_signal(&t->cv);
    }
    if (f->stopping || !l) {
        int rc = f->stopping ? NT_EUNAVAIL : NT_ENOMEM;
        pthread_mutex_unlock(&f->mu);
        free(j);
        return rc;
    }
    /* l is on the list or running; either way it will reach j in turn. */
    if (l->tail)
        l->tail->next = j;
    else
        l->head = j;
    l->tail = j;
    j->seq = ++f->submitted;
    f->st.queued++;
    pthread_mutex_unlock(&f->mu);
    return NT_OK;
}

/* The seq of the oldest job not done (mu held); INT64_MAX if none.  A
 * lane's oldest job is its head. */
static int64_t oldest_pending(msg_fanout_t *f)
{
    int64_t min = INT64_MAX;
    for (int i = 0; i < f->o.threads; i++) {
        fthread_t *t = &f->t[i];
        if (t->running && t->running->head->seq < min)
            min = t->running->head->seq;
        for (lane_t *l = t->rr_head; l; l = l->rr_next)
            if (l->head->seq < min)
                min = l->head->seq;
    }
    return min;
}

void msg_fanout_wait_idle(msg_fanout_t *f)
{
    pthread_mutex_lock(&f->mu);
    int64_t upto = f->submitted;
    while (oldest_pending(f) <= upto)
        pthread_cond_wait(&f->room, &f->mu);
    pthread_mutex_unlock(&f->mu);
}

void msg_fanout_stop(msg_fanout_t *f)
{
    if (!f)
        return;
    pthread_mutex_lock(&f->mu);
    int first = !f->stopped;
    f->stopping = f->stopped = 1;
    for (int i = 0; f->t && i < f->o.threads; i++)
        if (f->t[i].bucket)
            pthread_cond_signal(&f->t[i].cv);
    pthread_cond_broadcast(&f->room);
    pthread_mutex_unlock(&f->mu);
    for (int i = 0; first && f->t && i < f->o.threads; i++)
        if (f->t[i].started) {
            pthread_join(f->t[i].tid, NULL);
            f->t[i].started = 0;
        }
}

void msg_fanout_free(msg_fanout_t *f)
{
    if (!f)
        return;
    msg_fanout_stop(f);
    for (int i = 0; f->t && i < f->o.threads; i++) {
        if (f->t[i].bucket) { /* threads finished every lane: nothing is left */
            pthread_cond_destroy(&f->t[i].cv);
            free(f->t[i].bucket);
        }
    }
    free(f->t);
    pthread_cond_destroy(&f->room);
    pthread_mutex_destroy(&f->mu);
    free(f);
}

void msg_fanout_stats(msg_fanout_t *f, msg_fanout_stats_t *out)
{
    pthread_mutex_lock(&f->mu);
    *out = f->st;
    pthread_mutex_unlock(&f->mu);
}
