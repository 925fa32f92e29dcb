/*
 * contact_store.c - the contact_requests and contacts tables
 * (contact_store.h, sql/003_contacts.sql).
 *
 * Every state change runs in READ COMMITTED and starts by locking the two
 * users rows (one SELECT ... FOR UPDATE by primary key, InnoDB locks them in
 * id order, the same order whichever side asks), like session_store.c locks
 * one user row for logins.  Every writer of a pair's rows holds those two
 * locks, so the plain reads that follow see the pair exactly as it is, and
 * READ COMMITTED takes no gap locks: two pairs never wait on each other.
 * The UNIQUE pending_key still guards "one pending request per pair" at the
 * schema level; should it ever fire, the insert reports NT_EUNAVAIL and the
 * caller retries the whole transaction.
 *
 * A transaction that fails is rolled back here; the caller decides about
 * retrying (NT_EUNAVAIL: deadlock, lock wait timeout, lost connection).
 */
#include "store/contact_store.h"

#include "common/err.h"
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQ_COLS "id, from_id, to_id, message, status, created_at"
#define REQ_NCOLS 6
#define CONTACT_COLS "u.id, u.username, u.display_name, u.avatar_url, u.bio, u.created_at, c.since"
#define CONTACT_NCOLS 7

/* ---- decisions ----------------------------------------------------------- */

int contact_apply_decide(int self, int linked, int pending)
{
    if (self)
        return NT_EINVAL;
    if (linked)
        return NT_ECONFLICT;
    if (pending == CONTACT_PENDING_OUT)
        return CONTACT_APPLY_EXISTING;
    if (pending == CONTACT_PENDING_IN)
        return CONTACT_APPLY_ACCEPT;
    return CONTACT_APPLY_CREATE;
}

int contact_handle_decide(int is_target, const char *status, int accept, int *change)
{
    *change = 0;
    if (!is_target)
        return NT_EFORBIDDEN;
    if (status && strcmp(status, "pending") == 0) {
        *change = 1;
        return NT_OK;
    }
    /* A retried accept (or reject) finds its own outcome: answer it again. */
    if (status && strcmp(status, accept ? "accepted" : "rejected") == 0)
        return NT_OK;
    return NT_ECONFLICT;
}

/* ---- rows ---------------------------------------------------------------- */

static void req_from_row(void *rec, char **cols)
{
    contact_req_rec_t *r = rec;
    memset(r, 0, sizeof *r);
    db_copy(r->id, sizeof r->id, cols[0]);
    db_copy(r->from_id, sizeof r->from_id, cols[1]);
    db_copy(r->to_id, sizeof r->to_id, cols[2]);
    db_copy(r->message, sizeof r->message, cols[3]);
    db_copy(r->status, sizeof r->status, cols[4]);
    r->created_at = db_col_i64(cols[5]);
}

static int one_req(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    if (ncols < REQ_NCOLS)
        return NT_EINTERNAL;
    req_from_row(arg, cols);
    return 1;
}

static int one_flag(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)ncols;
    (void)cols;
    (void)lens;
    *(int *)arg = 1;
    return 1;
}

/* "<low>:<high>": the pair's key, the same from either side. */
static void pair_key(int64_t a, int64_t b, char *key, size_t n)
{
    snprintf(key, n, "%lld:%lld", (long long)(a < b ? a : b), (long long)(a < b ? b : a));
}

typedef struct pair_lock {
    int64_t a, b;
    int have_a, have_b;
} pair_lock_t;

static int lock_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    pair_lock_t *l = arg;
    if (ncols < 1)
        return NT_EINTERNAL;
    int64_t id = db_col_i64(cols[0]);
    l->have_a |= id == l->a;
    l->have_b |= id == l->b;
    return 0;
}

/* Inside a transaction: lock users a and b; l->have_* tell who exists. */
static int lock_pair(MYSQL *db, pair_lock_t *l)
{
    db_param_t p[] = {DB_P_I64(l->a), DB_P_I64(l->b)};
    return db_query(db, "SELECT id FROM users WHERE id IN (?, ?) ORDER BY id FOR UPDATE", p, 2,
                    lock_row, l, 2, NULL);
}

