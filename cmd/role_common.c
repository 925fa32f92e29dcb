/*
 * role_common.c - shared role wiring (see role_common.h).
 *
 * Start-up order does not matter: a role that finds NATS, MariaDB or (for
 * presence) Redis down waits for it with the shared back-off (0.1 s
 * doubling to 5 s, one log line per try) instead of exiting, and a stop
 * signal ends the wait.  Only credentials the server refuses end it
 * otherwise (NATS; the database keeps trying, since its user may be
 * created after us).
 */
#include "cmd/role_common.h"

#include "common/backoff.h"
#include "common/err.h"
#include "common/log.h"
#include "common/proc.h"

#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <unistd.h>

#define ROLE_RETRY_FIRST_MS 100
#define ROLE_RETRY_MAX_MS 5000

/* Sleep one back-off step; 1 if a stop signal came instead (taken: the
 * role exits, and main makes that exit 0). */
static int sleep_step(const role_ctx_t *ctx, int ms)
{
    int sig = proc_wait_stop_for(ms);
    if (sig) {
        log_info("stop signal before start, exiting", "role=%s signal=%d", ctx->role, sig);
        if (ctx->stopped_early)
            *ctx->stopped_early = 1;
    }
    return sig != 0;
}

/* bus_opts_t.stop_requested: a stop signal pending? */
static int stop_pending(void *arg)
{
    return sleep_step(arg, 0);
}

static int bus_connect_as(const role_ctx_t *ctx, const char *bus_user, int min_threads,
                          void *loop, bus_t **out)
{
    long threads, asap, inl;
    if (config_int(ctx->cfg, "nats.delivery_threads", 4, 1, 256, &threads) != NT_OK ||
        config_int(ctx->cfg, "nats.send_asap", 0, 0, 1, &asap) != NT_OK ||
        config_int(ctx->cfg, "nats.inline", 1, 0, 1, &inl) != NT_OK)
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
        .stop_requested = stop_pending,
        .stop_arg = (void *)ctx,
        .loop = loop,
        .inline_off = inl == 0,
    };
    if (loop && min_threads < 1) /* the handlers only hand messages to the loop: one thread */
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
    return bus_connect_as(ctx, bus_user, 0, loop, out);
}

int role_bus_connect_loop_threads(const role_ctx_t *ctx, const char *bus_user, void *loop,
                                  int min_threads, bus_t **out)
{
    bus_loop_thread(loop);
    return bus_connect_as(ctx, bus_user, min_threads < 1 ? 1 : min_threads, loop, out);
}

int role_db_open(const role_ctx_t *ctx, db_pool_t **out)
{
    long port, size, timeout;
    if (config_int(ctx->cfg, "db.port", 13306, 1, 65535, &port) != NT_OK ||
        config_int(ctx->cfg, "db.pool_size", 8, 1, 512, &size) != NT_OK ||
        config_int(ctx->cfg, "db.connect_timeout", 5, 1, 300, &timeout) != NT_OK)
        return NT_ECONFIG;
    db_opts_t o = {
        .host = config_str(ctx->cfg, "db.host", "127.0.0.1"),
        .port = (int)port,
        .user = config_str(ctx->cfg, "db.user", "natter"),
        .password = config_str(ctx->cfg, "db.password", "natter"),
        .name = config_str(ctx->cfg, "db.name", "natter"),
        .size = (int)size,
        .connect_timeout = (int)timeout,
    };
    backoff_t b;
    backoff_init(&b, ROLE_RETRY_FIRST_MS, ROLE_RETRY_MAX_MS);
    for (;;) {
        int rc = db_pool_new(&o, out);
        if (rc == NT_OK) {
            if (b.attempt > 0)
                log_info("database reachable", "host=%s port=%ld tries=%d", o.host, port,
                         b.attempt + 1);
            return NT_OK;
        }
        if (rc == NT_ENOMEM || rc == NT_ECONFIG)
            return rc;
        int ms = backoff_next(&b);
        /* db.c logged the server's reason (code, message) just before. */
        log_warn("database not reachable, retrying", "host=%s port=%ld attempt=%d retry_in_ms=%d "
                 "err=\"%s\"", o.host, port, b.attempt, ms, nt_strerror(rc));
        if (sleep_step(ctx, ms))
            return NT_EUNAVAIL;
    }
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

int role_redis_wait(const role_ctx_t *ctx, redis_pool_t *redis)
{
    backoff_t b;
    backoff_init(&b, ROLE_RETRY_FIRST_MS, ROLE_RETRY_MAX_MS);
    for (;;) {
        redisReply *r = NULL;
        int rc = redis_cmd(redis, &r, "PING");
        int ok = rc == NT_OK && r && r->type != REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (ok) {
            if (b.attempt > 0)
                log_info("redis reachable", "tries=%d", b.attempt + 1);
            return NT_OK;
        }
        int ms = backoff_next(&b);
        log_warn("redis not reachable, retrying", "attempt=%d retry_in_ms=%d", b.attempt, ms);
        if (sleep_step(ctx, ms))
            return NT_EUNAVAIL;
    }
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

int role_drain_timeout_ms(const role_ctx_t *ctx, long *out)
{
    long s;
    if (config_int(ctx->cfg, "ops.drain_timeout_s", 30, 1, 3600, &s) != NT_OK)
        return NT_ECONFIG;
    *out = s * 1000;
    return NT_OK;
}

/* The stop signals stay blocked in every thread, so the guard's
 * sigtimedwait is where a second one lands. */
static void *drain_guard(void *arg)
{
    long ms = (long)(intptr_t)arg;
    int sig = proc_wait_stop_for((int)ms);
    if (sig)
        log_warn("second stop signal during the drain, exiting now", "signal=%d", sig);
    else
        log_warn("drain took longer than ops.drain_timeout_s, exiting now", "timeout_ms=%ld", ms);
    _exit(1);
    return NULL;
}

void role_wait_stop(const role_ctx_t *ctx)
{
    int sig = proc_wait_stop();
    long ms = 30000;
    if (role_drain_timeout_ms(ctx, &ms) != NT_OK)
        log_warn("bad ops.drain_timeout_s, using 30", NULL);
    log_info("stopping", "role=%s signal=%s drain_timeout_s=%ld", ctx->role,
             sig == SIGTERM ? "TERM" : sig == SIGINT ? "INT" : "HUP", ms / 1000);
    pthread_t t;
    pthread_attr_t a;
    if (pthread_attr_init(&a) == 0) {
        pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &a, drain_guard, (void *)(intptr_t)ms) != 0)
            log_warn("no drain guard: a second signal will not cut the drain short", NULL);
        pthread_attr_destroy(&a);
    }
}
