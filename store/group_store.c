/*
 * group_store.c - group create and changes (group_store.h).
 *
 * Every change runs: lock the conversation row and read its members
 * (conv_lock_many, the group commit's own statement), check the rule,
 * write the member rows, append the system message at last_seq + 1
 * (msg_insert_many) and advance last_seq (conv_advance_many), COMMIT.
 * Taking the row lock first means a concurrent send batch either ran
 * entirely before us or sees our member list.
 */
#include "store/group_store.h"

#include "common/err.h"
#include "store/db.h"
#include "store/sqlb.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void group_result_fini(group_result_t *r)
{
    if (!r)
        return;
    conv_rec_fini(&r->before);
    conv_rec_fini(&r->after);
    msg_rec_fini(&r->sys);
    for (int i = 0; i < r->n_added; i++)
        free(r->added[i]);
    free(r->added);
    r->added = NULL;
    r->n_added = 0;
}

typedef struct found_acc {
    const char *const *ids;
    int n;
    char *seen;                  /* n flags */
} found_acc_t;

static int found_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    found_acc_t *a = arg;
    if (ncols < 1 || !cols[0])
        return NT_EINTERNAL;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->ids[i], cols[0]) == 0)
            a->seen[i] = 1;
    return 0;
}

/* NT_OK if every id is a user, else NT_ENOTFOUND with the first missing
 * one copied to bad (MSG_ID_MAX bytes). */
static int users_exist(MYSQL *db, const char *const *ids, int n, char *bad)
{
    if (n <= 0)
        return NT_OK;
    db_param_t *p = calloc((size_t)n, sizeof *p);
    char *seen = calloc((size_t)n, 1);
    char *sql = sqlb_list("SELECT id FROM users WHERE id IN (", "?", ", ", n, ")");
    int rc = p && seen && sql ? NT_OK : NT_ENOMEM;
    for (int i = 0; rc == NT_OK && i < n; i++) {
        int64_t id = 0;
        if (db_parse_id(ids[i], &id) != NT_OK) {
            db_copy(bad, MSG_ID_MAX, ids[i]);
            rc = NT_ENOTFOUND;
        }
        p[i] = DB_P_I64(id);
    }
    found_acc_t a = {ids, n, seen};
    if (rc == NT_OK)
        rc = db_query(db, sql, p, n, found_row, &a, 0, NULL);
    for (int i = 0; rc == NT_OK && i < n; i++)
        if (!seen[i]) {
            db_copy(bad, MSG_ID_MAX, ids[i]);
            rc = NT_ENOTFOUND;
        }
    free(p);
    free(seen);
    free(sql);
    return rc;
}

/* INSERT member rows for ids[0..n) with role, joined now. */
static int insert_members(MYSQL *db, int64_t cid, const char *const *ids, int n,
                          const char *role, int64_t now)
{
    if (n <= 0)
        return NT_OK;
    db_param_t *p = calloc((size_t)n * 4, sizeof *p);
    char *sql = sqlb_list("INSERT INTO members (conversation_id, user_id, role, read_seq,"
                          " joined_at) VALUES ",
                          "(?, ?, ?, 0, ?)", ", ", n, "");
    int rc = p && sql ? NT_OK : NT_ENOMEM;
    for (int i = 0; rc == NT_OK && i < n; i++) {
        int64_t u = 0;
        if (db_parse_id(ids[i], &u) != NT_OK)
            rc = NT_EINVAL;
        p[4 * i] = DB_P_I64(cid);
        p[4 * i + 1] = DB_P_I64(u);
        p[4 * i + 2] = DB_P_STR(role);
        p[4 * i + 3] = DB_P_I64(now);
    }
    if (rc == NT_OK)
        rc = db_exec(db, sql, p, 4 * n, NULL, NULL);
    free(p);
    free(sql);
    return rc;
}

/* Append the system message body (a JSON object, stolen) at seq to cid
 * and advance last_seq; sys gets the stored record. */
