/*
 * msg_store.c - the messages table (msg_store.h).
 *
 * The send transaction, in this order:
 *   1. SELECT last_seq FROM conversations WHERE id = ? FOR UPDATE
 *      The row lock serializes every send to this conversation, in every
 *      msg process; it comes first so that the reads below (plain InnoDB
 *      consistent reads, whose snapshot starts at the first of them) see
 *      everything committed by the sender that held the lock before us.
 *   2. membership of the sender, then (cid, sender, client_msg_id): a hit
 *      is a retry, answered with the original and no write.
 *   3. INSERT the message with seq = last_seq + 1, UPDATE last_seq and
 *      last_activity, COMMIT.
 * Any failure rolls back, so a seq is used only by a committed message.
 */
#include "store/msg_store.h"

#include "common/err.h"
#include "store/conv_store.h"
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MSG_COLS "conversation_id, seq, id, sender_id, client_msg_id, type, body, created_at, revoked"
#define MSG_NCOLS 9

void msg_rec_fini(msg_rec_t *m)
{
    if (!m)
        return;
    free(m->body);
    m->body = NULL;
}

void msg_recs_free(msg_rec_t *v, int n)
{
    for (int i = 0; v && i < n; i++)
        msg_rec_fini(&v[i]);
    free(v);
}

/* Fill *m from the MSG_COLS columns; NT_ENOMEM if the body cannot be copied. */
static int msg_from_row(msg_rec_t *m, char **cols, unsigned long *lens)
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
    return NT_OK;
}

static int one_msg(void *arg, int ncols, char **cols, unsigned long *lens)
{
    if (ncols < MSG_NCOLS)
        return NT_EINTERNAL;
    int rc = msg_from_row(arg, cols, lens);
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

static int one_i64(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    if (ncols < 1)
        return NT_EINTERNAL;
    *(int64_t *)arg = db_col_i64(cols[0]);
    return 1;
}

/* Step 1 of the send: lock the conversation row, read last_seq. */
static int lock_conv(MYSQL *db, int64_t cid, int64_t *last_seq)
{
    int rows = 0;
    db_param_t p[] = {DB_P_I64(cid)};
    int rc = db_query(db, "SELECT last_seq FROM conversations WHERE id = ? FOR UPDATE", p, 1,
                      one_i64, last_seq, 1, &rows);
    if (rc != NT_OK)
        return rc;
    return rows == 1 ? NT_OK : NT_ENOTFOUND;
}

/* Step 2b: the original of a retried send, if any (NT_ENOTFOUND if none). */
static int find_client_msg(MYSQL *db, int64_t cid, int64_t sender, const char *cmid,
                           msg_rec_t *out)
{
    int rows = 0;
    db_param_t p[] = {DB_P_I64(cid), DB_P_I64(sender), DB_P_STR(cmid)};
    memset(out, 0, sizeof *out);
    int rc = db_query(db,
                      "SELECT " MSG_COLS " FROM messages WHERE conversation_id = ? AND"
                      " sender_id = ? AND client_msg_id = ?",
                      p, 3, one_msg, out, 1, &rows);
    if (rc != NT_OK) {
        msg_rec_fini(out);
        return rc;
    }
    return rows == 1 ? NT_OK : NT_ENOTFOUND;
}

/* Step 3: insert seq and advance the conversation; fills *out. */
static int insert_msg(MYSQL *db, int64_t cid, int64_t seq, int64_t sender, const char *cmid,
                      const char *type, const char *body, msg_rec_t *out)
{
    int64_t now = db_now_ms();
    uint64_t id = 0;
    db_param_t p[] = {DB_P_I64(cid),  DB_P_I64(seq),   DB_P_I64(sender), DB_P_STR(cmid),
                      DB_P_STR(type), DB_P_STR(body), DB_P_I64(now)};
    int rc = db_exec(db,
                     "INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id, type,"
                     " body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     p, 7, NULL, &id);
    if (rc != NT_OK)
        return rc;
    db_param_t u[] = {DB_P_I64(seq), DB_P_I64(now), DB_P_I64(cid)};
    rc = db_exec(db, "UPDATE conversations SET last_seq = ?, last_activity = ? WHERE id = ?", u, 3,
                 NULL, NULL);
    if (rc != NT_OK)
        return rc;
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%llu", (unsigned long long)id);
    snprintf(out->conversation_id, sizeof out->conversation_id, "%lld", (long long)cid);
    snprintf(out->sender_id, sizeof out->sender_id, "%lld", (long long)sender);
    out->seq = seq;
    db_copy(out->client_msg_id, sizeof out->client_msg_id, cmid);
    db_copy(out->type, sizeof out->type, type);
    out->created_at = now;
    if (!(out->body = strdup(body)))
        return NT_ENOMEM;
    return NT_OK;
}

int msg_send(MYSQL *db, const char *cid, const char *sender, const char *client_msg_id,
             const char *type, const char *body, msg_rec_t *out, int *duplicate)
{
    int64_t c, s, last_seq = 0;
    *duplicate = 0;
    memset(out, 0, sizeof *out);
    if (db_parse_id(cid, &c) != NT_OK)
        return NT_ENOTFOUND;
    if (db_parse_id(sender, &s) != NT_OK)
        return NT_EFORBIDDEN;
    /* Outsiders are turned away before they can queue on the row lock;
     * the check is repeated under the lock for membership changes. */
    int rc = conv_access(db, cid, sender);
    if (rc != NT_OK || (rc = db_begin(db)) != NT_OK)
        return rc;
    if ((rc = lock_conv(db, c, &last_seq)) != NT_OK || (rc = conv_access(db, cid, sender)) != NT_OK)
        goto fail;
    rc = find_client_msg(db, c, s, client_msg_id, out);
    if (rc == NT_OK) {
        *duplicate = 1;
        db_rollback(db); /* nothing written: just let go of the lock */
        return NT_OK;
    }
    if (rc != NT_ENOTFOUND)
        goto fail;
    if ((rc = insert_msg(db, c, last_seq + 1, s, client_msg_id, type, body, out)) != NT_OK)
        goto fail;
    if ((rc = db_commit(db)) != NT_OK) {
        msg_rec_fini(out);
        return rc;
    }
    return NT_OK;
fail:
    msg_rec_fini(out);
    db_rollback(db);
    return rc;
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
    int rc = msg_from_row(&a->v[a->n], cols, lens);
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
