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

/* Connect with nats.url / nats.user (default bus_user) / nats.password,
 * waiting for a server that is not up yet (bus_connect) until a stop
 * signal. 
 * Handlers run in parallel only up to the delivery pool size, so a role
 * with N workers per endpoint asks for at least N threads. */
int role_bus_connect(const role_ctx_t *ctx, const char *bus_user, int min_threads, bus_t **out);

/* The same on a libuv loop (bus_opts_t.loop), from the thread that will run
 * it, with one delivery thread: handlers there only hand messages over. */
int role_bus_connect_loop(const role_ctx_t *ctx, const char *bus_user, void *loop, bus_t **out);

/* The same, keeping a delivery pool as role_bus_connect sizes it: for a
 * role whose handlers do work of their own off the loop (the msg pool:
 * everything but its sends, which the loop takes with bus_inline). */
int role_bus_connect_loop_threads(const role_ctx_t *ctx, const char *bus_user, void *loop,
                                  int min_threads, bus_t **out);

/* Open the [db] pool, waiting for a database that does not answer yet
 * (0.1 s doubling to 5 s between tries, a log line each) until a stop
 * signal, which gives NT_EUNAVAIL. */
int role_db_open(const role_ctx_t *ctx, db_pool_t **out);

/* A [redis] pool (connects lazily: Redis may come up after us). */
int role_redis_open(const role_ctx_t *ctx, int size, redis_pool_t **out);

/* For a role that cannot work without Redis (presence): wait until it
 * answers PING, with the same back-off; NT_EUNAVAIL on a stop signal. */
int role_redis_wait(const role_ctx_t *ctx, redis_pool_t *redis);

/* A rate-limit rule from config text "<per_s>/<burst>" or "off". */
int role_rate_rule(const role_ctx_t *ctx, const char *key, const char *def,
                   ratelimit_rule_t *out);

/* ops.drain_timeout_s (default 30, 1..3600) in ms: how long a drain may
 * take before the process exits anyway. */
int role_drain_timeout_ms(const role_ctx_t *ctx, long *out);

/* Block until SIGTERM/SIGINT/SIGHUP, log it, and start the drain guard: a
 * detached thread that ends the process with _exit(1) on a second stop
 * signal or when ops.drain_timeout_s has passed, so a drain that hangs
 * (a store that does not answer) cannot keep a restart waiting.  The role
 * then drains as usual; returning from it ends the process and the guard. */
void role_wait_stop(const role_ctx_t *ctx);

#endif