static int append_sys(MYSQL *db, const char *cid, int64_t seq, const char *actor, json_t *body,
                      int64_t now, msg_rec_t *sys)
{
    memset(sys, 0, sizeof *sys);
    if (body && actor)
        json_object_set_new(body, "actor_id", json_string(actor));
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(body);
    if (!text)
        return NT_ENOMEM;
    db_copy(sys->conversation_id, sizeof sys->conversation_id, cid);
    db_copy(sys->sender_id, sizeof sys->sender_id, actor);
    snprintf(sys->client_msg_id, sizeof sys->client_msg_id, "system-%lld", (long long)seq);
    db_copy(sys->type, sizeof sys->type, "system");
    sys->seq = seq;
    sys->created_at = now;
    sys->body = text;            /* json_dumps: malloc'd, freed by msg_rec_fini */
    msg_rec_t *one = sys;
    int rc = msg_insert_many(db, &one, 1);
    if (rc == NT_OK) {
        int64_t c = db_col_i64(cid);
        rc = conv_advance_many(db, &c, &seq, 1, now);
    }
    return rc;
}

int group_create(MYSQL *db, const char *owner, const char *name, const char *const *ids, int n,
                 int max, conv_rec_t *out, msg_rec_t *sys, char *bad)
{
    int64_t o;
    uint64_t cid = 0;
    memset(out, 0, sizeof *out);
    memset(sys, 0, sizeof *sys);
    if (db_parse_id(owner, &o) != NT_OK)
        return NT_EFORBIDDEN;
    if (n < 0 || 1 + n > max || max > CONV_MEMBERS_MAX)
        return NT_EINVAL;
    int rc = users_exist(db, ids, n, bad);
    if (rc != NT_OK)
        return rc;
    int64_t now = db_now_ms();
    if ((rc = db_begin(db)) != NT_OK)
        return rc;
    db_param_t p[] = {DB_P_STR(name), DB_P_I64(o), DB_P_I64(now), DB_P_I64(now)};
    rc = db_exec(db,
                 "INSERT INTO conversations (type, name, owner_id, direct_key, last_seq,"
                 " last_activity, created_at) VALUES ('group', ?, ?, NULL, 0, ?, ?)",
                 p, 4, NULL, &cid);
    const char *self[1] = {owner};
    if (rc == NT_OK)
        rc = insert_members(db, (int64_t)cid, self, 1, "owner", now);
    if (rc == NT_OK)
        rc = insert_members(db, (int64_t)cid, ids, n, "member", now);
    char cs[MSG_ID_MAX];
    snprintf(cs, sizeof cs, "%llu", (unsigned long long)cid);
    if (rc == NT_OK) {
        json_t *b = json_pack("{s:s,s:s}", "event", "created", "name", name);
        json_t *arr = json_array();
        for (int i = 0; arr && i < n; i++)
            json_array_append_new(arr, json_string(ids[i]));
        if (b && arr)
            json_object_set_new(b, "user_ids", arr);
        else
            json_decref(arr);
        rc = append_sys(db, cs, 1, owner, b, now, sys);
    }
    if (rc == NT_OK)
        rc = db_commit(db);
    else
        db_rollback(db);
    if (rc == NT_OK)
        rc = conv_get(db, cs, out);
    if (rc != NT_OK)
        msg_rec_fini(sys);
    return rc;
}

#define FAIL(code, ...)                                                                    \
    do {                                                                                   \
        snprintf(err, errlen, __VA_ARGS__);                                                \
        return code;                                                                       \
    } while (0)

static int is_manager(const char *role)
{
    return role && (strcmp(role, "owner") == 0 || strcmp(role, "admin") == 0);
}

static int set_role(MYSQL *db, int64_t cid, const char *uid, const char *role)
{
    db_param_t p[] = {DB_P_STR(role), DB_P_I64(cid), DB_P_I64(db_col_i64(uid))};
    return db_exec(db, "UPDATE members SET role = ? WHERE conversation_id = ? AND user_id = ?",
                   p, 3, NULL, NULL);
}

