/*
 * msg_store.c - the messages table (msg_store.h): pages, read positions,
 * and the bulk statements of the group commit.  Which messages to write,
 * and the locking that makes their seqs safe, is msg_batch_store.c; here
 * are only the statements, each one round trip for a whole batch: an
 * OR-list of point reads on the unique key, a multi-row INSERT, an
 * OR-list of point reads on the primary key for the new ids.
 */
#include "store/msg_store.h"

#include "common/err.h"
#include "store/conv_store.h"
#include "store/db.h"
#include "store/media_store.h"
#include "store/sqlb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void msg_rec_fini(msg_rec_t *m)
{
    if (!m)
        return;
    free(m->body);
    m->body = NULL;
    free(m->mentions);
    m->mentions = NULL;
    m->n_mentions = 0;
}

void msg_recs_free(msg_rec_t *v, int n)
{
    for (int i = 0; v && i < n; i++)
        msg_rec_fini(&v[i]);
    free(v);
}

#define MSG_COLS                                                                              \
    "conversation_id, seq, id, sender_id, client_msg_id, type, body, created_at, revoked,"  \
    " mentions"
#define MSG_NCOLS 10
#define MSG_INSERT_BYTES (1024 * 1024) /* body bytes per INSERT: well under max_allowed_packet */

/* Fill *m from the MSG_COLS columns; NT_ENOMEM if the body cannot be copied. */
static int msg_rec_from_row(msg_rec_t *m, char **cols, unsigned long *lens)
{
    memset(m, 0, sizeof *m);
    db_copy(m->conversation_id, sizeof m->conversation_id, cols[0]);
    m->seq = db_col_i64(cols[1]);
    db_copy(m->id, sizeof m->id, cols[2]);
    db_copy(m->sender_id, sizeof m->sender_id, cols[3]);
    db_copy(m->client_msg_id, sizeof m->client_msg_id, cols[4]);
    db_copy(m->type, sizeof m->type, cols[5]);
    size_t blen = cols[6] ? lens[6] : 0;
    if (!(m->body = malloc(blen + 1)))
        return NT_ENOMEM;
    if (blen)
        memcpy(m->body, cols[6], blen);
    m->body[blen] = '\0';
    m->created_at = db_col_i64(cols[7]);
    m->revoked = db_col_i64(cols[8]) != 0;
    return msg_mentions_parse(m, cols[9]);
}

static int one_msg(void *arg, int ncols, char **cols, unsigned long *lens)
{
    if (ncols < MSG_NCOLS)
        return NT_EINTERNAL;
    int rc = msg_rec_from_row(arg, cols, lens);
    return rc != NT_OK ? rc : 1;
}

int msg_get_seq(MYSQL *db, int64_t cid, int64_t seq, msg_rec_t *out)
{
    int rows = 0;
    db_param_t p[] = {DB_P_I64(cid), DB_P_I64(seq)};
    memset(out, 0, sizeof *out);
    int rc = db_query(db, "SELECT " MSG_COLS " FROM messages WHERE conversation_id = ? AND seq = ?",
                      p, 2, one_msg, out, 1, &rows);
    if (rc != NT_OK) {
        msg_rec_fini(out);
        return rc;
    }
    return rows == 1 ? NT_OK : NT_ENOTFOUND;
}

