/*
 * msg_commit.c - how a send worker stores a batch: from the state it owns
 * when it can, through the full group commit when it must
 * (docs/design.md "Conversations and messages", msg_state.h).
 *
 * The owner's path: every conversation of the batch is held in memory
 * (msg_state.h), every sender is a member there, every mention too, no
 * item is an image or file message (their file check needs the store) and
 * no key is in the recent-keys window or repeated in the batch.  Then the
 * worker assigns the seqs itself and msg_append writes (fenced UPDATE,
 * INSERT, COMMIT) in one round trip on the worker's own connection.
 *
 * Everything else, and everything after a conflict, goes the full way:
 * msg_send_batch (store/msg_batch_store.h) locks the conversations, reads
 * members and keys, answers retries and refusals, and its result reloads
 * the state.  A conflict means another writer moved a conversation (the
 * previous owner while ownership moves, a group change's system message,
 * a retry stored by someone else): nothing was written, the entries are
 * dropped and the same batch is stored the full way, which sees what the
 * other writer committed.  So a stale state costs one rolled-back
 * statement, never a gap, a duplicate or a wrong answer.
 */
#include "actors/msg_pool.h"

#include "common/err.h"
#include "common/log.h"
#include "store/media_store.h"
#include "store/msg_append.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEND_ATTEMPTS 3  /* tries of the full path before a batch gets unavailable */

typedef struct fast {
    int64_t *cid, *sender;
    uint64_t *key;
    msg_conv_state_t **st;
    int *order;              /* items by (cid, arrival) */
    msg_rec_t **recs;        /* in that order */
    msg_append_conv_t *convs;
    int nconvs;
} fast_t;

static void fast_free(fast_t *f)
{
    free(f->cid);
    free(f->sender);
    free(f->key);
    free(f->st);
    free(f->order);
    free(f->recs);
    free(f->convs);
}

static int by_cid(const void *a, const void *b, void *arg)
{
    const int64_t *cid = arg;
    int i = *(const int *)a, j = *(const int *)b;
    if (cid[i] != cid[j])
        return cid[i] < cid[j] ? -1 : 1;
    return i - j;
}

/* 1 if every item of v can be stored from the state alone. */
static int fast_eligible(msg_state_t *s, const msg_send_item_t *v, int n, fast_t *f)
{
    for (int i = 0; i < n; i++) {
        if (db_parse_id(v[i].cid, &f->cid[i]) != NT_OK ||
            db_parse_id(v[i].sender, &f->sender[i]) != NT_OK || media_msg_type(v[i].type) ||
            v[i].n_mentions > MSG_MENTIONS_MAX)
            return 0;
        msg_conv_state_t *st = f->st[i] = msg_state_get(s, f->cid[i]);
        if (!st || !conv_member_role(&st->conv, v[i].sender))
            return 0;
        for (int k = 0; k < v[i].n_mentions; k++)
            if (!conv_member_role(&st->conv, v[i].mentions[k]))
                return 0;
        f->key[i] = msg_state_key(f->sender[i], v[i].client_msg_id);
        if (msg_state_key_seen(st, f->key[i]))
            return 0; /* a retry (or a hash collision): the full path answers it */
        for (int j = 0; j < i; j++)
            if (f->key[j] == f->key[i])
                return 0;
    }
    return 1;
}

