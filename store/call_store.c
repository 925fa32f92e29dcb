/*
 * call_store.c - the busy markers of calls in Redis (call_store.h).  Both
 * operations are one Lua script each, so a check and its write cannot be
 * split by another process's call.
 */
#include "store/call_store.h"

#include "common/err.h"

#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <stdio.h>

#define CALL_KEY_MAX 96

static const char k_take[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[2]) == 1 then\n"
    "  return 1\n"
    "end\n"
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])\n"
    "return 0\n";

static const char k_keep[] =
    "for _, k in ipairs(KEYS) do\n"
    "  if redis.call('GET', k) == ARGV[1] then\n"
    "    if ARGV[2] == '0' then redis.call('DEL', k)\n"
    "    else redis.call('PEXPIRE', k, ARGV[2]) end\n"
    "  end\n"
    "end\n"
    "return 0\n";

static int key(char *buf, size_t n, const char *uid)
{
    int w = snprintf(buf, n, "pr:call:%s", uid);
    return w > 0 && (size_t)w < n ? NT_OK : NT_EINVAL;
}

/* The script's integer answer, or NT_EUNAVAIL. */
static int run(redis_pool_t *r, const char *script, int nkeys, const char **args, int nargs,
               long long *out)
{
    redisReply *rep = NULL;
    int rc = redis_eval(r, script, nkeys, args, nargs, &rep);
    if (rc == NT_OK && (!rep || rep->type != REDIS_REPLY_INTEGER))
        rc = NT_EUNAVAIL;
    if (rc == NT_OK)
        *out = rep->integer;
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int call_store_take(redis_pool_t *r, const char *caller, const char *callee, const char *id,
                    int64_t ttl_ms)
{
    char k1[CALL_KEY_MAX], k2[CALL_KEY_MAX], ttl[24];
    if (key(k1, sizeof k1, caller) != NT_OK || key(k2, sizeof k2, callee) != NT_OK)
        return NT_EINVAL;
    snprintf(ttl, sizeof ttl, "%" PRId64, ttl_ms);
    const char *args[] = {k1, k2, id, ttl};
    long long v = 0;
    int rc = run(r, k_take, 2, args, 4, &v);
    return rc != NT_OK ? rc : v ? NT_ECONFLICT : NT_OK;
}

int call_store_keep(redis_pool_t *r, const char *const *uids, int n, const char *id,
                    int64_t ttl_ms)
{
    char keys[2][CALL_KEY_MAX], ttl[24];
    const char *args[4];
    if (n < 1 || n > 2)
        return NT_EINVAL;
    for (int i = 0; i < n; i++) {
        if (key(keys[i], sizeof keys[i], uids[i]) != NT_OK)
            return NT_EINVAL;
        args[i] = keys[i];
    }
    snprintf(ttl, sizeof ttl, "%" PRId64, ttl_ms);
    args[n] = id;
    args[n + 1] = ttl;
    long long v = 0;
    return run(r, k_keep, n, args, n + 2, &v);
}
