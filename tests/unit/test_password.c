/*
 * test_password.c - argon2id hashes (common/password.c).
 *
 * Small parameters (t=1, m=1 MiB) keep the suite fast under the sanitizers;
 * one test runs the production defaults once.
 */
#include "common/err.h"
#include "common/password.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

static const password_params_t fast = {.t_cost = 1, .m_kib = 1024, .parallelism = 1};

static void hash_ok(const password_params_t *p, const char *pw, char out[PASSWORD_HASH_MAX])
{
    cr_assert_eq(password_hash(p, pw, strlen(pw), out, PASSWORD_HASH_MAX), 0);
}

Test(password, hash_then_verify)
{
    char h[PASSWORD_HASH_MAX];
    hash_ok(&fast, "correct horse battery staple", h);
    cr_expect(strncmp(h, "$argon2id$v=19$m=1024,t=1,p=1$", 30) == 0, "encoded: %s", h);
    cr_expect_lt(strlen(h), PASSWORD_HASH_MAX);
    cr_expect_eq(password_verify(h, "correct horse battery staple", 28), 0);
}

Test(password, wrong_password_is_unauth)
{
    char h[PASSWORD_HASH_MAX];
    hash_ok(&fast, "hunter22", h);
    cr_expect_eq(password_verify(h, "hunter23", 8), NT_EUNAUTH);
    cr_expect_eq(password_verify(h, "hunter2", 7), NT_EUNAUTH);
    cr_expect_eq(password_verify(h, "hunter222", 9), NT_EUNAUTH);
    cr_expect_eq(password_verify(h, "", 0), NT_EUNAUTH);
    /* len, not strlen, is what counts. */
    cr_expect_eq(password_verify(h, "hunter22xyz", 8), 0);
}

Test(password, same_password_different_hashes)
{
    char a[PASSWORD_HASH_MAX], b[PASSWORD_HASH_MAX];
    hash_ok(&fast, "same", a);
    hash_ok(&fast, "same", b);
    cr_expect_str_neq(a, b, "salt must be fresh each time");
    cr_expect_eq(password_verify(a, "same", 4), 0);
    cr_expect_eq(password_verify(b, "same", 4), 0);
}

Test(password, empty_and_binary_passwords)
{
    char h[PASSWORD_HASH_MAX];
    /* The length rule (8-256) belongs to the edge, not here. */
    cr_assert_eq(password_hash(&fast, "", 0, h, sizeof h), 0);
    cr_expect_eq(password_verify(h, "", 0), 0);
    cr_expect_eq(password_verify(h, NULL, 0), 0);
    cr_expect_eq(password_verify(h, "x", 1), NT_EUNAUTH);

    const char bin[] = {'a', '\0', 'b'};
    cr_assert_eq(password_hash(&fast, bin, sizeof bin, h, sizeof h), 0);
    cr_expect_eq(password_verify(h, bin, sizeof bin), 0);
    cr_expect_eq(password_verify(h, "a", 1), NT_EUNAUTH);

    cr_assert_eq(password_hash(&fast, "p\xc3\xa4ss \xf0\x9f\x94\x91", 10, h, sizeof h), 0);
    cr_expect_eq(password_verify(h, "p\xc3\xa4ss \xf0\x9f\x94\x91", 10), 0);
}

Test(password, malformed_encoded_is_einval)
{
    char h[PASSWORD_HASH_MAX], buf[PASSWORD_HASH_MAX + 16];
    hash_ok(&fast, "pw", h);
    static const char *const bad[] = {
        "",
        "garbage",
        "$argon2id$",
        "$argon2id$v=19$m=1024,t=1,p=1$",
        "$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$",
        "$argon2id$v=19$m=1024,t=1,p=1$!!!!$!!!!",
        "$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$aGFzaGhhc2hoYXNoaGFzaA", /* salt < 8 bytes */
        "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2d$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=16$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m= 1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=-1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=01024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$t=1,m=1024,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        "$2b$12$abcdefghijklmnopqrstuuOa9k0CsVL3cW6v1xJUWqQj3YRV3pIuS", /* bcrypt */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(password_verify(bad[i], "pw", 2), NT_EINVAL, "accepted %s", bad[i]);
    cr_expect_eq(password_verify(NULL, "pw", 2), NT_EINVAL);
    cr_expect_eq(password_verify(h, NULL, 2), NT_EINVAL);

    /* A damaged hash part (still base64) is a mismatch, not malformed. */
    strcpy(buf, h);
    size_t n = strlen(buf);
    buf[n - 3] = buf[n - 3] == 'A' ? 'B' : 'A';
    cr_expect_eq(password_verify(buf, "pw", 2), NT_EUNAUTH);

    /* Longer than any hash we make. */
    memset(buf, 'A', sizeof buf - 1);
    buf[sizeof buf - 1] = '\0';
    memcpy(buf, h, strlen(h));
    cr_expect_eq(password_verify(buf, "pw", 2), NT_EINVAL);
}

/* The stored string drives the cost of a verify: absurd parameters must be
 * refused before argon2 allocates 4 GiB or loops for hours. */
Test(password, hostile_params_in_encoded_refused)
{
    static const char *const bad[] = {
        "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=1024,t=100000,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=1024,t=1,p=255$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=99999999999,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
        "$argon2id$v=19$m=1024,t=0,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(password_verify(bad[i], "pw", 2), NT_EINVAL, "accepted %s", bad[i]);
}

Test(password, params_out_of_range)
{
    char h[PASSWORD_HASH_MAX];
    const password_params_t bad[] = {
        {0, 1024, 1}, {17, 1024, 1}, {1, 8, 1}, {1, 1023, 1}, {1, 4u * 1024 * 1024, 1},
        {1, 1024, 0}, {1, 1024, 17},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_eq(password_hash(&bad[i], "pw", 2, h, sizeof h), NT_EINVAL, "case %zu", i);

    /* Output buffer and password bounds. */
    cr_expect_eq(password_hash(&fast, "pw", 2, h, PASSWORD_HASH_MAX - 1), NT_EINVAL);
    cr_expect_eq(password_hash(&fast, "pw", 2, NULL, PASSWORD_HASH_MAX), NT_EINVAL);
    cr_expect_eq(password_hash(&fast, NULL, 2, h, sizeof h), NT_EINVAL);
    static char huge[5000];
    memset(huge, 'x', sizeof huge);
    cr_expect_eq(password_hash(&fast, huge, sizeof huge, h, sizeof h), NT_EINVAL);
    hash_ok(&fast, "pw", h);
    cr_expect_eq(password_verify(h, huge, sizeof huge), NT_EUNAUTH);
}

Test(password, defaults_when_params_null)
{
    char h[PASSWORD_HASH_MAX];
    cr_assert_eq(password_hash(NULL, "pw-default", 10, h, sizeof h), 0);
    cr_expect(strncmp(h, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0, "encoded: %s", h);
    cr_expect_eq(password_verify(h, "pw-default", 10), 0);
}

Test(password, other_params_still_verify)
{
    /* Parameters live in the string: a hash made with other settings
     * verifies without knowing them. */
    const password_params_t p2 = {.t_cost = 2, .m_kib = 2048, .parallelism = 2};
    char h[PASSWORD_HASH_MAX];
    hash_ok(&p2, "rotate", h);
    cr_expect(strncmp(h, "$argon2id$v=19$m=2048,t=2,p=2$", 30) == 0, "encoded: %s", h);
    cr_expect_eq(password_verify(h, "rotate", 6), 0);
}
