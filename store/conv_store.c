/*
 * conv_store.c - the conversations and members tables (conv_store.h).
 *
 * Creating a direct conversation relies on the UNIQUE direct_key rather than
 * on a read-then-insert: two creates of the same pair race to the INSERT,
 * InnoDB makes the second wait on the first's key and then fail with a
 * duplicate, and the loser reads the winner's row.  So the pair has one
 * conversation whatever the timing, across processes.
 *
 * conv_lock_many, conv_members_check and conv_advance_many are the group
 * commit's statements on these tables (msg_batch_store.c): one round trip
 * each for a whole batch.
 *
 * conv_list costs one query for the page plus two per conversation
 * (members, last message); pages are small (<= CONV_LIST_MAX) and both
 * lookups are primary-key reads.
 */
#include "store/conv_store.h"

#include "common/err.h"
#include "store/db.h"
#include "store/sqlb.h"
#include "store/user_store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONV_COLS "c.id, c.type, c.name, c.owner_id, c.last_seq, c.created_at, c.last_activity"
#define CONV_NCOLS 7

void conv_rec_fini(conv_rec_t *c)
{
    if (!c)
        return;
    msg_rec_fini(&c->last);
    c->has_last = 0;
    free(c->members);
    c->members = NULL;
    c->n_members = c->cap_members = 0;
}

void conv_recs_free(conv_rec_t *v, int n)
{
    for (int i = 0; v && i < n; i++)
        conv_rec_fini(&v[i]);
    free(v);
}

/* Fill c from a row; c's member list (allocation) is kept, emptied. */
static void conv_from_row(conv_rec_t *c, char **cols)
{
    conv_member_t *keep = c->members;
    int cap = c->cap_members;
    memset(c, 0, sizeof *c);
    c->members = keep;
    c->cap_members = cap;
    db_copy(c->id, sizeof c->id, cols[0]);
    db_copy(c->type, sizeof c->type, cols[1]);
    db_copy(c->name, sizeof c->name, cols[2]);
    db_copy(c->owner_id, sizeof c->owner_id, cols[3]); /* NULL -> "" */
    c->last_seq = db_col_i64(cols[4]);
    c->created_at = db_col_i64(cols[5]);
    c->last_activity = db_col_i64(cols[6]);
}

static int one_conv(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    if (ncols < CONV_NCOLS)
        return NT_EINTERNAL;
    conv_from_row(arg, cols);
    return 1;
}

static int member_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    conv_rec_t *c = arg;
    if (ncols < 2)
        return NT_EINTERNAL;
    if (c->n_members >= CONV_MEMBERS_MAX)
        return 1;
    return conv_member_add(c, cols[0] ? cols[0] : "", cols[1] ? cols[1] : "");
}

static int load_members(MYSQL *db, int64_t cid, conv_rec_t *c)
{
    db_param_t p[] = {DB_P_I64(cid)};
    c->n_members = 0; /* keeps the allocation for a reload */
    return db_query(db,
                    "SELECT user_id, role FROM members WHERE conversation_id = ?"
                    " ORDER BY joined_at, user_id",
                    p, 1, member_row, c, CONV_MEMBERS_MAX, NULL);
}

static int get_by_id(MYSQL *db, int64_t cid, conv_rec_t *out)
{
    int rows = 0;
    db_param_t p[] = {DB_P_I64(cid)};
    int rc = db_query(db, "SELECT " CONV_COLS " FROM conversations c WHERE c.id = ?", p, 1,
                      one_conv, out, 1, &rows);
    if (rc != NT_OK)
        return rc;
    if (rows != 1)
        return NT_ENOTFOUND;
    return load_members(db, cid, out);
}

int conv_get(MYSQL *db, const char *cid, conv_rec_t *out)
{
    int64_t c;
    memset(out, 0, sizeof *out);
    if (db_parse_id(cid, &c) != NT_OK)
        return NT_ENOTFOUND;
    int rc = get_by_id(db, c, out);
    if (rc != NT_OK)
        conv_rec_fini(out);
    return rc;
}

