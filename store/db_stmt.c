/*
 * db_stmt.c - prepared statements and transactions on one handle (db.h).
 *
 * Data only ever reaches the server as bound parameters.  Each call
 * prepares, executes and closes its statement: two round trips, no cache to
 * invalidate when the pool reconnects a handle.  Results are buffered
 * (mysql_stmt_store_result with STMT_ATTR_UPDATE_MAX_LENGTH) so every column
 * buffer is sized from the longest value actually returned, and every
 * column is fetched as a NUL-terminated string; callers parse numbers.
 */
#include "store/db.h"

#include "common/err.h"
#include "common/log.h"

#include <stdlib.h>
#include <string.h>

#define DB_COL_MIN 64 /* smallest result column buffer */

/* --- statements --------------------------------------------------------- */

int db_stmt_bind(MYSQL_STMT *st, const db_param_t *params, int nparams, MYSQL_BIND **binds,
                 unsigned long **lens)
{
    *binds = NULL;
    *lens = NULL;
    if (nparams < 0 || mysql_stmt_param_count(st) != (unsigned long)nparams) {
        log_error("db statement parameter count mismatch", "want=%lu got=%d",
                  mysql_stmt_param_count(st), nparams);
        return NT_EINTERNAL;
    }
    if (nparams == 0)
        return NT_OK;
    *binds = calloc((size_t)nparams, sizeof **binds);
    *lens = calloc((size_t)nparams, sizeof **lens);
    if (!*binds || !*lens)
        goto fail;
    for (int i = 0; i < nparams; i++) {
        MYSQL_BIND *b = &(*binds)[i];
        switch (params[i].type) {
        case DB_STR:
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = (void *)(params[i].s ? params[i].s : "");
            (*lens)[i] = params[i].s ? params[i].len : 0;
            b->buffer_length = (*lens)[i];
            b->length = &(*lens)[i];
            break;
        case DB_I64:
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = (void *)&params[i].i;
            break;
        default:
            b->buffer_type = MYSQL_TYPE_NULL;
            break;
        }
    }
    if (mysql_stmt_bind_param(st, *binds) == 0)
        return NT_OK;
    int rc = db_stmt_error(st, "bind");
    free(*binds);
    free(*lens);
    *binds = NULL;
    *lens = NULL;
    return rc;
fail:
    free(*binds);
    free(*lens);
    *binds = NULL;
    *lens = NULL;
    return NT_ENOMEM;
}

/* Prepare sql and bind params; the binds live in binds and lens (caller frees). */
static int stmt_open(MYSQL *conn, const char *sql, const db_param_t *params, int nparams,
                     MYSQL_STMT **out, MYSQL_BIND **binds, unsigned long **lens)
{
    *binds = NULL;
    *lens = NULL;
    MYSQL_STMT *st = mysql_stmt_init(conn);
    if (!st)
        return NT_ENOMEM;
    int rc;
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0)
        rc = db_stmt_error(st, "prepare");
    else
        rc = db_stmt_bind(st, params, nparams, binds, lens);
    if (rc != NT_OK) {
        mysql_stmt_close(st);
        return rc;
    }
    *out = st;
    return NT_OK;
}

int db_exec(MYSQL *conn, const char *sql, const db_param_t *params, int nparams,
            uint64_t *affected, uint64_t *insert_id)
{
    MYSQL_STMT *st;
    MYSQL_BIND *binds;
    unsigned long *lens;
    int rc = stmt_open(conn, sql, params, nparams, &st, &binds, &lens);
    if (rc != NT_OK)
        return rc;
    if (mysql_stmt_execute(st) != 0) {
        rc = db_stmt_error(st, "execute");
        goto out;
    }
    if (affected)
        *affected = (uint64_t)mysql_stmt_affected_rows(st);
    if (insert_id)
        *insert_id = (uint64_t)mysql_stmt_insert_id(st);
out:
    mysql_stmt_close(st);
    free(binds);
    free(lens);
    return rc;
}

/* Result buffers for one statement. */
typedef struct db_cols {
    int n;
    MYSQL_BIND *binds;
    unsigned long *lens;
    my_bool *nulls, *errs;
    char **bufs;        /* bufs[i] has binds[i].buffer_length + 1 bytes */
    char **vals;        /* what the callback sees */
} db_cols_t;

static void cols_free(db_cols_t *c)
{
    for (int i = 0; c->bufs && i < c->n; i++)
        free(c->bufs[i]);
    free(c->bufs);
    free(c->vals);
    free(c->binds);
    free(c->lens);
    free(c->nulls);
    free(c->errs);
}

