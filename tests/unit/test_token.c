/*
 * test_token.c - access and refresh token helpers (common/token.c).
 *
 * Most of these tests are attacks: tokens that libjwt 1.10 alone would
 * accept or that a lax verifier would (alg none, HS256 keyed with our public
 * PEM, RS256, tampered payloads, missing or mistyped claims).  Keys are made
 * fresh by each test with OpenSSL; no key material is checked in.
 */
#include "common/err.h"
#include "common/token.h"

#include <criterion/criterion.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define NOW 1900000000LL

/* --- helpers ------------------------------------------------------------ */

static char *pem_of(EVP_PKEY *pkey, int private)
{
    BIO *bio = BIO_new(BIO_s_mem());
    cr_assert_not_null(bio);
    int ok = private ? PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL)
                     : PEM_write_bio_PUBKEY(bio, pkey);
    cr_assert_eq(ok, 1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    cr_assert_gt(n, 0);
    char *s = strndup(data, (size_t)n);
    cr_assert_not_null(s);
    BIO_free(bio);
    return s;
}

typedef struct pair {
    char *priv, *pub; /* PEM text, owned */
} pair_t;

static pair_t gen_pair(EVP_PKEY *pkey)
{
    cr_assert_not_null(pkey);
    pair_t p = {pem_of(pkey, 1), pem_of(pkey, 0)};
    EVP_PKEY_free(pkey);
    return p;
}

static void pair_free(pair_t *p)
{
    free(p->priv);
    free(p->pub);
}

static token_keys_t *keys_of(const pair_t *p)
{
    token_keys_t *k = NULL;
    cr_assert_eq(token_keys_from_pem(p->priv, p->pub, &k), 0);
    cr_assert_not_null(k);
    return k;
}

static char *b64url(const void *data, size_t len)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *d = data;
    char *out = malloc(len * 4 / 3 + 4);
    size_t o = 0;
    cr_assert_not_null(out);
    for (size_t i = 0; i < len; i += 3) {
        unsigned v = (unsigned)d[i] << 16;
        if (i + 1 < len)
            v |= (unsigned)d[i + 1] << 8;
        if (i + 2 < len)
            v |= d[i + 2];
        out[o++] = a[(v >> 18) & 63];
        out[o++] = a[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = a[(v >> 6) & 63];
        if (i + 2 < len)
            out[o++] = a[v & 63];
    }
    out[o] = '\0';
    return out;
}

static char *b64url_str(const char *s)
{
    return b64url(s, strlen(s));
}

/* Sign arbitrary claims with libjwt directly: tokens token_sign refuses to make. */
static char *raw_sign(jwt_alg_t alg, const char *key, const char *grants_json)
{
    jwt_t *j = NULL;
    cr_assert_eq(jwt_new(&j), 0);
    cr_assert_eq(jwt_add_grants_json(j, grants_json), 0, "grants: %s", grants_json);
    cr_assert_eq(jwt_set_alg(j, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0), 0);
    char *t = jwt_encode_str(j);
    jwt_free(j);
    return t; /* may be NULL: the caller decides */
}

static char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *s = malloc(n);
    cr_assert_not_null(s);
    snprintf(s, n, "%s.%s.%s", a, b, c);
    return s;
}

/* Split a token into its three parts (copies the caller frees). */
static void split3(const char *t, char **h, char **p, char **s)
{
    const char *d1 = strchr(t, '.');
    cr_assert_not_null(d1);
    const char *d2 = strchr(d1 + 1, '.');
    cr_assert_not_null(d2);
    *h = strndup(t, (size_t)(d1 - t));
    *p = strndup(d1 + 1, (size_t)(d2 - d1 - 1));
    *s = strdup(d2 + 1);
}

static token_claims_t good_claims(void)
{
    token_claims_t c = {.iat = NOW, .exp = NOW + 900};
    strcpy(c.uid, "u_42");
    strcpy(c.sid, "s-7Ab");
    return c;
}

#define GOOD_GRANTS "{\"iss\":\"natter\",\"sub\":\"u_42\",\"sid\":\"s-7Ab\",\"iat\":1900000000,\"exp\":1900000900}"

static pair_t A, B; /* two P-256 pairs, fresh per test */

static void setup(void)
{
    A = gen_pair(EVP_EC_gen("P-256"));
    B = gen_pair(EVP_EC_gen("P-256"));
}

