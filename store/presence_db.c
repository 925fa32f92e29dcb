/*
 * presence_db.c - last_seen and contact ids in MariaDB (presence_db.h).
 *
 * Lookups of many ids are one statement each ("... IN (?, ?, ...)", built
 * by sqlb from constant text and placeholders only), and their rows are
 * matched back to the caller's positions by id.
 */
#include "store/presence_db.h"

#include "common/err.h"
#include "store/db.h"
#include "store/sqlb.h"

#include <stdlib.h>
#include <string.h>

#define MANY_MAX 1000

int presence_db_seen(MYSQL *db, const char *uid, int64_t at)
{
    int64_t u;
    if (db_parse_id(uid, &u) != NT_OK)
        return NT_ENOTFOUND;
    db_param_t p[] = {DB_P_I64(u), DB_P_I64(at)};
    return db_exec(db,
                   "INSERT INTO user_presence (user_id, last_seen) VALUES (?, ?)"
                   " ON DUPLICATE KEY UPDATE last_seen = GREATEST(last_seen, VALUES(last_seen))",
                   p, 2, NULL, NULL);
}

/* Rows (id, value) of a many-id lookup, put back at the ids' positions. */
typedef struct many {
    const char *const *ids;
    int n;
    int64_t *vals;        /* seen_many: last_seen */
    int *flags;           /* contacts_among: 1 */
} many_t;

static int many_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    many_t *m = arg;
    if (ncols < 1 || !cols[0])
        return NT_EINTERNAL;
    for (int i = 0; i < m->n; i++) {
        if (strcmp(m->ids[i], cols[0]) != 0)
            continue;
        if (m->vals && ncols >= 2)
            m->vals[i] = db_col_i64(cols[1]);
        if (m->flags)
            m->flags[i] = 1;
    }
    return 0;
}

/* Run head "IN (?...)" tail over the valid ids of m (first == the
 * caller's own id param, or NULL). */
static int many_query(MYSQL *db, const char *head, const char *tail, const int64_t *first,
                      many_t *m)
{
    if (m->n < 0 || m->n > MANY_MAX)
        return NT_EINVAL;
    db_param_t *p = calloc((size_t)m->n + 1, sizeof *p);
    if (!p)
        return NT_ENOMEM;
    int np = 0;
    if (first)
        p[np++] = DB_P_I64(*first);
    int nids = 0;
    for (int i = 0; i < m->n; i++) {
        int64_t id;
        if (db_parse_id(m->ids[i], &id) == NT_OK) {
            p[np++] = DB_P_I64(id);
            nids++;
        }
    }
    int rc = NT_OK;
    if (nids > 0) {
        char *sql = sqlb_list(head, "?", ", ", nids, tail);
        rc = sql ? db_query(db, sql, p, np, many_row, m, 0, NULL) : NT_ENOMEM;
        free(sql);
    }
    free(p);
    return rc;
}

int presence_db_seen_many(MYSQL *db, const char *const *uids, int n, int64_t *at)
{
    for (int i = 0; i < n; i++)
        at[i] = 0;
    many_t m = {.ids = uids, .n = n, .vals = at};
    return many_query(db, "SELECT user_id, last_seen FROM user_presence WHERE user_id IN (", ")",
                      NULL, &m);
}

int presence_db_contacts_among(MYSQL *db, const char *uid, const char *const *ids, int n,
                               int *is)
{
    int64_t u;
    for (int i = 0; i < n; i++)
        is[i] = 0;
    if (db_parse_id(uid, &u) != NT_OK)
        return NT_OK;
    many_t m = {.ids = ids, .n = n, .flags = is};
    return many_query(db, "SELECT contact_id FROM contacts WHERE user_id = ? AND contact_id IN (",
                      ")", &u, &m);
}

typedef struct ids {
    presence_uid_t *v;
    int n, cap, max;
} ids_t;

static int id_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    ids_t *g = arg;
    if (ncols < 1 || !cols[0])
        return NT_EINTERNAL;
    if (g->n >= g->max)
        return 1;
    if (g->n == g->cap) {
        int ncap = g->cap ? g->cap * 2 : 64;
        if (ncap > g->max)
            ncap = g->max;
        presence_uid_t *nv = realloc(g->v, (size_t)ncap * sizeof *nv);
        if (!nv)
            return NT_ENOMEM;
        g->v = nv;
        g->cap = ncap;
    }
    db_copy(g->v[g->n], sizeof g->v[g->n], cols[0]);
    g->n++;
    return 0;
}

int presence_db_contacts(MYSQL *db, const char *uid, int max, presence_uid_t **out, int *n)
{
    int64_t u;
    *out = NULL;
    *n = 0;
    if (db_parse_id(uid, &u) != NT_OK)
        return NT_OK;
    ids_t g = {.max = max > 0 ? max : 1};
    db_param_t p[] = {DB_P_I64(u), DB_P_I64(g.max)};
    int rc = db_query(db, "SELECT contact_id FROM contacts WHERE user_id = ? LIMIT ?", p, 2, id_row,
                      &g, g.max, NULL);
    if (rc != NT_OK) {
        free(g.v);
        return rc;
    }
    *out = g.v;
    *n = g.n;
    return NT_OK;
}

typedef struct text_out {
    char *s;
    size_t n;
} text_out_t;

static int platform_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    text_out_t *t = arg;
    if (ncols >= 1 && cols[0])
        db_copy(t->s, t->n, cols[0]);
    return 1;
}

int presence_db_platform(MYSQL *db, const char *sid, char *out, size_t n)
{
    if (n < 1)
        return NT_EINVAL;
    out[0] = '\0';
    text_out_t t = {out, n};
    db_param_t p[] = {DB_P_STR(sid)};
    return db_query(db, "SELECT platform FROM sessions WHERE id = ?", p, 1, platform_row, &t, 1,
                    NULL);
}
