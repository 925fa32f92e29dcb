/*
 * db.h - a small pool of MariaDB connections (libmariadb, MySQL C API) and
 * helpers that hide the prepared-statement boilerplate.
 *
 * A MYSQL handle is not thread-safe, so each worker thread takes one with
 * db_acquire and gives it back with db_release.  The pool reconnects a
 * handle that failed (db_release(..., broken=1)).  All queries use prepared
 * statements with bound parameters: no SQL is built from client data, with
 * one exception, the owner's group commit on its dedicated connection
 * (db_conn_multi, msg_append.c), whose one-round-trip text writes values
 * only through sqlb_i64 and sqlb_quote (sqlb.h).
 *
 * Locking: the pool's mutex guards the free list only; a handle is used by
 * one thread between acquire and release.
 */
#ifndef NT_DB_H
#define NT_DB_H

#include <mysql.h>
#include <stddef.h>
#include <stdint.h>

typedef struct db_pool db_pool_t;

typedef struct db_opts {
    const char *host;
    int port;
    const char *user;
    const char *password;
    const char *name;     /* database */
    int size;             /* connections; <= 0 means 4 */
    int connect_timeout;  /* seconds; <= 0 means 5 */
} db_opts_t;

/* Open size connections (fails if the first one cannot connect). */
int db_pool_new(const db_opts_t *opts, db_pool_t **out);
void db_pool_free(db_pool_t *pool);

/* Take a connection, waiting up to timeout_ms (<= 0: do not wait);
 * NT_EUNAVAIL if none came free or a broken one could not be reopened.
 * Calls mysql_thread_init for the calling thread the first time (see
 * db_thread_end). */
int db_acquire(db_pool_t *pool, int timeout_ms, MYSQL **out);
/* Give it back; broken=1 closes it and the next db_acquire of that slot
 * reconnects.  db_pool_free requires every handle to be given back. */
void db_release(db_pool_t *pool, MYSQL *conn, int broken);

/* 0 if the database answers (for /healthz and readiness). */
int db_ping(db_pool_t *pool);

/* Map the handle's last error: duplicate key -> NT_ECONFLICT, lost/gone
 * connection, lock wait timeout, deadlock -> NT_EUNAVAIL (transient), missing
 * foreign-key parent -> NT_ENOTFOUND, bad or too long text -> NT_EINVAL,
 * else NT_EDB.  Logs the code and the server message, except for codes whose
 * message quotes the data (duplicate entry, bad value). */
int db_error(MYSQL *conn, const char *what);

/* The same mapping for an error on a prepared statement. */
int db_stmt_error(MYSQL_STMT *st, const char *what);

/* 1 if the calling thread's last database error (through db_error or
 * db_stmt_error) was a deadlock or a lock wait timeout: the transaction,
 * rolled back, is worth running again. */
int db_last_was_lock_conflict(void);

/* 1 if err means the connection should be released as broken. */
int db_is_broken(int err);

/* A bound parameter. */
typedef enum { DB_NULL, DB_STR, DB_I64 } db_type_t;
typedef struct db_param {
    db_type_t type;
    const char *s;      /* DB_STR: bytes (not necessarily NUL-terminated) */
    size_t len;         /* DB_STR: length */
    int64_t i;          /* DB_I64 */
} db_param_t;

#define DB_P_STR(x) ((db_param_t){.type = DB_STR, .s = (x), .len = strlen(x)})
#define DB_P_I64(x) ((db_param_t){.type = DB_I64, .i = (int64_t)(x)})
#define DB_P_NULL ((db_param_t){.type = DB_NULL})

/* Execute a statement without a result set.  affected and insert_id may be
 * NULL. */
int db_exec(MYSQL *conn, const char *sql, const db_param_t *params, int nparams,
            uint64_t *affected, uint64_t *insert_id);

/* One result row: columns as NUL-terminated strings (NULL for SQL NULL),
 * valid only during the callback.  Return 0 to continue, non-zero to stop. */
typedef int (*db_row_fn)(void *arg, int ncols, char **cols, unsigned long *lens);

/* Run a query and call fn for each row (at most max_rows; <= 0 = no limit).
 * *nrows (may be NULL) gets the number of rows delivered.  If fn returns a
 * negative NT_* code, db_query stops and returns it; a positive value just
 * stops (returns 0). */
int db_query(MYSQL *conn, const char *sql, const db_param_t *params, int nparams,
             db_row_fn fn, void *arg, int max_rows, int *nrows);

/* Transactions on one handle ("START TRANSACTION", mysql_commit/rollback);
 * the handle stays in autocommit mode outside them. */
