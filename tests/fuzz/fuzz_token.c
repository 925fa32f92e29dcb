/*
 * fuzz_token.c - access tokens as edge-http and edge-ws meet them: the
 * Authorization header (authn_bearer) and the bare token (authn_token ->
 * token_verify), against a real ES256 key pair made at start, on a thread
 * with a civetweb worker's stack (where edge-http verifies).
 *
 * The first input byte picks how the rest becomes a token:
 *   0  the bytes are the header value as sent ("Bearer ..." or anything)
 *   1  the bytes are a claims JSON, signed with the real key under a good
 *      header: a near-valid token whose claims are all the fuzzer's
 *   2  the bytes are a header JSON, signed with the real key over good
 *      claims: only {"alg":"ES256"} (+ "typ":"JWT") may pass
 *   3  a token minted by token_sign with byte 1..3 choosing one edit
 *      (flip a bit, cut, insert a byte) at a position: only the untouched
 *      token may pass
 *   4  '\n'-separated header, claims and signature bytes, base64url-encoded
 *      but not signed: what an attacker without the key sends
 * Properties: a token passes only with the real key's signature over a
 * good header, and then its claims are sane (ids in the token alphabet,
 * exp after now, iat not after exp); nothing else changes the result.
 */
#include "fuzz_common.h"

#include "common/err.h"
#include "common/token.h"
#include "edge/authn.h"

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOW 1900000000LL
#define GOOD_HEADER "{\"alg\":\"ES256\",\"typ\":\"JWT\"}"
#define GOOD_CLAIMS                                                                               \
    "{\"iss\":\"natter\",\"sub\":\"42\",\"sid\":\"s-1\",\"iat\":1899999000,\"exp\":1900000900}"

static token_keys_t *keys;
static EVP_PKEY *priv;

static char *pem_of(EVP_PKEY *k, int private)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL;
    if (!bio || !(private ? PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL)
                          : PEM_write_bio_PUBKEY(bio, k)))
        abort();
    long n = BIO_get_mem_data(bio, &data);
    char *s = strndup(data, (size_t)n);
    BIO_free(bio);
    return s;
}

static void setup(void)
{
    if (keys)
        return;
    fuzz_quiet();
    priv = EVP_EC_gen("P-256");
    if (!priv)
        abort();
    char *a = pem_of(priv, 1), *b = pem_of(priv, 0);
    if (token_keys_from_pem(a, b, &keys) != NT_OK)
        abort();
    free(a);
    free(b);
}

static char *b64url(const uint8_t *p, size_t n)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    char *s = malloc(n * 4 / 3 + 4), *o = s;
    if (!s)
        abort();
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        *o++ = t[v >> 18], *o++ = t[(v >> 12) & 63], *o++ = t[(v >> 6) & 63], *o++ = t[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)p[i] << 16;
        *o++ = t[v >> 18], *o++ = t[(v >> 12) & 63];
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
        *o++ = t[v >> 18], *o++ = t[(v >> 12) & 63], *o++ = t[(v >> 6) & 63];
    }
    *o = '\0';
    return s;
}

/* header.payload.signature with the real key: JOSE r||s. */
static char *sign(const uint8_t *h, size_t hn, const uint8_t *p, size_t pn)
{
    char *eh = b64url(h, hn), *ep = b64url(p, pn);
    size_t n = strlen(eh) + strlen(ep) + 2 + 90;
    char *t = malloc(n);
    if (!t)
        abort();
    snprintf(t, n, "%s.%s", eh, ep);
    unsigned char der[128], raw[64];
    size_t dlen = sizeof der;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, priv) != 1 ||
        EVP_DigestSign(ctx, der, &dlen, (unsigned char *)t, strlen(t)) != 1)
        abort();
    const unsigned char *q = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &q, (long)dlen);
    if (!es)
        abort();
    BN_bn2binpad(ECDSA_SIG_get0_r(es), raw, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(es), raw + 32, 32);
    char *es64 = b64url(raw, sizeof raw);
    strcat(t, ".");
    strcat(t, es64);
    free(es64);
    ECDSA_SIG_free(es);
    EVP_MD_CTX_free(ctx);
    free(eh);
    free(ep);
    return t;
}