static void teardown(void)
{
    pair_free(&A);
    pair_free(&B);
}

TestSuite(token, .init = setup, .fini = teardown);

static char *sign_good(const token_keys_t *k)
{
    token_claims_t c = good_claims();
    char *t = NULL;
    cr_assert_eq(token_sign(k, &c, &t), 0);
    cr_assert_not_null(t);
    return t;
}

/* --- sign and verify ----------------------------------------------------- */

Test(token, sign_verify_roundtrip)
{
    token_keys_t *k = keys_of(&A);
    char *t = sign_good(k);
    token_claims_t got;
    cr_assert_eq(token_verify(k, t, NOW + 1, &got), 0);
    cr_expect_str_eq(got.uid, "u_42");
    cr_expect_str_eq(got.sid, "s-7Ab");
    cr_expect_eq(got.iat, NOW);
    cr_expect_eq(got.exp, NOW + 900);

    /* It really is ES256 with iss natter, as other verifiers will see it. */
    jwt_t *d = NULL;
    cr_assert_eq(jwt_decode(&d, t, (const unsigned char *)A.pub, (int)strlen(A.pub)), 0);
    cr_expect_eq(jwt_get_alg(d), JWT_ALG_ES256);
    cr_expect_str_eq(jwt_get_grant(d, "iss"), "natter");
    jwt_free(d);
    free(t);
    token_keys_free(k);
}

Test(token, verify_only_keys_verify_but_cannot_sign)
{
    token_keys_t *signer = keys_of(&A), *edge = NULL;
    cr_assert_eq(token_keys_from_pem(NULL, A.pub, &edge), 0);
    char *t = sign_good(signer);
    token_claims_t got;
    cr_expect_eq(token_verify(edge, t, NOW, &got), 0);
    token_claims_t c = good_claims();
    char *t2 = (char *)"unchanged";
    cr_expect_eq(token_sign(edge, &c, &t2), NT_EINVAL);
    cr_expect_null(t2);
    free(t);
    token_keys_free(signer);
    token_keys_free(edge);
}

Test(token, expired_and_boundary)
{
    token_keys_t *k = keys_of(&A);
    char *t = sign_good(k);
    token_claims_t got;
    cr_expect_eq(token_verify(k, t, NOW + 899, &got), 0);
    cr_expect_eq(token_verify(k, t, NOW + 900, &got), NT_EUNAUTH, "exp == now is expired");
    cr_expect_eq(token_verify(k, t, NOW + 100000, &got), NT_EUNAUTH);
    cr_expect_str_eq(got.uid, "", "claims are cleared on failure");
    free(t);
    token_keys_free(k);
}

/* Claims that only a holder of the private key could sign, but that are not
 * tokens we mint: each must be refused. */
