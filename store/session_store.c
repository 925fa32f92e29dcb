/*
 * session_store.c - sessions and refresh-token families (session_store.h).
 *
 * Every change that touches more than one row runs in one transaction, and
 * rows are locked before they are judged (SELECT ... FOR UPDATE): two
 * refreshes racing with the same token serialise on the token row, so
 * exactly one wins and the other sees a spent token, which is reuse.
 *
 * Choices the header leaves open:
 * - session_refresh checks "spent" before "expired": a stolen token replayed
 *   after its own expiry still revokes the family (its successor may be
 *   alive).  A live token of a revoked session also counts as reuse; the
 *   session keeps its original revoked_at and reason.
 * - session_revoke of a session that exists but is already revoked returns
 *   0 (logout is idempotent); only a session that is not uid's is
 *   NT_ENOTFOUND.  Revoking also spends the session's unspent tokens, so the
 *   family is dead in the token table too, not only through the session.
 * Revoking many sessions at once (login, password change) is
 * session_revoke.c; the helpers both halves use are session_internal.h.
 */
#include "store/session_internal.h"

#include "common/err.h"
#include "common/log.h"
#include "store/db.h"

#include <stdlib.h>
#include <string.h>

#define SESS_COLS "s.id, s.user_id, s.platform, s.device_id, s.created_at, s.revoked_at"
#define SESS_NCOLS 6

static void sess_from_row(session_rec_t *s, char **cols)
{
    db_copy(s->sid, sizeof s->sid, cols[0]);
    db_copy(s->uid, sizeof s->uid, cols[1]);
    db_copy(s->platform, sizeof s->platform, cols[2]);
    db_copy(s->device_id, sizeof s->device_id, cols[3]);
    s->created_at = db_col_i64(cols[4]);
    s->revoked_at = db_col_i64(cols[5]);
}

int session_spend_family(MYSQL *db, const char *sid, int64_t now)
{
    db_param_t p[] = {DB_P_I64(now), DB_P_STR(sid)};
    return db_exec(db, "UPDATE refresh_tokens SET spent_at = ? "
                       "WHERE session_id = ? AND spent_at IS NULL", p, 2, NULL, NULL);
}

int session_insert(MYSQL *db, const char *sid, int64_t user, const char *platform,
                   const char *device_id, const char *refresh_hash, int64_t refresh_expires_at,
                   int64_t now)
{
    db_param_t ps[] = {DB_P_STR(sid), DB_P_I64(user), DB_P_STR(platform),
                       DB_P_STR(device_id ? device_id : ""), DB_P_I64(now)};
    int rc = db_exec(db, "INSERT INTO sessions (id, user_id, platform, device_id, created_at)"
                         " VALUES (?, ?, ?, ?, ?)", ps, 5, NULL, NULL);
    if (rc != NT_OK)
        return rc;
    db_param_t pt[] = {DB_P_STR(refresh_hash), DB_P_STR(sid), DB_P_I64(refresh_expires_at),
                       DB_P_I64(now)};
    return db_exec(db, "INSERT INTO refresh_tokens (token_hash, session_id, expires_at,"
                       " created_at) VALUES (?, ?, ?, ?)", pt, 4, NULL, NULL);
}

int session_collect_sid(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    sid_list_t *l = arg;
    if (ncols < 1 || !cols[0])
        return NT_EINTERNAL;
    if (l->n == l->cap) {
        int cap = l->cap ? l->cap * 2 : 8;
        void *nv = realloc(l->v, (size_t)cap * sizeof *l->v);
        if (!nv)
            return NT_ENOMEM;
        l->v = nv;
        l->cap = cap;
    }
    db_copy(l->v[l->n++], SESSION_ID_MAX, cols[0]);
    return 0;
}

int session_mark_revoked(MYSQL *db, const sid_list_t *l, int from, const char *reason,
                         int64_t now)
{
    int rc = NT_OK;
    for (int i = from; rc == NT_OK && i < l->n; i++) {
        db_param_t p[] = {DB_P_I64(now), DB_P_STR(reason), DB_P_STR(l->v[i])};
        rc = db_exec(db, "UPDATE sessions SET revoked_at = ?, revoke_reason = ?"
                         " WHERE id = ? AND revoked_at IS NULL", p, 3, NULL, NULL);
        if (rc == NT_OK)
            rc = session_spend_family(db, l->v[i], now);
    }
    return rc;
}

int session_create(MYSQL *db, const char *sid, const char *uid, const char *platform,
                   const char *device_id, const char *refresh_hash,
                   int64_t refresh_expires_at, int64_t now)
{
    int64_t user;
    if (!sid || !*sid || strlen(sid) >= SESSION_ID_MAX || !platform || !refresh_hash)
        return NT_EINVAL;
    if (db_parse_id(uid, &user) != NT_OK)
        return NT_ENOTFOUND;
    int rc = db_begin(db);
    if (rc != NT_OK)
        return rc;
    if ((rc = session_insert(db, sid, user, platform, device_id, refresh_hash,
                             refresh_expires_at, now)) != NT_OK) {
        db_rollback(db);
        return rc;
    }
    return db_commit(db);
}

typedef struct refresh_row {
    session_rec_t *s;
    int found;
    int64_t expires_at;
    int spent;
} refresh_row_t;

static int refresh_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    refresh_row_t *r = arg;
    if (ncols < SESS_NCOLS + 2)
        return NT_EINTERNAL;
    sess_from_row(r->s, cols);
    r->expires_at = db_col_i64(cols[SESS_NCOLS]);
    r->spent = cols[SESS_NCOLS + 1] != NULL;
    r->found = 1;
    return 1;
}

