/*
 * migrate.c - apply sql/NNN_name.sql in order, once each (migrate.h).
 *
 * The directory is the truth about what the schema should be;
 * schema_migrations is the truth about what this database has.  Files are
 * ordered by their three-digit number (not by readdir order), a number used
 * twice is a configuration error, and files that do not match
 * ^[0-9]{3}_[a-z0-9_]+\.sql$ are ignored so an editor's backup file cannot
 * run by accident.
 *
 * Two `natter migrate` started at once (two machines deploying) must not
 * both apply 002: a named server lock (GET_LOCK) serialises them, and the
 * applied set is read only after taking it.
 *
 * The splitter is deliberately dumb: a statement ends at a line whose last
 * non-blank character is ';', and lines starting with "--" are dropped.  No
 * procedures, no DELIMITER, no ';' at the end of a line inside a string.
 * Statements run as plain text (mysql_real_query): migrations are ours, not
 * client data, and DDL cannot be prepared in general.
 */
#include "store/migrate.h"

#include "common/err.h"
#include "common/log.h"
#include "store/db.h"

#include <dirent.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIGRATE_VERSIONS 1000          /* three digits */
#define MIGRATE_FILE_MAX (1 << 20)     /* a bigger migration is a mistake */
#define MIGRATE_LOCK "natter.migrate"
#define MIGRATE_LOCK_WAIT 60           /* s */

typedef struct mig {
    int version;
    char file[256];
} mig_t;

static int mig_cmp(const void *a, const void *b)
{
    return ((const mig_t *)a)->version - ((const mig_t *)b)->version;
}

/* The migration files of dir, sorted; caller frees *out. */
static int list_dir(const char *dir, mig_t **out, int *n)
{
    regex_t re;
    if (regcomp(&re, "^[0-9]{3}_[a-z0-9_]+\\.sql$", REG_EXTENDED | REG_NOSUB) != 0)
        return NT_EINTERNAL;
    int rc = NT_OK, count = 0, cap = 0;
    mig_t *v = NULL;
    DIR *d = opendir(dir);
    if (!d) {
        log_error("cannot open migrations dir", "dir=%s", dir);
        rc = NT_ECONFIG;
        goto out;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (regexec(&re, e->d_name, 0, NULL, 0) != 0 || strlen(e->d_name) >= sizeof v->file)
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 16;
            mig_t *nv = cap <= MIGRATE_VERSIONS ? realloc(v, (size_t)cap * sizeof *v) : NULL;
            if (!nv) {
                rc = cap > MIGRATE_VERSIONS ? NT_ECONFIG : NT_ENOMEM;
                goto out;
            }
            v = nv;
        }
        v[count].version = (e->d_name[0] - '0') * 100 + (e->d_name[1] - '0') * 10 +
                           (e->d_name[2] - '0');
        snprintf(v[count].file, sizeof v[count].file, "%s", e->d_name);
        count++;
    }
    if (count)
        qsort(v, (size_t)count, sizeof *v, mig_cmp);
    for (int i = 1; i < count; i++) {
        if (v[i].version == v[i - 1].version) {
            log_error("two migrations share a number", "a=%s b=%s", v[i - 1].file, v[i].file);
            rc = NT_ECONFIG;
            goto out;
        }
    }
out:
    if (d)
        closedir(d);
    regfree(&re);
    if (rc != NT_OK) {
        free(v);
        return rc;
    }
    *out = v;
    *n = count;
    return NT_OK;
}

/* Whole file, NUL-terminated; caller frees. */
static int read_file(const char *path, char **out)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        log_error("cannot open migration", "path=%s", path);
        return NT_EIO;
    }
    char *buf = malloc(MIGRATE_FILE_MAX + 1);
    int rc = NT_ENOMEM;
    if (!buf)
        goto fail;
    size_t n = fread(buf, 1, MIGRATE_FILE_MAX + 1, f);
    if (ferror(f)) {
        rc = NT_EIO;
        goto fail;
    }
    if (n > MIGRATE_FILE_MAX) {
        log_error("migration too large", "path=%s max=%d", path, MIGRATE_FILE_MAX);
        rc = NT_ECONFIG;
        goto fail;
    }
    buf[n] = '\0';
    fclose(f);
    *out = buf;
    return NT_OK;
fail:
    free(buf);
    fclose(f);
    return rc;
}

/* Run one statement given as text; any result set is discarded. */
static int exec_text(MYSQL *db, const char *sql, size_t len, const char *file, int nth)
{
    if (mysql_real_query(db, sql, (unsigned long)len) != 0) {
        int rc = db_error(db, "migration statement");
        log_error("migration failed", "file=%s statement=%d", file, nth);
        return rc;
    }
    MYSQL_RES *r = mysql_store_result(db);
    if (r)
        mysql_free_result(r);
    else if (mysql_field_count(db) != 0)
        return db_error(db, "migration result");
    return NT_OK;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return 0;
    return 1;
}

