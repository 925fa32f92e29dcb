/*
 * session_revoke.c - changes that revoke many sessions of one user at once
 * (session_store.h): a login replacing the sessions of its platform, and a
 * password change revoking every session but the caller's.
 *
 * Both run in one transaction that first locks the user's row.  That lock
 * orders them against each other: without it two logins of one user take
 * gap locks on sessions and deadlock, or both find nothing to replace and
 * both stay live on one platform; and a login that checked the old
 * password (without a connection, argon2 is slow) could create its session
 * just after a password change revoked all the others.  So a login passes
 * the hash it verified and is refused if the row holds another one by the
 * time it has the lock; a password change does the same with the old hash
 * (two concurrent changes: the second finds the hash changed).
 *
 * Choices:
 * - Every matching live session is revoked, newest first, but at most
 *   SESSION_LOGIN_REPORT_MAX are reported (a warning says how many more).
 *   With one live session per platform there are never more than three.
 * - A deadlock or lock wait timeout (against refresh or logout, which lock
 *   token and session rows first) rolls back and runs again, three tries.
 */
#include "store/session_internal.h"

#include "common/err.h"
#include "common/log.h"
#include "store/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTEMPTS 3
#define HASH_MAX 256 /* users.password_hash is VARCHAR(255) */

typedef struct user_lock {
    int found, too_long;
    char hash[HASH_MAX];
    int banned;                           /* banned_at IS NOT NULL */
    int64_t banned_until;                 /* 0: for good */
    char ban_reason[SESSION_BAN_REASON_MAX];
} user_lock_t;

static int user_lock_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    user_lock_t *u = arg;
    if (ncols < 1)
        return NT_EINTERNAL;
    u->found = 1;
    if (!cols[0] || lens[0] >= sizeof u->hash)
        u->too_long = 1;
    else
        memcpy(u->hash, cols[0], lens[0] + 1);
    if (ncols >= 4) {
        u->banned = cols[1] != NULL;
        u->banned_until = db_col_i64(cols[2]);
        db_copy(u->ban_reason, sizeof u->ban_reason, cols[3]);
    }
    return 1;
}

/* Lock the user's row into *u; NT_OK if it exists and its hash is `want`
 * (NULL: any), NT_ENOTFOUND if gone, `changed` if the hash is another one.
 * The ban columns come along: a ban takes this same lock (admin_store.c),
 * so a login holding it sees every ban committed before. */
static int lock_user(MYSQL *db, int64_t user, const char *want, int changed, user_lock_t *u)
{
    memset(u, 0, sizeof *u);
    db_param_t p[] = {DB_P_I64(user)};
    int rc = db_query(db, "SELECT password_hash, banned_at, banned_until, ban_reason FROM users"
                          " WHERE id = ? FOR UPDATE", p, 1, user_lock_row, u, 1, NULL);
    if (rc != NT_OK)
        return rc;
    if (!u->found)
        return NT_ENOTFOUND;
    if (want && (u->too_long || strcmp(u->hash, want) != 0))
        return changed;
    return NT_OK;
}

/* 1 if the row read by lock_user holds a ban in force at now. */
static int ban_in_force(const user_lock_t *u, int64_t now)
{
    return u->banned && (u->banned_until == 0 || u->banned_until > now);
}

/* Revoke uid's live sessions on platform (one device, or all when
 * device_id is NULL) with reason; their sids are appended to l. */