Test(token, bad_claims_signed_with_the_right_key)
{
    static const char *const bad[] = {
        /* exp missing, mistyped */
        "{\"iss\":\"natter\",\"sub\":\"u_42\",\"sid\":\"s\",\"iat\":1900000000}",
        "{\"iss\":\"natter\",\"sub\":\"u_42\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":\"1900000900\"}",
        "{\"iss\":\"natter\",\"sub\":\"u_42\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900.5}",
        "{\"iss\":\"natter\",\"sub\":\"u_42\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":null}",
        /* iat missing, mistyped, after exp */
        "{\"iss\":\"natter\",\"sub\":\"u_42\",\"sid\":\"s\",\"exp\":1900000900}",
        "{\"iss\":\"natter\",\"sub\":\"u_42\",\"sid\":\"s\",\"iat\":\"x\",\"exp\":1900000900}",
        "{\"iss\":\"natter\",\"sub\":\"u_42\",\"sid\":\"s\",\"iat\":1900001000,\"exp\":1900000900}",
        /* iss missing, wrong, wrong case, mistyped */
        "{\"sub\":\"u_42\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}",
        "{\"iss\":\"other\",\"sub\":\"u_42\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}",
        "{\"iss\":\"Natter\",\"sub\":\"u_42\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}",
        "{\"iss\":\"natterx\",\"sub\":\"u_42\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}",
        "{\"iss\":1,\"sub\":\"u_42\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}",
        /* sub missing, empty, number, bad alphabet, too long (64) */
        "{\"iss\":\"natter\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}",
        "{\"iss\":\"natter\",\"sub\":\"\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}",
        "{\"iss\":\"natter\",\"sub\":42,\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}",
        "{\"iss\":\"natter\",\"sub\":\"u 42\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}",
        "{\"iss\":\"natter\",\"sub\":\"u.42\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}",
        "{\"iss\":\"natter\",\"sub\":\"u\\n42\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}",
        "{\"iss\":\"natter\",\"sub\":\"\\u00e9\",\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}",
        "{\"iss\":\"natter\",\"sub\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
        "\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}",
        /* sid missing, empty, mistyped */
        "{\"iss\":\"natter\",\"sub\":\"u_42\",\"iat\":1900000000,\"exp\":1900000900}",
        "{\"iss\":\"natter\",\"sub\":\"u_42\",\"sid\":\"\",\"iat\":1900000000,\"exp\":1900000900}",
        "{\"iss\":\"natter\",\"sub\":\"u_42\",\"sid\":[\"s\"],\"iat\":1900000000,\"exp\":1900000900}",
    };
    token_keys_t *k = keys_of(&A);
    token_claims_t got;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *t = raw_sign(JWT_ALG_ES256, A.priv, bad[i]);
        cr_assert_not_null(t);
        cr_expect_eq(token_verify(k, t, NOW, &got), NT_EUNAUTH, "accepted: %s", bad[i]);
        free(t);
    }
    /* Control: the same route with good claims passes, and a 63-char sub is fine. */
    char *t = raw_sign(JWT_ALG_ES256, A.priv, GOOD_GRANTS);
    cr_expect_eq(token_verify(k, t, NOW, &got), 0);
    free(t);
    t = raw_sign(JWT_ALG_ES256, A.priv,
                 "{\"iss\":\"natter\",\"sub\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\","
                 "\"sid\":\"s\",\"iat\":1900000000,\"exp\":1900000900}");
    cr_expect_eq(token_verify(k, t, NOW, &got), 0);
    cr_expect_eq(strlen(got.uid), 63);
    free(t);
    token_keys_free(k);
}

Test(token, wrong_key)
{
    token_keys_t *ka = keys_of(&A), *kb = keys_of(&B);
    char *t = sign_good(ka);
    token_claims_t got;
    cr_expect_eq(token_verify(kb, t, NOW, &got), NT_EUNAUTH);
    free(t);
    token_keys_free(ka);
    token_keys_free(kb);
}

Test(token, alg_none_rejected)
{
    static const char *const headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"alg\":\"none\"}", "{\"alg\":\"None\"}",
        "{\"alg\":\"NONE\"}", "{\"typ\":\"JWT\"}", "{}"};
    token_keys_t *k = keys_of(&A);
    token_claims_t got;
    char *p = b64url_str(GOOD_GRANTS);
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        char *h = b64url_str(headers[i]);
        char *t = join3(h, p, ""); /* the classic: empty signature */
        cr_expect_eq(token_verify(k, t, NOW, &got), NT_EUNAUTH, "accepted %s", t);
        free(t);
        t = join3(h, p, "AAAA"); /* and with some bytes where the signature goes */
        cr_expect_eq(token_verify(k, t, NOW, &got), NT_EUNAUTH, "accepted %s", t);
        free(t);
        free(h);
    }
    /* And an "ES256" header with the signature stripped. */
    char *h = b64url_str("{\"alg\":\"ES256\",\"typ\":\"JWT\"}");
    char *t = join3(h, p, "");
    cr_expect_eq(token_verify(k, t, NOW, &got), NT_EUNAUTH);
    free(t);
    free(h);
    free(p);
    token_keys_free(k);
}

