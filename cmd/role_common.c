/*
 * role_common.c - shared role wiring (see role_common.h).
 */
#include "cmd/role_common.h"

#include "common/err.h"
#include "common/log.h"
#include "common/proc.h"

#include <signal.h>

static int bus_connect_as(const role_ctx_t *ctx, const char *bus_user, int min_threads,
                          void *loop, bus_t **out)
{
    long threads, asap;
    if (config_int(ctx->cfg, "nats.delivery_threads", 4, 1, 256, &threads) != NT_OK ||
        config_int(ctx->cfg, "nats.send_asap", 0, 0, 1, &asap) != NT_OK)
        return NT_ECONFIG;
    const char *user = config_str(ctx->cfg, "nats.user", "");
    const char *pw = config_str(ctx->cfg, "nats.password", "");
    bus_opts_t o = {
        .url = config_str(ctx->cfg, "nats.url", "nats://127.0.0.1:14222"),
        .role = ctx->role,
        .user = *user ? user : (*pw ? bus_user : NULL),
        .password = *pw ? pw : NULL,
        .delivery_threads = threads < min_threads ? min_threads : (int)threads,
        .send_asap = (int)asap,
        .loop = loop,
    };
    if (loop) /* the handlers only hand messages to the loop: one thread */
        o.delivery_threads = 1;
    int rc = bus_connect(&o, out);
    if (rc != NT_OK)
        log_error("cannot connect to NATS", "err=\"%s\"", nt_strerror(rc)); /* url may hold a password */
    return rc;
}

int role_bus_connect(const role_ctx_t *ctx, const char *bus_user, int min_threads, bus_t **out)
{
    return bus_connect_as(ctx, bus_user, min_threads, NULL, out);
}

int role_bus_connect_loop(const role_ctx_t *ctx, const char *bus_user, void *loop, bus_t **out)
{
    bus_loop_thread(loop);
    return bus_connect_as(ctx, bus_user, 1, loop, out);
}

int role_db_open(const role_ctx_t *ctx, db_pool_t **out)
{
    long port, size;
    if (config_int(ctx->cfg, "db.port", 13306, 1, 65535, &port) != NT_OK ||
        config_int(ctx->cfg, "db.pool_size", 8, 1, 512, &size) != NT_OK)
        return NT_ECONFIG;
    db_opts_t o = {
        .host = config_str(ctx->cfg, "db.host", "127.0.0.1"),
        .port = (int)port,
        .user = config_str(ctx->cfg, "db.user", "natter"),
        .password = config_str(ctx->cfg, "db.password", "natter"),
        .name = config_str(ctx->cfg, "db.name", "natter"),
        .size = (int)size,
    };
    int rc = db_pool_new(&o, out);
    if (rc != NT_OK)
        log_error("cannot open database", "host=%s port=%ld err=\"%s\"", o.host, port,
                  nt_strerror(rc));
    return rc;
}

int role_redis_open(const role_ctx_t *ctx, int size, redis_pool_t **out)
{
    long port, timeout;
    if (config_int(ctx->cfg, "redis.port", 16379, 1, 65535, &port) != NT_OK ||
        config_int(ctx->cfg, "redis.timeout_ms", 500, 10, 60000, &timeout) != NT_OK)
        return NT_ECONFIG;
    redis_opts_t o = {
        .host = config_str(ctx->cfg, "redis.host", "127.0.0.1"),
        .port = (int)port,
        .size = size,
        .timeout_ms = (int)timeout,
    };
    return redis_pool_new(&o, out);
}

int role_rate_rule(const role_ctx_t *ctx, const char *key, const char *def,
                   ratelimit_rule_t *out)
{
    const char *text = config_str(ctx->cfg, key, def);
    if (ratelimit_rule_parse(text, out) != NT_OK) {
        log_error("bad rate limit", "key=%s value=%s want=per_s/burst", key, text);
        return NT_ECONFIG;
    }
    return NT_OK;
}

void role_wait_stop(const role_ctx_t *ctx)
{
    int sig = proc_wait_stop();
    log_info("stopping", "role=%s signal=%s", ctx->role, sig == SIGTERM ? "TERM" : sig == SIGINT ? "INT" : "HUP");
}
