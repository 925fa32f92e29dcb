/*
 * test_reloader.c - the background loader of the edges' IP rules and
 * deny-list: it loads at once, retries a failing load every second with
 * one warning per failing stretch, loads again when poked, reports
 * loaded only after a success, and stops at once from a long wait.
 */
#include "common/err.h"
#include "common/log.h"
#include "common/reloader.h"

#include <criterion/criterion.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

typedef struct src {
    atomic_int calls;
    atomic_int fail_first; /* this many calls fail */
} src_t;

static int load(void *arg)
{
    src_t *s = arg;
    int n = atomic_fetch_add(&s->calls, 1);
    return n < atomic_load(&s->fail_first) ? NT_EUNAVAIL : NT_OK;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_calls(src_t *s, int n, int max_ms)
{
    int64_t until = now_ms() + max_ms;
    while (atomic_load(&s->calls) < n && now_ms() < until)
        usleep(5000);
    return atomic_load(&s->calls) >= n;
}

static void setup(void)
{
    log_init("test_reloader", LOG_ERROR);
}

TestSuite(reloader, .init = setup, .timeout = 20);

Test(reloader, loads_at_once_then_on_poke)
{
    src_t s = {0};
    reloader_t *r;
    cr_assert_eq(reloader_start("test", 3600, load, &s, &r), NT_OK);
    cr_assert(wait_calls(&s, 1, 2000));
    cr_assert(reloader_loaded(r));
    usleep(50000);
    cr_assert_eq(atomic_load(&s.calls), 1, "an hour between loads unless poked");
    reloader_poke(r);
    cr_assert(wait_calls(&s, 2, 2000), "a poke loads again soon");
    int64_t t0 = now_ms();
    reloader_stop(r); /* from an hour's wait */
    cr_assert_lt(now_ms() - t0, 1000);
}

Test(reloader, retries_a_failing_load_each_second)
{
    src_t s = {0};
    atomic_store(&s.fail_first, 2);
    reloader_t *r;
    int64_t t0 = now_ms();
    cr_assert_eq(reloader_start("test", 3600, load, &s, &r), NT_OK);
    cr_assert(wait_calls(&s, 1, 2000));
    cr_assert_not(reloader_loaded(r), "not loaded while it fails");
    cr_assert(wait_calls(&s, 3, 5000));
    int64_t took = now_ms() - t0;
    cr_assert_geq(took, 1900, "two retries a second apart (%lld ms)", (long long)took);
    usleep(20000);
    cr_assert(reloader_loaded(r));
    reloader_stop(r);
}

Test(reloader, bad_arguments)
{
    src_t s = {0};
    reloader_t *r = (reloader_t *)&s;
    cr_assert_eq(reloader_start(NULL, 1, load, &s, &r), NT_EINVAL);
    cr_assert_null(r);
    cr_assert_eq(reloader_start("x", 0, load, &s, &r), NT_EINVAL);
    cr_assert_eq(reloader_start("x", 1, NULL, &s, &r), NT_EINVAL);
    reloader_stop(NULL);
}
