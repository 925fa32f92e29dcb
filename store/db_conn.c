/*
 * db_conn.c - one dedicated connection for the owner's group commit
 * (db.h "a dedicated connection").
 *
 * Why: a batch of the owner's path is a few statements (msg_append.c), and
 * each round trip made the msg process wait and wake and mariadbd switch in
 * and out; on these VMs a context switch costs more than the work.  So the
 * connection has multi-statements on and db_conn_multi sends a batch's
 * statements as one text query: one round trip.  (It used to keep
 * prepared statements per (kind, rows) shape, one round trip each;
 * measured in docs/operations.md "Benchmarks".)  Multi-statements are on
 * for this connection only: the pool's handles never take text with ';'.
 *
 * Not thread-safe: one owner at a time (the send worker's runner, see
 * actors/msg_batch.h).  A broken connection is closed and reopened lazily.
 */
#include "store/db.h"

#include "common/err.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

struct db_conn {
    db_pool_t *pool;
    MYSQL *conn;           /* NULL: connect on next use */
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
