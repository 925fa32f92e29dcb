/*
 * db_conn.c - one dedicated connection that keeps its prepared statements
 * (db.h "a dedicated connection").
 *
 * Why: the group commit used to prepare, execute and close each of its
 * statements (db_stmt.c), so MariaDB parsed every statement of every batch
 * (MYSQLparse near the top of mariadbd's profile) and each cost two round
 * trips.  A send worker owns one of these instead: a statement shape
 * (kind, rows) is prepared the first time it is needed and executed again
 * with new parameters afterwards, one round trip, no parse.  Batch sizes
 * vary, so the cache holds up to DB_CONN_STMTS shapes and closes the
 * least recently used beyond that.
 *
 * Not thread-safe: one owner at a time (the send worker's runner, see
 * actors/msg_batch.h).  A broken connection is closed with its statements
 * (they die with it on the server) and reopened lazily.
 */
#include "store/db.h"

#include "common/err.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

typedef struct cached {
    int kind, rows;        /* rows 0: slot empty */
    MYSQL_STMT *st;
    int64_t used;          /* tick of the last use */
} cached_t;

struct db_conn {
    db_pool_t *pool;
    MYSQL *conn;           /* NULL: connect on next use */
    cached_t stmts[DB_CONN_STMTS];
    int64_t tick;
    int64_t autoinc_step;  /* -1: not asked yet on this connection */
    db_conn_stats_t st;
};

int db_conn_new(db_pool_t *pool, db_conn_t **out)
{
    db_conn_t *c = calloc(1, sizeof *c);
    *out = c;
    if (!c)
        return NT_ENOMEM;
    c->pool = pool;
    c->autoinc_step = -1;
    return NT_OK;
}

void db_conn_broken(db_conn_t *c)
{
    for (int i = 0; i < DB_CONN_STMTS; i++) {
        if (c->stmts[i].st)
            mysql_stmt_close(c->stmts[i].st);
        c->stmts[i] = (cached_t){0};
    }
    if (c->conn)
        mysql_close(c->conn);
    c->conn = NULL;
    c->autoinc_step = -1;
}

void db_conn_free(db_conn_t *c)
{
    if (!c)
        return;
    db_conn_broken(c);
    free(c);
}

int db_conn_handle(db_conn_t *c, MYSQL **out)
{
    *out = NULL;
    if (!c->conn) {
        MYSQL *m = NULL;
        if (db_pool_connect(c->pool, &m) != NT_OK)
            return NT_EUNAVAIL;
        static const char q[] = "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED";
        if (mysql_real_query(m, q, sizeof q - 1) != 0 || mysql_autocommit(m, 0) != 0 ||
            mysql_set_server_option(m, MYSQL_OPTION_MULTI_STATEMENTS_ON) != 0) {
            int rc = db_error(m, "dedicated connection setup");
            mysql_close(m);
            return rc == NT_EDB ? NT_EUNAVAIL : rc;
        }
        c->conn = m;
        c->st.reconnects++;
    }
    *out = c->conn;
    return NT_OK;
}

/* The cached statement (kind, rows), prepared now if absent. */
static int stmt_get(db_conn_t *c, int kind, int rows, db_sql_fn make, MYSQL_STMT **out)
{
    int victim = 0;
    c->tick++;
    for (int i = 0; i < DB_CONN_STMTS; i++) {
        cached_t *e = &c->stmts[i];
        if (e->rows == rows && e->kind == kind && e->st) {
            e->used = c->tick;
            *out = e->st;
            return NT_OK;
        }
        if (c->stmts[victim].st && (!e->st || e->used < c->stmts[victim].used))
            victim = i;
    }
    MYSQL *m;
    int rc = db_conn_handle(c, &m);
    if (rc != NT_OK)
        return rc;
    char *sql = make(rows);
    if (!sql)
        return NT_ENOMEM;
    MYSQL_STMT *st = mysql_stmt_init(m);
    if (!st) {
        free(sql);
        return NT_ENOMEM;
    }
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        rc = db_stmt_error(st, "prepare");
        mysql_stmt_close(st);
        free(sql);
        return rc;
    }
    free(sql);
    cached_t *e = &c->stmts[victim];
    if (e->st)
        mysql_stmt_close(e->st);
    *e = (cached_t){kind, rows, st, c->tick};
    c->st.prepared++;
    *out = st;
    return NT_OK;
}

