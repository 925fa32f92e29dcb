/*
 * token_verify.c - ES256 access token verification, done here with OpenSSL
 * rather than with libjwt, for two reasons:
 *
 *  - Safety: libjwt 1.10 verifies with whatever algorithm the token's own
 *    header names (an HS256 token whose HMAC secret is our public key PEM
 *    passes jwt_decode) and never looks at "exp" (STACK.md).  Here the only
 *    algorithm there is is ES256, and every claim is checked, types
 *    included ("exp" as a string or a real is refused).
 *  - Speed: jwt_decode parses the PEM key on every call.  Under OpenSSL 3
 *    that is a DECODER pipeline behind global locks, and it capped an edge
 *    at a few hundred requests a second.  The key is parsed once at load
 *    (token_keys_t.pub_key) and shared read-only by all threads.
 *
 * Steps: the token's shape (three base64url parts, bounded length), the
 * header ({"alg":"ES256"}, optional "typ":"JWT", nothing else), the
 * signature (64 bytes r||s, turned into DER for EVP_DigestVerify), then
 * the claims.  Any failure is NT_EUNAUTH with no reason for the client.
 */
#include "common/token.h"
#include "common/token_internal.h"

#include "common/err.h"
#include "common/json_depth.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/err.h>

/* A real access token is ~300 bytes; anything near this cap is an attack
 * or a bug, and not worth base64 and JSON work. */
#define TOKEN_MAX_LEN 4096
#define ES256_SIG_LEN 64
/* Our header and claims are flat objects: depth 1.  Anything deeper is not
 * ours and never reaches jansson's recursion. */
#define TOKEN_JSON_DEPTH 1

/* Three non-empty base64url parts, nothing else: no padding, no spaces, no
 * "Bearer " left over by a careless caller.  Fills the part offsets. */
static int shape_ok(const char *jwt, size_t *len, size_t dot[2])
{
    size_t n = strnlen(jwt, TOKEN_MAX_LEN + 1);
    if (n == 0 || n > TOKEN_MAX_LEN)
        return 0;
    int dots = 0;
    size_t part = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)jwt[i];
        if (c == '.') {
            if (part == 0 || dots == 2)
                return 0;
            dot[dots++] = i;
            part = 0;
            continue;
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
        part++;
    }
    *len = n;
    return dots == 2 && part > 0;
}

static int b64url_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '-' ? 62 : c == '_' ? 63 : -1;
}

/* Decode unpadded base64url s[0..n) into out (cap bytes); -1 if it does not
 * fit or is not canonical (a length of 1 mod 4, or stray low bits). */
static long b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    if (n % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    return acc == 0 ? (long)o : -1;
}

/* Decode a base64url JSON object part; NULL if it is not one. */
static json_t *json_part(const char *s, size_t n)
{
    unsigned char buf[TOKEN_MAX_LEN];
    long len = b64url_decode(s, n, buf, sizeof buf);
    if (len <= 0)
        return NULL;
    /* Depth first: the header is parsed before the signature is checked,
     * so this is attacker JSON on a civetweb worker's small stack. */
    json_t *o = json_depth_loadb((const char *)buf, (size_t)len, JSON_REJECT_DUPLICATES,
                                 TOKEN_JSON_DEPTH, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* Only {"alg":"ES256"} with an optional "typ":"JWT": "kid", "jku", "crit"
 * and friends would ask us to trust something we do not. */
static int header_ok(const char *s, size_t n)
{
    json_t *h = json_part(s, n);
    if (!h)
        return 0;
    json_t *alg = json_object_get(h, "alg"), *typ = json_object_get(h, "typ");
    size_t want = 1 + (typ != NULL);
    int ok = json_object_size(h) == want && json_is_string(alg) &&
             strcmp(json_string_value(alg), "ES256") == 0 && json_string_length(alg) == 5 &&
             (!typ || (json_is_string(typ) && strcmp(json_string_value(typ), "JWT") == 0 &&
                       json_string_length(typ) == 3));
    json_decref(h);
    return ok;
}

/* JOSE carries the ECDSA signature as raw r||s; OpenSSL wants DER. */
static int sig_der(const unsigned char raw[ES256_SIG_LEN], unsigned char **der, int *der_len)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, 32, NULL), *s = BN_bin2bn(raw + 32, 32, NULL);
    if (!sig || !r || !s || ECDSA_SIG_set0(sig, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(sig);
        return 0;
    }
    *der = NULL;
    *der_len = i2d_ECDSA_SIG(sig, der); /* sig owns r and s now */
    ECDSA_SIG_free(sig);
    return *der_len > 0;
}

static int signature_ok(EVP_PKEY *key, const char *input, size_t input_len, const char *s,
                        size_t n)
{
    unsigned char raw[ES256_SIG_LEN + 3], *der = NULL;
    int der_len = 0, ok = 0;
    if (b64url_decode(s, n, raw, sizeof raw) != ES256_SIG_LEN || !sig_der(raw, &der, &der_len))
        return 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1)
        ok = EVP_DigestVerify(ctx, der, (size_t)der_len, (const unsigned char *)input,
                              input_len) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok;
}

static int id_claim(json_t *grants, const char *name, char out[TOKEN_ID_MAX])
{
    json_t *v = json_object_get(grants, name);
    if (!json_is_string(v))
        return 0;
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if (!token_id_ok(s, len)) /* also refuses an embedded NUL */
        return 0;
    memcpy(out, s, len);
    out[len] = '\0';
    return 1;
}

/* Check the claims; fills c.  1 if all hold. */
static int claims_ok(const char *s, size_t n, int64_t now, token_claims_t *c)
{
    int ok = 0;
    json_t *g = json_part(s, n);
    if (!g)
        return 0;
    json_t *iss = json_object_get(g, "iss");
    if (!json_is_string(iss) || strcmp(json_string_value(iss), TOKEN_ISSUER) != 0 ||
        json_string_length(iss) != strlen(TOKEN_ISSUER))
        goto done;
    /* Integers only: a real or a string "exp" is a token we did not mint. */
    json_t *exp = json_object_get(g, "exp"), *iat = json_object_get(g, "iat");
    if (!json_is_integer(exp) || !json_is_integer(iat))
        goto done;
    c->exp = json_integer_value(exp);
    c->iat = json_integer_value(iat);
    if (c->exp <= now || c->iat > c->exp)
        goto done;
    if (!id_claim(g, "sub", c->uid) || !id_claim(g, "sid", c->sid))
        goto done;
    ok = 1;
done:
    json_decref(g);
    return ok;
}

int token_verify(const token_keys_t *keys, const char *jwt, int64_t now, token_claims_t *claims)
{
    size_t len = 0, dot[2];
    token_claims_t c;
    if (!keys || !keys->pub_key || !claims)
        return NT_EINVAL;
    memset(claims, 0, sizeof *claims);
    memset(&c, 0, sizeof c);
    if (!jwt || !shape_ok(jwt, &len, dot))
        return NT_EUNAUTH;
    /* The signature first: nothing an attacker wrote is parsed as JSON
     * beyond the small header until it is proven ours. */
    int ok = header_ok(jwt, dot[0]) &&
             signature_ok(keys->pub_key, jwt, dot[1], jwt + dot[1] + 1, len - dot[1] - 1) &&
             claims_ok(jwt + dot[0] + 1, dot[1] - dot[0] - 1, now, &c);
    ERR_clear_error();
    if (!ok)
        return NT_EUNAUTH;
    *claims = c;
    return NT_OK;
}