/* add: the ids not yet members, checked to be users and to fit. */
static int do_add(MYSQL *db, int64_t cid, const group_change_t *ch, group_result_t *r,
                  int64_t now, json_t **body, char *err, size_t errlen)
{
    r->added = calloc((size_t)ch->n + 1, sizeof *r->added);
    if (!r->added)
        return NT_ENOMEM;
    for (int i = 0; i < ch->n; i++) {
        if (conv_member_role(&r->before, ch->ids[i]))
            continue;
        if (!(r->added[r->n_added] = strdup(ch->ids[i])))
            return NT_ENOMEM;
        r->n_added++;
    }
    if (r->n_added == 0)
        return NT_OK;            /* all there already: nothing to record */
    if (r->before.n_members + r->n_added > ch->max)
        FAIL(NT_EINVAL, "a group has at most %d members", ch->max);
    char bad[MSG_ID_MAX] = "";
    const char *const *ids = (const char *const *)r->added;
    int rc = users_exist(db, ids, r->n_added, bad);
    if (rc == NT_ENOTFOUND)
        FAIL(rc, "user %s not found", bad);
    if (rc == NT_OK)
        rc = insert_members(db, cid, ids, r->n_added, "member", now);
    json_t *arr = json_array();
    for (int i = 0; arr && i < r->n_added; i++)
        json_array_append_new(arr, json_string(r->added[i]));
    *body = json_pack("{s:s,s:o}", "event", "added", "user_ids", arr);
    snprintf(r->event, sizeof r->event, "added");
    return rc;
}

static int do_remove(MYSQL *db, int64_t cid, const group_change_t *ch, group_result_t *r,
                     const char *mine, json_t **body, char *err, size_t errlen)
{
    const char *theirs = conv_member_role(&r->before, ch->user_id);
    int self = strcmp(ch->user_id, ch->actor) == 0;
    if (self && strcmp(mine, "owner") == 0)
        FAIL(NT_ECONFLICT, "the owner must transfer ownership before leaving");
    if (!self && !is_manager(mine))
        FAIL(NT_EFORBIDDEN, "only the owner or an admin removes members");
    if (!theirs)
        FAIL(NT_ENOTFOUND, "user %s is not a member", ch->user_id);
    if (!self && (strcmp(theirs, "owner") == 0 ||
                  (strcmp(theirs, "admin") == 0 && strcmp(mine, "owner") != 0)))
        FAIL(NT_EFORBIDDEN, "only the owner removes an admin, and nobody the owner");
    db_param_t p[] = {DB_P_I64(cid), DB_P_I64(db_col_i64(ch->user_id))};
    int rc = db_exec(db, "DELETE FROM members WHERE conversation_id = ? AND user_id = ?", p, 2,
                     NULL, NULL);
    *body = json_pack("{s:s,s:s}", "event", self ? "left" : "removed", "user_id", ch->user_id);
    snprintf(r->event, sizeof r->event, "removed");
    db_copy(r->subject, sizeof r->subject, ch->user_id);
    return rc;
}

