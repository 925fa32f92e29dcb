/*
 * test_ratelimit.c - token buckets against a real redis-server on a free
 * loopback port: burst then refusal with a retry time, refill, separate
 * keys, concurrent takers never exceeding the burst, Redis restarted (the
 * script cache is gone: NOSCRIPT path), Redis down (NT_EUNAVAIL, no hang),
 * and rule parsing.
 */
#include "common/err.h"
#include "redis_fixture.h"
#include "store/ratelimit.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <time.h>

static redis_pool_t *pool;

static void setup(void)
{
    redis_fx_start();
    pool = redis_fx_pool(4, 300);
}

static void teardown(void)
{
    redis_pool_free(pool);
    redis_fx_stop();
}

TestSuite(ratelimit, .init = setup, .fini = teardown);

static int take(const char *key, const ratelimit_rule_t *r, long *retry)
{
    int allowed = -1;
    long dummy;
    cr_assert_eq(ratelimit_take(pool, key, r, &allowed, retry ? retry : &dummy), NT_OK);
    return allowed;
}

Test(ratelimit, burst_then_refused_then_refilled)
{
    ratelimit_rule_t r = {.per_s = 10, .burst = 3};
    long retry = 0;
    for (int i = 0; i < 3; i++)
        cr_expect_eq(take("u:1", &r, NULL), 1, "token %d", i);
    cr_expect_eq(take("u:1", &r, &retry), 0);
    cr_expect(retry > 0 && retry <= 100, "retry %ld ms at 10/s", retry);
    cr_expect_eq(take("u:2", &r, NULL), 1, "another key has its own bucket");
    usleep(250000); /* 2.5 tokens back */
    cr_expect_eq(take("u:1", &r, NULL), 1);
    cr_expect_eq(take("u:1", &r, NULL), 1);
    cr_expect_eq(take("u:1", &r, NULL), 0);
}

Test(ratelimit, disabled_rule_always_allows)
{
    ratelimit_rule_t off = {.per_s = 0, .burst = 1};
    for (int i = 0; i < 20; i++)
        cr_expect_eq(take("off", &off, NULL), 1);
}

static ratelimit_rule_t slow = {.per_s = 0.001, .burst = 50};
static int granted;
static pthread_mutex_t gmu = PTHREAD_MUTEX_INITIALIZER;

static void *taker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 40; i++) {
        int allowed;
        long retry;
        if (ratelimit_take(pool, "shared", &slow, &allowed, &retry) == NT_OK && allowed) {
            pthread_mutex_lock(&gmu);
            granted++;
            pthread_mutex_unlock(&gmu);
        }
    }
    return NULL;
}

Test(ratelimit, concurrent_takers_never_exceed_the_burst)
{
    pthread_t t[4];
    for (int i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, taker, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    cr_expect_eq(granted, 50, "160 tries on a bucket of 50 granted %d", granted);
}

Test(ratelimit, redis_restart_and_outage)
{
    ratelimit_rule_t r = {.per_s = 1, .burst = 1};
    cr_expect_eq(take("k", &r, NULL), 1);
    redis_fx_stop();
    int allowed = -1;
    long retry;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cr_expect_eq(ratelimit_take(pool, "k", &r, &allowed, &retry), NT_EUNAVAIL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double ms = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
    cr_expect(ms < 2000, "a dead Redis took %.0f ms", ms);
    /* Restarted empty: no script cache, no buckets; the pool reconnects. */
    redis_fx_start();
    cr_expect_eq(take("k", &r, NULL), 1);
    cr_expect_eq(take("k", &r, NULL), 0);
}

Test(ratelimit, rule_parse)
{
    ratelimit_rule_t r;
    cr_expect_eq(ratelimit_rule_parse("0.5/5", &r), NT_OK);
    cr_expect(r.per_s == 0.5 && r.burst == 5);
    cr_expect_eq(ratelimit_rule_parse("off", &r), NT_OK);
    cr_expect(r.per_s == 0);
    const char *bad[] = {"", "5", "5/", "/5", "-1/5", "5/0", "5/x", "abc", "5/5/5", "nan/3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(ratelimit_rule_parse(bad[i], &r), NT_EINVAL, "'%s'", bad[i]);
}