/* Seqs and records in (cid, arrival) order; the conversations' fences. */
static int fast_fill(msg_send_item_t *v, int n, fast_t *f, int64_t now)
{
    for (int i = 0; i < n; i++)
        f->order[i] = i;
    qsort_r(f->order, (size_t)n, sizeof *f->order, by_cid, f->cid);
    for (int k = 0; k < n; k++) {
        int i = f->order[k];
        msg_conv_state_t *st = f->st[i];
        if (f->nconvs == 0 || f->convs[f->nconvs - 1].cid != f->cid[i])
            f->convs[f->nconvs++] = (msg_append_conv_t){f->cid[i], st->conv.last_seq,
                                                        st->conv.last_seq};
        msg_append_conv_t *c = &f->convs[f->nconvs - 1];
        msg_send_item_t *it = &v[i];
        msg_rec_t *m = &it->msg;
        memset(m, 0, sizeof *m);
        it->rc = NT_OK;
        it->err = NULL;
        it->duplicate = 0;
        it->conv = f->nconvs - 1;
        m->seq = ++c->last;
        snprintf(m->conversation_id, sizeof m->conversation_id, "%lld", (long long)f->cid[i]);
        snprintf(m->sender_id, sizeof m->sender_id, "%lld", (long long)f->sender[i]);
        db_copy(m->client_msg_id, sizeof m->client_msg_id, it->client_msg_id);
        db_copy(m->type, sizeof m->type, it->type);
        m->created_at = now;
        if (!(m->body = strdup(it->body)) ||
            msg_mentions_set(m, it->mentions, it->n_mentions) != NT_OK)
            return NT_ENOMEM;
        f->recs[k] = m;
    }
    return NT_OK;
}

/* The conversations of a stored fast batch, for the fan-out (copies: the
 * state may change before the pushes are out). */
static int fast_convs(const fast_t *f, conv_rec_t **out, int *nout)
{
    conv_rec_t *c = calloc((size_t)f->nconvs, sizeof *c);
    if (!c)
        return NT_ENOMEM;
    for (int k = 0, j = 0; j < f->nconvs; k++) {
        int i = f->order[k];
        if (f->cid[i] != f->convs[j].cid)
            continue;
        if (conv_rec_copy(&c[j], &f->st[i]->conv) != NT_OK) {
            conv_recs_free(c, j);
            return NT_ENOMEM;
        }
        c[j].last_seq = f->convs[j].last;
        j++;
    }
    *out = c;
    *nout = f->nconvs;
    return NT_OK;
}

/* The owner's path.  NT_OK: stored, the outcome in v; NT_ECONFLICT: not
 * stored (not eligible, or refused by the store), go the full way. */
static int try_fast(msg_worker_t *w, msg_send_item_t *v, int n, conv_rec_t **convs,
                    int *nconvs, int *stmts)
{
    fast_t f = {0};
    size_t un = (size_t)n;
    int rc = NT_ECONFLICT;
    f.cid = calloc(un, sizeof *f.cid);
    f.sender = calloc(un, sizeof *f.sender);
    f.key = calloc(un, sizeof *f.key);
    f.st = calloc(un, sizeof *f.st);
    f.order = calloc(un, sizeof *f.order);
    f.recs = calloc(un, sizeof *f.recs);
    f.convs = calloc(un, sizeof *f.convs);
    if (!f.cid || !f.sender || !f.key || !f.st || !f.order || !f.recs || !f.convs ||
        !fast_eligible(w->state, v, n, &f))
        goto out;
    int64_t now = db_now_ms();
    if ((rc = fast_fill(v, n, &f, now)) != NT_OK)
        goto undo;
    rc = msg_append(w->conn, f.recs, n, f.convs, f.nconvs, now, stmts);
    if (rc == NT_OK && (rc = fast_convs(&f, convs, nconvs)) != NT_OK) {
        /* Stored, but we cannot describe it: the full path answers the
         * items as duplicates. */
        msg_send_items_fini(v, n);
        for (int j = 0; j < f.nconvs; j++)
            msg_state_drop(w->state, f.convs[j].cid);
        rc = NT_ECONFLICT;
        goto out;
    }
    if (rc == NT_OK) {
        for (int k = 0; k < n; k++)
            msg_state_key_add(f.st[k], f.key[k]);
        for (int j = 0, k = 0; j < f.nconvs; k++) {
            int i = f.order[k];
            if (f.cid[i] == f.convs[j].cid)
                f.st[i]->conv.last_seq = f.convs[j++].last;
        }
        goto out;
    }
    if (rc != NT_ECONFLICT) /* lost connection, lock wait, unknown COMMIT */
        db_conn_broken(w->conn);
    w->conflicts++;
    for (int j = 0; j < f.nconvs; j++)
        msg_state_drop(w->state, f.convs[j].cid);
undo:
    msg_send_items_fini(v, n);
    rc = NT_ECONFLICT;
out:
    fast_free(&f);
    return rc;
}

