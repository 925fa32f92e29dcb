/*
 * presence_store.c - the presence scripts and their calls (presence_store.h).
 *
 * Each operation is one Lua script, run through redis_eval (EVALSHA, EVAL
 * when Redis lost it, as after a restart).  Scripts read the clock with
 * TIME, so deadlines and last_seen come from one clock whatever process
 * wrote them.  Replies are checked for shape; anything unexpected is
 * NT_EUNAVAIL (logged), never a crash.
 */
#include "store/presence_store.h"

#include "common/err.h"
#include "common/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW_MS "local t = redis.call('TIME')\n" \
               "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"

/* ARGV: ttl, seq, heartbeat (0|1), edge, then (uid, sid, platform, meta)...
 * -> {now, uid that came online, ...}.  A session's value is
 * "<seq>:<platform>|<meta>", meta "<address>|<since ms>" (neither holds
 * '|'); an empty platform or meta keeps the stored one. */
static const char touch_lua[] =
    NOW_MS
    "local ttl, seq, edge = tonumber(ARGV[1]), ARGV[2], ARGV[4]\n"
    "local epoch = tonumber(redis.call('GET', 'pr:epoch') or '')\n"
    "if not epoch then epoch = now; redis.call('SET', 'pr:epoch', now) end\n"
    "local quiet = ARGV[3] == '1' and now - epoch < ttl\n"
    "local out = {now}\n"
    "for i = 5, #ARGV, 4 do\n"
    "  local uid, field, plat, meta = ARGV[i], ARGV[i + 1] .. '@' .. edge, ARGV[i + 2], ARGV[i + 3]\n"
    "  local dead = redis.call('HGET', 'pr:x:' .. uid, field)\n"
    "  if not dead or tonumber(dead) < tonumber(seq) then\n"
    "    local key = 'pr:u:' .. uid\n"
    "    local had = redis.call('EXISTS', key)\n"
    "    local old = redis.call('HGET', key, field)\n"
    "    local s = seq\n"
    "    if old then\n"
    "      local ps, op, om = string.match(old, '^(%d+):([^|]*)|?(.*)$')\n"
    "      if ps and tonumber(ps) > tonumber(s) then s = ps end\n"
    "      if plat == '' and op then plat = op end\n"
    "      if meta == '' and om then meta = om end\n"
    "    end\n"
    "    redis.call('HSET', key, field, s .. ':' .. plat .. '|' .. meta)\n"
    "    redis.call('ZADD', 'pr:dl', now + ttl, uid .. '|' .. field)\n"
    "    if had == 0 and redis.call('ZREM', 'pr:off', uid) == 0 and not quiet then\n"
    "      out[#out + 1] = uid\n"
    "    end\n"
    "  end\n"
    "end\n"
    "return out\n";

/* ARGV: ttl, seq, edge, uid, sid -> 1 if the session was removed */
static const char down_lua[] =
    NOW_MS
    "local ttl, seq, uid = tonumber(ARGV[1]), ARGV[2], ARGV[4]\n"
    "local field = ARGV[5] .. '@' .. ARGV[3]\n"
    "local x = 'pr:x:' .. uid\n"
    "local dead = redis.call('HGET', x, field)\n"
    "if not dead or tonumber(dead) < tonumber(seq) then redis.call('HSET', x, field, seq) end\n"
    "redis.call('PEXPIRE', x, 2 * ttl)\n"
    "local key = 'pr:u:' .. uid\n"
    "local old = redis.call('HGET', key, field)\n"
    "if not old then return 0 end\n"
    "local ps = string.match(old, '^(%d+):')\n"
    "if ps and tonumber(ps) > tonumber(seq) then return 0 end\n"
    "redis.call('HDEL', key, field)\n"
    "redis.call('ZREM', 'pr:dl', uid .. '|' .. field)\n"
    "if redis.call('EXISTS', key) == 0 then redis.call('ZADD', 'pr:off', now, uid) end\n"
    "return 1\n";

