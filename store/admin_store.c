/*
 * admin_store.c - roles, bans, admin session control and the audit log
 * (admin_store.h).
 *
 * The ban runs like a password change (session_revoke.c): lock the user's
 * row, write, revoke the live sessions, commit; a deadlock against a
 * refresh or logout is rolled back and run again (three tries).
 */
#include "store/admin_store.h"

#include "common/err.h"
#include "common/log.h"
#include "store/db.h"
#include "store/session_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ATTEMPTS 3

static int found_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    char **out = arg;
    if (ncols < 2)
        return NT_EINTERNAL;
    db_copy(out[0], USER_ID_MAX, cols[0]);
    db_copy(out[1], ADMIN_ROLE_MAX + 1, cols[1]);
    return 1;
}

int admin_set_role(MYSQL *db, const char *username, const char *role, int *changed,
                   char *uid_out)
{
    char id[USER_ID_MAX] = "", old[ADMIN_ROLE_MAX + 1] = "";
    char *cols[] = {id, old};
    int rows = 0;
    if (changed)
        *changed = 0;
    if (!role || (strcmp(role, "user") != 0 && strcmp(role, "admin") != 0) || !username)
        return NT_EINVAL;
    db_param_t pu[] = {DB_P_STR(username)};
    int rc = db_query(db, "SELECT id, role FROM users WHERE username = ?", pu, 1, found_row, cols,
                      1, &rows);
    if (rc != NT_OK)
        return rc;
    if (rows != 1)
        return NT_ENOTFOUND;
    if (uid_out)
        snprintf(uid_out, USER_ID_MAX, "%s", id);
    if (strcmp(old, role) == 0)
        return NT_OK;
    db_param_t p[] = {DB_P_STR(role), DB_P_I64(db_now_ms()), DB_P_STR(username)};
    if ((rc = db_exec(db, "UPDATE users SET role = ?, updated_at = ? WHERE username = ?", p, 3,
                      NULL, NULL)) != NT_OK)
        return rc;
    if (changed)
        *changed = 1;
    return NT_OK;
}

typedef struct role_row {
    char *username;
    int is_admin, found;
} role_row_t;

static int one_role(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    role_row_t *r = arg;
    if (ncols < 2)
        return NT_EINTERNAL;
    r->found = 1;
    db_copy(r->username, USERNAME_MAX + 1, cols[0]);
    r->is_admin = cols[1] && strcmp(cols[1], "admin") == 0;
    return 1;
}

int admin_role_of(MYSQL *db, const char *uid, char *username, int *is_admin)
{
    int64_t id;
    role_row_t r = {.username = username};
    *is_admin = 0;
    if (db_parse_id(uid, &id) != NT_OK)
        return NT_ENOTFOUND;
    db_param_t p[] = {DB_P_I64(id)};
    int rc = db_query(db, "SELECT username, role FROM users WHERE id = ?", p, 1, one_role, &r, 1,
                      NULL);
    if (rc != NT_OK)
        return rc;
    if (!r.found)
        return NT_ENOTFOUND;
    *is_admin = r.is_admin;
    return NT_OK;
}

typedef struct user_acc {
    admin_user_rec_t *out;
    int max, n;
    int64_t now;
} user_acc_t;

static int user_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    user_acc_t *a = arg;
    if (ncols < 9)
        return NT_EINTERNAL;
    if (a->n >= a->max)
        return 1;
    admin_user_rec_t *u = &a->out[a->n++];
    db_copy(u->id, sizeof u->id, cols[0]);
    db_copy(u->username, sizeof u->username, cols[1]);
    db_copy(u->display_name, sizeof u->display_name, cols[2]);
    db_copy(u->role, sizeof u->role, cols[3]);
    u->created_at = db_col_i64(cols[4]);
    u->banned_until = db_col_i64(cols[6]);
    u->banned = cols[5] != NULL && (u->banned_until == 0 || u->banned_until > a->now);
    db_copy(u->ban_reason, sizeof u->ban_reason, u->banned ? cols[7] : "");
    if (!u->banned)
        u->banned_until = 0;
    u->last_seen = db_col_i64(cols[8]);
    return 0;
}

