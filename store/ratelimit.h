/*
 * ratelimit.h - token buckets in Redis, shared by every process of a role
 * (DESIGN.md "Storage"; issue 5: per-user and per-IP limits on logins and
 * sends).
 *
 * A bucket holds up to `burst` tokens and refills at `per_s` tokens a
 * second; taking one when it is empty is refused with the time until the
 * next token.  The check and the update are one Lua script, so concurrent
 * processes cannot both take the last token, and Redis's own clock is used,
 * so processes on machines with skewed clocks agree.  A bucket left alone
 * expires once it would be full again: idle users cost no memory.
 */
#ifndef NT_RATELIMIT_H
#define NT_RATELIMIT_H

#include "store/redis.h"

typedef struct ratelimit_rule {
    double per_s;   /* refill rate; <= 0 disables the rule (always allowed) */
    int burst;      /* bucket size, >= 1 */
} ratelimit_rule_t;

/* Take one token from the bucket "rl:<key>".  NT_OK: *allowed is 1 or 0
 * and, when 0, *retry_ms says when to try again.  NT_EUNAVAIL: Redis did
 * not answer; the caller decides (natter's callers let the request through
 * and log it: an outage of a cache must not lock everyone out). */
int ratelimit_take(redis_pool_t *redis, const char *key, const ratelimit_rule_t *rule,
                   int *allowed, long *retry_ms);

/* Parse "<per_s>/<burst>" (e.g. "0.5/5", "20/40"; "0" or "off" disables)
 * from config text.  NT_EINVAL if malformed. */
int ratelimit_rule_parse(const char *text, ratelimit_rule_t *out);

#endif
