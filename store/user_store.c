/*
 * user_store.c - the users table (user_store.h).
 *
 * Ids cross this boundary as decimal strings and are parsed here
 * (db_parse_id) and bound as integers, so "12abc" or "007" is simply a user
 * that does not exist, and the index on the primary key is used.  Every
 * column read lands in a fixed-size field of user_rec_t through db_copy,
 * which truncates at a UTF-8 boundary; the fields are sized to the column
 * limits, so a cut only happens if the schema and the header disagree.
 *
 * display_name: an empty or NULL one becomes the username, both on create
 * and on update (a profile always has a name to show).  avatar_url and bio:
 * "" clears them.
 */
#include "store/user_store.h"

#include "common/err.h"
#include "common/log.h"
#include "store/db.h"

#include <stdio.h>
#include <string.h>

#define USER_COLS "id, username, display_name, avatar_url, bio, created_at"
#define USER_NCOLS 6

/* Fill *u from the USER_COLS columns. */
static void user_from_row(user_rec_t *u, char **cols)
{
    db_copy(u->id, sizeof u->id, cols[0]);
    db_copy(u->username, sizeof u->username, cols[1]);
    db_copy(u->display_name, sizeof u->display_name, cols[2]);
    db_copy(u->avatar_url, sizeof u->avatar_url, cols[3]);
    db_copy(u->bio, sizeof u->bio, cols[4]);
    u->created_at = db_col_i64(cols[5]);
}

static int one_user(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    if (ncols < USER_NCOLS)
        return NT_EINTERNAL;
    user_from_row(arg, cols);
    return 1;
}

int user_get(MYSQL *db, const char *id, user_rec_t *out)
{
    int64_t uid;
    int rows = 0;
    if (db_parse_id(id, &uid) != NT_OK)
        return NT_ENOTFOUND;
    db_param_t p[] = {DB_P_I64(uid)};
    int rc = db_query(db, "SELECT " USER_COLS " FROM users WHERE id = ?", p, 1, one_user, out, 1,
                      &rows);
    if (rc != NT_OK)
        return rc;
    return rows == 1 ? NT_OK : NT_ENOTFOUND;
}

int user_create(MYSQL *db, const char *username, const char *display_name,
                const char *pw_hash, user_rec_t *out)
{
    if (!username || !*username || strlen(username) > USERNAME_MAX || !pw_hash)
        return NT_EINVAL;
    const char *name = display_name && *display_name ? display_name : username;
    int64_t now = db_now_ms();
    uint64_t id = 0;
    db_param_t p[] = {DB_P_STR(username), DB_P_STR(name), DB_P_STR(pw_hash), DB_P_I64(now),
                      DB_P_I64(now)};
    int rc = db_exec(db,
                     "INSERT INTO users (username, display_name, password_hash, created_at,"
                     " updated_at) VALUES (?, ?, ?, ?, ?)",
                     p, 5, NULL, &id);
    if (rc == NT_ECONFLICT)
        return NT_ETAKEN; /* username is the only unique key besides the id */
    if (rc != NT_OK)
        return rc;
    memset(out, 0, sizeof *out);
    snprintf(out->id, sizeof out->id, "%llu", (unsigned long long)id);
    db_copy(out->username, sizeof out->username, username);
    db_copy(out->display_name, sizeof out->display_name, name);
    out->created_at = now;
    return NT_OK;
}

typedef struct login_row {
    user_rec_t *u;
    char *hash;
    size_t hash_len;
    int too_long;
} login_row_t;

static int one_login(void *arg, int ncols, char **cols, unsigned long *lens)
{
    login_row_t *l = arg;
    if (ncols < USER_NCOLS + 1)
        return NT_EINTERNAL;
    user_from_row(l->u, cols);
    /* A cut hash would never verify: refuse rather than truncate. */
    if (!cols[USER_NCOLS] || lens[USER_NCOLS] >= l->hash_len) {
        l->too_long = 1;
        return 1;
    }
    memcpy(l->hash, cols[USER_NCOLS], lens[USER_NCOLS] + 1);
    return 1;
}

int user_get_login(MYSQL *db, const char *username, user_rec_t *out, char *pw_hash,
                   size_t pw_hash_len)
{
    if (!username || strlen(username) > USERNAME_MAX)
        return NT_ENOTFOUND;
    if (!pw_hash || pw_hash_len == 0)
        return NT_EINVAL;
    login_row_t l = {.u = out, .hash = pw_hash, .hash_len = pw_hash_len};
    db_param_t p[] = {DB_P_STR(username)};
    int rows = 0;
    int rc = db_query(db, "SELECT " USER_COLS ", password_hash FROM users WHERE username = ?", p,
                      1, one_login, &l, 1, &rows);
    if (rc != NT_OK)
        return rc;
    if (rows != 1)
        return NT_ENOTFOUND;
    if (l.too_long) {
        log_error("stored password hash does not fit", "uid=%s", out->id);
        return NT_EINTERNAL;
    }
    return NT_OK;
}