/* owner or role: the owner only, about another member. */
static int do_owner_role(MYSQL *db, int64_t cid, const group_change_t *ch, group_result_t *r,
                         const char *mine, json_t **body, char *err, size_t errlen)
{
    int owner_op = strcmp(ch->op, "owner") == 0;
    if (strcmp(mine, "owner") != 0)
        FAIL(NT_EFORBIDDEN, owner_op ? "only the owner transfers ownership"
                                     : "only the owner changes roles");
    const char *theirs = conv_member_role(&r->before, ch->user_id);
    if (!theirs)
        FAIL(NT_ENOTFOUND, "user %s is not a member", ch->user_id);
    if (strcmp(ch->user_id, ch->actor) == 0)
        FAIL(NT_EINVAL, owner_op ? "you are the owner already" : "the owner's role is owner");
    int rc;
    db_copy(r->subject, sizeof r->subject, ch->user_id);
    if (owner_op) {
        db_param_t p[] = {DB_P_I64(db_col_i64(ch->user_id)), DB_P_I64(cid)};
        rc = db_exec(db, "UPDATE conversations SET owner_id = ? WHERE id = ?", p, 2, NULL, NULL);
        if (rc == NT_OK)
            rc = set_role(db, cid, ch->user_id, "owner");
        if (rc == NT_OK)
            rc = set_role(db, cid, ch->actor, "admin");
        *body = json_pack("{s:s,s:s}", "event", "owner", "user_id", ch->user_id);
        snprintf(r->event, sizeof r->event, "owner");
        snprintf(r->role, sizeof r->role, "owner");
        return rc;
    }
    rc = set_role(db, cid, ch->user_id, ch->role);
    *body = json_pack("{s:s,s:s,s:s}", "event", "role", "user_id", ch->user_id, "role", ch->role);
    snprintf(r->event, sizeof r->event, "role");
    db_copy(r->role, sizeof r->role, ch->role);
    return rc;
}

/* The rule and the writes, under the row lock. */
static int apply_locked(MYSQL *db, int64_t cid, const group_change_t *ch, group_result_t *r,
                        int64_t now, json_t **body, char *err, size_t errlen)
{
    if (strcmp(r->before.type, "group") != 0)
        FAIL(NT_EINVAL, "not a group conversation");
    const char *mine = conv_member_role(&r->before, ch->actor);
    if (!mine)
        FAIL(NT_EFORBIDDEN, "not a member of this conversation");
    if (strcmp(ch->op, "rename") == 0) {
        if (!is_manager(mine))
            FAIL(NT_EFORBIDDEN, "only the owner or an admin renames the group");
        db_param_t p[] = {DB_P_STR(ch->name), DB_P_I64(cid)};
        *body = json_pack("{s:s,s:s}", "event", "renamed", "name", ch->name);
        snprintf(r->event, sizeof r->event, "renamed");
        return db_exec(db, "UPDATE conversations SET name = ? WHERE id = ?", p, 2, NULL, NULL);
    }
    if (strcmp(ch->op, "add") == 0) {
        if (!is_manager(mine))
            FAIL(NT_EFORBIDDEN, "only the owner or an admin adds members");
        return do_add(db, cid, ch, r, now, body, err, errlen);
    }
    if (strcmp(ch->op, "remove") == 0)
        return do_remove(db, cid, ch, r, mine, body, err, errlen);
    if (strcmp(ch->op, "owner") == 0 || strcmp(ch->op, "role") == 0)
        return do_owner_role(db, cid, ch, r, mine, body, err, errlen);
    snprintf(err, errlen, "unknown group operation");
    return NT_EINVAL;
}

int group_apply(MYSQL *db, const char *cid, const group_change_t *ch, group_result_t *r,
                char *err, size_t errlen)
{
    int64_t c;
    int n = 0;
    json_t *body = NULL;
    memset(r, 0, sizeof *r);
    snprintf(err, errlen, "%s", "");
    if (db_parse_id(cid, &c) != NT_OK)
        return NT_ENOTFOUND;
    int64_t now = db_now_ms();
    int rc = db_begin_read_committed(db);
    if (rc != NT_OK)
        return rc;
    rc = conv_lock_many(db, &c, 1, &r->before, &n);
    if (rc == NT_OK && n != 1)
        rc = NT_ENOTFOUND;
    if (rc == NT_OK)
        rc = apply_locked(db, c, ch, r, now, &body, err, errlen);
    if (rc == NT_OK && body)
        rc = append_sys(db, r->before.id, r->before.last_seq + 1, ch->actor, body, now, &r->sys);
    else
        json_decref(body);
    if (rc == NT_OK)
        rc = db_commit(db);
    else
        db_rollback(db);
    if (rc == NT_OK)
        rc = conv_get(db, cid, &r->after);
    if (rc != NT_OK)
        group_result_fini(r);
    return rc;
}
