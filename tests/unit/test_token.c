/*
 * test_token.c - access and refresh token helpers (common/token.c): signing
 * and verifying good tokens, claims, key loading, opaque refresh tokens and
 * deep nesting on a small stack.  The attacks are in test_token_attacks.c.
 */
#include "token_fixture.h"

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
