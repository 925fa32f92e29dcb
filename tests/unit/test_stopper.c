/*
 * test_stopper.c - the interruptible sleep: a sleep ends by itself, a stop
 * from another thread ends a long one (the suite's timeout would fail a
 * stop that did not wake it), and after a stop every sleep returns at once.
 */
#include "common/err.h"
#include "common/stopper.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

Test(stopper, sleep_ends_by_itself)
{
    stopper_t s;
    cr_assert_eq(stopper_init(&s), NT_OK);
    cr_assert_eq(stopper_sleep_ms(&s, 0), 0);
    cr_assert_eq(stopper_sleep_ms(&s, 20), 0);
    stopper_fini(&s);
}

static void *stop_soon(void *arg)
{
    usleep(50 * 1000);
    stopper_stop(arg);
    return NULL;
}

Test(stopper, stop_wakes_a_long_sleep, .timeout = 10)
{
    stopper_t s;
    pthread_t t;
    cr_assert_eq(stopper_init(&s), NT_OK);
    cr_assert_eq(pthread_create(&t, NULL, stop_soon, &s), 0);
    cr_assert_eq(stopper_sleep_ms(&s, 3600 * 1000L), 1); /* an hour, unless woken */
    pthread_join(t, NULL);
    cr_assert_eq(stopper_sleep_ms(&s, 3600 * 1000L), 1); /* stays stopped */
    stopper_fini(&s);
}

static void *poke_soon(void *arg)
{
    usleep(50 * 1000);
    stopper_poke(arg);
    return NULL;
}

Test(stopper, poke_ends_one_sleep_without_stopping, .timeout = 10)
{
    stopper_t s;
    pthread_t t;
    cr_assert_eq(stopper_init(&s), NT_OK);
    cr_assert_eq(pthread_create(&t, NULL, poke_soon, &s), 0);
    cr_assert_eq(stopper_sleep_ms(&s, 3600 * 1000L), 0, "woken early, not stopped");
    pthread_join(t, NULL);
    stopper_poke(&s);
    stopper_poke(&s); /* pokes before a sleep count as one */
    cr_assert_eq(stopper_sleep_ms(&s, 3600 * 1000L), 0, "a poke before the sleep ends it");
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    cr_assert_eq(stopper_sleep_ms(&s, 100), 0);
    clock_gettime(CLOCK_MONOTONIC, &b);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    cr_assert_geq(ms, 90, "the poke was used up: this sleep runs its time (%ld ms)", ms);
    stopper_stop(&s);
    cr_assert_eq(stopper_sleep_ms(&s, 3600 * 1000L), 1);
    stopper_fini(&s);
}
