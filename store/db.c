/*
 * db.c - the MariaDB connection pool and prepared-statement helpers (db.h).
 *
 * The pool is a fixed array of slots, each holding one MYSQL handle or NULL
 * when the handle broke and must be reopened.  A mutex guards the in_use
 * flags; a condition variable (on CLOCK_MONOTONIC, so a wall-clock jump
 * cannot stretch a wait) wakes threads waiting for a free slot.  Connecting,
 * pinging and closing happen outside the lock: a slot marked in_use belongs
 * to the thread that took it.  Broken handles are reopened lazily by the
 * next db_acquire rather than by a thread that loops on reconnects.  When
 * one handle comes back with a lost connection, every other handle is
 * suspect too (the server restarted, say): the pool's generation moves on,
 * and a handle from an older generation is pinged before it is lent (and
 * reopened if the ping fails).  So a database restart costs the requests
 * that were using the database at that moment, not one more failed request
 * per idle handle afterwards.
 *
 * Statements and transactions live in db_stmt.c.
 *
 * Every session is set up the same way after connecting: a fixed sql_mode
 * (strict, which the owner's fence in msg_append.c relies on, and without
 * NO_BACKSLASH_ESCAPES, which the LIKE escaping in user_store relies on)
 * and a lock wait shorter than the client read
 * timeout, so a lock wait ends as a clean error instead of a dropped
 * connection.
 */
#include "store/db.h"

#include "common/err.h"
#include "common/log.h"

#include <errmsg.h>
#include <mysqld_error.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DB_IO_TIMEOUT 10        /* s: read/write timeout of every handle */
#define DB_IDLE_PING_MS 60000   /* ping a handle idle longer than this */

typedef struct db_slot {
    MYSQL *conn;          /* NULL: reconnect on next acquire */
    MYSQL *lent;          /* the handle given out, for db_release; mu */
    int in_use;           /* mu */
    int64_t last_used;    /* ms, monotonic */
    unsigned gen;         /* the pool's gen when last known good; like conn */
} db_slot_t;

/* Locking: mu guards in_use and lent of every slot.  conn and last_used
 * belong to the thread holding the slot (in_use = 1) and to mu while it is
 * free, so a thread only ever reads another slot's conn under mu. */
