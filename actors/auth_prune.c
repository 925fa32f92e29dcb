/*
 * auth_prune.c - the refresh-token pruning thread (auth_prune.h).
 *
 * One round deletes in chunks of PRUNE_CHUNK rows until a chunk comes back
 * short, so a large backlog (a first run on an old database) is cleared in
 * one round without one long transaction.  The thread sleeps on a
 * stopper (common/stopper.h) so auth_prune_stop wakes it at once.
 */
#include "actors/auth_prune.h"

#include "common/err.h"
#include "common/log.h"
#include "common/stopper.h"
#include "store/session_store.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#define PRUNE_CHUNK 5000
#define PRUNE_CHUNKS_MAX 1000 /* per round: 5M rows, then the next round goes on */

struct auth_prune {
    db_pool_t *db;
    int interval_s, margin_s;
    stopper_t stopper;
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
    while (!stopper_sleep_ms(&p->stopper, (long)p->interval_s * 1000))
        prune_round(p);
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
    if (stopper_init(&p->stopper) != NT_OK) {
        free(p);
        return NT_EINTERNAL;
    }
    if (pthread_create(&p->tid, NULL, prune_main, p) != 0) {
        stopper_fini(&p->stopper);
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
    stopper_stop(&p->stopper);
    pthread_join(p->tid, NULL);
    stopper_fini(&p->stopper);
    free(p);
}
