/*
 * ratelimit.c - the token bucket script and its call (see ratelimit.h).
 *
 * The script goes through redis_eval (EVALSHA, EVAL when Redis lost it).
 * Tokens are kept as a real number with the time of the last update (ms,
 * from Redis TIME), in a hash {t, n}.
 */
#include "store/ratelimit.h"

#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char script[] =
    "local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local v = redis.call('HMGET', KEYS[1], 't', 'n')\n"
    "local n, last = tonumber(v[2]), tonumber(v[1])\n"
    "if not n or not last then n, last = burst, now end\n"
    "n = math.min(burst, n + math.max(0, now - last) * rate / 1000)\n"
    "local ok, wait = 0, 0\n"
    "if n >= 1 then n = n - 1; ok = 1 else wait = math.ceil((1 - n) * 1000 / rate) end\n"
    "redis.call('HSET', KEYS[1], 't', now, 'n', tostring(n))\n"
    "redis.call('PEXPIRE', KEYS[1], math.ceil((burst - n) * 1000 / rate) + 1000)\n"
    "return {ok, wait}\n";

int ratelimit_take(redis_pool_t *redis, const char *key, const ratelimit_rule_t *rule,
                   int *allowed, long *retry_ms)
{
    *allowed = 1;
    *retry_ms = 0;
    if (!rule || rule->per_s <= 0)
        return NT_OK;
    char k[256], rate[32], burst[16];
    snprintf(k, sizeof k, "rl:%s", key);
    snprintf(rate, sizeof rate, "%.6f", rule->per_s);
    snprintf(burst, sizeof burst, "%d", rule->burst > 0 ? rule->burst : 1);
    const char *args[] = {k, rate, burst};
    redisReply *r = NULL;
    int rc = redis_eval(redis, script, 1, args, 3, &r);
    if (rc != NT_OK)
        return rc;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_INTEGER || r->element[1]->type != REDIS_REPLY_INTEGER) {
        log_warn("rate limit script failed", "key=%s err=\"%s\"", k,
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
        freeReplyObject(r);
        return NT_EUNAVAIL;
    }
    *allowed = r->element[0]->integer == 1;
    *retry_ms = (long)r->element[1]->integer;
    freeReplyObject(r);
    return NT_OK;
}

int ratelimit_rule_parse(const char *text, ratelimit_rule_t *out)
{
    out->per_s = 0;
    out->burst = 1;
    if (!text || strcmp(text, "0") == 0 || strcmp(text, "off") == 0)
        return NT_OK;
    char *end;
    double rate = strtod(text, &end);
    if (end == text || *end != '/' || !(rate > 0) || rate > 1e6)
        return NT_EINVAL;
    const char *b = end + 1;
    long burst = strtol(b, &end, 10);
    if (end == b || *end != '\0' || burst < 1 || burst > 1000000)
        return NT_EINVAL;
    out->per_s = rate;
    out->burst = (int)burst;
    return NT_OK;
}