/* After the full path committed: the state is what it saw. */
static void reload(msg_worker_t *w, const msg_send_item_t *v, int n, conv_rec_t *convs,
                   int nconvs)
{
    for (int j = 0; j < nconvs; j++) {
        int64_t cid;
        if (db_parse_id(convs[j].id, &cid) != NT_OK ||
            msg_state_put(w->state, cid, &convs[j], NULL) != NT_OK)
            continue;
    }
    for (int i = 0; i < n; i++) {
        int64_t cid, sender;
        if (v[i].rc != NT_OK || db_parse_id(v[i].cid, &cid) != NT_OK ||
            db_parse_id(v[i].sender, &sender) != NT_OK)
            continue;
        msg_conv_state_t *st = msg_state_get(w->state, cid);
        uint64_t h = msg_state_key(sender, v[i].client_msg_id);
        if (st && !msg_state_key_seen(st, h))
            msg_state_key_add(st, h);
    }
}

static void forget(msg_worker_t *w, const msg_send_item_t *v, int n)
{
    for (int i = 0; i < n; i++) {
        int64_t cid;
        if (db_parse_id(v[i].cid, &cid) == NT_OK)
            msg_state_drop(w->state, cid);
    }
}

/* The full path, with a bounded number of attempts for transient failures
 * (deadlock, lock wait timeout, lost connection, or a COMMIT of unknown
 * outcome: the retry answers what did commit as duplicates). */
static int full(msg_worker_t *w, msg_send_item_t *v, int n, conv_rec_t **convs, int *nconvs,
                int *attempts)
{
    int rc = NT_EUNAVAIL;
    for (*attempts = 1; *attempts <= SEND_ATTEMPTS; (*attempts)++) {
        if (*attempts > 1) {
            log_warn("send batch retry", "size=%d attempt=%d err=\"%s\"", n, *attempts,
                     nt_strerror(rc));
            struct timespec ts = {0, (long)(*attempts - 1) * 5000000L}; /* 5 ms, 10 ms */
            nanosleep(&ts, NULL);
        }
        MYSQL *db = NULL;
        if ((rc = db_conn_handle(w->conn, &db)) != NT_OK)
            continue;
        rc = msg_send_batch(db, v, n, convs, nconvs);
        if (db_is_broken(rc))
            db_conn_broken(w->conn);
        if (rc != NT_EUNAVAIL && rc != NT_ECONFLICT)
            break; /* done, or an error a retry would not cure */
    }
    if (*attempts > SEND_ATTEMPTS)
        *attempts = SEND_ATTEMPTS;
    return rc;
}

int msg_commit(msg_pool_t *p, int worker, msg_send_item_t *v, int n, conv_rec_t **convs,
               int *nconvs, msg_commit_info_t *info)
{
    msg_worker_t *w = &p->workers[worker];
    *info = (msg_commit_info_t){0};
    msg_state_apply(w->state);
    int stmts = 0;
    int rc = try_fast(w, v, n, convs, nconvs, &stmts);
    info->statements = stmts;
    if (rc == NT_OK) {
        info->fast = 1;
        info->attempts = 1;
        w->fast++;
    } else {
        rc = full(w, v, n, convs, nconvs, &info->attempts);
        if (rc == NT_OK)
            reload(w, v, n, *convs, *nconvs);
        else
            forget(w, v, n);
        w->full++;
    }
    w->statements += info->statements;
    return rc;
}