/* Split text into statements and run them; *count gets how many ran. */
static int run_script(MYSQL *db, const char *text, const char *file, int *count)
{
    size_t tlen = strlen(text), n = 0;
    char *stmt = malloc(tlen + 1);
    if (!stmt)
        return NT_ENOMEM;
    int rc = NT_OK, nth = 0;
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        const char *q = p;
        while (q < p + len && (*q == ' ' || *q == '\t'))
            q++;
        if (!(q + 1 < p + len && q[0] == '-' && q[1] == '-')) {
            memcpy(stmt + n, p, len);
            n += len;
            size_t end = n;
            while (end > 0 && (stmt[end - 1] == ' ' || stmt[end - 1] == '\t' ||
                               stmt[end - 1] == '\r'))
                end--;
            if (end > 0 && stmt[end - 1] == ';') {
                if (!is_blank(stmt, end - 1) &&
                    (rc = exec_text(db, stmt, end - 1, file, ++nth)) != NT_OK)
                    goto out;
                n = 0;
            } else {
                stmt[n++] = '\n';
            }
        }
        p += len + (eol ? 1 : 0);
    }
    if (!is_blank(stmt, n)) /* a last statement without ';' */
        rc = exec_text(db, stmt, n, file, ++nth);
out:
    free(stmt);
    *count = nth;
    return rc;
}

static int apply_one(MYSQL *db, const char *dir, const mig_t *m)
{
    char path[4096], *text = NULL;
    int rc, nstmts = 0;
    if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, m->file) >= sizeof path)
        return NT_ECONFIG;
    if ((rc = read_file(path, &text)) != NT_OK)
        return rc;
    if ((rc = db_begin(db)) != NT_OK)
        goto out;
    if ((rc = run_script(db, text, m->file, &nstmts)) != NT_OK)
        goto rollback;
    db_param_t ps[] = {DB_P_I64(m->version), DB_P_STR(m->file), DB_P_I64(db_now_ms())};
    if ((rc = db_exec(db, "INSERT INTO schema_migrations (version, name, applied_at) "
                          "VALUES (?, ?, ?)", ps, 3, NULL, NULL)) != NT_OK)
        goto rollback;
    if ((rc = db_commit(db)) != NT_OK)
        goto out;
    log_info("migration applied", "version=%03d file=%s statements=%d", m->version, m->file,
             nstmts);
    goto out;
rollback:
    db_rollback(db);
out:
    free(text);
    return rc;
}

static int mark_applied(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    unsigned char *applied = arg;
    int64_t v = ncols > 0 ? db_col_i64(cols[0]) : -1;
    if (v >= 0 && v < MIGRATE_VERSIONS)
        applied[v] = 1;
    return 0;
}

static int take_lock(void *arg, int ncols, char **cols, unsigned long *lens)
{
    (void)lens;
    *(int *)arg = ncols > 0 && cols[0] ? (int)db_col_i64(cols[0]) : -1;
    return 1;
}

int migrate_run(MYSQL *db, const char *dir, int *applied)
{
    static const char create[] =
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INT NOT NULL PRIMARY KEY,"
        " name VARCHAR(255) NOT NULL,"
        " applied_at BIGINT NOT NULL"
        ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";
    static const char unlock[] = "DO RELEASE_LOCK('" MIGRATE_LOCK "')";
    unsigned char done[MIGRATE_VERSIONS] = {0};
    mig_t *migs = NULL;
    int n = 0, count = 0, locked = -1, rc;
    if (applied)
        *applied = 0;
    if ((rc = list_dir(dir, &migs, &n)) != NT_OK)
        return rc;
    db_param_t lp[] = {DB_P_STR(MIGRATE_LOCK), DB_P_I64(MIGRATE_LOCK_WAIT)};
    if ((rc = db_query(db, "SELECT GET_LOCK(?, ?)", lp, 2, take_lock, &locked, 1, NULL)) != NT_OK)
        goto out;
    if (locked != 1) {
        log_error("another migrate holds the lock", "lock=%s waited_s=%d", MIGRATE_LOCK,
                  MIGRATE_LOCK_WAIT);
        rc = NT_EUNAVAIL;
        goto out;
    }
    if (mysql_real_query(db, create, sizeof create - 1) != 0) {
        rc = db_error(db, "create schema_migrations");
        goto out;
    }
    if ((rc = db_query(db, "SELECT version FROM schema_migrations", NULL, 0, mark_applied, done,
                       0, NULL)) != NT_OK)
        goto out;
    for (int i = 0; i < n; i++) {
        if (done[migs[i].version])
            continue;
        if ((rc = apply_one(db, dir, &migs[i])) != NT_OK)
            goto out;
        count++;
    }
out:
    if (locked == 1 && mysql_real_query(db, unlock, sizeof unlock - 1) != 0)
        db_error(db, "release migrate lock");
    free(migs);
    if (applied)
        *applied = count;
    return rc;
}
