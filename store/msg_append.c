/*
 * msg_append.c - the owner's fenced group commit (msg_append.h).
 *
 * The statements are cached on the connection per (kind, rows), so their
 * SQL text is built only when a shape is new to the connection.
 */
#include "store/msg_append.h"

#include "common/err.h"
#include "store/sqlb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KIND_ADVANCE = 1, KIND_INSERT = 2 };

#define APPEND_INSERT_BYTES (1024 * 1024) /* body bytes per INSERT, as msg_store.c */
#define INSERT_COLS 8

static char *advance_sql(int n)
{
    sqlb_t q = {0};
    sqlb_add(&q, "UPDATE conversations SET last_seq = CASE id");
    sqlb_repeat(&q, " WHEN ? THEN ?", "", n);
    sqlb_add(&q, " END, last_activity = ? WHERE ");
    sqlb_repeat(&q, "(id = ? AND last_seq = ?)", " OR ", n);
    return sqlb_done(&q);
}

static char *insert_sql(int n)
{
    return sqlb_list("INSERT INTO messages (conversation_id, seq, sender_id, client_msg_id,"
                     " type, body, created_at, mentions) VALUES ",
                     "(?, ?, ?, ?, ?, ?, ?, ?)", ", ", n, "");
}

/* Step 1: the fenced advance.  NT_ECONFLICT if any conversation moved. */
static int advance(db_conn_t *c, const msg_append_conv_t *v, int n, int64_t now)
{
    db_param_t *p = calloc((size_t)n * 4 + 1, sizeof *p);
    if (!p)
        return NT_ENOMEM;
    for (int i = 0; i < n; i++) {
        p[2 * i] = DB_P_I64(v[i].cid);
        p[2 * i + 1] = DB_P_I64(v[i].last);
        p[2 * n + 1 + 2 * i] = DB_P_I64(v[i].cid);
        p[2 * n + 2 + 2 * i] = DB_P_I64(v[i].expect);
    }
    p[2 * n] = DB_P_I64(now);
    uint64_t affected = 0;
    int rc = db_conn_exec(c, KIND_ADVANCE, n, advance_sql, p, 4 * n + 1, &affected, NULL);
    free(p);
    if (rc == NT_OK && affected != (uint64_t)n)
        rc = NT_ECONFLICT;
    return rc;
}

/* Step 2 for recs[0..n): one INSERT; ids from the first if consecutive. */
static int insert_chunk(db_conn_t *c, msg_rec_t *const *recs, int n, int64_t step, int *stmts)
{
    db_param_t *p = calloc((size_t)n * INSERT_COLS, sizeof *p);
    char *csv = calloc((size_t)n, MSG_MENTIONS_CSV);
    int rc = p && csv ? NT_OK : NT_ENOMEM;
    for (int i = 0; rc == NT_OK && i < n; i++) {
        const msg_rec_t *m = recs[i];
        int64_t cid = 0, sender = 0;
        if (db_parse_id(m->conversation_id, &cid) != NT_OK ||
            db_parse_id(m->sender_id, &sender) != NT_OK || !m->body) {
            rc = NT_EINVAL;
            break;
        }
        char *mcsv = csv + (size_t)i * MSG_MENTIONS_CSV;
        rc = msg_mentions_csv(m, mcsv, MSG_MENTIONS_CSV);
        db_param_t *w = &p[INSERT_COLS * i];
        w[0] = DB_P_I64(cid);
        w[1] = DB_P_I64(m->seq);
        w[2] = DB_P_I64(sender);
        w[3] = DB_P_STR(m->client_msg_id);
        w[4] = DB_P_STR(m->type);
        w[5] = DB_P_STR(m->body);
        w[6] = DB_P_I64(m->created_at);
        w[7] = DB_P_STR(mcsv);
    }
    uint64_t first = 0;
    if (rc == NT_OK) {
        (*stmts)++;
        rc = db_conn_exec(c, KIND_INSERT, n, insert_sql, p, INSERT_COLS * n, NULL, &first);
    }
    if (rc == NT_OK && step > 0 && first > 0)
        for (int i = 0; i < n; i++)
            snprintf(recs[i]->id, MSG_ID_MAX, "%llu",
                     (unsigned long long)(first + (uint64_t)i * (uint64_t)step));
    free(csv);
    free(p);
    return rc;
}

static int insert_all(db_conn_t *c, MYSQL *m, msg_rec_t *const *recs, int n, int *stmts)
{
    int64_t step = 0;
    int rc = db_conn_autoinc(c, &step), mentions = 0;
    if (rc == NT_OK && step == 0)
        (*stmts)++; /* the first call asked the server; counted once */
    for (int from = 0; rc == NT_OK && from < n;) {
        size_t bytes = 0;
        int to = from;
        while (to < n && (to == from || bytes < APPEND_INSERT_BYTES)) {
            bytes += strlen(recs[to]->body);
            to++;
        }
        rc = insert_chunk(c, recs + from, to - from, step, stmts);
        from = to;
    }
    if (rc == NT_OK && step == 0) {
        (*stmts)++;
        rc = msg_read_ids(m, recs, n);
    }
    for (int i = 0; i < n; i++)
        mentions += recs[i]->n_mentions;
    if (rc == NT_OK && mentions > 0) {
        (*stmts)++;
        rc = msg_mentions_insert(m, recs, n);
    }
    return rc;
}

int msg_append(db_conn_t *c, msg_rec_t *const *recs, int n, const msg_append_conv_t *convs,
               int nconvs, int64_t now, int *statements)
{
    *statements = 0;
    if (n < 1 || nconvs < 1)
        return NT_EINVAL;
    MYSQL *m;
    int rc = db_conn_handle(c, &m);
    if (rc != NT_OK)
        return rc;
    (*statements)++;
    rc = advance(c, convs, nconvs, now);
    if (rc == NT_OK)
        rc = insert_all(c, m, recs, n, statements);
    (*statements)++;
    if (rc == NT_OK)
        return db_commit(m); /* failure: outcome unknown, NT_EUNAVAIL or NT_EDB */
    if (rc != NT_EUNAVAIL)
        db_rollback(m); /* a lost connection rolls back by itself */
    return rc;
}
