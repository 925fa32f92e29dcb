/* test_err.c - the error enum's mapping onto API.md codes and statuses. */
#include "common/err.h"

#include <criterion/criterion.h>

Test(err, api_codes_and_statuses)
{
    cr_assert_str_eq(api_code(NT_EINVAL), "bad_request");
    cr_assert_str_eq(api_code(NT_ETAKEN), "username_taken");
    cr_assert_str_eq(api_code(NT_ETIMEDOUT), "unavailable");
    cr_assert_str_eq(api_code(NT_EDB), "internal");
    cr_assert_eq(api_status("bad_request"), 400);
    cr_assert_eq(api_status("unauthorized"), 401);
    cr_assert_eq(api_status("forbidden"), 403);
    cr_assert_eq(api_status("not_found"), 404);
    cr_assert_eq(api_status("username_taken"), 409);
    cr_assert_eq(api_status("too_large"), 413);
    cr_assert_eq(api_status("rate_limited"), 429);
    cr_assert_eq(api_status("unavailable"), 503);
    cr_assert_eq(api_status("internal"), 500);
    cr_assert_str_eq(api_code(NT_EBANNED), "banned");
    cr_assert_eq(api_status("banned"), 403);
    cr_assert_eq(api_status(NULL), 500);
}

Test(err, round_trip_through_code)
{
    int errs[] = {NT_EINVAL, NT_EUNAUTH, NT_EFORBIDDEN, NT_ENOTFOUND, NT_ECONFLICT,
                  NT_ETAKEN, NT_ETOOLARGE, NT_ERATELIMIT, NT_EUNAVAIL, NT_EBANNED};
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++)
        cr_assert_eq(api_err(api_code(errs[i])), errs[i], "err %d", errs[i]);
    cr_assert_eq(api_err("nonsense"), NT_EINTERNAL);
    cr_assert_str_neq(nt_strerror(-999), "");
}
