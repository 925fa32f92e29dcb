/*
 * role_common.h - the wiring every role repeats: connect to the bus with the
 * role's credentials, open the database pool, wait for the stop signal.
 */
#ifndef NT_ROLE_COMMON_H
#define NT_ROLE_COMMON_H

#include "bus/bus.h"
#include "cmd/roles.h"
#include "store/db.h"
#include "store/ratelimit.h"
#include "store/redis.h"

/* Connect with nats.url / nats.user (default bus_user) / nats.password.
 * Handlers run in parallel only up to the delivery pool size, so a role
 * with N workers per endpoint asks for at least N threads. */
int role_bus_connect(const role_ctx_t *ctx, const char *bus_user, int min_threads, bus_t **out);

/* The same on a libuv loop (bus_opts_t.loop), from the thread that will run
 * it, with one delivery thread: handlers there only hand messages over. */
int role_bus_connect_loop(const role_ctx_t *ctx, const char *bus_user, void *loop, bus_t **out);

/* Open the [db] pool. */
int role_db_open(const role_ctx_t *ctx, db_pool_t **out);

/* A [redis] pool (connects lazily: Redis may come up after us). */
int role_redis_open(const role_ctx_t *ctx, int size, redis_pool_t **out);

/* A rate-limit rule from config text "<per_s>/<burst>" or "off". */
int role_rate_rule(const role_ctx_t *ctx, const char *key, const char *def,
                   ratelimit_rule_t *out);

/* Block until SIGTERM/SIGINT, log it. */
void role_wait_stop(const role_ctx_t *ctx);

#endif