static int linked(MYSQL *db, int64_t a, int64_t b, int *yes)
{
    db_param_t p[] = {DB_P_I64(a), DB_P_I64(b)};
    *yes = 0;
    return db_query(db, "SELECT 1 FROM contacts WHERE user_id = ? AND contact_id = ?", p, 2,
                    one_flag, yes, 1, NULL);
}

/* Both rows of the pair (INSERT IGNORE: a retried accept finds them). */
static int link_pair(MYSQL *db, int64_t a, int64_t b, int64_t now)
{
    db_param_t p[] = {DB_P_I64(a), DB_P_I64(b), DB_P_I64(now),
                      DB_P_I64(b), DB_P_I64(a), DB_P_I64(now)};
    return db_exec(db, "INSERT IGNORE INTO contacts (user_id, contact_id, since)"
                       " VALUES (?, ?, ?), (?, ?, ?)", p, 6, NULL, NULL);
}

static int settle(MYSQL *db, contact_req_rec_t *r, const char *status, int64_t now)
{
    db_param_t p[] = {DB_P_STR(status), DB_P_I64(now), DB_P_I64(db_col_i64(r->id))};
    int rc = db_exec(db, "UPDATE contact_requests SET status = ?, pending_key = NULL,"
                         " handled_at = ? WHERE id = ? AND status = 'pending'",
                     p, 3, NULL, NULL);
    if (rc == NT_OK)
        db_copy(r->status, sizeof r->status, status);
    return rc;
}

/* ---- apply --------------------------------------------------------------- */

static int apply_once(MYSQL *db, int64_t from, int64_t to, const char *message,
                      contact_req_rec_t *out, int *outcome)
{
    pair_lock_t l = {.a = from, .b = to};
    char key[48];
    int is_linked = 0, found = 0, rc;
    int64_t now = db_now_ms();
    contact_req_rec_t pend;
    pair_key(from, to, key, sizeof key);
    if ((rc = lock_pair(db, &l)) != NT_OK)
        return rc;
    if (!l.have_b)
        return NT_ENOTFOUND;
    if (!l.have_a)
        return NT_EUNAUTH;
    if ((rc = linked(db, from, to, &is_linked)) != NT_OK)
        return rc;
    db_param_t pk[] = {DB_P_STR(key)};
    rc = db_query(db, "SELECT " REQ_COLS " FROM contact_requests WHERE pending_key = ?", pk, 1,
                  one_req, &pend, 1, &found);
    if (rc != NT_OK)
        return rc;
    int dir = !found ? CONTACT_PENDING_NONE
              : db_col_i64(pend.from_id) == from ? CONTACT_PENDING_OUT : CONTACT_PENDING_IN;
    int what = contact_apply_decide(0, is_linked, dir);
    if (what < 0)
        return what;
    *outcome = what;
    if (what == CONTACT_APPLY_EXISTING) {
        *out = pend;
        return NT_OK;
    }
    if (what == CONTACT_APPLY_ACCEPT) {
        if ((rc = settle(db, &pend, "accepted", now)) == NT_OK &&
            (rc = link_pair(db, from, to, now)) == NT_OK)
            *out = pend;
        return rc;
    }
    uint64_t id = 0;
    db_param_t p[] = {DB_P_I64(from), DB_P_I64(to), DB_P_STR(message), DB_P_STR(key),
                      DB_P_I64(now)};
    rc = db_exec(db, "INSERT INTO contact_requests (from_id, to_id, message, status, pending_key,"
                     " created_at) VALUES (?, ?, ?, 'pending', ?, ?)", p, 5, NULL, &id);
    if (rc == NT_ECONFLICT)
        return NT_EUNAVAIL; /* cannot happen under the pair lock; retry if it does */
    if (rc != NT_OK)
        return rc;
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%llu", (unsigned long long)id);
    snprintf(out->from_id, sizeof out->from_id, "%lld", (long long)from);
    snprintf(out->to_id, sizeof out->to_id, "%lld", (long long)to);
    db_copy(out->message, sizeof out->message, message);
    db_copy(out->status, sizeof out->status, "pending");
    out->created_at = now;
    return NT_OK;
}