int admin_user_list(MYSQL *db, const char *prefix, int64_t now, int max, admin_user_rec_t *out,
                    int *n)
{
    *n = 0;
    if (max <= 0)
        return NT_OK;
    if (max > ADMIN_LIST_MAX)
        max = ADMIN_LIST_MAX;
    size_t plen = prefix ? strlen(prefix) : 0;
    if (plen > USERNAME_MAX)
        return NT_OK; /* no username is that long */
    char pat[USERNAME_MAX * 2 + 2];
    size_t k = 0;
    for (size_t i = 0; i < plen; i++) { /* LIKE wildcards are literal here */
        if (prefix[i] == '\\' || prefix[i] == '%' || prefix[i] == '_')
            pat[k++] = '\\';
        pat[k++] = prefix[i];
    }
    pat[k++] = '%';
    user_acc_t a = {.out = out, .max = max, .now = now};
    db_param_t p[] = {{.type = DB_STR, .s = pat, .len = k}, DB_P_I64(max)};
    int rc = db_query(db,
                      "SELECT u.id, u.username, u.display_name, u.role, u.created_at,"
                      " u.banned_at, u.banned_until, u.ban_reason, p.last_seen"
                      " FROM users u LEFT JOIN user_presence p ON p.user_id = u.id"
                      " WHERE u.username LIKE ? ESCAPE '\\\\' ORDER BY u.username LIMIT ?",
                      p, 2, user_row, &a, max, NULL);
    *n = a.n;
    return rc;
}

static int exists_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)ncols;
    (void)cols;
    (void)lens;
    *(int *)arg = 1;
    return 1;
}

/* One attempt of admin_ban; leaves the transaction open on failure. */
static int ban_once(MYSQL *db, int64_t user, const char *reason, int64_t until, int64_t now,
                    sid_list_t *l)
{
    int found = 0;
    int rc = db_begin(db);
    if (rc != NT_OK)
        return rc;
    db_param_t pl[] = {DB_P_I64(user)};
    if ((rc = db_query(db, "SELECT id FROM users WHERE id = ? FOR UPDATE", pl, 1, exists_row,
                       &found, 1, NULL)) != NT_OK)
        return rc;
    if (!found)
        return NT_ENOTFOUND;
    db_param_t pb[] = {DB_P_I64(now), until ? DB_P_I64(until) : DB_P_NULL, DB_P_STR(reason),
                       DB_P_I64(now), DB_P_I64(user)};
    if ((rc = db_exec(db, "UPDATE users SET banned_at = ?, banned_until = ?, ban_reason = ?,"
                          " updated_at = ? WHERE id = ?", pb, 5, NULL, NULL)) != NT_OK)
        return rc;
    if ((rc = db_query(db, "SELECT id FROM sessions FORCE INDEX (sessions_user_platform)"
                           " WHERE user_id = ? AND revoked_at IS NULL"
                           " ORDER BY created_at DESC FOR UPDATE",
                       pl, 1, session_collect_sid, l, 0, NULL)) != NT_OK ||
        (rc = session_mark_revoked(db, l, 0, "banned", now)) != NT_OK)
        return rc;
    return db_commit(db);
}

int admin_ban(MYSQL *db, const char *uid, const char *reason, int64_t until, int64_t now,
              char (**sids)[SESSION_ID_MAX], int *nsids)
{
    int64_t user;
    *sids = NULL;
    *nsids = 0;
    if (db_parse_id(uid, &user) != NT_OK)
        return NT_ENOTFOUND;
    sid_list_t l = {0};
    int rc = NT_EUNAVAIL;
    for (int attempt = 0; attempt < ATTEMPTS; attempt++) {
        l.n = 0;
        if ((rc = ban_once(db, user, reason ? reason : "", until, now, &l)) == NT_OK)
            break;
        int retry = rc == NT_EUNAVAIL && db_last_was_lock_conflict();
        db_rollback(db);
        if (!retry)
            break;
    }
    if (rc == NT_OK) {
        *sids = l.v;
        *nsids = l.n;
        return NT_OK;
    }
    free(l.v);
    return rc;
}

int admin_unban(MYSQL *db, const char *uid)
{
    int64_t user;
    int found = 0;
    if (db_parse_id(uid, &user) != NT_OK)
        return NT_ENOTFOUND;
    db_param_t p[] = {DB_P_I64(user)};
    int rc = db_query(db, "SELECT 1 FROM users WHERE id = ?", p, 1, exists_row, &found, 1, NULL);
    if (rc != NT_OK)
        return rc;
    if (!found)
        return NT_ENOTFOUND;
    return db_exec(db, "UPDATE users SET banned_at = NULL, banned_until = NULL, ban_reason = ''"
                       " WHERE id = ?", p, 1, NULL, NULL);
}

