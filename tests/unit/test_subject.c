/*
 * test_subject.c - subject builders: every data token is checked, so no id
 * can inject '.', '*', '>' or whitespace into an address, and a short buffer
 * is an error, never a truncated subject.
 */
#include "bus/subject.h"
#include "common/err.h"

#include <criterion/criterion.h>
#include <string.h>

Test(subject, token_valid)
{
    cr_assert(subject_token_ok("a"));
    cr_assert(subject_token_ok("auth"));
    cr_assert(subject_token_ok("Z9_-"));
    cr_assert(subject_token_ok("01HF3K2Q9X"));
    cr_assert(subject_token_ok("-"));
    char max[65];
    memset(max, 'x', 64);
    max[64] = '\0';
    cr_assert(subject_token_ok(max), "64 chars is the limit, allowed");
}

Test(subject, token_invalid)
{
    cr_assert_not(subject_token_ok(NULL));
    cr_assert_not(subject_token_ok(""));
    cr_assert_not(subject_token_ok("a.b"));
    cr_assert_not(subject_token_ok("."));
    cr_assert_not(subject_token_ok("*"));
    cr_assert_not(subject_token_ok(">"));
    cr_assert_not(subject_token_ok("a*"));
    cr_assert_not(subject_token_ok("a>"));
    cr_assert_not(subject_token_ok("a b"));
    cr_assert_not(subject_token_ok(" "));
    cr_assert_not(subject_token_ok("a\tb"));
    cr_assert_not(subject_token_ok("a\nb"));
    cr_assert_not(subject_token_ok("a\rb"));
    cr_assert_not(subject_token_ok("é"));
    cr_assert_not(subject_token_ok("a/b"));
    cr_assert_not(subject_token_ok("$SRV"));
    char big[66];
    memset(big, 'x', 65);
    big[65] = '\0';
    cr_assert_not(subject_token_ok(big), "65 chars is too long");
}

Test(subject, builders_output)
{
    char b[SUBJECT_MAX];
    cr_assert_eq(subject_svc(b, sizeof b, "auth", "login"), NT_OK);
    cr_assert_str_eq(b, "im.svc.auth.login");
    cr_assert_eq(subject_svc_all(b, sizeof b, "auth"), NT_OK);
    cr_assert_str_eq(b, "im.svc.auth.>");
    cr_assert_eq(subject_conv(b, sizeof b, "c123", "send"), NT_OK);
    cr_assert_str_eq(b, "im.conv.c123.send");
    cr_assert_eq(subject_user_push(b, sizeof b, "u42"), NT_OK);
    cr_assert_str_eq(b, "im.user.u42.push");
    cr_assert_eq(subject_user_ctl(b, sizeof b, "u42"), NT_OK);
    cr_assert_str_eq(b, "im.user.u42.ctl");
    cr_assert_eq(subject_sess_ctl(b, sizeof b, "s-7"), NT_OK);
    cr_assert_str_eq(b, "im.sess.s-7.ctl");
    cr_assert_eq(subject_evt(b, sizeof b, "presence", "u42"), NT_OK);
    cr_assert_str_eq(b, "im.evt.presence.u42");
    cr_assert_eq(subject_evt_all(b, sizeof b, "session"), NT_OK);
    cr_assert_str_eq(b, "im.evt.session.>");
}

Test(subject, builders_reject_bad_tokens)
{
    char b[SUBJECT_MAX];
    const char *bad[] = {NULL, "", "a.b", "*", ">", "a b", "x\n"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *t = bad[i];
        strcpy(b, "junk");
        cr_assert_eq(subject_svc(b, sizeof b, t, "login"), NT_EINVAL);
        cr_assert_str_eq(b, "", "a rejected build leaves an empty string");
        cr_assert_eq(subject_svc(b, sizeof b, "auth", t), NT_EINVAL);
        cr_assert_eq(subject_svc_all(b, sizeof b, t), NT_EINVAL);
        cr_assert_eq(subject_conv(b, sizeof b, t, "send"), NT_EINVAL);
        cr_assert_eq(subject_conv(b, sizeof b, "c1", t), NT_EINVAL);
        cr_assert_eq(subject_user_push(b, sizeof b, t), NT_EINVAL);
        cr_assert_eq(subject_user_ctl(b, sizeof b, t), NT_EINVAL);
        cr_assert_eq(subject_sess_ctl(b, sizeof b, t), NT_EINVAL);
        cr_assert_eq(subject_evt(b, sizeof b, t, "u1"), NT_EINVAL);
        cr_assert_eq(subject_evt(b, sizeof b, "presence", t), NT_EINVAL);
        cr_assert_eq(subject_evt_all(b, sizeof b, t), NT_EINVAL);
    }
    char big[66];
    memset(big, 'x', 65);
    big[65] = '\0';
    cr_assert_eq(subject_user_push(b, sizeof b, big), NT_EINVAL);
}

