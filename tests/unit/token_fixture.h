/*
 * token_fixture.h - key pairs, raw JWT pieces and the "token" suite's set-up
 * shared by test_token.c (signing, keys, opaque tokens, nesting) and
 * test_token_attacks.c (tokens a lax verifier would accept).  Keys are made
 * fresh by each test with OpenSSL; no key material is checked in.
 * Header-only: each test file is its own program.
 */
#ifndef NT_TOKEN_FIXTURE_H
#define NT_TOKEN_FIXTURE_H

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

#define NOW 1900000000LL


static __attribute__((unused)) char *pem_of(EVP_PKEY *pkey, int private)
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

static __attribute__((unused)) pair_t gen_pair(EVP_PKEY *pkey)
{
    cr_assert_not_null(pkey);
    pair_t p = {pem_of(pkey, 1), pem_of(pkey, 0)};
    EVP_PKEY_free(pkey);
    return p;
}

static __attribute__((unused)) void pair_free(pair_t *p)
{
    free(p->priv);
    free(p->pub);
}

static __attribute__((unused)) token_keys_t *keys_of(const pair_t *p)
{
    token_keys_t *k = NULL;
    cr_assert_eq(token_keys_from_pem(p->priv, p->pub, &k), 0);
    cr_assert_not_null(k);
    return k;
}

static __attribute__((unused)) char *b64url(const void *data, size_t len)
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

static __attribute__((unused)) char *b64url_str(const char *s)
{
    return b64url(s, strlen(s));
}

/* Sign arbitrary claims with libjwt directly: tokens token_sign refuses to make. */
static __attribute__((unused)) char *raw_sign(jwt_alg_t alg, const char *key, const char *grants_json)
{
    jwt_t *j = NULL;
    cr_assert_eq(jwt_new(&j), 0);
    cr_assert_eq(jwt_add_grants_json(j, grants_json), 0, "grants: %s", grants_json);
    cr_assert_eq(jwt_set_alg(j, alg, (const unsigned char *)key, key ? (int)strlen(key) : 0), 0);
    char *t = jwt_encode_str(j);
    jwt_free(j);
    return t; /* may be NULL: the caller decides */
}

static __attribute__((unused)) char *join3(const char *a, const char *b, const char *c)
{
    size_t n = strlen(a) + strlen(b) + strlen(c) + 3;
    char *s = malloc(n);
    cr_assert_not_null(s);
    snprintf(s, n, "%s.%s.%s", a, b, c);
    return s;
}

/* Split a token into its three parts (copies the caller frees). */
static __attribute__((unused)) void split3(const char *t, char **h, char **p, char **s)
{
    const char *d1 = strchr(t, '.');
    cr_assert_not_null(d1);
    const char *d2 = strchr(d1 + 1, '.');
    cr_assert_not_null(d2);
    *h = strndup(t, (size_t)(d1 - t));
    *p = strndup(d1 + 1, (size_t)(d2 - d1 - 1));
    *s = strdup(d2 + 1);
}

static __attribute__((unused)) token_claims_t good_claims(void)
{
    token_claims_t c = {.iat = NOW, .exp = NOW + 900};
    strcpy(c.uid, "u_42");
    strcpy(c.sid, "s-7Ab");
    return c;
}

#define GOOD_GRANTS "{\"iss\":\"natter\",\"sub\":\"u_42\",\"sid\":\"s-7Ab\",\"iat\":1900000000,\"exp\":1900000900}"

static pair_t A, B; /* two P-256 pairs, fresh per test */

static __attribute__((unused)) void setup(void)
{
    A = gen_pair(EVP_EC_gen("P-256"));
    B = gen_pair(EVP_EC_gen("P-256"));
}

static __attribute__((unused)) void teardown(void)
{
    pair_free(&A);
    pair_free(&B);
}

TestSuite(token, .init = setup, .fini = teardown);

static __attribute__((unused)) char *sign_good(const token_keys_t *k)
{
    token_claims_t c = good_claims();
    char *t = NULL;
    cr_assert_eq(token_sign(k, &c, &t), 0);
    cr_assert_not_null(t);
    return t;
}

#endif
