/*
 * redis.c - the hiredis connection pool (see redis.h).
 *
 * Slots are a fixed array; a slot is free, or lent to one thread.  A free
 * slot may hold no context (never opened, or closed after an error): the
 * borrower connects it.  The mutex guards the lent flags and the
 * back-off; connecting and commands happen outside it.
 *
 * Redis down: a failed connect starts a back-off (0.1 s doubling to
 * REDIS_RETRY_MAX_MS); until it runs out, borrowers get NT_EUNAVAIL at
 * once without trying, so a pool under load makes one connect attempt and
 * one log line per step instead of one per request, and callers that can
 * do without Redis (rate limits fail open) lose nothing waiting.  The first
 * connect that works resets it.
 */
#include "store/redis.h"

#include "common/backoff.h"
#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REDIS_RETRY_FIRST_MS 100
#define REDIS_RETRY_MAX_MS 1000

typedef struct slot {
    redisContext *ctx;
    int lent;
} slot_t;

struct redis_pool {
    char *host;
    int port, size, timeout_ms;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    slot_t *slots;
    backoff_t retry;      /* mu */
    int64_t retry_at_ms;  /* mu: no connect attempt before (monotonic); 0: none */
    int failing;          /* mu: the last connect attempt failed */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int redis_pool_new(const redis_opts_t *o, redis_pool_t **out)
{
    if (!o || !o->host || !out)
        return NT_EINVAL;
    redis_pool_t *p = calloc(1, sizeof *p);
    if (!p)
        return NT_ENOMEM;
    p->size = o->size > 0 ? o->size : 4;
    p->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 500;
    p->port = o->port;
    p->host = strdup(o->host);
    p->slots = calloc((size_t)p->size, sizeof *p->slots);
    backoff_init(&p->retry, REDIS_RETRY_FIRST_MS, REDIS_RETRY_MAX_MS);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int ok = p->host && p->slots && pthread_mutex_init(&p->mu, NULL) == 0 &&
             pthread_cond_init(&p->cv, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!ok) {
        free(p->host);
        free(p->slots);
        free(p);
        return NT_ENOMEM;
    }
    *out = p;
    return NT_OK;
}

void redis_pool_free(redis_pool_t *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->size; i++)
        if (p->slots[i].ctx)
            redisFree(p->slots[i].ctx);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p->slots);
    free(p->host);
    free(p);
}

/* A new connection, or NULL.  Skips the attempt while the back-off of an
 * earlier failure runs; logs one line per failed attempt. */
static redisContext *connect_one(redis_pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    int wait = p->failing && mono_ms() < p->retry_at_ms;
    pthread_mutex_unlock(&p->mu);
    if (wait)
        return NULL;
    struct timeval tv = {p->timeout_ms / 1000, (p->timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(p->host, p->port, tv);
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        pthread_mutex_lock(&p->mu);
        int was = p->failing;
        p->failing = 0;
        backoff_reset(&p->retry);
        pthread_mutex_unlock(&p->mu);
        if (was)
            log_info("redis reconnected", "host=%s port=%d", p->host, p->port);
        return c;
    }
    pthread_mutex_lock(&p->mu);
    int ms = -1;
    /* Several borrowers may fail at once: only the first moves the step. */
    if (!p->failing || mono_ms() >= p->retry_at_ms) {
        ms = backoff_next(&p->retry);
        p->retry_at_ms = mono_ms() + ms;
        p->failing = 1;
    }
    pthread_mutex_unlock(&p->mu);
    if (ms >= 0)
        log_warn("redis connect failed", "host=%s port=%d retry_in_ms=%d err=\"%s\"", p->host,
                 p->port, ms, c ? c->errstr : "out of memory");
    if (c)
        redisFree(c);
    return NULL;
}

int redis_acquire(redis_pool_t *p, redisContext **out)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += p->timeout_ms / 1000;
    until.tv_nsec += (long)(p->timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    slot_t *s = NULL;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        for (int i = 0; i < p->size && !s; i++)
            if (!p->slots[i].lent)
                s = &p->slots[i];
        if (s || pthread_cond_timedwait(&p->cv, &p->mu, &until) == ETIMEDOUT)
            break;
    }
    if (s)
        s->lent = 1;
    pthread_mutex_unlock(&p->mu);
    if (!s)
        return NT_EUNAVAIL;
    if (!s->ctx)
        s->ctx = connect_one(p);
    if (!s->ctx) {
        pthread_mutex_lock(&p->mu);
        s->lent = 0;
        pthread_cond_signal(&p->cv);
        pthread_mutex_unlock(&p->mu);
        return NT_EUNAVAIL;
    }
    *out = s->ctx;
    return NT_OK;
}

void redis_release(redis_pool_t *p, redisContext *c, int broken)
{
    if (!c)
        return;
    pthread_mutex_lock(&p->mu);
    for (int i = 0; i < p->size; i++) {
        if (p->slots[i].ctx != c)
            continue;
        if (broken) {
            redisFree(c);
            p->slots[i].ctx = NULL;
        }
        p->slots[i].lent = 0;
        pthread_cond_signal(&p->cv);
        break;
    }
    pthread_mutex_unlock(&p->mu);
}

static int finish(redis_pool_t *p, redisContext *c, redisReply *r, redisReply **reply)
{
    /* No reply means an I/O error or a timeout: the context is unusable. */
    int broken = r == NULL || c->err != 0;
    if (!r)
        log_warn("redis command failed", "err=\"%s\"", c->errstr[0] ? c->errstr : "no reply");
    redis_release(p, c, broken);
    *reply = r;
    return r ? NT_OK : NT_EUNAVAIL;
}

int redis_cmd(redis_pool_t *p, redisReply **reply, const char *fmt, ...)
{
    redisContext *c;
    *reply = NULL;
    if (redis_acquire(p, &c) != NT_OK)
        return NT_EUNAVAIL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    return finish(p, c, r, reply);
}

int redis_cmdv(redis_pool_t *p, redisReply **reply, int argc, const char **argv,
               const size_t *lens)
{
    redisContext *c;
    *reply = NULL;
    if (redis_acquire(p, &c) != NT_OK)
        return NT_EUNAVAIL;
    redisReply *r = redisCommandArgv(c, argc, argv, lens);
    return finish(p, c, r, reply);
}

static void script_sha(const char *script, char out[41])
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

int redis_eval(redis_pool_t *p, const char *script, int nkeys, const char **args, int nargs,
               redisReply **reply)
{
    char sha[41], nk[16];
    *reply = NULL;
    if (nargs < nkeys || nkeys < 0)
        return NT_EINVAL;
    const char **argv = malloc(sizeof *argv * (size_t)(nargs + 3));
    if (!argv)
        return NT_ENOMEM;
    script_sha(script, sha);
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[0] = "EVALSHA";
    argv[1] = sha;
    argv[2] = nk;
    if (nargs > 0)
        memcpy(argv + 3, args, sizeof *argv * (size_t)nargs);
    int rc = redis_cmdv(p, reply, nargs + 3, argv, NULL);
    if (rc == NT_OK && (*reply)->type == REDIS_REPLY_ERROR &&
        strncmp((*reply)->str, "NOSCRIPT", 8) == 0) {
        freeReplyObject(*reply);
        *reply = NULL;
        argv[0] = "EVAL";
        argv[1] = script;
        rc = redis_cmdv(p, reply, nargs + 3, argv, NULL);
    }
    free(argv);
    return rc;
}