int msg_revoke(MYSQL *db, const char *mid, const char *uid, int64_t window_ms, msg_rec_t *out,
               int *again, int *expired)
{
    int64_t id, u;
    int rows = 0;
    *again = *expired = 0;
    memset(out, 0, sizeof *out);
    if (db_parse_id(mid, &id) != NT_OK)
        return NT_ENOTFOUND;
    db_param_t p[] = {DB_P_I64(id)};
    int rc = db_query(db, "SELECT " MSG_COLS " FROM messages WHERE id = ?", p, 1, one_msg, out, 1,
                      &rows);
    if (rc != NT_OK || rows != 1)
        goto fail;
    if (db_parse_id(uid, &u) != NT_OK || db_col_i64(out->sender_id) != u) {
        rc = NT_EFORBIDDEN;
        goto fail;
    }
    if ((rc = conv_access(db, out->conversation_id, uid)) != NT_OK) { /* left or removed */
        rc = rc == NT_ENOTFOUND ? NT_EFORBIDDEN : rc;
        goto fail;
    }
    if (out->revoked) {
        *again = 1;
        return NT_OK;
    }
    if (db_now_ms() - out->created_at > window_ms) {
        *expired = 1;
        rc = NT_EFORBIDDEN;
        goto fail;
    }
    /* One transaction, so the unread-mention count never counts a revoked
     * message and a revoked file message no longer lets members read its file. */
    int64_t cid = db_col_i64(out->conversation_id);
    db_param_t pk[] = {DB_P_I64(cid), DB_P_I64(out->seq)};
    if ((rc = db_begin(db)) != NT_OK)
        goto fail;
    if ((rc = db_exec(db,
                      "UPDATE messages SET body = '', mentions = '', revoked = 1"
                      " WHERE conversation_id = ? AND seq = ?",
                      pk, 2, NULL, NULL)) != NT_OK ||
        (rc = db_exec(db, "DELETE FROM message_mentions WHERE conversation_id = ? AND seq = ?", pk,
                      2, NULL, NULL)) != NT_OK ||
        (rc = media_unlink_msg(db, cid, out->seq)) != NT_OK || /* its file is no longer shared */
        (rc = db_commit(db)) != NT_OK) {
        db_rollback(db);
        goto fail;
    }
    out->body[0] = '\0';
    out->revoked = 1;
    return msg_mentions_set(out, NULL, 0);
fail:
    msg_rec_fini(out);
    return rc != NT_OK ? rc : NT_ENOTFOUND;
}

static int one_i64(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    if (ncols < 1)
        return NT_EINTERNAL;
    *(int64_t *)arg = db_col_i64(cols[0]);
    return 1;
}

typedef struct page_acc {
    msg_rec_t *v;
    int cap, n;
} page_acc_t;

static int page_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    page_acc_t *a = arg;
    if (ncols < MSG_NCOLS)
        return NT_EINTERNAL;
    if (a->n >= a->cap)
        return 1;
    int rc = msg_rec_from_row(&a->v[a->n], cols, lens);
    a->n++; /* counted even on failure: its body (NULL) is freed with the rest */
    return rc;
}

int msg_page(MYSQL *db, const char *cid, int64_t after_seq, int64_t before_seq, int limit,
             int newest_first, msg_rec_t **out, int *n, int *has_more)
{
    int64_t c;
    *out = NULL;
    *n = *has_more = 0;
    if (db_parse_id(cid, &c) != NT_OK)
        return NT_ENOTFOUND;
    if (limit < 1 || limit > MSG_PAGE_MAX)
        return NT_EINVAL;
    /* One row past the page tells whether there is more. */
    page_acc_t a = {.v = calloc((size_t)limit + 1, sizeof(msg_rec_t)), .cap = limit + 1};
    if (!a.v)
        return NT_ENOMEM;
    int rc;
    if (newest_first) {
        int64_t before = before_seq > 0 ? before_seq : INT64_MAX;
        db_param_t p[] = {DB_P_I64(c), DB_P_I64(before), DB_P_I64(limit + 1)};
        rc = db_query(db,
                      "SELECT " MSG_COLS " FROM messages WHERE conversation_id = ? AND seq < ?"
                      " ORDER BY seq DESC LIMIT ?",
                      p, 3, page_row, &a, limit + 1, NULL);
    } else {
        db_param_t p[] = {DB_P_I64(c), DB_P_I64(after_seq < 0 ? 0 : after_seq), DB_P_I64(limit + 1)};
        rc = db_query(db,
                      "SELECT " MSG_COLS " FROM messages WHERE conversation_id = ? AND seq > ?"
                      " ORDER BY seq ASC LIMIT ?",
                      p, 3, page_row, &a, limit + 1, NULL);
    }
    if (rc != NT_OK) {
        msg_recs_free(a.v, a.n);
        return rc;
    }
    if (a.n > limit) {
        msg_rec_fini(&a.v[limit]);
        a.n = limit;
        *has_more = 1;
    }
    *out = a.v;
    *n = a.n;
    return NT_OK;
}