static int cols_alloc(MYSQL_RES *meta, db_cols_t *c)
{
    c->n = (int)mysql_num_fields(meta);
    size_t n = (size_t)c->n;
    c->binds = calloc(n, sizeof *c->binds);
    c->lens = calloc(n, sizeof *c->lens);
    c->nulls = calloc(n, sizeof *c->nulls);
    c->errs = calloc(n, sizeof *c->errs);
    c->bufs = calloc(n, sizeof *c->bufs);
    c->vals = calloc(n, sizeof *c->vals);
    if (!c->binds || !c->lens || !c->nulls || !c->errs || !c->bufs || !c->vals)
        return NT_ENOMEM;
    MYSQL_FIELD *f = mysql_fetch_fields(meta);
    for (size_t i = 0; i < n; i++) {
        unsigned long cap = f[i].max_length > DB_COL_MIN ? f[i].max_length : DB_COL_MIN;
        if (!(c->bufs[i] = malloc(cap + 1)))
            return NT_ENOMEM;
        c->binds[i].buffer_type = MYSQL_TYPE_STRING;
        c->binds[i].buffer = c->bufs[i];
        c->binds[i].buffer_length = cap; /* one byte kept for the NUL */
        c->binds[i].length = &c->lens[i];
        c->binds[i].is_null = &c->nulls[i];
        c->binds[i].error = &c->errs[i];
    }
    return NT_OK;
}

/* After MYSQL_DATA_TRUNCATED: grow the cut columns and fetch them again. */
static int cols_refetch(MYSQL_STMT *st, db_cols_t *c)
{
    for (int i = 0; i < c->n; i++) {
        if (!c->errs[i] || c->lens[i] <= c->binds[i].buffer_length)
            continue;
        char *nb = realloc(c->bufs[i], c->lens[i] + 1);
        if (!nb)
            return NT_ENOMEM;
        c->bufs[i] = nb;
        c->binds[i].buffer = nb;
        c->binds[i].buffer_length = c->lens[i];
        if (mysql_stmt_fetch_column(st, &c->binds[i], (unsigned)i, 0) != 0)
            return db_stmt_error(st, "fetch column");
        c->errs[i] = 0;
    }
    return NT_OK;
}

int db_query(MYSQL *conn, const char *sql, const db_param_t *params, int nparams,
             db_row_fn fn, void *arg, int max_rows, int *nrows)
{
    MYSQL_STMT *st;
    MYSQL_BIND *binds;
    unsigned long *lens;
    MYSQL_RES *meta = NULL;
    db_cols_t cols = {0};
    int rows = 0;
    if (nrows)
        *nrows = 0;
    int rc = stmt_open(conn, sql, params, nparams, &st, &binds, &lens);
    if (rc != NT_OK)
        return rc;
    my_bool on = 1;
    mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &on);
    if (mysql_stmt_execute(st) != 0 || mysql_stmt_store_result(st) != 0) {
        rc = db_stmt_error(st, "execute");
        goto out;
    }
    if (!(meta = mysql_stmt_result_metadata(st)))
        goto out; /* no result set: no rows */
    if ((rc = cols_alloc(meta, &cols)) != NT_OK)
        goto out;
    if (mysql_stmt_bind_result(st, cols.binds) != 0) {
        rc = db_stmt_error(st, "bind result");
        goto out;
    }
    while (max_rows <= 0 || rows < max_rows) {
        int f = mysql_stmt_fetch(st);
        if (f == MYSQL_NO_DATA)
            break;
        if (f == MYSQL_DATA_TRUNCATED && (rc = cols_refetch(st, &cols)) != NT_OK)
            goto out;
        if (f != 0 && f != MYSQL_DATA_TRUNCATED) {
            rc = db_stmt_error(st, "fetch");
            goto out;
        }
        for (int i = 0; i < cols.n; i++) {
            unsigned long len = cols.lens[i] < cols.binds[i].buffer_length
                                    ? cols.lens[i] : cols.binds[i].buffer_length;
            cols.bufs[i][len] = '\0';
            cols.lens[i] = len;
            cols.vals[i] = cols.nulls[i] ? NULL : cols.bufs[i];
        }
        rows++;
        int r = fn ? fn(arg, cols.n, cols.vals, cols.lens) : 0;
        if (r != 0) {
            rc = r < 0 ? r : NT_OK; /* a negative NT_* code is the caller's error */
            break;
        }
    }
out:
    if (nrows)
        *nrows = rows;
    cols_free(&cols);
    if (meta)
        mysql_free_result(meta);
    mysql_stmt_free_result(st);
    mysql_stmt_close(st);
    free(binds);
    free(lens);
    return rc;
}

/* --- transactions ------------------------------------------------------- */

int db_begin(MYSQL *conn)
{
    static const char q[] = "START TRANSACTION";
    if (mysql_real_query(conn, q, sizeof q - 1) != 0)
        return db_error(conn, "begin");
    return NT_OK;
}

int db_begin_read_committed(MYSQL *conn)
{
    static const char q[] = "SET TRANSACTION ISOLATION LEVEL READ COMMITTED";
    if (mysql_real_query(conn, q, sizeof q - 1) != 0)
        return db_error(conn, "isolation");
    return db_begin(conn);
}

int db_commit(MYSQL *conn)
{
    if (mysql_commit(conn) != 0)
        return db_error(conn, "commit");
    return NT_OK;
}

void db_rollback(MYSQL *conn)
{
    if (mysql_rollback(conn) != 0)
        db_error(conn, "rollback");
}