static int revoke_matching(MYSQL *db, int64_t user, const char *platform, const char *device_id,
                           const char *reason, int64_t now, sid_list_t *l)
{
    /* FORCE INDEX: with few rows the optimizer likes sessions_revoked_at,
     * and FOR UPDATE through it locks every user's live sessions, so
     * logins of different users deadlock each other. */
    db_param_t p[3] = {DB_P_I64(user), DB_P_STR(platform)};
    int np = 2;
    if (device_id)
        p[np++] = DB_P_STR(device_id);
    int first = l->n;
    int rc = db_query(db, device_id
                              ? "SELECT id FROM sessions FORCE INDEX (sessions_user_platform)"
                                " WHERE user_id = ? AND platform = ?"
                                " AND device_id = ? AND revoked_at IS NULL"
                                " ORDER BY created_at DESC FOR UPDATE"
                              : "SELECT id FROM sessions FORCE INDEX (sessions_user_platform)"
                                " WHERE user_id = ? AND platform = ?"
                                " AND revoked_at IS NULL ORDER BY created_at DESC FOR UPDATE",
                      p, np, session_collect_sid, l, 0, NULL);
    return rc == NT_OK ? session_mark_revoked(db, l, first, reason, now) : rc;
}

/* Copy up to max sids of l[from, to) out; warn about the rest. */
static int report(const sid_list_t *l, int from, int to, char (*sids)[SESSION_ID_MAX], int max,
                  const char *uid)
{
    int n = 0;
    for (int i = from; i < to && n < max; i++)
        memcpy(sids[n++], l->v[i], SESSION_ID_MAX);
    if (to - from > n)
        log_warn("revoked more sessions than reported", "uid=%s revoked=%d reported=%d", uid,
                 to - from, n);
    return n;
}

int session_revoke_platform(MYSQL *db, const char *uid, const char *platform,
                            const char *device_id, int64_t now,
                            char (*sids)[SESSION_ID_MAX], int max, int *n)
{
    int64_t user;
    *n = 0;
    if (!platform)
        return NT_EINVAL;
    if (db_parse_id(uid, &user) != NT_OK)
        return NT_OK; /* no such user, so nothing live to revoke */
    sid_list_t l = {0};
    int rc = db_begin(db);
    if (rc != NT_OK)
        return rc;
    if ((rc = revoke_matching(db, user, platform, device_id, "replaced", now, &l)) != NT_OK)
        db_rollback(db);
    else if (l.n == 0)
        db_rollback(db); /* nothing changed; just drop the locks */
    else
        rc = db_commit(db);
    if (rc == NT_OK)
        *n = report(&l, 0, l.n, sids, max, uid);
    free(l.v);
    return rc;
}

/* One attempt of session_login; leaves the transaction open on failure
 * so the caller can read the error before rolling back. */
static int login_once(MYSQL *db, const session_login_t *in, int64_t user, const char *dev,
                      sid_list_t *l, int *renewed, session_login_out_t *out)
{
    user_lock_t u;
    /* READ COMMITTED: no gap locks on the sessions indexes, which under
     * REPEATABLE READ made logins of users with neighbouring ids deadlock
     * (measured: ~10% of 3000 concurrent first logins).  The user row lock
     * still orders logins of one user. */
    int rc = db_begin_read_committed(db);
    if (rc != NT_OK)
        return rc;
    rc = lock_user(db, user, in->pw_hash, NT_EUNAUTH, &u);
    if (rc == NT_OK && ban_in_force(&u, in->now)) {
        snprintf(out->ban_reason, sizeof out->ban_reason, "%s", u.ban_reason);
        out->ban_until = u.banned_until;
        rc = NT_EBANNED;
    }
    /* Both are stored as "replaced"; the caller's event tells them apart. */
    if (rc == NT_OK && dev)
        rc = revoke_matching(db, user, in->platform, dev, "replaced", in->now, l);
    *renewed = l->n;
    if (rc == NT_OK)
        rc = revoke_matching(db, user, in->platform, NULL, "replaced", in->now, l);
    if (rc == NT_OK)
        rc = session_insert(db, in->sid, user, in->platform, dev, in->refresh_hash,
                            in->refresh_expires_at, in->now);
    return rc == NT_OK ? db_commit(db) : rc;
}

/* Roll back a failed attempt; 1 if it is worth another one. */
static int retry_after(MYSQL *db, int rc)
{
    int retry = rc == NT_EUNAVAIL && db_last_was_lock_conflict();
    db_rollback(db);
    return retry;
}