static int owner_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    if (ncols < 1)
        return NT_EINTERNAL;
    db_copy(arg, USER_ID_MAX, cols[0]);
    return 1;
}

int admin_session_revoke(MYSQL *db, const char *sid, const char *reason, int64_t now,
                         char *uid_out)
{
    uid_out[0] = '\0';
    if (!sid || !*sid || strlen(sid) >= SESSION_ID_MAX)
        return NT_ENOTFOUND;
    int rc = db_begin(db);
    if (rc != NT_OK)
        return rc;
    db_param_t p[] = {DB_P_STR(sid)};
    if ((rc = db_query(db, "SELECT user_id FROM sessions WHERE id = ? AND revoked_at IS NULL"
                           " FOR UPDATE", p, 1, owner_row, uid_out, 1, NULL)) != NT_OK)
        goto fail;
    if (!uid_out[0]) {
        db_rollback(db);
        return NT_ENOTFOUND;
    }
    sid_list_t l = {.v = NULL, .n = 0, .cap = 0};
    char one[1][SESSION_ID_MAX];
    snprintf(one[0], sizeof one[0], "%s", sid);
    l.v = one;
    l.n = l.cap = 1;
    if ((rc = session_mark_revoked(db, &l, 0, reason, now)) != NT_OK)
        goto fail;
    return db_commit(db);
fail:
    db_rollback(db);
    return rc;
}

typedef struct sess_acc {
    session_rec_t *out;
    int max, n;
} sess_acc_t;

static int sess_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    sess_acc_t *a = arg;
    if (ncols < 5)
        return NT_EINTERNAL;
    if (a->n >= a->max)
        return 1;
    session_rec_t *s = &a->out[a->n++];
    memset(s, 0, sizeof *s);
    db_copy(s->sid, sizeof s->sid, cols[0]);
    db_copy(s->uid, sizeof s->uid, cols[1]);
    db_copy(s->platform, sizeof s->platform, cols[2]);
    db_copy(s->device_id, sizeof s->device_id, cols[3]);
    s->created_at = db_col_i64(cols[4]);
    return 0;
}

int admin_session_list(MYSQL *db, const char *uid, int max, session_rec_t *out, int *n)
{
    int64_t user;
    *n = 0;
    if (db_parse_id(uid, &user) != NT_OK || max <= 0)
        return NT_OK;
    sess_acc_t a = {.out = out, .max = max};
    db_param_t p[] = {DB_P_I64(user), DB_P_I64(max)};
    int rc = db_query(db, "SELECT id, user_id, platform, device_id, created_at FROM sessions"
                          " FORCE INDEX (sessions_user_platform)"
                          " WHERE user_id = ? AND revoked_at IS NULL"
                          " ORDER BY created_at DESC LIMIT ?", p, 2, sess_row, &a, max, NULL);
    *n = a.n;
    return rc;
}

int admin_audit_add(MYSQL *db, const char *actor_id, const char *actor_name,
                    const char *action, const char *target, const char *detail,
                    const char *address, int64_t now)
{
    int64_t actor = 0; /* 0: the operator's CLI, not a user */
    if (actor_id && *actor_id && db_parse_id(actor_id, &actor) != NT_OK)
        return NT_EINVAL;
    /* Cut to the columns (characters; bytes are an upper bound) so a long
     * ban reason never fails the write of the entry. */
    char t[129], d[601], a[65];
    db_copy(t, sizeof t, target);
    db_copy(d, sizeof d, detail);
    db_copy(a, sizeof a, address);
    db_param_t p[] = {DB_P_I64(actor), DB_P_STR(actor_name), DB_P_STR(action), DB_P_STR(t),
                      DB_P_STR(d), DB_P_STR(a), DB_P_I64(now)};
    return db_exec(db, "INSERT INTO admin_audit (actor_id, actor_name, action, target, detail,"
                       " address, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)", p, 7, NULL, NULL);
}

typedef struct audit_acc {
    admin_audit_rec_t *out;
    int max, n;
} audit_acc_t;