/* ARGV: ttl, debounce, max, expire (0|1) -> {uid, last_seen, uid, last_seen, ...} */
static const char sweep_lua[] =
    NOW_MS
    "local ttl, deb, max = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])\n"
    "local exp = {}\n"
    "if ARGV[4] == '1' then\n"
    "  exp = redis.call('ZRANGEBYSCORE', 'pr:dl', '-inf', now, 'WITHSCORES', 'LIMIT', 0, max)\n"
    "end\n"
    "for i = 1, #exp, 2 do\n"
    "  local m = exp[i]\n"
    "  redis.call('ZREM', 'pr:dl', m)\n"
    "  local bar = string.find(m, '|', 1, true)\n"
    "  if bar then\n"
    "    local uid, field = string.sub(m, 1, bar - 1), string.sub(m, bar + 1)\n"
    "    local key = 'pr:u:' .. uid\n"
    "    if redis.call('HDEL', key, field) == 1 and redis.call('EXISTS', key) == 0 then\n"
    "      redis.call('ZADD', 'pr:off', tonumber(exp[i + 1]) - ttl, uid)\n"
    "    end\n"
    "  end\n"
    "end\n"
    "local out = {}\n"
    "local due = redis.call('ZRANGEBYSCORE', 'pr:off', '-inf', now - deb, 'WITHSCORES',"
    " 'LIMIT', 0, max)\n"
    "for i = 1, #due, 2 do\n"
    "  redis.call('ZREM', 'pr:off', due[i])\n"
    "  if redis.call('EXISTS', 'pr:u:' .. due[i]) == 0 then\n"
    "    out[#out + 1] = due[i]; out[#out + 1] = due[i + 1]\n"
    "  end\n"
    "end\n"
    "return out\n";

/* ARGV: uid, last_seen */
static const char requeue_lua[] =
    "if redis.call('EXISTS', 'pr:u:' .. ARGV[1]) == 0 then\n"
    "  redis.call('ZADD', 'pr:off', 'NX', ARGV[2], ARGV[1])\n"
    "end\n"
    "return 0\n";

/* ARGV: uids -> {0|1, ...} */
static const char online_lua[] =
    "local out = {}\n"
    "for i = 1, #ARGV do out[i] = redis.call('EXISTS', 'pr:u:' .. ARGV[i]) end\n"
    "return out\n";

int presence_token_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > PRESENCE_TOKEN_MAX)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

int presence_uid_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n < 1 || n > 19 || s[0] == '0')
        return 0;
    return strspn(s, "0123456789") == n;
}

static int platform_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n < PRESENCE_PLATFORM_MAX && strspn(s ? s : "", "abcdefghijklmnopqrstuvwxyz") == n;
}

/* A client address as edges write it (IPv4 or IPv6 text): nothing that
 * could break the stored "<address>|<since>". */
static int address_ok(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n > 0 && n < PRESENCE_ADDRESS_MAX && strspn(s, "0123456789abcdefABCDEF.:") == n;
}

/* Run script with args (NUL-terminated strings); *r is the caller's. */
static int run(redis_pool_t *redis, const char *script, const char **args, int nargs,
               redisReply **r)
{
    int rc = redis_eval(redis, script, 0, args, nargs, r);
    if (rc == NT_OK && (*r)->type == REDIS_REPLY_ERROR) {
        log_warn("presence script failed", "err=\"%.200s\"", (*r)->str);
        freeReplyObject(*r);
        *r = NULL;
        return NT_EUNAVAIL;
    }
    return rc;
}

static int64_t elem_i64(const redisReply *e)
{
    if (e->type == REDIS_REPLY_INTEGER)
        return (int64_t)e->integer;
    if (e->type == REDIS_REPLY_STRING)
        return (int64_t)strtod(e->str, NULL);
    return 0;
}

static int copy_uid(presence_user_t *u, const redisReply *e)
{
    if (e->type != REDIS_REPLY_STRING || e->len >= sizeof u->uid)
        return NT_EUNAVAIL;
    memcpy(u->uid, e->str, e->len);
    u->uid[e->len] = '\0';
    return NT_OK;
}