int user_get_hash(MYSQL *db, const char *id, char *pw_hash, size_t pw_hash_len)
{
    int64_t uid;
    user_rec_t u;
    if (db_parse_id(id, &uid) != NT_OK)
        return NT_ENOTFOUND;
    if (!pw_hash || pw_hash_len == 0)
        return NT_EINVAL;
    login_row_t l = {.u = &u, .hash = pw_hash, .hash_len = pw_hash_len};
    db_param_t p[] = {DB_P_I64(uid)};
    int rows = 0;
    int rc = db_query(db, "SELECT " USER_COLS ", password_hash FROM users WHERE id = ?", p, 1,
                      one_login, &l, 1, &rows);
    if (rc != NT_OK)
        return rc;
    if (rows != 1)
        return NT_ENOTFOUND;
    if (l.too_long) {
        log_error("stored password hash does not fit", "uid=%s", id);
        return NT_EINTERNAL;
    }
    return NT_OK;
}

int user_update(MYSQL *db, const char *id, const char *display_name,
                const char *avatar_url, const char *bio, user_rec_t *out)
{
    int64_t uid;
    if (db_parse_id(id, &uid) != NT_OK)
        return NT_ENOTFOUND;
    /* The statement is assembled from constant fragments only (at most
     * ~100 bytes, well inside sql[]); the values are all bound. */
    char sql[256] = "UPDATE users SET updated_at = ?";
    db_param_t p[5];
    int n = 0;
    p[n++] = DB_P_I64(db_now_ms());
    if (display_name && *display_name) {
        strcat(sql, ", display_name = ?");
        p[n++] = DB_P_STR(display_name);
    } else if (display_name) {
        strcat(sql, ", display_name = username");
    }
    if (avatar_url) {
        strcat(sql, ", avatar_url = ?");
        p[n++] = DB_P_STR(avatar_url);
    }
    if (bio) {
        strcat(sql, ", bio = ?");
        p[n++] = DB_P_STR(bio);
    }
    strcat(sql, " WHERE id = ?");
    p[n++] = DB_P_I64(uid);
    if (n > 2) { /* something besides updated_at changes */
        int rc = db_exec(db, sql, p, n, NULL, NULL);
        if (rc != NT_OK)
            return rc;
    }
    /* Affected rows cannot tell "absent" from "unchanged"; the read can. */
    return user_get(db, id, out);
}

typedef struct search_acc {
    user_rec_t *out;
    int max, n;
} search_acc_t;

static int search_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    search_acc_t *a = arg;
    if (ncols < USER_NCOLS)
        return NT_EINTERNAL;
    if (a->n >= a->max)
        return 1;
    user_from_row(&a->out[a->n++], cols);
    return 0;
}

int user_search(MYSQL *db, const char *prefix, int max, user_rec_t *out, int *n)
{
    *n = 0;
    if (max <= 0)
        return NT_OK;
    size_t plen = prefix ? strlen(prefix) : 0;
    if (plen > USERNAME_MAX)
        return NT_OK; /* no username is that long */
    /* Nor has any a byte past ASCII (users.username is CHARACTER SET
     * ascii), and MariaDB refuses to compare one with it ("Illegal mix of
     * collations"): that was a 500 for GET /api/users?q=é (found by
     * ops/fuzz-live). */
    for (size_t i = 0; i < plen; i++)
        if ((unsigned char)prefix[i] >= 0x80)
            return NT_OK;
    /* Escape the LIKE wildcards so "a_b" does not match "axb". */
    char pat[USERNAME_MAX * 2 + 2];
    size_t k = 0;
    for (size_t i = 0; i < plen; i++) {
        if (prefix[i] == '\\' || prefix[i] == '%' || prefix[i] == '_')
            pat[k++] = '\\';
        pat[k++] = prefix[i];
    }
    pat[k++] = '%';
    search_acc_t a = {.out = out, .max = max};
    db_param_t p[] = {{.type = DB_STR, .s = pat, .len = k}, DB_P_I64(max)};
    int rc = db_query(db,
                      "SELECT " USER_COLS " FROM users WHERE username LIKE ? ESCAPE '\\\\'"
                      " ORDER BY username LIMIT ?",
                      p, 2, search_row, &a, max, NULL);
    *n = a.n;
    return rc;
}