static int id_ok(const char *s)
{
    size_t n = strlen(s);
    return n >= 1 && n < TOKEN_ID_MAX &&
           strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

/* Verify t both ways; the two must agree.  Returns the result. */
static int verify(const char *t)
{
    token_claims_t c, c2;
    int rc = authn_token(t, keys, NULL, NOW * 1000, &c);
    FUZZ_CHECK(rc == NT_OK || rc == NT_EUNAUTH);
    if (rc == NT_OK) {
        FUZZ_CHECK(id_ok(c.uid) && id_ok(c.sid));
        FUZZ_CHECK(c.exp > NOW && c.iat <= c.exp);
    }
    size_t n = strlen(t) + 16;
    char *hdr = malloc(n);
    if (!hdr)
        abort();
    snprintf(hdr, n, "bearer  %s", t);
    int rc2 = authn_bearer(hdr, keys, NULL, NOW * 1000, &c2);
    /* The header may put any number of spaces before the token (RFC 7235
     * 1*SP): a t that starts with spaces is, in a header, the t after them. */
    const char *bare = t;
    while (*bare == ' ')
        bare++;
    token_claims_t cb;
    int rcb = bare == t ? rc : authn_token(bare, keys, NULL, NOW * 1000, &cb);
    FUZZ_CHECK(rc2 == rcb);
    FUZZ_CHECK(rc != NT_OK || (strcmp(c.uid, c2.uid) == 0 && strcmp(c.sid, c2.sid) == 0));
    free(hdr);
    return rc;
}

struct input {
    const uint8_t *data;
    size_t n;
};

static void one(void *arg)
{
    const struct input *in = arg;
    const uint8_t *d = in->data + 1;
    size_t n = in->n - 1;
    char *t = NULL;
    token_claims_t c;
    switch (in->data[0] % 5) {
    case 0: {
        char *s = fuzz_cstr(d, n);
        int rc = authn_bearer(s, keys, NULL, NOW * 1000, &c);
        FUZZ_CHECK(rc == NT_OK || rc == NT_EUNAUTH);
        FUZZ_CHECK(rc != NT_OK); /* nobody but us holds the key */
        verify(s);
        free(s);
        return;
    }
    case 1:
        t = sign((const uint8_t *)GOOD_HEADER, strlen(GOOD_HEADER), d, n);
        verify(t);
        break;
    case 2: {
        t = sign(d, n, (const uint8_t *)GOOD_CLAIMS, strlen(GOOD_CLAIMS));
        if (verify(t) == NT_OK) {
            json_t *h = json_loadb((const char *)d, n, 0, NULL);
            const char *alg = json_string_value(json_object_get(h, "alg"));
            FUZZ_CHECK(alg && strcmp(alg, "ES256") == 0);
            json_decref(h);
        }
        break;
    }
    case 3: {
        token_claims_t good = {.uid = "42", .sid = "s-1", .iat = NOW - 10, .exp = NOW + 900};
        FUZZ_CHECK(token_sign(keys, &good, &t) == NT_OK);
        FUZZ_CHECK(verify(t) == NT_OK);
        size_t len = strlen(t), pos = n > 1 ? ((size_t)d[1] << 8 | (n > 2 ? d[2] : 0)) % len : 0;
        uint8_t op = n ? d[0] % 3 : 0, b = n > 3 ? d[3] : 1;
        char *m = malloc(len + 2);
        if (!m)
            abort();
        memcpy(m, t, len + 1);
        if (op == 0 && b)
            m[pos] ^= (char)b;                       /* may make a NUL: a cut */
        else if (op == 1)
            m[pos] = '\0';
        else if (op == 2) {
            memmove(m + pos + 1, m + pos, len - pos + 1);
            m[pos] = (char)(b ? b : 'A');
        }
        int changed = strcmp(m, t) != 0;
        int rc = verify(m);
        /* ECDSA over another input, or another signature: refused. (A
         * changed signature byte could in theory give another valid
         * signature; not with one edit.) */
        FUZZ_CHECK(!changed || rc != NT_OK);
        free(m);
        break;
    }
    default: {
        const uint8_t *h, *p, *s;
        size_t hn, pn, sn;
        fuzz_take_line(&d, &n, &h, &hn);
        fuzz_take_line(&d, &n, &p, &pn);
        s = d;
        sn = n;
        char *eh = b64url(h, hn), *ep = b64url(p, pn), *es = b64url(s, sn);
        size_t tn = strlen(eh) + strlen(ep) + strlen(es) + 3;
        t = malloc(tn);
        if (!t)
            abort();
        snprintf(t, tn, "%s.%s.%s", eh, ep, es);
        FUZZ_CHECK(verify(t) != NT_OK);
        free(eh);
        free(ep);
        free(es);
        break;
    }
    }
    free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    struct input in = {data, n};
    setup();
    if (n == 0)
        return 0;
    fuzz_on_worker_stack(one, &in);
    return 0;
}
