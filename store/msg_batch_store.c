/*
 * msg_batch_store.c - the group-commit transaction (msg_batch_store.h).
 *
 * One batch, whatever its size, is a fixed number of statements (each a
 * bulk step of conv_store or msg_store):
 *   0. SET TRANSACTION ISOLATION LEVEL READ COMMITTED; START TRANSACTION
 *   1. conv_lock_many: SELECT ... FOR UPDATE every conversation of the
 *      batch in one statement (row locks taken in id order: no lock-order
 *      deadlock with another process's batch), then their members.
 *   2. conv_members_check: which senders are members.
 *   3. msg_find_keys: which (cid, sender, client_msg_id) keys are stored
 *      already.  A hit is a retry: the original, no write.  Then
 *      conv_members_check again for the users the new items mention (a
 *      mention of a non-member fails its item only), and media_check_refs
 *      for the files that image and file messages name (one the sender
 *      did not upload, or one without a thumbnail in an image message,
 *      fails its item; a batch without such messages skips the query).
 *   4. seqs are assigned here, last_seq + 1, + 2, ... per conversation in
 *      arrival order; a key repeated within the batch is written once.
 *   5. msg_insert_many (one multi-row INSERT, and the new ids),
 *      media_link_msgs (the conversation_files rows of image and file
 *      messages), then conv_advance_many (every last_seq in one UPDATE);
 *      COMMIT.
 * READ COMMITTED matters: under REPEATABLE READ the plain reads of steps
 * 2-3 would see a snapshot taken before we got every lock, and could miss
 * a key another process committed while we waited for its conversation;
 * here each statement sees everything committed before it, and the locks
 * we hold mean nobody else writes these conversations until we commit.  It
 * also takes no gap locks for absent rows.  Any error rolls back, so a seq
 * is used only by a committed message.
 */
#include "store/msg_batch_store.h"

#include "common/err.h"
#include "store/db.h"
#include "store/media_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What the transaction learns about one item. */
typedef struct item_state {
    int64_t cid, sender;     /* parsed ids */
    int stored;              /* the key is in the table already */
    int dup_of;              /* earlier item of the batch with the same key, or -1 */
} item_state_t;

/* Per-call state.  it, order and the scratch arrays have n entries; convs
 * as many as there are distinct cids (nids). */
typedef struct batch {
    msg_send_item_t *v;
    int n;
    item_state_t *it;
    int *order;              /* items with good ids, by (cid, arrival) */
    int norder;
    int64_t *ids;            /* distinct cids, ascending */
    int nids;
    conv_rec_t *convs;       /* the locked ones, ascending by id */
    int nconvs;
    int64_t now;
} batch_t;

void msg_send_items_fini(msg_send_item_t *v, int n)
{
    for (int i = 0; v && i < n; i++)
        msg_rec_fini(&v[i].msg);
}

static int by_cid_then_arrival(const void *a, const void *b, void *arg)
{
    const item_state_t *it = arg;
    int i = *(const int *)a, j = *(const int *)b;
    if (it[i].cid != it[j].cid)
        return it[i].cid < it[j].cid ? -1 : 1;
    return i - j;
}

