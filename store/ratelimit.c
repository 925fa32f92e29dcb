/*
 * ratelimit.c - the token bucket script and its call (see ratelimit.h).
 *
 * The script is sent with EVALSHA by its SHA-1 and, when Redis does not
 * have it cached (first call, Redis restarted: NOSCRIPT), once with EVAL.
 * Tokens are kept as a real number with the time of the last update (ms,
 * from Redis TIME), in a hash {t, n}.
 */
#include "store/ratelimit.h"

#include "common/err.h"
#include "common/log.h"

#include <openssl/sha.h>
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

static void script_sha(char out[41])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)script, strlen(script), md);
    for (int i = 0; i < SHA_DIGEST_LENGTH; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[40] = '\0';
}

static int run(redis_pool_t *redis, const char *verb, const char *body, const char *key,
               const char *rate, const char *burst, redisReply **r)
{
    const char *argv[] = {verb, body, "1", key, rate, burst};
    return redis_cmdv(redis, r, 6, argv, NULL);
}

int ratelimit_take(redis_pool_t *redis, const char *key, const ratelimit_rule_t *rule,
                   int *allowed, long *retry_ms)
{
    *allowed = 1;
    *retry_ms = 0;
    if (!rule || rule->per_s <= 0)
        return NT_OK;
    char k[256], rate[32], burst[16], sha[41];
    snprintf(k, sizeof k, "rl:%s", key);
    snprintf(rate, sizeof rate, "%.6f", rule->per_s);
    snprintf(burst, sizeof burst, "%d", rule->burst > 0 ? rule->burst : 1);
    script_sha(sha);
    redisReply *r = NULL;
    int rc = run(redis, "EVALSHA", sha, k, rate, burst, &r);
    if (rc == NT_OK && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(r);
        r = NULL;
        rc = run(redis, "EVAL", script, k, rate, burst, &r);
    }
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
