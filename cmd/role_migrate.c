/*
 * role_migrate.c - `natter migrate`: apply sql/ migrations, then exit.
 *
 * Runs once per deploy, before the pools start (ops/up does it first), so
 * it opens a single connection, not a pool worth of them.  The result goes
 * to stdout for scripts ("migrate: applied N migration(s)"); failures are
 * logged and exit 1, so a deploy stops before a pool meets an old schema.
 */
#include "cmd/roles.h"

#include "common/err.h"
#include "common/log.h"
#include "store/db.h"
#include "store/migrate.h"

#include <stdio.h>

int role_migrate(const role_ctx_t *ctx)
{
    long port, timeout;
    if (config_int(ctx->cfg, "db.port", 13306, 1, 65535, &port) != NT_OK ||
        config_int(ctx->cfg, "db.connect_timeout", 5, 1, 300, &timeout) != NT_OK) {
        log_error("bad [db] settings", "keys=\"db.port db.connect_timeout\"");
        return 1;
    }
    db_opts_t o = {
        .host = config_str(ctx->cfg, "db.host", "127.0.0.1"),
        .port = (int)port,
        .user = config_str(ctx->cfg, "db.user", "natter"),
        .password = config_str(ctx->cfg, "db.password", "natter"),
        .name = config_str(ctx->cfg, "db.name", "natter"),
        .size = 1,
        .connect_timeout = (int)timeout,
    };
    const char *dir = config_str(ctx->cfg, "db.migrations", "sql");
    db_pool_t *pool = NULL;
    MYSQL *db = NULL;
    int applied = 0, rc;
    if ((rc = db_pool_new(&o, &pool)) != NT_OK) {
        log_error("cannot connect to the database", "host=%s port=%ld db=%s err=\"%s\"", o.host,
                  port, o.name, nt_strerror(rc));
        goto out;
    }
    if ((rc = db_acquire(pool, 1000, &db)) != NT_OK) {
        log_error("cannot take the database connection", "err=\"%s\"", nt_strerror(rc));
        goto out;
    }
    rc = migrate_run(db, dir, &applied);
    db_release(pool, db, db_is_broken(rc));
    if (rc != NT_OK) {
        log_error("migrate failed", "dir=%s applied=%d err=\"%s\"", dir, applied,
                  nt_strerror(rc));
        goto out;
    }
    printf("migrate: applied %d migration(s)\n", applied);
    fflush(stdout);
out:
    db_pool_free(pool);
    db_thread_end();
    return rc == NT_OK ? 0 : 1;
}