static int access_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    if (ncols < 1)
        return NT_EINTERNAL;
    *(int *)arg = cols[0] != NULL;
    return 1;
}

int conv_access(MYSQL *db, const char *cid, const char *uid)
{
    int64_t c, u;
    int rows = 0, member = 0;
    if (db_parse_id(cid, &c) != NT_OK)
        return NT_ENOTFOUND;
    if (db_parse_id(uid, &u) != NT_OK)
        return NT_EFORBIDDEN;
    db_param_t p[] = {DB_P_I64(u), DB_P_I64(c)};
    int rc = db_query(db,
                      "SELECT m.user_id FROM conversations c LEFT JOIN members m ON"
                      " m.conversation_id = c.id AND m.user_id = ? WHERE c.id = ?",
                      p, 2, access_row, &member, 1, &rows);
    if (rc != NT_OK)
        return rc;
    if (rows != 1)
        return NT_ENOTFOUND;
    return member ? NT_OK : NT_EFORBIDDEN;
}

/* Insert the pair's conversation and both members in one transaction;
 * NT_ECONFLICT if the pair already has one. */
static int insert_direct(MYSQL *db, int64_t a, int64_t b, const char *key, int64_t *cid)
{
    int64_t now = db_now_ms();
    uint64_t id = 0;
    int rc = db_begin(db);
    if (rc != NT_OK)
        return rc;
    db_param_t p[] = {DB_P_STR(key), DB_P_I64(now), DB_P_I64(now)};
    rc = db_exec(db,
                 "INSERT INTO conversations (type, name, owner_id, direct_key, last_seq,"
                 " last_activity, created_at) VALUES ('direct', '', NULL, ?, 0, ?, ?)",
                 p, 3, NULL, &id);
    if (rc != NT_OK)
        goto fail;
    int64_t who[2] = {a, b};
    for (int i = 0; i < 2; i++) {
        db_param_t m[] = {DB_P_I64(id), DB_P_I64(who[i]), DB_P_I64(now)};
        rc = db_exec(db,
                     "INSERT INTO members (conversation_id, user_id, role, read_seq, joined_at)"
                     " VALUES (?, ?, 'member', 0, ?)",
                     m, 3, NULL, NULL);
        if (rc != NT_OK)
            goto fail;
    }
    if ((rc = db_commit(db)) != NT_OK)
        return rc;
    *cid = (int64_t)id;
    return NT_OK;
fail:
    db_rollback(db);
    return rc;
}

static int create_direct(MYSQL *db, const char *a, const char *b, conv_rec_t *out, int *created);

int conv_create_direct(MYSQL *db, const char *a, const char *b, conv_rec_t *out, int *created)
{
    int rc = create_direct(db, a, b, out, created);
    if (rc != NT_OK)
        conv_rec_fini(out); /* a member list loaded before the failure */
    return rc;
}

static int create_direct(MYSQL *db, const char *a, const char *b, conv_rec_t *out, int *created)
{
    int64_t ia, ib, cid = 0;
    user_rec_t peer;
    *created = 0;
    memset(out, 0, sizeof *out);
    if (db_parse_id(a, &ia) != NT_OK)
        return NT_EFORBIDDEN;
    if (db_parse_id(b, &ib) != NT_OK)
        return NT_ENOTFOUND;
    if (ia == ib)
        return NT_EINVAL;
    int rc = user_get(db, b, &peer);
    if (rc != NT_OK)
        return rc;
    char key[48];
    snprintf(key, sizeof key, "%lld:%lld", (long long)(ia < ib ? ia : ib),
             (long long)(ia < ib ? ib : ia));
    rc = insert_direct(db, ia, ib, key, &cid);
    if (rc == NT_OK) {
        *created = 1;
        return get_by_id(db, cid, out);
    }
    if (rc != NT_ECONFLICT)
        return rc;
    int rows = 0;
    db_param_t p[] = {DB_P_STR(key)};
    rc = db_query(db, "SELECT " CONV_COLS " FROM conversations c WHERE c.direct_key = ?", p, 1,
                  one_conv, out, 1, &rows);
    if (rc != NT_OK)
        return rc;
    if (rows != 1)
        return NT_EUNAVAIL; /* the winner rolled back under us: the client may retry */
    return load_members(db, db_col_i64(out->id), out);
}

