/*
 * test_thread_stack.c - the stack floor for threads started with a fixed
 * size (common/thread_stack.c), which edge-http uses to give civetweb's
 * workers more than their compiled-in 100 KiB.
 *
 * Threads are started here exactly as civetweb starts them
 * (pthread_attr_init, pthread_attr_setstacksize(102400), pthread_create),
 * and report the stack they really got.
 */
#include "common/thread_stack.h"

#include <criterion/criterion.h>
#include <pthread.h>

#define CIVETWEB_STACK 102400

static void *report(void *arg)
{
    *(size_t *)arg = thread_stack_self();
    return NULL;
}

static size_t start_like_civetweb(size_t asked)
{
    pthread_attr_t a;
    pthread_t t;
    size_t got = 0;
    cr_assert_eq(pthread_attr_init(&a), 0);
    cr_assert_eq(pthread_attr_setstacksize(&a, asked), 0);
    cr_assert_eq(pthread_create(&t, &a, report, &got), 0);
    cr_assert_eq(pthread_join(t, NULL), 0);
    pthread_attr_destroy(&a);
    return got;
}

Test(thread_stack, floor_off_changes_nothing)
{
    thread_stack_floor_set(0);
    size_t got = start_like_civetweb(CIVETWEB_STACK);
    cr_expect_geq(got, CIVETWEB_STACK);
    cr_expect_lt(got, CIVETWEB_STACK + 64 * 1024, "got %zu", got);
}

Test(thread_stack, floor_raises_small_stacks_only)
{
    thread_stack_floor_set(512 * 1024);
    size_t got = start_like_civetweb(CIVETWEB_STACK);
    cr_expect_geq(got, 512 * 1024, "got %zu", got);
    cr_expect_lt(got, 512 * 1024 + 64 * 1024, "got %zu", got);
    /* A thread that asks for more than the floor keeps what it asked. */
    got = start_like_civetweb(2 * 1024 * 1024);
    cr_expect_geq(got, 2 * 1024 * 1024, "got %zu", got);
    cr_expect_lt(got, 2 * 1024 * 1024 + 64 * 1024, "got %zu", got);
    /* Rounded up to a page. */
    thread_stack_floor_set(300001);
    got = start_like_civetweb(CIVETWEB_STACK);
    cr_expect_geq(got, 300001, "got %zu", got);
    thread_stack_floor_set(0);
}

Test(thread_stack, self_reports_the_main_thread_too)
{
    cr_expect_gt(thread_stack_self(), 0);
}