static int audit_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    audit_acc_t *a = arg;
    if (ncols < 8)
        return NT_EINTERNAL;
    if (a->n >= a->max)
        return 1;
    admin_audit_rec_t *e = &a->out[a->n++];
    db_copy(e->id, sizeof e->id, cols[0]);
    db_copy(e->actor_id, sizeof e->actor_id, cols[1]);
    db_copy(e->actor_name, sizeof e->actor_name, cols[2]);
    db_copy(e->action, sizeof e->action, cols[3]);
    db_copy(e->target, sizeof e->target, cols[4]);
    db_copy(e->detail, sizeof e->detail, cols[5]);
    db_copy(e->address, sizeof e->address, cols[6]);
    e->created_at = db_col_i64(cols[7]);
    return 0;
}

int admin_audit_list(MYSQL *db, int64_t before, int max, admin_audit_rec_t *out, int *n)
{
    *n = 0;
    if (max <= 0)
        return NT_OK;
    audit_acc_t a = {.out = out, .max = max};
    db_param_t p[] = {DB_P_I64(before > 0 ? before : INT64_MAX), DB_P_I64(max)};
    int rc = db_query(db, "SELECT id, actor_id, actor_name, action, target, detail, address,"
                          " created_at FROM admin_audit WHERE id < ? ORDER BY id DESC LIMIT ?",
                      p, 2, audit_row, &a, max, NULL);
    *n = a.n;
    return rc;
}

/* ---- IP rules ---- */

typedef struct rule_acc {
    admin_ip_rule_t *out;
    int max, n;
} rule_acc_t;

static int rule_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    rule_acc_t *a = arg;
    if (ncols < 4)
        return NT_EINTERNAL;
    if (a->n >= a->max)
        return 1;
    admin_ip_rule_t *r = &a->out[a->n++];
    db_copy(r->id, sizeof r->id, cols[0]);
    db_copy(r->cidr, sizeof r->cidr, cols[1]);
    db_copy(r->action, sizeof r->action, cols[2]);
    r->created_at = db_col_i64(cols[3]);
    return 0;
}

#define RULE_COLS "SELECT id, cidr, action, created_at FROM ip_rules"

int admin_ip_rule_add(MYSQL *db, const char *cidr, const char *action, const char *actor_id,
                      int64_t now, admin_ip_rule_t *out)
{
    int64_t actor = 0;
    uint64_t id = 0;
    if (!cidr || strlen(cidr) >= sizeof out->cidr || !action || strcmp(action, "deny") != 0)
        return NT_EINVAL;
    if (actor_id && *actor_id && db_parse_id(actor_id, &actor) != NT_OK)
        return NT_EINVAL;
    db_param_t p[] = {DB_P_STR(cidr), DB_P_STR(action), DB_P_I64(actor), DB_P_I64(now)};
    int rc = db_exec(db, "INSERT INTO ip_rules (cidr, action, created_by, created_at)"
                         " VALUES (?, ?, ?, ?)", p, 4, NULL, &id);
    if (rc != NT_OK)
        return rc; /* NT_ECONFLICT: the cidr has a rule (unique key) */
    snprintf(out->id, sizeof out->id, "%llu", (unsigned long long)id);
    snprintf(out->cidr, sizeof out->cidr, "%s", cidr);
    snprintf(out->action, sizeof out->action, "%s", action);
    out->created_at = now;
    return NT_OK;
}

int admin_ip_rule_delete(MYSQL *db, const char *id, admin_ip_rule_t *out)
{
    int64_t rid;
    admin_ip_rule_t tmp;
    rule_acc_t a = {.out = out ? out : &tmp, .max = 1};
    uint64_t affected = 0;
    if (db_parse_id(id, &rid) != NT_OK)
        return NT_ENOTFOUND;
    db_param_t p[] = {DB_P_I64(rid)};
    int rc = db_query(db, RULE_COLS " WHERE id = ?", p, 1, rule_row, &a, 1, NULL);
    if (rc != NT_OK)
        return rc;
    if ((rc = db_exec(db, "DELETE FROM ip_rules WHERE id = ?", p, 1, &affected, NULL)) != NT_OK)
        return rc;
    return affected ? NT_OK : NT_ENOTFOUND;
}

int admin_ip_rule_list(MYSQL *db, int max, admin_ip_rule_t *out, int *n)
{
    *n = 0;
    if (max <= 0)
        return NT_OK;
    rule_acc_t a = {.out = out, .max = max};
    db_param_t p[] = {DB_P_I64(max)};
    int rc = db_query(db, RULE_COLS " ORDER BY id LIMIT ?", p, 1, rule_row, &a, max, NULL);
    *n = a.n;
    return rc;
}
