/*
 * test_backoff.c - the start-up and reconnect back-off: 0.1 s doubling to
 * a cap, reset after a success, odd arguments made sane.
 */
#include "common/backoff.h"

#include <criterion/criterion.h>
#include <limits.h>

Test(backoff, doubles_up_to_the_cap)
{
    backoff_t b;
    backoff_init(&b, 100, 5000);
    int want[] = {100, 200, 400, 800, 1600, 3200, 5000, 5000, 5000};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        cr_expect_eq(backoff_next(&b), want[i], "step %zu", i);
    cr_expect_eq(b.attempt, 9);
}

Test(backoff, reset_starts_again)
{
    backoff_t b;
    backoff_init(&b, 100, 5000);
    backoff_next(&b);
    backoff_next(&b);
    backoff_reset(&b);
    cr_expect_eq(b.attempt, 0);
    cr_expect_eq(backoff_next(&b), 100);
}

Test(backoff, odd_arguments)
{
    backoff_t b;
    backoff_init(&b, 0, -5); /* first 1, cap 1 */
    cr_expect_eq(backoff_next(&b), 1);
    cr_expect_eq(backoff_next(&b), 1);
    backoff_init(&b, 300, 1000); /* the cap is not a multiple */
    cr_expect_eq(backoff_next(&b), 300);
    cr_expect_eq(backoff_next(&b), 600);
    cr_expect_eq(backoff_next(&b), 1000);
    cr_expect_eq(backoff_next(&b), 1000);
    backoff_init(&b, INT_MAX / 2 + 1, INT_MAX); /* no overflow at the top */
    cr_expect_eq(backoff_next(&b), INT_MAX / 2 + 1);
    cr_expect_eq(backoff_next(&b), INT_MAX);
    cr_expect_eq(backoff_next(&b), INT_MAX);
}