typedef struct lock_acc {
    conv_rec_t *v;
    int cap, n;
} lock_acc_t;

static int lock_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    lock_acc_t *a = arg;
    if (ncols < CONV_NCOLS)
        return NT_EINTERNAL;
    if (a->n >= a->cap)
        return 1;
    conv_from_row(&a->v[a->n++], cols);
    return 0;
}

/* Member rows of several conversations, ordered by conversation: each goes
 * to its record in a->v (ascending by id, so found by bisection). */
static int members_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    lock_acc_t *a = arg;
    if (ncols < 3)
        return NT_EINTERNAL;
    int64_t cid = db_col_i64(cols[0]);
    int lo = 0, hi = a->n - 1;
    while (lo <= hi) {
        int mid = lo + (hi - lo) / 2;
        int64_t id = db_col_i64(a->v[mid].id);
        if (id == cid)
            return member_row(&a->v[mid], 2, cols + 1, NULL) < 0 ? NT_EINTERNAL : 0;
        if (id < cid)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return 0; /* not one of ours: cannot happen with the IN list */
}

int conv_lock_many(MYSQL *db, const int64_t *ids, int n, conv_rec_t *out, int *nout)
{
    *nout = 0;
    if (n <= 0)
        return NT_OK;
    db_param_t *p = calloc((size_t)n, sizeof *p);
    char *lock = sqlb_list("SELECT " CONV_COLS " FROM conversations c WHERE c.id IN (", "?", ", ",
                           n, ") ORDER BY c.id FOR UPDATE");
    char *mem = sqlb_list("SELECT conversation_id, user_id, role FROM members WHERE"
                          " conversation_id IN (", "?", ", ", n,
                          ") ORDER BY conversation_id, joined_at, user_id");
    lock_acc_t a = {.v = out, .cap = n};
    int rc = NT_ENOMEM;
    memset(out, 0, (size_t)n * sizeof *out);
    if (!p || !lock || !mem)
        goto out;
    for (int i = 0; i < n; i++)
        p[i] = DB_P_I64(ids[i]);
    if ((rc = db_query(db, lock, p, n, lock_row, &a, n, NULL)) != NT_OK)
        goto out;
    if (a.n > 0 && (rc = db_query(db, mem, p, n, members_row, &a, 0, NULL)) != NT_OK)
        goto out;
    *nout = a.n;
out:
    if (rc != NT_OK)
        for (int i = 0; i < a.n; i++)
            conv_rec_fini(&out[i]);
    free(p);
    free(lock);
    free(mem);
    return rc;
}

typedef struct check_acc {
    const int64_t *cid, *uid;
    int n;
    int *member;
} check_acc_t;

static int check_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    check_acc_t *a = arg;
    if (ncols < 2)
        return NT_EINTERNAL;
    int64_t c = db_col_i64(cols[0]), u = db_col_i64(cols[1]);
    for (int i = 0; i < a->n; i++)
        if (a->cid[i] == c && a->uid[i] == u)
            a->member[i] = 1;
    return 0;
}

int conv_members_check(MYSQL *db, const int64_t *cid, const int64_t *uid, int n, int *member)
{
    if (n <= 0)
        return NT_OK;
    memset(member, 0, (size_t)n * sizeof *member);
    db_param_t *p = calloc((size_t)n * 2, sizeof *p);
    char *sql = sqlb_list("SELECT conversation_id, user_id FROM members WHERE ",
                          "(conversation_id = ? AND user_id = ?)", " OR ", n, "");
    int rc = NT_ENOMEM;
    if (p && sql) {
        for (int i = 0; i < n; i++) {
            p[2 * i] = DB_P_I64(cid[i]);
            p[2 * i + 1] = DB_P_I64(uid[i]);
        }
        check_acc_t a = {cid, uid, n, member};
        rc = db_query(db, sql, p, 2 * n, check_row, &a, 0, NULL);
    }
    free(sql);
    free(p);
    return rc;
}