struct db_pool {
    char *host, *user, *password, *name;
    int port, connect_timeout, size;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    db_slot_t *slots;
    unsigned gen;         /* mu: moves on when a handle lost its connection */
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_rc;
static __thread int thread_ready;

static void lib_init(void)
{
    lib_rc = mysql_library_init(0, NULL, NULL);
}

static void thread_init(void)
{
    if (!thread_ready) {
        mysql_thread_init();
        thread_ready = 1;
    }
}

void db_thread_end(void)
{
    if (thread_ready) {
        mysql_thread_end();
        thread_ready = 0;
    }
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t db_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- errors ------------------------------------------------------------- */

/* Server messages for these codes quote the offending value (a username, a
 * token hash): log the code only. */
static int code_has_data(unsigned code)
{
    return code == ER_DUP_ENTRY || code == ER_TRUNCATED_WRONG_VALUE_FOR_FIELD ||
           code == ER_DATA_TOO_LONG || code == ER_WARN_DATA_OUT_OF_RANGE;
}

/* The calling thread's last error code (errors on prepared statements do
 * not stay on the MYSQL handle once the statement is closed). */
static __thread unsigned last_code;

static int map_error(unsigned code, const char *msg, const char *what)
{
    int rc;
    last_code = code;
    switch (code) {
    case ER_DUP_ENTRY: rc = NT_ECONFLICT; break;
    case ER_NO_REFERENCED_ROW_2: rc = NT_ENOTFOUND; break;
    case ER_TRUNCATED_WRONG_VALUE_FOR_FIELD:
    case ER_DATA_TOO_LONG: rc = NT_EINVAL; break;
    case CR_SERVER_GONE_ERROR:
    case CR_SERVER_LOST:
    case CR_CONNECTION_ERROR:
    case CR_CONN_HOST_ERROR:
    case CR_SERVER_LOST_EXTENDED:
    case ER_LOCK_WAIT_TIMEOUT:   /* transient: the client may retry */
    case ER_LOCK_DEADLOCK: rc = NT_EUNAVAIL; break;
    default: rc = NT_EDB; break;
    }
    char clean[256];
    size_t n = 0;
    for (const char *p = code_has_data(code) || !msg ? "" : msg; *p && n < sizeof clean - 1; p++)
        clean[n++] = (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20) ? '\'' : *p;
    clean[n] = '\0';
    int level = rc == NT_EDB ? LOG_ERROR : rc == NT_EUNAVAIL ? LOG_WARN : LOG_DEBUG;
    log_at(level, "db error", "what=\"%s\" code=%u err=\"%s\"", what ? what : "?", code, clean);
    return rc;
}

int db_error(MYSQL *conn, const char *what)
{
    return map_error(mysql_errno(conn), mysql_error(conn), what);
}

int db_stmt_error(MYSQL_STMT *st, const char *what)
{
    return map_error(mysql_stmt_errno(st), mysql_stmt_error(st), what);
}

/* The last error says the server went away (not a statement error). */
static int last_was_connection_lost(void)
{
    return last_code == CR_SERVER_GONE_ERROR || last_code == CR_SERVER_LOST ||
           last_code == CR_SERVER_LOST_EXTENDED || last_code == CR_CONNECTION_ERROR ||
           last_code == CR_CONN_HOST_ERROR;
}

int db_last_was_lock_conflict(void)
{
    return last_code == ER_LOCK_DEADLOCK || last_code == ER_LOCK_WAIT_TIMEOUT;
}

int db_is_broken(int err)
{
    /* After an unknown error the handle may be mid-transaction or out of
     * sync; a fresh connection is cheaper than finding out. */
    return err == NT_EUNAVAIL || err == NT_EDB;
}

/* --- connections -------------------------------------------------------- */

static int db_connect(const db_pool_t *pool, MYSQL **out)
{
    thread_init();
    MYSQL *c = mysql_init(NULL);
    if (!c)
        return NT_ENOMEM;
    unsigned int ct = (unsigned)pool->connect_timeout, io = DB_IO_TIMEOUT;
    unsigned int proto = MYSQL_PROTOCOL_TCP;
    mysql_options(c, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(c, MYSQL_OPT_READ_TIMEOUT, &io);
    mysql_options(c, MYSQL_OPT_WRITE_TIMEOUT, &io);
    mysql_options(c, MYSQL_OPT_PROTOCOL, &proto);
    mysql_options(c, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(c, pool->host, pool->user, pool->password, pool->name,
                            (unsigned)pool->port, NULL, 0)) {
        int rc = db_error(c, "connect");
        mysql_close(c);
        return rc == NT_EDB ? NT_EUNAVAIL : rc; /* e.g. access denied: still unusable */
    }
    static const char setup[] =
        "SET SESSION sql_mode='STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,"
        "NO_ENGINE_SUBSTITUTION', innodb_lock_wait_timeout=5";
    if (mysql_real_query(c, setup, sizeof setup - 1) != 0) {
        int rc = db_error(c, "session setup");
        mysql_close(c);
        return rc;
    }
    *out = c;
    return NT_OK;
}

int db_pool_connect(const db_pool_t *pool, MYSQL **out)
{
    return db_connect(pool, out);
}

static char *dup_or_empty(const char *s)
{
    return strdup(s ? s : "");
}

int db_pool_new(const db_opts_t *opts, db_pool_t **out)
{
    pthread_once(&lib_once, lib_init);
    if (lib_rc != 0) {
        log_error("mysql_library_init failed", "rc=%d", lib_rc);
        return NT_EDB;
    }
    db_pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NT_ENOMEM;
    int rc = NT_ENOMEM, cv_ok = 0, mu_ok = 0;
    p->size = opts->size > 0 ? opts->size : 4;
    p->port = opts->port;
    p->connect_timeout = opts->connect_timeout > 0 ? opts->connect_timeout : 5;
    p->host = dup_or_empty(opts->host);
    p->user = dup_or_empty(opts->user);
    p->password = dup_or_empty(opts->password);
    p->name = dup_or_empty(opts->name);
    p->slots = calloc((size_t)p->size, sizeof *p->slots);
    if (!p->host || !p->user || !p->password || !p->name || !p->slots)
        goto fail;
    pthread_condattr_t ca;
    if (pthread_mutex_init(&p->mu, NULL) != 0)
        goto fail;
    mu_ok = 1;
    if (pthread_condattr_init(&ca) != 0)
        goto fail;
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    cv_ok = pthread_cond_init(&p->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!cv_ok)
        goto fail;
    if ((rc = db_connect(p, &p->slots[0].conn)) != NT_OK)
        goto fail;
    for (int i = 1; i < p->size; i++)
        if (db_connect(p, &p->slots[i].conn) != NT_OK)
            log_warn("db connection deferred", "slot=%d", i); /* retried on acquire */
    int64_t now = mono_ms();
    for (int i = 0; i < p->size; i++)
        p->slots[i].last_used = now;
    *out = p;
    return NT_OK;
fail:
    if (cv_ok)
        pthread_cond_destroy(&p->cv);
    if (mu_ok)
        pthread_mutex_destroy(&p->mu);
    free(p->slots);
    free(p->host);
    free(p->user);
    free(p->password);
    free(p->name);
    free(p);
    return rc;
}

void db_pool_free(db_pool_t *pool)
{
    if (!pool)
        return;
    for (int i = 0; i < pool->size; i++)
        if (pool->slots[i].conn)
            mysql_close(pool->slots[i].conn);
    pthread_cond_destroy(&pool->cv);
    pthread_mutex_destroy(&pool->mu);
    free(pool->slots);
    free(pool->host);
    free(pool->user);
    free(pool->password);
    free(pool->name);
    free(pool);
}

/* A free slot, preferring one with a live handle; -1 if none.  Holds mu. */
static int pick_slot(db_pool_t *pool)
{
    int dead = -1;
    for (int i = 0; i < pool->size; i++) {
        if (pool->slots[i].in_use)
            continue;
        if (pool->slots[i].conn)
            return i;
        if (dead < 0)
            dead = i;
    }
    return dead;
}

static void give_back(db_pool_t *pool, int i)
{
    pthread_mutex_lock(&pool->mu);
    pool->slots[i].in_use = 0;
    pool->slots[i].lent = NULL;
    pthread_cond_signal(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
}

int db_acquire(db_pool_t *pool, int timeout_ms, MYSQL **out)
{
    thread_init();
    struct timespec dl;
    clock_gettime(CLOCK_MONOTONIC, &dl);
    int64_t ns = (int64_t)dl.tv_nsec + (int64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000;
    dl.tv_sec += (time_t)(ns / 1000000000);
    dl.tv_nsec = (long)(ns % 1000000000);
    int64_t now = mono_ms();

    pthread_mutex_lock(&pool->mu);
    int i;
    while ((i = pick_slot(pool)) < 0) {
        if (timeout_ms <= 0 || pthread_cond_timedwait(&pool->cv, &pool->mu, &dl) != 0) {
            i = pick_slot(pool); /* the wait may time out just as one came free */
            break;
        }
    }
    db_slot_t *s = i >= 0 ? &pool->slots[i] : NULL;
    int ready = 0;
    unsigned gen = pool->gen;
    if (s) {
        s->in_use = 1;
        if (s->conn && now - s->last_used <= DB_IDLE_PING_MS && s->gen == gen) {
            s->lent = s->conn; /* the common case: one lock, no round trip */
            ready = 1;
        }
    }
    pthread_mutex_unlock(&pool->mu);
    if (!s)
        return NT_EUNAVAIL;

    if (!ready) {
        if (s->conn && mysql_ping(s->conn) != 0) {
            /* the server dropped an idle handle (wait_timeout) or restarted */
            log_info("db handle went stale, reconnecting", "slot=%d", i);
            mysql_close(s->conn);
            s->conn = NULL;
        }
        if (!s->conn && db_connect(pool, &s->conn) != NT_OK) {
            s->conn = NULL;
            give_back(pool, i);
            return NT_EUNAVAIL;
        }
        s->gen = gen; /* pinged or new: good as of gen */
        pthread_mutex_lock(&pool->mu);
        s->lent = s->conn;
        pthread_mutex_unlock(&pool->mu);
    }
    s->last_used = now;
    *out = s->conn;
    return NT_OK;
}

void db_release(db_pool_t *pool, MYSQL *conn, int broken)
{
    if (!conn)
        return;
    int i;
    pthread_mutex_lock(&pool->mu);
    for (i = 0; i < pool->size; i++)
        if (pool->slots[i].in_use && pool->slots[i].lent == conn)
            break;
    pthread_mutex_unlock(&pool->mu);
    if (i == pool->size) {
        log_error("db_release of a handle the pool does not lend", "broken=%d", broken);
        return;
    }
    /* the slot is still ours (in_use) until give_back */
    if (broken) {
        mysql_close(conn);
        pool->slots[i].conn = NULL;
        if (last_was_connection_lost()) {
            pthread_mutex_lock(&pool->mu);
            pool->gen++; /* the others may be dead too: ping before lending */
            pthread_mutex_unlock(&pool->mu);
        }
    } else {
        pool->slots[i].last_used = mono_ms();
    }
    give_back(pool, i);
}

int db_ping(db_pool_t *pool)
{
    MYSQL *c;
    if (db_acquire(pool, 1000, &c) != NT_OK)
        return NT_EUNAVAIL;
    int ok = mysql_ping(c) == 0;
    if (!ok)
        db_error(c, "ping");
    db_release(pool, c, !ok);
    return ok ? NT_OK : NT_EUNAVAIL;
}

/* --- helpers ------------------------------------------------------------ */

int db_parse_id(const char *s, int64_t *out)
{
    if (!s || !*s)
        return NT_EINVAL;
    if (s[0] == '0')
        return NT_EINVAL; /* ids are canonical: "07" is not user 7 */
    uint64_t v = 0;      /* 19 digits cannot overflow 64 unsigned bits */
    for (size_t n = 0; s[n]; n++) {
        if (s[n] < '0' || s[n] > '9' || n >= 19)
            return NT_EINVAL;
        v = v * 10 + (uint64_t)(s[n] - '0');
    }
    if (v > (uint64_t)INT64_MAX)
        return NT_EINVAL;
    *out = (int64_t)v;
    return NT_OK;
}

void db_copy(char *dst, size_t cap, const char *src)
{
    if (cap == 0)
        return;
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) {
        n = cap - 1;
        /* back off over continuation bytes to the start of the cut char */
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
            n--;
    }
    if (n)
        memcpy(dst, src, n);
    dst[n] = '\0';
}

int64_t db_col_i64(const char *s)
{
    return s ? strtoll(s, NULL, 10) : 0;
}
