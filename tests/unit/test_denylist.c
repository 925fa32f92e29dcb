/* test_denylist.c - revoked sessions are denied until they expire. */
#include "common/err.h"
#include "edge/denylist.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <time.h>

Test(denylist, add_has_expire)
{
    denylist_t *d = NULL;
    cr_assert_eq(denylist_new(&d), NT_OK);
    cr_assert_eq(denylist_has(d, "s1", 1000), 0);
    cr_assert_eq(denylist_add(d, "s1", 5000), NT_OK);
    cr_assert_eq(denylist_has(d, "s1", 4999), 1);
    cr_assert_eq(denylist_has(d, "s2", 4999), 0);
    cr_assert_eq(denylist_has(d, "s1", 5000), 0, "expired entries no longer deny");
    cr_assert_eq(denylist_size(d), 0, "and are dropped when met");
    denylist_free(d);
}

Test(denylist, later_expiry_wins_and_sweep)
{
    denylist_t *d = NULL;
    cr_assert_eq(denylist_new(&d), NT_OK);
    denylist_add(d, "s", 100);
    denylist_add(d, "s", 300);
    denylist_add(d, "s", 200);
    cr_assert_eq(denylist_has(d, "s", 250), 1);
    /* Real times: inserts sweep with the wall clock now and then. */
    int64_t t = (int64_t)time(NULL) * 1000;
    char sid[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(sid, sizeof sid, "x%d", i);
        denylist_add(d, sid, i < 500 ? t + 60000 : t + 10000000);
    }
    cr_assert_eq(denylist_size(d), 500 + 500 + 0, "the old \"s\" entry was swept by the clock");
    cr_assert_eq(denylist_sweep(d, t + 100000), 500);
    cr_assert_eq(denylist_size(d), 500);
    cr_assert_eq(denylist_has(d, "x999", t + 100000), 1);
    cr_assert_eq(denylist_has(d, "x0", t + 100000), 0);
    denylist_free(d);
}

Test(denylist, rejects_bad_ids)
{
    denylist_t *d = NULL;
    char big[100];
    memset(big, 'a', sizeof big - 1);
    big[99] = '\0';
    cr_assert_eq(denylist_new(&d), NT_OK);
    cr_assert_eq(denylist_add(d, "", 10), NT_EINVAL);
    cr_assert_eq(denylist_add(d, NULL, 10), NT_EINVAL);
    cr_assert_eq(denylist_add(d, big, 10), NT_EINVAL);
    cr_assert_eq(denylist_has(d, NULL, 0), 0);
    denylist_free(d);
}