int presence_store_touch(redis_pool_t *r, const presence_times_t *t, const char *edge,
                         uint64_t seq, int heartbeat, const presence_entry_t *e, int n,
                         presence_user_t **online, int *n_online, int *skipped)
{
    char ttl[24], seqs[24];
    int bad = 0, rc = NT_ENOMEM;
    redisReply *rep = NULL;
    *online = NULL;
    *n_online = 0;
    if (!presence_token_ok(edge) || n < 0)
        return NT_EINVAL;
    const char **args = malloc(sizeof *args * (size_t)(4 + 4 * n));
    char(*meta)[PRESENCE_META_MAX] = calloc(n > 0 ? (size_t)n : 1, sizeof *meta);
    if (!args || !meta) {
        free(args);
        free(meta);
        return NT_ENOMEM;
    }
    snprintf(ttl, sizeof ttl, "%lld", (long long)t->ttl_ms);
    snprintf(seqs, sizeof seqs, "%llu", (unsigned long long)seq);
    int k = 0;
    args[k++] = ttl;
    args[k++] = seqs;
    args[k++] = heartbeat ? "1" : "0";
    args[k++] = edge;
    for (int i = 0; i < n; i++) {
        if (!presence_uid_ok(e[i].uid) || !presence_token_ok(e[i].sid) ||
            !platform_ok(e[i].platform)) {
            bad++;
            continue;
        }
        args[k++] = e[i].uid;
        args[k++] = e[i].sid;
        args[k++] = e[i].platform ? e[i].platform : "";
        if (address_ok(e[i].address) && e[i].since > 0)
            snprintf(meta[i], sizeof meta[i], "%s|%lld", e[i].address, (long long)e[i].since);
        args[k++] = meta[i];
    }
    if (skipped)
        *skipped = bad;
    if (k == 4) {
        free(args);
        free(meta);
        return NT_OK;
    }
    if ((rc = run(r, touch_lua, args, k, &rep)) != NT_OK)
        goto done;
    rc = NT_EUNAVAIL;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1)
        goto done;
    int64_t now = elem_i64(rep->element[0]);
    if (rep->elements > 1) {
        rc = NT_ENOMEM;
        if (!(*online = calloc(rep->elements - 1, sizeof **online)))
            goto done;
        for (size_t i = 1; i < rep->elements; i++) {
            presence_user_t *u = &(*online)[*n_online];
            if (copy_uid(u, rep->element[i]) == NT_OK) {
                u->at = now;
                (*n_online)++;
            }
        }
    }
    rc = NT_OK;
done:
    if (rep)
        freeReplyObject(rep);
    free(args);
    free(meta);
    return rc;
}

int presence_store_down(redis_pool_t *r, const presence_times_t *t, const char *edge,
                        uint64_t seq, const presence_entry_t *e)
{
    char ttl[24], seqs[24];
    redisReply *rep = NULL;
    if (!presence_token_ok(edge) || !presence_uid_ok(e->uid) || !presence_token_ok(e->sid))
        return NT_EINVAL;
    snprintf(ttl, sizeof ttl, "%lld", (long long)t->ttl_ms);
    snprintf(seqs, sizeof seqs, "%llu", (unsigned long long)seq);
    const char *args[] = {ttl, seqs, edge, e->uid, e->sid};
    int rc = run(r, down_lua, args, 5, &rep);
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int presence_store_sweep(redis_pool_t *r, const presence_times_t *t, int max, int expire,
                         presence_user_t **off, int *n)
{
    char ttl[24], deb[24], mx[16];
    redisReply *rep = NULL;
    *off = NULL;
    *n = 0;
    snprintf(ttl, sizeof ttl, "%lld", (long long)t->ttl_ms);
    snprintf(deb, sizeof deb, "%lld", (long long)t->debounce_ms);
    snprintf(mx, sizeof mx, "%d", max > 0 ? max : 1);
    const char *args[] = {ttl, deb, mx, expire ? "1" : "0"};
    int rc = run(r, sweep_lua, args, 4, &rep);
    if (rc != NT_OK)
        return rc;
    rc = NT_EUNAVAIL;
    if (rep->type != REDIS_REPLY_ARRAY)
        goto done;
    rc = NT_OK;
    if (rep->elements < 2)
        goto done;
    rc = NT_ENOMEM;
    if (!(*off = calloc(rep->elements / 2, sizeof **off)))
        goto done;
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        presence_user_t *u = &(*off)[*n];
        if (copy_uid(u, rep->element[i]) == NT_OK) {
            u->at = elem_i64(rep->element[i + 1]);
            (*n)++;
        }
    }
    rc = NT_OK;
done:
    freeReplyObject(rep);
    return rc;
}

