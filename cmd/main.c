/*
 * main.c - `natter <role> [--config FILE] [args...]`.
 *
 * One binary, one role per process (DESIGN.md "Processes").  main only
 * finds the role, loads config/natter.conf (or --config), and hands over.
 */
#include "cmd/roles.h"
#include "common/log.h"
#include "common/proc.h"
#include "common/version.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*run)(const role_ctx_t *ctx);
    const char *what;
} roles[] = {
    {"auth", role_auth, "pool: accounts, passwords, tokens, profiles"},
    {"edge-http", role_edge_http, "REST gateway (civetweb)"},
    {"edge-ws", role_edge_ws, "WebSocket gateway (libwebsockets)"},
    {"msg", role_msg, "pool: conversations and messages"},
    {"presence", role_presence, "pool: who is online, presence events"},
    {"media", role_media, "pool: uploads, thumbnails, who may download"},
    {"migrate", role_migrate, "apply sql/ migrations, then exit"},
    {"admin", role_admin, "grant|revoke USERNAME: set a user's admin role, then exit"},
    {"trace", role_trace, "print bus traffic with decoded bodies: trace [subject ...]"},
};

static void usage(FILE *f)
{
    fprintf(f, "natter %s\nusage: natter <role> [--config FILE]\nroles:\n", NATTER_VERSION);
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++)
        fprintf(f, "  %-10s %s\n", roles[i].name, roles[i].what);
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("natter %s\n", NATTER_VERSION);
        return 0;
    }
    const char *path = "config/natter.conf";
    int required = 0, rest = 2;
    if (argc >= 4 && strcmp(argv[2], "--config") == 0) {
        path = argv[3];
        required = 1;
        rest = 4;
    }
    for (size_t i = 0; i < sizeof roles / sizeof roles[0]; i++) {
        if (strcmp(argv[1], roles[i].name) != 0)
            continue;
        config_t *cfg = NULL;
        log_init(roles[i].name, LOG_INFO);
        if (config_load(path, required, &cfg) != 0)
            return 2;
        int level = log_level_parse(config_str(cfg, "log.level", "info"));
        log_init(roles[i].name, level < 0 ? LOG_INFO : level);
        log_set_instance(config_str(cfg, "log.instance", "")); /* "": <host>-<pid> */
        (void)log_instance();
        proc_signals_block();
        proc_raise_nofile();
        int stopped_early = 0;
        role_ctx_t ctx = {.role = roles[i].name, .cfg = cfg, .argc = argc - rest, .argv = argv + rest,
                          .stopped_early = &stopped_early};
        int rc = roles[i].run(&ctx);
        if (stopped_early)
            rc = 0;
        config_free(cfg);
        return rc;
    }
    fprintf(stderr, "natter: unknown role '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
