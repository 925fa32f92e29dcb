/*
 * test_turn_cred.c - coturn use-auth-secret credentials (common/turn_cred.c)
 * against values computed independently (Python's hmac module), e.g.
 *   base64(hmac.new(b"north", b"1700000000:42", sha1).digest())
 */
#include "common/err.h"
#include "common/turn_cred.h"

#include <criterion/criterion.h>
#include <string.h>

Test(turn_cred, known_vector)
{
    char user[TURN_USER_MAX], pass[TURN_PASS_MAX];
    cr_assert_eq(turn_cred("north", "42", 1700000000, user, sizeof user, pass, sizeof pass), NT_OK);
    cr_expect_str_eq(user, "1700000000:42");
    cr_expect_str_eq(pass, "DWX3FI7DiPIpadEYQAZsnZBAagI=");
}

Test(turn_cred, second_vector)
{
    /* base64(hmac.new(b"a longer shared secret, 40 bytes or so..",
     *                 b"4102444800:9007199254740993", sha1).digest()) */
    char user[TURN_USER_MAX], pass[TURN_PASS_MAX];
    cr_assert_eq(turn_cred("a longer shared secret, 40 bytes or so..", "9007199254740993",
                           4102444800LL, user, sizeof user, pass, sizeof pass),
                 NT_OK);
    cr_expect_str_eq(user, "4102444800:9007199254740993");
    cr_expect_str_eq(pass, "4PRlpXN+lzOU87zkMXbELGdjBSY=");
}

Test(turn_cred, refusals)
{
    char user[TURN_USER_MAX], pass[TURN_PASS_MAX];
    cr_expect_eq(turn_cred("", "42", 1, user, sizeof user, pass, sizeof pass), NT_EINVAL);
    cr_expect_eq(turn_cred(NULL, "42", 1, user, sizeof user, pass, sizeof pass), NT_EINVAL);
    cr_expect_eq(turn_cred("s", "", 1, user, sizeof user, pass, sizeof pass), NT_EINVAL);
    cr_expect_eq(turn_cred("s", "42", 1, user, 4, pass, sizeof pass), NT_EINVAL);
    cr_expect_eq(turn_cred("s", "42", 1, user, sizeof user, pass, 8), NT_EINVAL);
}