int db_conn_exec(db_conn_t *c, int kind, int rows, db_sql_fn make, const db_param_t *params,
                 int nparams, uint64_t *affected, uint64_t *insert_id)
{
    MYSQL_STMT *st = NULL;
    MYSQL_BIND *binds = NULL;
    unsigned long *lens = NULL;
    if (rows < 1)
        return NT_EINVAL;
    int rc = stmt_get(c, kind, rows, make, &st);
    if (rc == NT_OK)
        rc = db_stmt_bind(st, params, nparams, &binds, &lens);
    if (rc == NT_OK) {
        c->st.executed++;
        c->st.round_trips++;
        if (mysql_stmt_execute(st) != 0)
            rc = db_stmt_error(st, "execute");
    }
    if (rc == NT_OK) {
        if (affected)
            *affected = (uint64_t)mysql_stmt_affected_rows(st);
        if (insert_id)
            *insert_id = (uint64_t)mysql_stmt_insert_id(st);
    }
    free(binds);
    free(lens);
    return rc;
}

int db_conn_multi(db_conn_t *c, const char *sql, size_t len, db_result_t *res, int nres,
                  int *failed)
{
    MYSQL *m;
    *failed = 0;
    int rc = db_conn_handle(c, &m);
    if (rc != NT_OK)
        return rc;
    c->st.round_trips++;
    int i = 0, next = mysql_real_query(m, sql, (unsigned long)len);
    while (next == 0) { /* statement i succeeded */
        if (mysql_field_count(m) > 0) { /* a result set nobody asked for: drop it */
            MYSQL_RES *r = mysql_store_result(m);
            if (!r) {
                *failed = i;
                return NT_EDB;
            }
            mysql_free_result(r);
        }
        if (i < nres)
            res[i] = (db_result_t){(uint64_t)mysql_affected_rows(m), (uint64_t)mysql_insert_id(m)};
        i++;
        next = mysql_next_result(m); /* -1: no more; > 0: statement i failed */
    }
    c->st.executed += i;
    *failed = i;
    if (next > 0)
        return NT_EDB; /* the error stays on the handle for db_error */
    return i == nres ? NT_OK : NT_EINTERNAL;
}

typedef struct autoinc_acc {
    int64_t mode, step;
} autoinc_acc_t;

static int autoinc_row(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    autoinc_acc_t *a = arg;
    if (ncols < 2)
        return NT_EINTERNAL;
    a->mode = db_col_i64(cols[0]);
    a->step = db_col_i64(cols[1]);
    return 0;
}

int db_conn_autoinc(db_conn_t *c, int64_t *step)
{
    if (c->autoinc_step < 0) {
        MYSQL *m;
        int rc = db_conn_handle(c, &m);
        autoinc_acc_t a = {2, 0};
        if (rc == NT_OK)
            rc = db_query(m, "SELECT @@innodb_autoinc_lock_mode, @@auto_increment_increment",
                          NULL, 0, autoinc_row, &a, 1, NULL);
        if (rc != NT_OK)
            return rc;
        c->autoinc_step = a.mode <= 1 && a.step >= 1 ? a.step : 0;
        log_info("dedicated db connection", "autoinc_lock_mode=%lld step=%lld",
                 (long long)a.mode, (long long)a.step);
    }
    *step = c->autoinc_step;
    return NT_OK;
}

void db_conn_stats(const db_conn_t *c, db_conn_stats_t *out)
{
    *out = c->st;
}
