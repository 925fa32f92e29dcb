/*
 * test_token_attacks.c - tokens that libjwt 1.10 alone would accept or that
 * a lax verifier would (alg none, HS256 keyed with our public PEM, RS256,
 * other ES algorithms, tampered payloads, garbage, headers with extras);
 * common/token.c must refuse every one.
 */
#include "token_fixture.h"

/* --- attacks ------------------------------------------------------------- */

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