int contact_apply(MYSQL *db, const char *from, const char *to, const char *message,
                  contact_req_rec_t *out, int *outcome)
{
    int64_t f, t;
    *outcome = 0;
    if (db_parse_id(from, &f) != NT_OK)
        return NT_EUNAUTH;
    if (db_parse_id(to, &t) != NT_OK)
        return NT_ENOTFOUND;
    if (f == t)
        return NT_EINVAL;
    int rc = db_begin_read_committed(db);
    if (rc != NT_OK)
        return rc;
    rc = apply_once(db, f, t, message ? message : "", out, outcome);
    if (rc == NT_OK)
        return db_commit(db);
    db_rollback(db);
    return rc;
}

/* ---- handle -------------------------------------------------------------- */

static int get_req(MYSQL *db, int64_t id, int for_update, contact_req_rec_t *out)
{
    int found = 0;
    db_param_t p[] = {DB_P_I64(id)};
    int rc = db_query(db, for_update ? "SELECT " REQ_COLS " FROM contact_requests WHERE id = ?"
                                       " FOR UPDATE"
                                     : "SELECT " REQ_COLS " FROM contact_requests WHERE id = ?",
                      p, 1, one_req, out, 1, &found);
    if (rc == NT_OK && !found)
        rc = NT_ENOTFOUND;
    return rc;
}

static int handle_once(MYSQL *db, int64_t uid, int64_t rid, int accept, contact_req_rec_t *out,
                       int *changed)
{
    pair_lock_t l;
    int change = 0, rc;
    int64_t now = db_now_ms();
    /* Who the pair is, to lock it; the request is read again under the lock. */
    if ((rc = get_req(db, rid, 0, out)) != NT_OK)
        return rc;
    if ((rc = contact_handle_decide(db_col_i64(out->to_id) == uid, out->status, accept,
                                    &change)) != NT_OK)
        return rc;
    l = (pair_lock_t){.a = db_col_i64(out->from_id), .b = db_col_i64(out->to_id)};
    if ((rc = lock_pair(db, &l)) != NT_OK || (rc = get_req(db, rid, 1, out)) != NT_OK)
        return rc;
    if ((rc = contact_handle_decide(1, out->status, accept, &change)) != NT_OK || !change)
        return rc;
    if ((rc = settle(db, out, accept ? "accepted" : "rejected", now)) != NT_OK)
        return rc;
    if (accept && (rc = link_pair(db, l.a, l.b, now)) != NT_OK)
        return rc;
    *changed = 1;
    return NT_OK;
}

int contact_handle(MYSQL *db, const char *uid, const char *req_id, int accept,
                   contact_req_rec_t *out, int *changed)
{
    int64_t u, r;
    *changed = 0;
    if (db_parse_id(uid, &u) != NT_OK)
        return NT_EUNAUTH;
    if (db_parse_id(req_id, &r) != NT_OK)
        return NT_ENOTFOUND;
    int rc = db_begin_read_committed(db);
    if (rc != NT_OK)
        return rc;
    rc = handle_once(db, u, r, accept, out, changed);
    if (rc == NT_OK)
        return db_commit(db);
    db_rollback(db);
    return rc;
}

/* ---- remove -------------------------------------------------------------- */

int contact_remove(MYSQL *db, const char *uid, const char *other)
{
    int64_t u, o;
    uint64_t gone = 0;
    if (db_parse_id(uid, &u) != NT_OK)
        return NT_EUNAUTH;
    if (db_parse_id(other, &o) != NT_OK || o == u)
        return NT_ENOTFOUND;
    int rc = db_begin_read_committed(db);
    if (rc != NT_OK)
        return rc;
    pair_lock_t l = {.a = u, .b = o};
    db_param_t p[] = {DB_P_I64(u), DB_P_I64(o), DB_P_I64(o), DB_P_I64(u)};
    if ((rc = lock_pair(db, &l)) == NT_OK)
        rc = db_exec(db, "DELETE FROM contacts WHERE (user_id = ? AND contact_id = ?)"
                         " OR (user_id = ? AND contact_id = ?)", p, 4, &gone, NULL);
    if (rc == NT_OK && gone == 0)
        rc = NT_ENOTFOUND;
    if (rc == NT_OK)
        return db_commit(db);
    db_rollback(db);
    return rc;
}

