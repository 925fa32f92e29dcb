/*
 * auth_prune.c - the refresh-token pruning thread (auth_prune.h).
 *
 * One round deletes in chunks of PRUNE_CHUNK rows until a chunk comes back
 * short, so a large backlog (a first run on an old database) is cleared in
 * one round without one long transaction.  The thread sleeps on a
 * condition variable so auth_prune_stop wakes it at once.
 */
#include "actors/auth_prune.h"

#include "common/err.h"
#include "common/log.h"
#include "store/session_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define PRUNE_CHUNK 5000
#define PRUNE_CHUNKS_MAX 1000 /* per round: 5M rows, then the next round goes on */

struct auth_prune {
    db_pool_t *db;
    int interval_s, margin_s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping; /* mu */
    pthread_t tid;
};

static void prune_round(auth_prune_t *p)
{
    MYSQL *db = NULL;
    if (db_acquire(p->db, 5000, &db) != NT_OK) {
        log_warn("refresh token prune skipped", "err=\"no database connection\"");
        return;
    }
    int64_t before = (int64_t)time(NULL) - p->margin_s;
    uint64_t total = 0, n = 0;
    int rc = NT_OK;
    for (int i = 0; i < PRUNE_CHUNKS_MAX; i++) {
        rc = session_prune(db, before, PRUNE_CHUNK, &n);
        if (rc != NT_OK)
            break;
        total += n;
        if (n < PRUNE_CHUNK)
            break;
    }
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK)
        log_warn("refresh token prune failed", "deleted=%llu err=\"%s\"",
                 (unsigned long long)total, nt_strerror(rc));
    else
        log_info("refresh tokens pruned", "deleted=%llu expired_before=%lld",
                 (unsigned long long)total, (long long)before);
}

static void *prune_main(void *arg)
{
    auth_prune_t *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += p->interval_s;
        int rc = 0;
        while (!p->stopping && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&p->cv, &p->mu, &until);
        if (p->stopping)
            break;
        pthread_mutex_unlock(&p->mu);
        prune_round(p);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    db_thread_end();
    return NULL;
}

int auth_prune_start(db_pool_t *db, int interval_s, int margin_s, auth_prune_t **out)
{
    *out = NULL;
    if (interval_s <= 0)
        return NT_OK;
    auth_prune_t *p = calloc(1, sizeof *p);
    if (!p)
        return NT_ENOMEM;
    p->db = db;
    p->interval_s = interval_s;
    p->margin_s = margin_s;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->mu, NULL);
    int ok = pthread_cond_init(&p->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok || pthread_create(&p->tid, NULL, prune_main, p) != 0) {
        if (ok)
            pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NT_ENOMEM;
    }
    *out = p;
    return NT_OK;
}

void auth_prune_stop(auth_prune_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->tid, NULL);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