int msg_read(MYSQL *db, const char *cid, const char *uid, int64_t seq, int64_t *read_seq,
             int *moved)
{
    int64_t c, u, last_seq = 0, cur = 0;
    int rows = 0;
    *moved = 0;
    *read_seq = 0;
    int rc = conv_access(db, cid, uid);
    if (rc != NT_OK)
        return rc;
    if (db_parse_id(cid, &c) != NT_OK || db_parse_id(uid, &u) != NT_OK)
        return NT_ENOTFOUND;
    db_param_t pc[] = {DB_P_I64(c)};
    if ((rc = db_query(db, "SELECT last_seq FROM conversations WHERE id = ?", pc, 1, one_i64,
                       &last_seq, 1, NULL)) != NT_OK)
        return rc;
    int64_t target = seq < last_seq ? seq : last_seq;
    uint64_t affected = 0;
    db_param_t p[] = {DB_P_I64(target), DB_P_I64(c), DB_P_I64(u), DB_P_I64(target)};
    /* "read_seq < ?" makes it forward-only even against a concurrent read. */
    if ((rc = db_exec(db,
                      "UPDATE members SET read_seq = ? WHERE conversation_id = ? AND user_id = ?"
                      " AND read_seq < ?",
                      p, 4, &affected, NULL)) != NT_OK)
        return rc;
    *moved = affected > 0;
    db_param_t pm[] = {DB_P_I64(c), DB_P_I64(u)};
    if ((rc = db_query(db, "SELECT read_seq FROM members WHERE conversation_id = ? AND user_id = ?",
                       pm, 2, one_i64, &cur, 1, &rows)) != NT_OK)
        return rc;
    *read_seq = cur;
    return NT_OK;
}

typedef struct found_acc {
    msg_found_fn fn;
    void *arg;
} found_acc_t;

static int key_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    found_acc_t *a = arg;
    msg_rec_t m;
    if (ncols < MSG_NCOLS)
        return NT_EINTERNAL;
    int rc = msg_rec_from_row(&m, cols, lens);
    if (rc == NT_OK)
        rc = a->fn(a->arg, &m);
    msg_rec_fini(&m);
    return rc < 0 ? rc : 0;
}

int msg_find_keys(MYSQL *db, const msg_key_t *keys, int n, msg_found_fn fn, void *arg)
{
    if (n <= 0)
        return NT_OK;
    db_param_t *p = calloc((size_t)n * 3, sizeof *p);
    char *sql = sqlb_list("SELECT " MSG_COLS " FROM messages WHERE ",
                          "(conversation_id = ? AND sender_id = ? AND client_msg_id = ?)", " OR ",
                          n, "");
    int rc = NT_ENOMEM;
    if (p && sql) {
        for (int i = 0; i < n; i++) {
            p[3 * i] = DB_P_I64(keys[i].cid);
            p[3 * i + 1] = DB_P_I64(keys[i].sender);
            p[3 * i + 2] = DB_P_STR(keys[i].client_msg_id);
        }
        found_acc_t a = {fn, arg};
        rc = db_query(db, sql, p, 3 * n, key_row, &a, 0, NULL);
    }
    free(sql);
    free(p);
    return rc;
}