/* ---- reads --------------------------------------------------------------- */

/* A growing array of records of size `size`, for list reads. */
typedef struct grow {
    char *v;
    size_t size;
    int n, cap, max;
    void (*fill)(void *rec, char **cols);
    int ncols;
} grow_t;

static int grow_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    grow_t *g = arg;
    if (ncols < g->ncols)
        return NT_EINTERNAL;
    if (g->n >= g->max)
        return 1;
    if (g->n == g->cap) {
        int ncap = g->cap ? g->cap * 2 : 16;
        if (ncap > g->max)
            ncap = g->max;
        char *nv = realloc(g->v, (size_t)ncap * g->size);
        if (!nv)
            return NT_ENOMEM;
        g->v = nv;
        g->cap = ncap;
    }
    g->fill(g->v + (size_t)g->n * g->size, cols);
    g->n++;
    return 0;
}

static void fill_contact(void *rec, char **cols)
{
    contact_rec_t *c = rec;
    memset(c, 0, sizeof *c);
    db_copy(c->user.id, sizeof c->user.id, cols[0]);
    db_copy(c->user.username, sizeof c->user.username, cols[1]);
    db_copy(c->user.display_name, sizeof c->user.display_name, cols[2]);
    db_copy(c->user.avatar_url, sizeof c->user.avatar_url, cols[3]);
    db_copy(c->user.bio, sizeof c->user.bio, cols[4]);
    c->user.created_at = db_col_i64(cols[5]);
    c->since = db_col_i64(cols[6]);
}

/* Run sql with params (the last one is the row limit) into g->v; nothing
 * is left allocated on failure. */
static int list_rows(MYSQL *db, const char *sql, const db_param_t *p, int np, grow_t *g)
{
    int rc = db_query(db, sql, p, np, grow_row, g, g->max, NULL);
    if (rc != NT_OK) {
        free(g->v);
        *g = (grow_t){0};
    }
    return rc;
}

#define LIST_MAX(max) ((max) < 1 || (max) > CONTACT_LIST_MAX ? CONTACT_LIST_MAX : (max))

int contact_requests(MYSQL *db, const char *uid, int max, contact_req_rec_t **out, int *n)
{
    int64_t u;
    *out = NULL;
    *n = 0;
    if (db_parse_id(uid, &u) != NT_OK)
        return NT_OK; /* nobody: nothing pending */
    grow_t g = {.size = sizeof(contact_req_rec_t), .max = LIST_MAX(max), .fill = req_from_row,
                .ncols = REQ_NCOLS};
    db_param_t p[] = {DB_P_I64(u), DB_P_I64(u), DB_P_I64(g.max)};
    int rc = list_rows(db, "SELECT " REQ_COLS " FROM contact_requests WHERE status = 'pending'"
                           " AND (to_id = ? OR from_id = ?) ORDER BY id DESC LIMIT ?",
                       p, 3, &g);
    *out = (contact_req_rec_t *)(void *)g.v;
    *n = g.n;
    return rc;
}

int contact_list(MYSQL *db, const char *uid, int max, contact_rec_t **out, int *n)
{
    int64_t u;
    *out = NULL;
    *n = 0;
    if (db_parse_id(uid, &u) != NT_OK)
        return NT_OK;
    grow_t g = {.size = sizeof(contact_rec_t), .max = LIST_MAX(max), .fill = fill_contact,
                .ncols = CONTACT_NCOLS};
    db_param_t p[] = {DB_P_I64(u), DB_P_I64(g.max)};
    int rc = list_rows(db, "SELECT " CONTACT_COLS " FROM contacts c JOIN users u ON"
                           " u.id = c.contact_id WHERE c.user_id = ? ORDER BY u.username LIMIT ?",
                       p, 2, &g);
    *out = (contact_rec_t *)(void *)g.v;
    *n = g.n;
    return rc;
}
