/*
 * test_stopper.c - the interruptible sleep: a sleep ends by itself, a stop
 * from another thread ends a long one (the suite's timeout would fail a
 * stop that did not wake it), and after a stop every sleep returns at once.
 */
#include "common/err.h"
#include "common/stopper.h"

#include <criterion/criterion.h>
#include <pthread.h>
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