Test(subject, overflow_is_too_large)
{
    /* "im.user.u42.push" is 16 chars: 17 bytes fit, 16 do not. */
    char b[17];
    cr_assert_eq(subject_user_push(b, 17, "u42"), NT_OK);
    cr_assert_str_eq(b, "im.user.u42.push");
    cr_assert_eq(subject_user_push(b, 16, "u42"), NT_ETOOLARGE);
    cr_assert_str_eq(b, "", "no truncated subject is left behind");
    cr_assert_eq(subject_user_push(b, 1, "u42"), NT_ETOOLARGE);
    cr_assert_eq(subject_user_push(b, 0, "u42"), NT_ETOOLARGE);
    cr_assert_eq(subject_svc(NULL, 0, "auth", "login"), NT_ETOOLARGE);

    char tok[65];
    memset(tok, 'a', 64);
    tok[64] = '\0';
    char small[64];
    cr_assert_eq(subject_conv(small, sizeof small, tok, "send"), NT_ETOOLARGE);
    char fits[SUBJECT_MAX];
    cr_assert_eq(subject_conv(fits, sizeof fits, tok, tok), NT_OK,
                 "two max tokens fit in SUBJECT_MAX");
    cr_assert_eq(strlen(fits), strlen("im.conv..") + 128);
}

Test(subject, match_literal_and_wildcards)
{
    cr_assert(subject_match("im.user.*.push", "im.user.u42.push"));
    cr_assert_not(subject_match("im.user.*.push", "im.user.u42.ctl"));
    cr_assert_not(subject_match("im.user.*.push", "im.user.push"), "* is exactly one token");
    cr_assert_not(subject_match("im.user.*.push", "im.user.a.b.push"));
    cr_assert(subject_match("im.conv.*.send", "im.conv.17.send"));
    cr_assert(subject_match("_INBOX.abc.*", "_INBOX.abc.9"));
    cr_assert_not(subject_match("_INBOX.abc.*", "_INBOX.abcd.9"), "a token is compared whole");
    cr_assert_not(subject_match("_INBOX.abc.*", "_INBOX.abc"));
    cr_assert(subject_match("im.evt.>", "im.evt.session.s1"));
    cr_assert(subject_match("im.evt.>", "im.evt.x"));
    cr_assert_not(subject_match("im.evt.>", "im.evt"), "> needs at least one token");
    cr_assert(subject_match("a.b", "a.b"));
    cr_assert_not(subject_match("a.b", "a.b.c"));
    cr_assert_not(subject_match("a.b.c", "a.b"));
    cr_assert_not(subject_match("a.bc", "a.b"));
}

Test(subject, match_refuses_malformed)
{
    cr_assert_not(subject_match(NULL, "a"));
    cr_assert_not(subject_match("a", NULL));
    cr_assert_not(subject_match("", ""));
    cr_assert_not(subject_match("*", ""));
    cr_assert_not(subject_match("a.*", "a."), "an empty token never matches");
    cr_assert_not(subject_match("*.b", ".b"));
    cr_assert_not(subject_match("a.>", "a..b"));
    cr_assert_not(subject_match("a.>", "a.b..c"), "nor one after the first > token (fuzz_subject)");
    cr_assert_not(subject_match("a.>", "a.b."));
    cr_assert_not(subject_match("a.*.c", "a..c"));
}