int db_begin(MYSQL *conn);
/* The same in READ COMMITTED, for the next transaction only: no gap locks,
 * so writers of unrelated rows (other users, other conversations) never
 * wait on or deadlock with each other; each statement sees what others
 * committed before it.  Correctness then comes from explicit row locks
 * (SELECT ... FOR UPDATE on the parent row), which every caller takes. */
int db_begin_read_committed(MYSQL *conn);
int db_commit(MYSQL *conn);
void db_rollback(MYSQL *conn);

/* --- a dedicated connection that sends a batch in one round trip (db_conn.c) --- */

/* One connection outside the pool, for one owner at a time (a send
 * worker), in READ COMMITTED with autocommit off: every statement runs in
 * the current transaction, which a COMMIT or ROLLBACK ends, so a batch
 * needs no START TRANSACTION.  Multi-statements are on (for db_conn_multi:
 * a batch's statements in one round trip).  When the connection breaks,
 * db_conn_broken drops it; the next db_conn_handle reconnects. */
typedef struct db_conn db_conn_t;

/* A connection of pool's settings (connected on first use). */
int db_conn_new(db_pool_t *pool, db_conn_t **out);
void db_conn_free(db_conn_t *c);

/* The handle, connected (NT_EUNAVAIL if that fails). */
int db_conn_handle(db_conn_t *c, MYSQL **out);

/* Close it; the next db_conn_handle reconnects. */
void db_conn_broken(db_conn_t *c);

/* One statement's outcome in db_conn_multi. */
typedef struct db_result {
    uint64_t affected, insert_id;
} db_result_t;

/* Send sql[0..len), nres statements separated by ';', as one text query:
 * one round trip whatever their number (the dedicated connection has
 * multi-statements on; pool handles do not), and read their results
 * (affected rows, first insert id) into res[0..nres).  Statements with a
 * result set are not expected (it is read and dropped).  NT_OK: all nres
 * ran.  NT_EDB: statement *failed (0-based) failed and the server ran
 * none after it; its error stays on the handle until the next command
 * (map it with db_error; a lost connection says so there too).
 * NT_EINTERNAL: the text held more or fewer than nres statements.
 * NT_EUNAVAIL: no connection.  Any value that reaches the text must have
 * been written by sqlb_i64 or sqlb_quote (sqlb.h). */
int db_conn_multi(db_conn_t *c, const char *sql, size_t len, db_result_t *res, int nres,
                  int *failed);

/* What db_conn_multi sent through this connection since it was made (for
 * statistics and tests: a batch of the owner's path is one round trip). */
typedef struct db_conn_stats {
    int64_t executed;    /* statements db_conn_multi ran */
    int64_t prepared;    /* statements prepared for it: none (text only) */
    int64_t round_trips; /* db_conn_multi queries sent */
    int64_t reconnects;
} db_conn_stats_t;
void db_conn_stats(const db_conn_t *c, db_conn_stats_t *out);

/* How this server numbers the rows of one multi-row INSERT, asked once per
 * connection: *step = auto_increment_increment if the ids of one statement
 * are first, first + step, ... (innodb_autoinc_lock_mode 0 or 1), or 0 if
 * they may interleave with another statement's (mode 2): read them back. */
int db_conn_autoinc(db_conn_t *c, int64_t *step);

/* Milliseconds since the epoch (wall clock): how times are stored. */
int64_t db_now_ms(void);

/* --- helpers shared by the store modules ------------------------------- */

/* Open one more connection with pool's settings, outside the pool. */
int db_pool_connect(const db_pool_t *pool, MYSQL **out);

/* Bind params to a prepared statement; *binds and *lens (caller frees)
 * must live until it has executed. */
int db_stmt_bind(MYSQL_STMT *st, const db_param_t *params, int nparams, MYSQL_BIND **binds,
                 unsigned long **lens);

/* A thread that used db_acquire should call this before it exits (frees the
 * client library's per-thread state; harmless if the thread never used the
 * pool).  The pool calls mysql_thread_init itself, lazily, once per thread. */
void db_thread_end(void);

/* Parse a decimal id (1-19 digits, no sign, no spaces, fits int64).
 * NT_EINVAL otherwise; store modules turn that into NT_ENOTFOUND. */
int db_parse_id(const char *s, int64_t *out);

/* Copy src (NULL counts as "") into dst[cap], truncating at a UTF-8
 * character boundary so a cut never leaves half a character. cap >= 1. */
void db_copy(char *dst, size_t cap, const char *src);

/* A result column as an integer; 0 for NULL or garbage. */
int64_t db_col_i64(const char *s);

#endif
