/*
 * roles.h - one entry point per role of the natter binary.
 *
 * main() parses `natter <role> [--config FILE]`, loads the config, sets up
 * logging and signals, and calls the role.  A role returns the process exit
 * status (0 after a clean drain).  Each role lives in cmd/role_<name>.c and
 * only wires parts together; the behaviour lives in actors/ and edge/.
 */
#ifndef NT_ROLES_H
#define NT_ROLES_H

#include "common/config.h"

typedef struct role_ctx {
    const char *role;          /* "auth", "edge-http", ... */
    const config_t *cfg;
    int argc;                  /* arguments after the role and --config */
    char **argv;
    /* Set to 1 by role_common when a stop signal came while the role was
     * still waiting for NATS, MariaDB or Redis: main then exits 0 (a clean
     * stop, nothing to drain) whatever the role returned. */
    int *stopped_early;
} role_ctx_t;

int role_migrate(const role_ctx_t *ctx);
int role_admin(const role_ctx_t *ctx);
int role_auth(const role_ctx_t *ctx);
int role_msg(const role_ctx_t *ctx);
int role_edge_http(const role_ctx_t *ctx);
int role_edge_ws(const role_ctx_t *ctx);
int role_trace(const role_ctx_t *ctx);
int role_presence(const role_ctx_t *ctx);
int role_media(const role_ctx_t *ctx);

#endif