int presence_store_requeue(redis_pool_t *r, const presence_user_t *u)
{
    char at[24];
    redisReply *rep = NULL;
    if (!presence_uid_ok(u->uid))
        return NT_EINVAL;
    snprintf(at, sizeof at, "%lld", (long long)u->at);
    const char *args[] = {u->uid, at};
    int rc = run(r, requeue_lua, args, 2, &rep);
    if (rep)
        freeReplyObject(rep);
    return rc;
}

int presence_store_online(redis_pool_t *r, const char *const *uids, int n, int *online)
{
    redisReply *rep = NULL;
    if (n < 0 || n > 1000)
        return NT_EINVAL;
    for (int i = 0; i < n; i++) {
        online[i] = 0;
        if (!presence_uid_ok(uids[i]))
            return NT_EINVAL;
    }
    if (n == 0)
        return NT_OK;
    int rc = run(r, online_lua, (const char **)uids, n, &rep);
    if (rc != NT_OK)
        return rc;
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements != (size_t)n) {
        freeReplyObject(rep);
        return NT_EUNAVAIL;
    }
    for (int i = 0; i < n; i++)
        online[i] = elem_i64(rep->element[i]) == 1;
    freeReplyObject(rep);
    return NT_OK;
}

int presence_store_sessions(redis_pool_t *r, const char *uid, presence_session_fn fn, void *arg)
{
    redisReply *rep = NULL;
    if (!presence_uid_ok(uid))
        return NT_EINVAL;
    int rc = redis_cmd(r, &rep, "HGETALL pr:u:%s", uid);
    if (rc != NT_OK)
        return rc;
    if (rep->type != REDIS_REPLY_ARRAY) {
        freeReplyObject(rep);
        return NT_EUNAVAIL;
    }
    for (size_t i = 0; i + 1 < rep->elements && i / 2 < PRESENCE_LIST_MAX; i += 2) {
        const redisReply *e = rep->element[i], *v = rep->element[i + 1];
        char field[2 * PRESENCE_TOKEN_MAX + 2], val[PRESENCE_PLATFORM_MAX + PRESENCE_META_MAX + 24];
        if (e->type != REDIS_REPLY_STRING || e->len >= sizeof field)
            continue;
        memcpy(field, e->str, e->len);
        field[e->len] = '\0';
        char *at = strchr(field, '@'); /* "<sid>@<edge>": tokens have no '@' */
        if (!at)
            continue;
        *at = '\0';
        /* "<seq>:<platform>|<address>|<since>" (touch_lua); older values
         * end after the platform. */
        const char *addr = "";
        long long since = 0;
        if (v->type == REDIS_REPLY_STRING && v->len < sizeof val) {
            memcpy(val, v->str, v->len);
            val[v->len] = '\0';
            char *bar = strchr(val, '|');
            char *bar2 = bar ? strchr(bar + 1, '|') : NULL;
            if (bar2) {
                *bar2 = '\0';
                addr = address_ok(bar + 1) ? bar + 1 : "";
                since = strtoll(bar2 + 1, NULL, 10);
            }
        }
        fn(arg, field, at + 1, addr, since > 0 ? (int64_t)since : 0);
    }
    freeReplyObject(rep);
    return NT_OK;
}