int conv_advance_many(MYSQL *db, const int64_t *cid, const int64_t *last_seq, int n, int64_t now)
{
    if (n <= 0)
        return NT_OK;
    db_param_t *p = calloc((size_t)n * 3 + 1, sizeof *p);
    sqlb_t q = {0};
    sqlb_add(&q, "UPDATE conversations SET last_seq = CASE id");
    sqlb_repeat(&q, " WHEN ? THEN ?", "", n);
    sqlb_add(&q, " END, last_activity = ? WHERE id IN (");
    sqlb_repeat(&q, "?", ", ", n);
    sqlb_add(&q, ")");
    char *sql = sqlb_done(&q);
    int rc = NT_ENOMEM;
    if (p && sql) {
        for (int i = 0; i < n; i++) {
            p[2 * i] = DB_P_I64(cid[i]);
            p[2 * i + 1] = DB_P_I64(last_seq[i]);
            p[2 * n + 1 + i] = DB_P_I64(cid[i]);
        }
        p[2 * n] = DB_P_I64(now);
        rc = db_exec(db, sql, p, 3 * n + 1, NULL, NULL);
    }
    free(sql);
    free(p);
    return rc;
}

typedef struct list_acc {
    conv_rec_t *v;
    int cap, n;
} list_acc_t;

static int list_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    list_acc_t *a = arg;
    if (ncols < CONV_NCOLS + 1)
        return NT_EINTERNAL;
    if (a->n >= a->cap)
        return 1;
    conv_rec_t *c = &a->v[a->n++];
    conv_from_row(c, cols);
    c->read_seq = db_col_i64(cols[CONV_NCOLS]);
    return 0;
}

int conv_list(MYSQL *db, const char *uid, int max, conv_rec_t **out, int *n)
{
    int64_t u;
    *out = NULL;
    *n = 0;
    if (db_parse_id(uid, &u) != NT_OK)
        return NT_OK; /* nobody: no conversations */
    if (max < 1 || max > CONV_LIST_MAX)
        max = CONV_LIST_MAX;
    list_acc_t a = {.v = calloc((size_t)max, sizeof(conv_rec_t)), .cap = max};
    if (!a.v)
        return NT_ENOMEM;
    db_param_t p[] = {DB_P_I64(u), DB_P_I64(max)};
    int rc = db_query(db,
                      "SELECT " CONV_COLS ", m.read_seq FROM members m JOIN conversations c ON"
                      " c.id = m.conversation_id WHERE m.user_id = ?"
                      " ORDER BY c.last_activity DESC, c.id DESC LIMIT ?",
                      p, 2, list_row, &a, max, NULL);
    for (int i = 0; rc == NT_OK && i < a.n; i++) {
        conv_rec_t *c = &a.v[i];
        int64_t cid = db_col_i64(c->id);
        if ((rc = load_members(db, cid, c)) != NT_OK)
            break;
        if (c->last_seq > 0) {
            rc = msg_get_seq(db, cid, c->last_seq, &c->last);
            c->has_last = rc == NT_OK;
            if (rc == NT_ENOTFOUND)
                rc = NT_OK; /* sent after our page read: shown next time */
        }
        if (rc == NT_OK && c->last_seq > c->read_seq) /* unread mentions: docs/messages.md */
            rc = msg_mention_count(db, cid, u, c->read_seq, &c->mentions);
    }
    if (rc != NT_OK) {
        conv_recs_free(a.v, a.n);
        return rc;
    }
    *out = a.v;
    *n = a.n;
    return NT_OK;
}