int session_login(MYSQL *db, const session_login_t *in, session_login_out_t *out)
{
    int64_t user;
    out->n_renewed = out->n_replaced = 0;
    out->ban_reason[0] = '\0';
    out->ban_until = 0;
    if (!in->sid || !*in->sid || strlen(in->sid) >= SESSION_ID_MAX || !in->platform ||
        !in->refresh_hash)
        return NT_EINVAL;
    if (db_parse_id(in->uid, &user) != NT_OK)
        return NT_ENOTFOUND;
    const char *dev = in->device_id && *in->device_id ? in->device_id : NULL;
    sid_list_t l = {0};
    int renewed = 0, rc = NT_EUNAVAIL;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        l.n = 0;
        if ((rc = login_once(db, in, user, dev, &l, &renewed, out)) == NT_OK ||
            !retry_after(db, rc))
            break;
    }
    if (rc == NT_OK) {
        out->n_renewed = report(&l, 0, renewed, out->renewed, SESSION_LOGIN_REPORT_MAX, in->uid);
        out->n_replaced = report(&l, renewed, l.n, out->replaced, SESSION_LOGIN_REPORT_MAX,
                                 in->uid);
    }
    free(l.v);
    return rc;
}

static int live_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    *(int *)arg = ncols >= 1 && cols[0] == NULL; /* revoked_at IS NULL */
    return 1;
}

/* One attempt of session_password; leaves the transaction open on failure. */
static int password_once(MYSQL *db, const session_password_t *in, int64_t user, sid_list_t *l)
{
    int live = 0;
    user_lock_t u;
    int rc = db_begin(db);
    if (rc != NT_OK)
        return rc;
    if ((rc = lock_user(db, user, in->old_hash, NT_ECONFLICT, &u)) != NT_OK)
        return rc;
    db_param_t ps[] = {DB_P_STR(in->sid), DB_P_I64(user)};
    if ((rc = db_query(db, "SELECT revoked_at FROM sessions WHERE id = ? AND user_id = ?"
                           " FOR UPDATE", ps, 2, live_row, &live, 1, NULL)) != NT_OK)
        return rc;
    if (!live)
        return NT_EUNAUTH; /* the caller's own session was revoked meanwhile */
    db_param_t po[] = {DB_P_I64(user), DB_P_STR(in->sid)};
    if ((rc = db_query(db, "SELECT id FROM sessions FORCE INDEX (sessions_user_platform)"
                           " WHERE user_id = ? AND revoked_at IS NULL AND id <> ?"
                           " ORDER BY created_at DESC FOR UPDATE",
                       po, 2, session_collect_sid, l, 0, NULL)) != NT_OK ||
        (rc = session_mark_revoked(db, l, 0, "password", in->now)) != NT_OK)
        return rc;
    db_param_t pu[] = {DB_P_STR(in->new_hash), DB_P_I64(in->now), DB_P_I64(user)};
    if ((rc = db_exec(db, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?", pu,
                      3, NULL, NULL)) != NT_OK)
        return rc;
    return db_commit(db);
}

int session_password(MYSQL *db, const session_password_t *in, session_password_out_t *out)
{
    int64_t user;
    out->n_revoked = 0;
    if (!in->sid || !*in->sid || strlen(in->sid) >= SESSION_ID_MAX || !in->old_hash ||
        !in->new_hash || !*in->new_hash || strlen(in->new_hash) >= HASH_MAX)
        return NT_EINVAL;
    if (db_parse_id(in->uid, &user) != NT_OK)
        return NT_ENOTFOUND;
    sid_list_t l = {0};
    int rc = NT_EUNAVAIL;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        l.n = 0;
        if ((rc = password_once(db, in, user, &l)) == NT_OK || !retry_after(db, rc))
            break;
    }
    if (rc == NT_OK)
        out->n_revoked = report(&l, 0, l.n, out->revoked, SESSION_LOGIN_REPORT_MAX, in->uid);
    free(l.v);
    return rc;
}