/* INSERT recs[0..n) in one statement. */
static int insert_rows(MYSQL *db, msg_rec_t *const *recs, int n)
{
    db_param_t *p = calloc((size_t)n * 8, sizeof *p);
    char *csv = calloc((size_t)n, MSG_MENTIONS_CSV);
    char *sql = sqlb_list("INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id,"
                          " type, body, created_at, mentions) VALUES ",
                          "(?, ?, ?, ?, ?, ?, ?, ?)", ", ", n, "");
    int rc = p && sql && csv ? NT_OK : NT_ENOMEM;
    for (int i = 0; rc == NT_OK && i < n; i++) {
        const msg_rec_t *m = recs[i];
        int64_t cid = 0, sender = 0;
        if (db_parse_id(m->conversation_id, &cid) != NT_OK ||
            db_parse_id(m->sender_id, &sender) != NT_OK || !m->body)
            rc = NT_EINVAL;
        char *mcsv = csv + (size_t)i * MSG_MENTIONS_CSV;
        if (rc == NT_OK)
            rc = msg_mentions_csv(m, mcsv, MSG_MENTIONS_CSV);
        db_param_t *w = &p[8 * i];
        w[0] = DB_P_I64(cid);
        w[1] = DB_P_I64(m->seq);
        w[2] = DB_P_I64(sender);
        w[3] = DB_P_STR(m->client_msg_id);
        w[4] = DB_P_STR(m->type);
        w[5] = DB_P_STR(rc == NT_OK ? m->body : "");
        w[6] = DB_P_I64(m->created_at);
        w[7] = DB_P_STR(mcsv);
    }
    if (rc == NT_OK)
        rc = db_exec(db, sql, p, 8 * n, NULL, NULL);
    free(csv);
    free(sql);
    free(p);
    return rc;
}

typedef struct id_acc {
    msg_rec_t *const *recs;
    int n;
} id_acc_t;

/* A (conversation_id, seq, id) row: the id of the record with that key,
 * found by bisection (recs are sorted by conversation, then seq). */
static int id_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    id_acc_t *a = arg;
    if (ncols < 3)
        return NT_EINTERNAL;
    int64_t cid = db_col_i64(cols[0]), seq = db_col_i64(cols[1]);
    int lo = 0, hi = a->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int64_t mc = db_col_i64(a->recs[mid]->conversation_id), ms = a->recs[mid]->seq;
        if (mc == cid && ms == seq) {
            db_copy(a->recs[mid]->id, MSG_ID_MAX, cols[2]);
            return 0;
        }
        if (mc < cid || (mc == cid && ms < seq))
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NT_EINTERNAL;
}

/* Auto-increment ids of a multi-row INSERT are consecutive only in some
 * innodb_autoinc_lock_mode settings, so they are read, not computed. */
int msg_read_ids(MYSQL *db, msg_rec_t *const *recs, int n)
{
    db_param_t *p = calloc((size_t)n * 2, sizeof *p);
    char *sql = sqlb_list("SELECT conversation_id, seq, id FROM messages WHERE ",
                          "(conversation_id = ? AND seq = ?)", " OR ", n, "");
    int rc = NT_ENOMEM, rows = 0;
    if (p && sql) {
        for (int i = 0; i < n; i++) {
            p[2 * i] = DB_P_I64(db_col_i64(recs[i]->conversation_id));
            p[2 * i + 1] = DB_P_I64(recs[i]->seq);
        }
        id_acc_t a = {recs, n};
        rc = db_query(db, sql, p, 2 * n, id_row, &a, 0, &rows);
        if (rc == NT_OK && rows != n)
            rc = NT_EINTERNAL;
    }
    free(sql);
    free(p);
    return rc;
}

int msg_insert_many(MYSQL *db, msg_rec_t *const *recs, int n)
{
    int from = 0, rc = NT_OK;
    while (rc == NT_OK && from < n) {
        size_t bytes = 0;
        int to = from;
        while (to < n && (to == from || bytes < MSG_INSERT_BYTES)) {
            bytes += recs[to]->body ? strlen(recs[to]->body) : 0;
            to++;
        }
        rc = insert_rows(db, recs + from, to - from);
        from = to;
    }
    if (rc == NT_OK && n > 0)
        rc = msg_read_ids(db, recs, n);
    return rc == NT_OK ? msg_mentions_insert(db, recs, n) : rc;
}
