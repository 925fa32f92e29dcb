/*
 * role_admin.c - `natter admin grant|revoke USERNAME`: give or take the
 * admin role (docs/operations.md "Admins").
 *
 * Run by the operator on a machine with database access; there is no API
 * way to become admin.  It talks to MariaDB directly (no bus, no pool), so
 * it works while the stack is down.  The change is written to the audit log
 * as actor 0 "operator".  The auth pool reads the role on every admin
 * request, so it takes effect on the next one.
 *
 * Exit status: 0 done (or nothing to do), 1 database error, 2 usage,
 * 3 no such user.  One line on stdout says what happened.
 */
#include "cmd/roles.h"

#include "common/err.h"
#include "common/log.h"
#include "store/admin_store.h"
#include "store/db.h"

#include <stdio.h>
#include <string.h>

static int usage(void)
{
    fprintf(stderr, "usage: natter admin [--config FILE] grant|revoke USERNAME\n");
    return 2;
}

int role_admin(const role_ctx_t *ctx)
{
    if (ctx->argc != 2 || (strcmp(ctx->argv[0], "grant") != 0 &&
                           strcmp(ctx->argv[0], "revoke") != 0))
        return usage();
    const char *verb = ctx->argv[0], *name = ctx->argv[1];
    const char *role = strcmp(verb, "grant") == 0 ? "admin" : "user";
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
    db_pool_t *pool = NULL;
    MYSQL *db = NULL;
    char uid[USER_ID_MAX] = "";
    int changed = 0, rc;
    if ((rc = db_pool_new(&o, &pool)) != NT_OK || (rc = db_acquire(pool, 1000, &db)) != NT_OK) {
        fprintf(stderr, "natter admin: cannot connect to the database %s:%ld/%s: %s\n", o.host,
                port, o.name, nt_strerror(rc));
        goto out;
    }
    rc = admin_set_role(db, name, role, &changed, uid);
    if (rc == NT_OK && changed)
        rc = admin_audit_add(db, "", "operator", strcmp(role, "admin") == 0 ? "grant" : "revoke",
                             uid, name, "cli", db_now_ms());
    db_release(pool, db, db_is_broken(rc));
    if (rc == NT_ENOTFOUND) {
        fprintf(stderr, "natter admin: no user named '%s'\n", name);
        goto out;
    }
    if (rc != NT_OK) {
        fprintf(stderr, "natter admin: %s failed: %s\n", verb, nt_strerror(rc));
        goto out;
    }
    printf("admin: %s (id %s) %s role %s\n", name, uid, changed ? "now has" : "already had",
           role);
    fflush(stdout);
out:
    db_pool_free(pool);
    db_thread_end();
    return rc == NT_OK ? 0 : rc == NT_ENOTFOUND ? 3 : 1;
}