/* Index in convs of conversation cid, or -1. */
static int conv_index(const batch_t *b, int64_t cid)
{
    int lo = 0, hi = b->nconvs - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int64_t id = db_col_i64(b->convs[mid].id);
        if (id == cid)
            return mid;
        if (id < cid)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

#define MENTION_PAIRS_MAX 8000 /* pairs per membership check: 2 params each */

/* Step 3b: a new item mentioning a non-member fails with NT_EINVAL.  The
 * (cid, mentioned uid) pairs are checked like the senders, in chunks so a
 * batch of many mentions stays under the 65535 parameters of a statement. */
static int check_mentions(MYSQL *db, batch_t *b)
{
    /* Arrays sized by what the batch mentions: most batches mention
     * nobody, and ~190 KB of calloc/free per batch made glibc hand memory
     * back to the kernel (madvise) on every batch. */
    size_t pairs = 0;
    for (int k = 0; k < b->n; k++)
        if (b->v[k].rc == NT_OK && !b->it[k].stored && b->v[k].n_mentions <= MSG_MENTIONS_MAX)
            pairs += (size_t)b->v[k].n_mentions;
    if (pairs == 0) {
        for (int k = 0; k < b->n; k++) /* too many mentions: refused without a query */
            if (b->v[k].rc == NT_OK && !b->it[k].stored && b->v[k].n_mentions > MSG_MENTIONS_MAX) {
                b->v[k].rc = NT_EINVAL;
                b->v[k].err = "mentions must be members of the conversation";
            }
        return NT_OK;
    }
    if (pairs > MENTION_PAIRS_MAX)
        pairs = MENTION_PAIRS_MAX; /* the loop below goes in rounds of at most this */
    int64_t *cids = calloc(pairs, sizeof *cids);
    int64_t *uids = calloc(pairs, sizeof *uids);
    int *item = calloc(pairs, sizeof *item);
    int *member = calloc(pairs, sizeof *member);
    int rc = cids && uids && item && member ? NT_OK : NT_ENOMEM;
    int i = 0;
    while (rc == NT_OK && i < b->n) {
        int m = 0;
        for (; i < b->n && m + MSG_MENTIONS_MAX <= MENTION_PAIRS_MAX; i++) {
            msg_send_item_t *v = &b->v[i];
            if (v->rc != NT_OK || b->it[i].stored)
                continue; /* a retry answers the original, whoever is a member now */
            if (v->n_mentions > MSG_MENTIONS_MAX)
                v->rc = NT_EINVAL;
            for (int j = 0; v->rc == NT_OK && j < v->n_mentions; j++) {
                int64_t u;
                if (db_parse_id(v->mentions[j], &u) != NT_OK) {
                    v->rc = NT_EINVAL;
                    break;
                }
                cids[m] = b->it[i].cid;
                uids[m] = u;
                item[m++] = i;
            }
        }
        if (m > 0 && (rc = conv_members_check(db, cids, uids, m, member)) == NT_OK)
            for (int k = 0; k < m; k++)
                if (!member[k])
                    b->v[item[k]].rc = NT_EINVAL;
    }
    for (i = 0; i < b->n; i++)
        if (b->v[i].rc == NT_EINVAL)
            b->v[i].err = "mentions must be members of the conversation";
    free(cids);
    free(uids);
    free(item);
    free(member);
    return rc;
}

/* Step 3c: an image or file message must name a file its sender uploaded
 * (for an image, one with a thumbnail); else its item fails with NT_EINVAL. */
static int check_files(MYSQL *db, batch_t *b)
{
    size_t want = 0; /* most batches carry no image or file: no allocation then */
    for (int i = 0; i < b->n; i++)
        want += b->v[i].rc == NT_OK && !b->it[i].stored && media_msg_type(b->v[i].type);
    if (want == 0)
        return NT_OK;
    media_ref_t *refs = calloc(want, sizeof *refs);
    int *item = calloc(want, sizeof *item), m = 0;
    int rc = refs && item ? NT_OK : NT_ENOMEM;
    for (int i = 0; rc == NT_OK && i < b->n; i++) {
        msg_send_item_t *v = &b->v[i];
        if (v->rc != NT_OK || b->it[i].stored || !media_msg_type(v->type))
            continue; /* a retry answers the original */
        refs[m] = (media_ref_t){v->body, b->it[i].sender, strcmp(v->type, "image") == 0, NULL};
        item[m++] = i;
    }
    if (rc == NT_OK && (rc = media_check_refs(db, refs, m)) == NT_OK)
        for (int k = 0; k < m; k++)
            if (refs[k].err) {
                b->v[item[k]].rc = NT_EINVAL;
                b->v[item[k]].err = refs[k].err;
            }
    free(refs);
    free(item);
    return rc;
}

/* Parse ids, fail the malformed, sort the rest, list the distinct cids. */
static void prepare(batch_t *b)
{
    for (int i = 0; i < b->n; i++) {
        msg_send_item_t *v = &b->v[i];
        memset(&v->msg, 0, sizeof v->msg);
        v->rc = NT_OK;
        v->err = NULL;
        v->duplicate = 0;
        v->conv = -1;
        b->it[i].dup_of = -1;
        if (db_parse_id(v->cid, &b->it[i].cid) != NT_OK)
            v->rc = NT_ENOTFOUND;
        else if (db_parse_id(v->sender, &b->it[i].sender) != NT_OK)
            v->rc = NT_EFORBIDDEN;
        else
            b->order[b->norder++] = i;
    }
    qsort_r(b->order, (size_t)b->norder, sizeof *b->order, by_cid_then_arrival, b->it);
    for (int k = 0; k < b->norder; k++) {
        int64_t c = b->it[b->order[k]].cid;
        if (b->nids == 0 || b->ids[b->nids - 1] != c)
            b->ids[b->nids++] = c;
    }
}

/* Steps 1-2: lock, then fail the items of absent conversations
 * (NT_ENOTFOUND) and of outsiders (NT_EFORBIDDEN). */
static int lock_and_check(MYSQL *db, batch_t *b, int64_t *cids, int64_t *uids, int *member)
{
    int rc = conv_lock_many(db, b->ids, b->nids, b->convs, &b->nconvs);
    if (rc != NT_OK)
        return rc;
    int m = 0;
    for (int k = 0; k < b->norder; k++) {
        int i = b->order[k];
        if ((b->v[i].conv = conv_index(b, b->it[i].cid)) < 0) {
            b->v[i].rc = NT_ENOTFOUND;
            continue;
        }
        cids[m] = b->it[i].cid;
        uids[m++] = b->it[i].sender;
    }
    if ((rc = conv_members_check(db, cids, uids, m, member)) != NT_OK)
        return rc;
    m = 0;
    for (int k = 0; k < b->norder; k++) {
        int i = b->order[k];
        if (b->v[i].rc != NT_OK)
            continue;
        if (!member[m++])
            b->v[i].rc = NT_EFORBIDDEN;
    }
    return NT_OK;
}

/* msg_found_fn of step 3: every item with m's key gets a copy of m. */
static int key_found(void *arg, const msg_rec_t *m)
{
    batch_t *b = arg;
    int64_t c = db_col_i64(m->conversation_id), s = db_col_i64(m->sender_id);
    for (int i = 0; i < b->n; i++) {
        msg_send_item_t *v = &b->v[i];
        if (v->rc != NT_OK || b->it[i].stored || b->it[i].cid != c || b->it[i].sender != s ||
            strcmp(v->client_msg_id, m->client_msg_id) != 0)
            continue;
        b->it[i].stored = 1;
        v->duplicate = 1;
        if (msg_rec_copy(&v->msg, m) != NT_OK)
            return NT_ENOMEM;
    }
    return NT_OK;
}

static int find_stored(MYSQL *db, batch_t *b, msg_key_t *keys)
{
    int m = 0;
    for (int i = 0; i < b->n; i++)
        if (b->v[i].rc == NT_OK)
            keys[m++] = (msg_key_t){b->it[i].cid, b->it[i].sender, b->v[i].client_msg_id};
    return msg_find_keys(db, keys, m, key_found, b);
}

/* Step 4: seqs for the new keys, in arrival order per conversation.  The
 * records to insert go to fresh (sorted by conversation, then seq). */
static int assign_seqs(batch_t *b, msg_rec_t **fresh, int *nfresh)
{
    *nfresh = 0;
    for (int k = 0; k < b->norder; k++) {
        int i = b->order[k];
        msg_send_item_t *v = &b->v[i];
        if (v->rc != NT_OK || b->it[i].stored)
            continue;
        for (int q = k - 1; q >= 0 && b->it[b->order[q]].cid == b->it[i].cid; q--) {
            int j = b->order[q];
            if (b->v[j].rc == NT_OK && !b->it[j].stored && b->it[j].dup_of < 0 &&
                b->it[j].sender == b->it[i].sender &&
                strcmp(b->v[j].client_msg_id, v->client_msg_id) == 0) {
                b->it[i].dup_of = j;
                break;
            }
        }
        if (b->it[i].dup_of >= 0)
            continue;
        msg_rec_t *m = &v->msg;
        m->seq = ++b->convs[v->conv].last_seq;
        snprintf(m->conversation_id, sizeof m->conversation_id, "%s", b->convs[v->conv].id);
        snprintf(m->sender_id, sizeof m->sender_id, "%lld", (long long)b->it[i].sender);
        db_copy(m->client_msg_id, sizeof m->client_msg_id, v->client_msg_id);
        db_copy(m->type, sizeof m->type, v->type);
        m->created_at = b->now;
        if (!(m->body = strdup(v->body)))
            return NT_ENOMEM;
        if (msg_mentions_set(m, v->mentions, v->n_mentions) != NT_OK)
            return NT_ENOMEM;
        fresh[(*nfresh)++] = m;
    }
    return NT_OK;
}

/* Step 5: write, then advance the conversations that got messages. */
static int write_fresh(MYSQL *db, batch_t *b, msg_rec_t **fresh, int nfresh, int64_t *cids,
                       int64_t *last)
{
    int rc = msg_insert_many(db, fresh, nfresh), m = 0;
    if (rc == NT_OK)
        rc = media_link_msgs(db, fresh, nfresh);
    for (int k = 0; rc == NT_OK && k < nfresh; k++) {
        int64_t cid = db_col_i64(fresh[k]->conversation_id);
        if (m > 0 && cids[m - 1] == cid)
            continue; /* fresh is sorted by conversation */
        int c = conv_index(b, cid);
        if (c < 0)
            return NT_EINTERNAL;
        cids[m] = cid;
        last[m++] = b->convs[c].last_seq;
    }
    return rc == NT_OK ? conv_advance_many(db, cids, last, m, b->now) : rc;
}

/* Steps 0-5 and COMMIT; rolls back on failure. */
static int run(MYSQL *db, batch_t *b)
{
    size_t un = (size_t)b->n;
    int64_t *s1 = calloc(un, sizeof *s1), *s2 = calloc(un, sizeof *s2);
    int *member = calloc(un, sizeof *member), nfresh = 0;
    msg_key_t *keys = calloc(un, sizeof *keys);
    msg_rec_t **fresh = calloc(un, sizeof *fresh);
    int rc = NT_ENOMEM;
    if (!s1 || !s2 || !member || !keys || !fresh)
        goto out;
    if ((rc = db_begin_read_committed(db)) != NT_OK)
        goto out;
    if ((rc = lock_and_check(db, b, s1, s2, member)) != NT_OK ||
        (rc = find_stored(db, b, keys)) != NT_OK || (rc = check_mentions(db, b)) != NT_OK ||
        (rc = check_files(db, b)) != NT_OK ||
        (rc = assign_seqs(b, fresh, &nfresh)) != NT_OK ||
        (nfresh > 0 && (rc = write_fresh(db, b, fresh, nfresh, s1, s2)) != NT_OK)) {
        db_rollback(db);
        goto out;
    }
    rc = db_commit(db);
out:
    free(s1);
    free(s2);
    free(member);
    free(keys);
    free(fresh);
    return rc;
}

/* After COMMIT: repeats within the batch answer like retries. */
static int fill_repeats(batch_t *b)
{
    for (int i = 0; i < b->n; i++) {
        int j = b->it[i].dup_of;
        if (j < 0 || b->v[i].rc != NT_OK)
            continue;
        b->v[i].duplicate = 1;
        if (msg_rec_copy(&b->v[i].msg, &b->v[j].msg) != NT_OK)
            return NT_ENOMEM;
    }
    return NT_OK;
}

int msg_send_batch(MYSQL *db, msg_send_item_t *v, int n, conv_rec_t **convs, int *nconvs)
{
    *convs = NULL;
    *nconvs = 0;
    if (n < 1 || n > MSG_BATCH_MAX)
        return NT_EINVAL;
    batch_t b = {.v = v, .n = n, .now = db_now_ms()};
    b.it = calloc((size_t)n, sizeof *b.it);
    b.order = calloc((size_t)n, sizeof *b.order);
    b.ids = calloc((size_t)n, sizeof *b.ids);
    int rc = NT_ENOMEM;
    if (!b.it || !b.order || !b.ids)
        goto out;
    prepare(&b);
    if (b.nids > 0 && !(b.convs = calloc((size_t)b.nids, sizeof *b.convs)))
        goto out;
    if ((b.nids > 0 && (rc = run(db, &b)) != NT_OK) || (rc = fill_repeats(&b)) != NT_OK)
        goto out;
    *convs = b.convs;
    *nconvs = b.nconvs;
    b.convs = NULL;
out:
    if (rc != NT_OK)
        msg_send_items_fini(v, n);
    conv_recs_free(b.convs, b.nconvs);
    free(b.it);
    free(b.order);
    free(b.ids);
    return rc;
}
