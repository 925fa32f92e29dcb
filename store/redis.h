/*
 * redis.h - a small pool of hiredis connections (DESIGN.md "Storage":
 * Redis holds presence, rate-limit buckets and caches, nothing that cannot
 * be rebuilt).
 *
 * A redisContext is not thread-safe, so a worker takes one for a few
 * commands and gives it back.  Connections are opened lazily and reopened
 * after an error, each with connect and command timeouts, so a dead Redis
 * costs a caller at most the timeout, never a hang.  Callers decide what a
 * missing Redis means for them (rate limits fail open, for example).
 */
#ifndef NT_REDIS_H
#define NT_REDIS_H

#include <hiredis/hiredis.h>

typedef struct redis_pool redis_pool_t;

typedef struct redis_opts {
    const char *host;
    int port;
    int size;        /* connections; <= 0 means 4 */
    int timeout_ms;  /* connect and per-command; <= 0 means 500 */
} redis_opts_t;

/* Does not connect yet: the first redis_acquire does. */
int redis_pool_new(const redis_opts_t *opts, redis_pool_t **out);
void redis_pool_free(redis_pool_t *pool);

/* A connected context, waiting up to the pool timeout for a free slot;
 * NT_EUNAVAIL if none is free or Redis cannot be reached. */
int redis_acquire(redis_pool_t *pool, redisContext **out);
/* Give it back; broken=1 (after an I/O error) closes it. */
void redis_release(redis_pool_t *pool, redisContext *c, int broken);

/* Run one command (printf-style, hiredis's %s/%b escaping) on a pooled
 * connection.  *reply is the caller's (freeReplyObject).  An error reply
 * from Redis is returned in *reply with NT_OK; NT_EUNAVAIL means no reply
 * at all (down, timeout). */
int redis_cmd(redis_pool_t *pool, redisReply **reply, const char *fmt, ...);

/* The same with an argv vector (for scripts and binary-safe keys). */
int redis_cmdv(redis_pool_t *pool, redisReply **reply, int argc, const char **argv,
               const size_t *lens);

/* Run a Lua script: EVALSHA by its SHA-1 and, when Redis does not have
 * it (first call, or Redis restarted: NOSCRIPT), EVAL once.  args holds
 * the nkeys keys and then the other arguments (NUL-terminated strings).
 * Same reply rules as redis_cmd. */
int redis_eval(redis_pool_t *pool, const char *script, int nkeys, const char **args, int nargs,
               redisReply **reply);

#endif