Test(token, tampered_payload_rejected)
{
    token_keys_t *k = keys_of(&A);
    char *t = sign_good(k), *h, *p, *s;
    token_claims_t got;
    split3(t, &h, &p, &s);

    /* Flip one character in the middle of the payload (a middle character
     * carries six full bits, unlike the last one). */
    char *flipped = strdup(p);
    size_t mid = strlen(flipped) / 2;
    flipped[mid] = flipped[mid] == 'A' ? 'B' : 'A';
    char *t1 = join3(h, flipped, s);
    cr_expect_eq(token_verify(k, t1, NOW, &got), NT_EUNAUTH);

    /* A well-formed payload with another sub, the original signature kept. */
    char *p2 = b64url_str("{\"iss\":\"natter\",\"sub\":\"mallory\",\"sid\":\"s-7Ab\","
                          "\"iat\":1900000000,\"exp\":1900000900}");
    char *t2 = join3(h, p2, s);
    cr_expect_eq(token_verify(k, t2, NOW, &got), NT_EUNAUTH);

    /* A later exp, same signature. */
    char *p3 = b64url_str("{\"exp\":2900000900,\"iat\":1900000000,\"iss\":\"natter\","
                          "\"sid\":\"s-7Ab\",\"sub\":\"u_42\"}");
    char *t3 = join3(h, p3, s);
    cr_expect_eq(token_verify(k, t3, NOW + 1000, &got), NT_EUNAUTH);

    /* A flipped signature byte. */
    char *s2 = strdup(s);
    mid = strlen(s2) / 2;
    s2[mid] = s2[mid] == 'A' ? 'B' : 'A';
    char *t4 = join3(h, p, s2);
    cr_expect_eq(token_verify(k, t4, NOW, &got), NT_EUNAUTH);

    /* Control: the untouched parts still verify. */
    char *t5 = join3(h, p, s);
    cr_expect_eq(token_verify(k, t5, NOW, &got), 0);

    free(t1), free(t2), free(t3), free(t4), free(t5);
    free(flipped), free(p2), free(p3), free(s2);
    free(h), free(p), free(s), free(t);
    token_keys_free(k);
}

/* The algorithm-confusion attack: anyone can read our public key, and
 * libjwt 1.10 uses it as an HMAC secret when the header says HS256. */
Test(token, hs256_with_public_key_as_secret_rejected)
{
    token_keys_t *k = keys_of(&A);
    char *t = raw_sign(JWT_ALG_HS256, A.pub, GOOD_GRANTS);
    cr_assert_not_null(t);

    /* Premise: libjwt itself accepts this forgery (STACK.md).  If this ever
     * fails, libjwt got stricter and this test no longer proves much. */
    jwt_t *d = NULL;
    int raw = jwt_decode(&d, t, (const unsigned char *)A.pub, (int)strlen(A.pub));
    cr_expect_eq(raw, 0, "libjwt now rejects the HS256 confusion itself (rc %d)", raw);
    jwt_free(d);

    token_claims_t got;
    cr_expect_eq(token_verify(k, t, NOW, &got), NT_EUNAUTH);
    cr_expect_str_eq(got.uid, "");
    free(t);

    /* HS384 / HS512 variants too. */
    t = raw_sign(JWT_ALG_HS512, A.pub, GOOD_GRANTS);
    cr_expect_eq(token_verify(k, t, NOW, &got), NT_EUNAUTH);
    free(t);
    token_keys_free(k);
}

Test(token, rs256_rejected)
{
    pair_t rsa = gen_pair(EVP_RSA_gen(2048));
    token_keys_t *k = keys_of(&A);
    token_claims_t got;
    char *t = raw_sign(JWT_ALG_RS256, rsa.priv, GOOD_GRANTS);
    cr_assert_not_null(t);
    cr_expect_eq(token_verify(k, t, NOW, &got), NT_EUNAUTH);
    free(t);
    pair_free(&rsa);
    token_keys_free(k);
}

/* Signed by our own key but with another ES algorithm: only the key holder
 * can make it, still not a token we mint. */
Test(token, other_es_alg_with_our_key_rejected)
{
    token_keys_t *k = keys_of(&A);
    token_claims_t got;
    char *t = raw_sign(JWT_ALG_ES384, A.priv, GOOD_GRANTS);
    if (t) {
        cr_expect_eq(token_verify(k, t, NOW, &got), NT_EUNAUTH);
        free(t);
    }
    token_keys_free(k);
}