/* Inside the refresh transaction: the family was replayed, kill it. */
static int revoke_reused(MYSQL *db, session_rec_t *s, int64_t now)
{
    if (s->revoked_at == 0) {
        db_param_t p[] = {DB_P_I64(now), DB_P_STR(s->sid)};
        int rc = db_exec(db, "UPDATE sessions SET revoked_at = ?, revoke_reason = 'reuse'"
                             " WHERE id = ? AND revoked_at IS NULL", p, 2, NULL, NULL);
        if (rc != NT_OK)
            return rc;
        s->revoked_at = now;
    }
    return session_spend_family(db, s->sid, now);
}

int session_refresh(MYSQL *db, const char *hash, const char *new_hash,
                    int64_t new_expires_at, int64_t now, session_rec_t *out, int *reused)
{
    *reused = 0;
    if (!hash || !new_hash)
        return NT_EUNAUTH;
    memset(out, 0, sizeof *out);
    refresh_row_t r = {.s = out};
    db_param_t p[] = {DB_P_STR(hash)};
    int rc = db_begin(db);
    if (rc != NT_OK)
        return rc;
    if ((rc = db_query(db, "SELECT " SESS_COLS ", t.expires_at, t.spent_at"
                           " FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id"
                           " WHERE t.token_hash = ? FOR UPDATE",
                       p, 1, refresh_row, &r, 1, NULL)) != NT_OK)
        goto fail;
    if (!r.found) {
        db_rollback(db);
        return NT_EUNAUTH;
    }
    if (r.spent || out->revoked_at != 0) {
        if ((rc = revoke_reused(db, out, now)) != NT_OK || (rc = db_commit(db)) != NT_OK)
            goto fail;
        log_warn("refresh token reuse: session revoked", "sid=%s uid=%s", out->sid, out->uid);
        *reused = 1;
        return NT_EUNAUTH;
    }
    if (r.expires_at <= now) {
        db_rollback(db);
        return NT_EUNAUTH;
    }
    db_param_t ps[] = {DB_P_I64(now), DB_P_STR(hash)};
    if ((rc = db_exec(db, "UPDATE refresh_tokens SET spent_at = ? WHERE token_hash = ?", ps, 2,
                      NULL, NULL)) != NT_OK)
        goto fail;
    db_param_t pn[] = {DB_P_STR(new_hash), DB_P_STR(out->sid), DB_P_I64(new_expires_at),
                       DB_P_I64(now)};
    if ((rc = db_exec(db, "INSERT INTO refresh_tokens (token_hash, session_id, expires_at,"
                          " created_at) VALUES (?, ?, ?, ?)", pn, 4, NULL, NULL)) != NT_OK)
        goto fail;
    return db_commit(db);
fail:
    db_rollback(db);
    return rc;
}

static int exists_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)ncols, (void)cols, (void)lens;
    *(int *)arg = 1;
    return 1;
}

int session_revoke(MYSQL *db, const char *sid, const char *uid, int64_t now)
{
    int64_t user;
    int exists = 0;
    uint64_t affected = 0;
    if (!sid || db_parse_id(uid, &user) != NT_OK)
        return NT_ENOTFOUND;
    int rc = db_begin(db);
    if (rc != NT_OK)
        return rc;
    db_param_t p[] = {DB_P_I64(now), DB_P_STR(sid), DB_P_I64(user)};
    if ((rc = db_exec(db, "UPDATE sessions SET revoked_at = ?, revoke_reason = 'logout'"
                          " WHERE id = ? AND user_id = ? AND revoked_at IS NULL",
                      p, 3, &affected, NULL)) != NT_OK)
        goto fail;
    if (affected == 0) { /* not uid's, or already revoked */
        if ((rc = db_query(db, "SELECT 1 FROM sessions WHERE id = ? AND user_id = ?", p + 1, 2,
                           exists_row, &exists, 1, NULL)) != NT_OK)
            goto fail;
        if (!exists) {
            db_rollback(db);
            return NT_ENOTFOUND;
        }
    }
    if ((rc = session_spend_family(db, sid, now)) != NT_OK)
        goto fail;
    return db_commit(db);
fail:
    db_rollback(db);
    return rc;
}

typedef struct revoked_cb {
    session_revoked_fn fn;
    void *arg;
} revoked_cb_t;

static int revoked_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    revoked_cb_t *c = arg;
    if (ncols < SESS_NCOLS)
        return NT_EINTERNAL;
    session_rec_t s;
    memset(&s, 0, sizeof s);
    sess_from_row(&s, cols);
    return c->fn(c->arg, &s);
}

int session_revoked_since(MYSQL *db, int64_t since, session_revoked_fn fn, void *arg)
{
    revoked_cb_t c = {fn, arg};
    db_param_t p[] = {DB_P_I64(since)};
    return db_query(db, "SELECT " SESS_COLS " FROM sessions s WHERE s.revoked_at >= ?"
                        " ORDER BY s.revoked_at DESC", p, 1, revoked_row, &c, 0, NULL);
}

int session_prune(MYSQL *db, int64_t before, int max, uint64_t *deleted)
{
    db_param_t p[] = {DB_P_I64(before), DB_P_I64(max > 0 ? max : 10000)};
    uint64_t n = 0;
    int rc = db_exec(db, "DELETE FROM refresh_tokens WHERE expires_at < ? LIMIT ?", p, 2, &n,
                     NULL);
    if (deleted)
        *deleted = n;
    return rc;
}
