/* test_auth_rules.c - account field rules from API.md. */
#include "actors/auth_rules.h"
#include "common/err.h"

#include <criterion/criterion.h>
#include <string.h>

static char err[128];

Test(rules, username)
{
    cr_assert_eq(rule_username("abc", err, sizeof err), NT_OK);
    cr_assert_eq(rule_username("a.b_c9", err, sizeof err), NT_OK);
    cr_assert_eq(rule_username("abcdefghijklmnopqrstuvwxyz012345", err, sizeof err), NT_OK);
    cr_assert_eq(rule_username("abcdefghijklmnopqrstuvwxyz0123456", err, sizeof err), NT_EINVAL);
    cr_assert_eq(rule_username("ab", err, sizeof err), NT_EINVAL);
    cr_assert_eq(rule_username("Abc", err, sizeof err), NT_EINVAL);
    cr_assert_eq(rule_username("a bc", err, sizeof err), NT_EINVAL);
    cr_assert_eq(rule_username("ab-c", err, sizeof err), NT_EINVAL);
    cr_assert_eq(rule_username("", err, sizeof err), NT_EINVAL);
    cr_assert_eq(rule_username(NULL, err, sizeof err), NT_EINVAL);
    cr_assert(strstr(err, "username") != NULL);
}

Test(rules, password)
{
    char big[258];
    memset(big, 'x', sizeof big);
    cr_assert_eq(rule_password("12345678", 8, err, sizeof err), NT_OK);
    cr_assert_eq(rule_password("1234567", 7, err, sizeof err), NT_EINVAL);
    cr_assert_eq(rule_password(big, 256, err, sizeof err), NT_OK);
    cr_assert_eq(rule_password(big, 257, err, sizeof err), NT_EINVAL);
    cr_assert_eq(rule_password("1234\0" "5678", 9, err, sizeof err), NT_EINVAL);
}

Test(rules, display_name_counts_characters_not_bytes)
{
    char name[64 * 3 + 4] = "";
    for (int i = 0; i < 64; i++)
        strcat(name, "\xe4\xbd\xa0"); /* a 3-byte character */
    cr_assert_eq(rule_display_name(name, err, sizeof err), NT_OK);
    strcat(name, "\xe4\xbd\xa0");
    cr_assert_eq(rule_display_name(name, err, sizeof err), NT_EINVAL);
    cr_assert_eq(rule_display_name("", err, sizeof err), NT_EINVAL);
    cr_assert_eq(rule_display_name("tab\there", err, sizeof err), NT_EINVAL);
}

Test(rules, avatar_bio_platform_device)
{
    cr_assert_eq(rule_avatar_url("", err, sizeof err), NT_OK);
    cr_assert_eq(rule_avatar_url("https://x.example/a.png", err, sizeof err), NT_OK);
    cr_assert_eq(rule_avatar_url("javascript:alert(1)", err, sizeof err), NT_EINVAL);
    cr_assert_eq(rule_avatar_url("https://a b", err, sizeof err), NT_EINVAL);
    char bio[502];
    memset(bio, 'b', 501);
    bio[501] = '\0';
    cr_assert_eq(rule_bio(bio, err, sizeof err), NT_EINVAL);
    bio[500] = '\0';
    cr_assert_eq(rule_bio(bio, err, sizeof err), NT_OK);
    cr_assert_eq(rule_platform("web", err, sizeof err), NT_OK);
    cr_assert_eq(rule_platform("mobile", err, sizeof err), NT_OK);
    cr_assert_eq(rule_platform("desktop", err, sizeof err), NT_OK);
    cr_assert_eq(rule_platform("tv", err, sizeof err), NT_EINVAL);
    cr_assert_eq(rule_device_id("", err, sizeof err), NT_OK);
    cr_assert_eq(rule_device_id("phone-1:abc", err, sizeof err), NT_OK);
    cr_assert_eq(rule_device_id("a b", err, sizeof err), NT_EINVAL);
}