Test(token, garbage_rejected)
{
    token_keys_t *k = keys_of(&A);
    char *good = sign_good(k);
    token_claims_t got;
    size_t gl = strlen(good);
    char buf[8192];

    static const char *const junk[] = {
        "", "a", "abc", "a.b", "a.b.c", "a.b.c.d", "..", "...", "a..c", ".b.c", "a.b.",
        "null", "{}", "eyJhbGciOiJFUzI1NiJ9", "eyJhbGciOiJFUzI1NiJ9.e30.", "\xff\xfe.\x01.\x02",
        "a b.c.d", "a=.b=.c=", "a+b.c/d.e"};
    for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
        cr_expect_eq(token_verify(k, junk[i], NOW, &got), NT_EUNAUTH, "accepted '%s'", junk[i]);
    cr_expect_eq(token_verify(k, NULL, NOW, &got), NT_EUNAUTH);

    /* A good token with a prefix or suffix is not that token. */
    snprintf(buf, sizeof buf, "Bearer %s", good);
    cr_expect_eq(token_verify(k, buf, NOW, &got), NT_EUNAUTH);
    snprintf(buf, sizeof buf, "%s ", good);
    cr_expect_eq(token_verify(k, buf, NOW, &got), NT_EUNAUTH);
    snprintf(buf, sizeof buf, "%s=", good);
    cr_expect_eq(token_verify(k, buf, NOW, &got), NT_EUNAUTH);
    snprintf(buf, sizeof buf, "%s.", good);
    cr_expect_eq(token_verify(k, buf, NOW, &got), NT_EUNAUTH);
    snprintf(buf, sizeof buf, " %s", good);
    cr_expect_eq(token_verify(k, buf, NOW, &got), NT_EUNAUTH);

    /* 10 KB: plain letters, and three huge base64url parts. */
    char *big = malloc(10 * 1024 + 1);
    memset(big, 'A', 10 * 1024);
    big[10 * 1024] = '\0';
    cr_expect_eq(token_verify(k, big, NOW, &got), NT_EUNAUTH);
    big[3000] = '.';
    big[6000] = '.';
    cr_expect_eq(token_verify(k, big, NOW, &got), NT_EUNAUTH);

    /* Length cap: a good token padded past 4096 bytes in its signature part
     * is refused before libjwt sees it. */
    cr_assert_lt(gl, 4096);
    memcpy(big, good, gl);
    memset(big + gl, 'A', 4097 - gl);
    big[4097] = '\0';
    cr_expect_eq(token_verify(k, big, NOW, &got), NT_EUNAUTH);
    free(big);

    cr_expect_eq(token_verify(k, good, NOW, &got), 0, "control");
    free(good);
    token_keys_free(k);
}

Test(token, sign_rejects_bad_claims)
{
    token_keys_t *k = keys_of(&A);
    char *t = NULL;
    token_claims_t c;

    c = good_claims();
    c.uid[0] = '\0';
    cr_expect_eq(token_sign(k, &c, &t), NT_EINVAL);
    c = good_claims();
    strcpy(c.sid, "a b");
    cr_expect_eq(token_sign(k, &c, &t), NT_EINVAL);
    c = good_claims();
    memset(c.uid, 'x', sizeof c.uid); /* no NUL inside the array */
    cr_expect_eq(token_sign(k, &c, &t), NT_EINVAL);
    c = good_claims();
    c.exp = c.iat;
    cr_expect_eq(token_sign(k, &c, &t), NT_EINVAL);
    c = good_claims();
    c.iat = 0;
    cr_expect_eq(token_sign(k, &c, &t), NT_EINVAL);
    cr_expect_null(t);
    cr_expect_eq(token_sign(NULL, &c, &t), NT_EINVAL);
    cr_expect_eq(token_sign(k, NULL, &t), NT_EINVAL);
    token_keys_free(k);
}

/* --- keys ----------------------------------------------------------------- */

Test(token, keys_reject_non_p256)
{
    token_keys_t *k = (token_keys_t *)1;
    pair_t rsa = gen_pair(EVP_RSA_gen(2048));
    pair_t p384 = gen_pair(EVP_EC_gen("P-384"));

    cr_expect_eq(token_keys_from_pem(rsa.priv, rsa.pub, &k), NT_ECRYPTO);
    cr_expect_null(k);
    cr_expect_eq(token_keys_from_pem(NULL, rsa.pub, &k), NT_ECRYPTO);
    cr_expect_eq(token_keys_from_pem(rsa.priv, A.pub, &k), NT_ECRYPTO);
    cr_expect_eq(token_keys_from_pem(p384.priv, p384.pub, &k), NT_ECRYPTO);
    cr_expect_eq(token_keys_from_pem(NULL, p384.pub, &k), NT_ECRYPTO);
    /* A mismatched pair, a private key where the public one goes, junk. */
    cr_expect_eq(token_keys_from_pem(A.priv, B.pub, &k), NT_ECRYPTO);
    cr_expect_eq(token_keys_from_pem(NULL, A.priv, &k), NT_ECRYPTO);
    cr_expect_eq(token_keys_from_pem(A.pub, A.pub, &k), NT_ECRYPTO);
    cr_expect_eq(token_keys_from_pem(NULL, "hello", &k), NT_ECRYPTO);
    cr_expect_eq(token_keys_from_pem(NULL, "", &k), NT_ECRYPTO);
    cr_expect_eq(token_keys_from_pem(A.priv, NULL, &k), NT_EINVAL);
    cr_expect_null(k);

    pair_free(&rsa);
    pair_free(&p384);
}

Test(token, keys_reject_encrypted_private_key)
{
    EVP_PKEY *pkey = EVP_EC_gen("P-256");
    BIO *bio = BIO_new(BIO_s_mem());
    cr_assert_eq(PEM_write_bio_PKCS8PrivateKey(bio, pkey, EVP_aes_128_cbc(), "pw", 2, NULL, NULL),
                 1);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *enc = strndup(data, (size_t)n);
    char *pub = pem_of(pkey, 0);
    token_keys_t *k = NULL;
    /* Must not prompt on a terminal: refused at once. */
    cr_expect_eq(token_keys_from_pem(enc, pub, &k), NT_ECRYPTO);
    free(enc);
    free(pub);
    BIO_free(bio);
    EVP_PKEY_free(pkey);
}

static char *write_temp(const char *text)
{
    char *path = strdup("/tmp/natter-test-key-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    size_t len = strlen(text);
    cr_assert_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
    return path;
}

Test(token, keys_load_from_files)
{
    char *pp = write_temp(A.priv), *pu = write_temp(A.pub), *pb = write_temp(B.pub);
    token_keys_t *signer = NULL, *edge = NULL, *bad = (token_keys_t *)1;

    cr_assert_eq(token_keys_load(pp, pu, &signer), 0);
    cr_assert_eq(token_keys_load(NULL, pu, &edge), 0);
    char *t = sign_good(signer);
    token_claims_t got;
    cr_expect_eq(token_verify(edge, t, NOW, &got), 0);

    cr_expect_eq(token_keys_load(pp, pb, &bad), NT_ECRYPTO);
    cr_expect_null(bad);
    cr_expect_eq(token_keys_load(NULL, "/nonexistent/natter.pub", &bad), NT_EIO);
    cr_expect_eq(token_keys_load("/nonexistent/natter.key", pu, &bad), NT_EIO);
    cr_expect_eq(token_keys_load(NULL, "/dev/null", &bad), NT_EIO);

    free(t);
    token_keys_free(signer);
    token_keys_free(edge);
    token_keys_free(NULL);
    unlink(pp), unlink(pu), unlink(pb);
    free(pp), free(pu), free(pb);
}

/* --- opaque tokens ---------------------------------------------------------- */

static int cmpstr(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

Test(token, random_tokens)
{
    enum { N = 2000 };
    static char toks[N][44];
    for (int i = 0; i < N; i++) {
        cr_assert_eq(token_random(toks[i], sizeof toks[i]), 0);
        cr_assert_eq(strlen(toks[i]), 43);
        cr_assert_eq(strspn(toks[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
                     43, "bad alphabet: %s", toks[i]);
    }
    qsort(toks, N, sizeof toks[0], cmpstr);
    for (int i = 1; i < N; i++)
        cr_assert_neq(strcmp(toks[i - 1], toks[i]), 0, "duplicate token");

    char small[43];
    cr_expect_eq(token_random(small, sizeof small), NT_EINVAL);
    cr_expect_eq(token_random(NULL, 64), NT_EINVAL);
}

Test(token, hash_known_vectors)
{
    char out[65];
    token_hash("abc", out);
    cr_expect_str_eq(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    token_hash("", out);
    cr_expect_str_eq(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    token_hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", out);
    cr_expect_str_eq(out, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* An ES256 token over any header and payload text, signed with priv PEM:
 * DER from OpenSSL turned into JOSE's r||s (der=1 keeps the DER). */
static char *es256_any(const char *priv, const char *header, const char *payload, int der)
{
    char *h = b64url_str(header), *p = b64url_str(payload);
    size_t n = strlen(h) + strlen(p) + 2;
    char *input = malloc(n);
    cr_assert_not_null(input);
    snprintf(input, n, "%s.%s", h, p);
    BIO *bio = BIO_new_mem_buf(priv, -1);
    EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    cr_assert_not_null(key);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char sig[128], raw[64] = {0};
    size_t siglen = sizeof sig;
    cr_assert_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    cr_assert_eq(EVP_DigestSign(ctx, sig, &siglen, (unsigned char *)input, strlen(input)), 1);
    const unsigned char *q = sig;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)siglen);
    cr_assert_not_null(es);
    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
    char *s = der ? b64url(sig, siglen) : b64url(raw, sizeof raw);
    char *t = join3(h, p, s);
    ECDSA_SIG_free(es), EVP_MD_CTX_free(ctx), EVP_PKEY_free(key), BIO_free(bio);
    free(h), free(p), free(s), free(input);
    return t;
}

Test(token, header_must_be_es256_and_nothing_more)
{
    token_keys_t *k = keys_of(&A);
    token_claims_t got;
    struct {
        const char *header;
        int der, want;
    } cases[] = {
        {"{\"alg\":\"ES256\"}", 0, 0},                       /* control */
        {"{\"alg\":\"ES256\",\"typ\":\"JWT\"}", 0, 0},       /* control */
        {"{\"alg\":\"ES256\",\"kid\":\"x\"}", 0, NT_EUNAUTH}, /* asks to trust a key id */
        {"{\"alg\":\"ES256\",\"typ\":\"JOSE\"}", 0, NT_EUNAUTH},
        {"{\"alg\":\"es256\"}", 0, NT_EUNAUTH},
        {"{\"alg\":\"ES256\",\"alg\":\"ES256\"}", 0, NT_EUNAUTH}, /* duplicate key */
        {"[\"ES256\"]", 0, NT_EUNAUTH},
        {"{\"alg\":\"ES256\"}", 1, NT_EUNAUTH},              /* DER, not r||s */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = es256_any(A.priv, cases[i].header, GOOD_GRANTS, cases[i].der);
        cr_expect_eq(token_verify(k, t, NOW, &got), cases[i].want, "case %zu: %s", i,
                     cases[i].header);
        free(t);
    }
    token_keys_free(k);
}

/* --- nesting (issue 11) -------------------------------------------------- */

struct deep_token {
    const token_keys_t *k;
    const char *t;
    int rc;
};

static void *verify_on_thread(void *arg)
{
    struct deep_token *d = arg;
    token_claims_t got;
    d->rc = token_verify(d->k, d->t, NOW, &got);
    return NULL;
}

/* The header is JSON parsed before the signature check: 3,000 nested '['
 * (the 4,096-byte cap allows that much) on a 128 KiB stack, smaller than
 * jansson needs to recurse that deep.  Refused, not crashed.  The claims
 * part gets the same bound (and 1,000 levels there, well signed or not). */
Test(token, deep_header_and_claims_refused_on_a_small_stack)
{
    token_keys_t *k = keys_of(&A);
    char deep[3000], sig[87];
    memset(deep, '[', sizeof deep);
    memset(sig, 'A', 86);
    sig[86] = '\0';
    char *h = b64url(deep, sizeof deep), *p = b64url(deep, 1000), *good_h = b64url_str("{\"alg\":\"ES256\"}");
    char *cases[] = {join3(h, "e30", sig), join3(good_h, p, sig)};
    for (size_t i = 0; i < 2; i++) {
        cr_assert_lt(strlen(cases[i]), 4097, "case %zu must pass the length cap", i);
        struct deep_token d = {k, cases[i], 0};
        pthread_attr_t a;
        pthread_t th;
        cr_assert_eq(pthread_attr_init(&a), 0);
        cr_assert_eq(pthread_attr_setstacksize(&a, 128 * 1024), 0);
        cr_assert_eq(pthread_create(&th, &a, verify_on_thread, &d), 0);
        cr_assert_eq(pthread_join(th, NULL), 0);
        pthread_attr_destroy(&a);
        cr_expect_eq(d.rc, NT_EUNAUTH, "case %zu", i);
        free(cases[i]);
    }
    free(h);
    free(p);
    free(good_h);
    token_keys_free(k);
}
