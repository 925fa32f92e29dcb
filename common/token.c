/*
 * token.c - ES256 access tokens and opaque refresh tokens (see token.h).
 *
 * Signing uses libjwt; verifying is in token_verify.c (why there).
 *
 * Keys are checked with OpenSSL when loaded (EC on P-256, private matching
 * public) so a wrong key fails at start, not at the first login.  The
 * private PEM text is kept because libjwt takes keys as PEM bytes on every
 * call; verification (token_verify.c) does not use libjwt at all.
 */
#include "common/token.h"
#include "common/token_internal.h"

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

/* Key files are a few hundred bytes; the cap only bounds a bad path. */
#define KEY_FILE_MAX (64 * 1024)
#define TOKEN_RANDOM_BYTES 32

/* --- key loading ------------------------------------------------------- */

/* Encrypted PEM files are not supported: refuse instead of letting OpenSSL
 * prompt for a passphrase on the terminal of a daemon. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return -1;
}

/* 1 if pkey is an EC key on NIST P-256 (the only curve ES256 allows). */
static int is_p256(EVP_PKEY *pkey)
{
    char group[64];
    size_t glen = 0;
    if (!EVP_PKEY_is_a(pkey, "EC"))
        return 0;
    if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                        &glen))
        return 0;
    return strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0;
}

static EVP_PKEY *pem_parse(const char *pem, size_t len, int private)
{
    if (len > INT_MAX)
        return NULL;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (!bio)
        return NULL;
    EVP_PKEY *pkey = private ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL)
                             : PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    return pkey;
}

static char *dup_pem(const char *pem, size_t *len)
{
    *len = strnlen(pem, KEY_FILE_MAX + 1);
    if (*len == 0 || *len > KEY_FILE_MAX)
        return NULL;
    return strndup(pem, *len);
}

int token_keys_from_pem(const char *priv_pem, const char *pub_pem, token_keys_t **out)
{
    int rc = NT_ECRYPTO;
    EVP_PKEY *priv = NULL, *pub = NULL;
    token_keys_t *k = NULL;

    if (!out || !pub_pem)
        return NT_EINVAL;
    *out = NULL;
    k = calloc(1, sizeof *k);
    if (!k)
        return NT_ENOMEM;

    k->pub_pem = dup_pem(pub_pem, &k->pub_len);
    if (!k->pub_pem)
        goto fail;
    pub = pem_parse(k->pub_pem, k->pub_len, 0);
    if (!pub || !is_p256(pub)) {
        log_error("bad public key", "want=%s", "EC-P256-PEM");
        goto fail;
    }
    if (priv_pem) {
        k->priv_pem = dup_pem(priv_pem, &k->priv_len);
        if (!k->priv_pem)
            goto fail;
        priv = pem_parse(k->priv_pem, k->priv_len, 1);
        if (!priv || !is_p256(priv)) {
            log_error("bad private key", "want=%s", "EC-P256-PEM-unencrypted");
            goto fail;
        }
        /* A mismatched pair would sign tokens that no edge accepts. */
        if (EVP_PKEY_eq(priv, pub) != 1) {
            log_error("private key does not match public key", "want=%s", "same-pair");
            goto fail;
        }
    }
    EVP_PKEY_free(priv);
    k->pub_key = pub; /* verification uses the parsed key, never the PEM */
    *out = k;
    return 0;

fail:
    ERR_clear_error();
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
    token_keys_free(k);
    return rc;
}

/* Read a whole (small) file into a NUL-terminated buffer the caller frees. */
static int read_small_file(const char *path, char **out)
{
    int rc = NT_EIO;
    char *buf = NULL;
    size_t n = 0;
    FILE *f = fopen(path, "rb");
    if (!f) {
        log_error("cannot open key file", "path=%s errno=%d", path, errno);
        return NT_EIO;
    }
    buf = malloc(KEY_FILE_MAX + 1);
    if (!buf) {
        rc = NT_ENOMEM;
        goto fail;
    }
    n = fread(buf, 1, KEY_FILE_MAX + 1, f);
    if (ferror(f) || n == 0 || n > KEY_FILE_MAX) {
        log_error("cannot read key file (empty, unreadable or too large)", "path=%s", path);
        goto fail;
    }
    buf[n] = '\0';
    fclose(f);
    *out = buf;
    return 0;

fail:
    if (buf)
        OPENSSL_cleanse(buf, KEY_FILE_MAX + 1);
    free(buf);
    fclose(f);
    return rc;
}

int token_keys_load(const char *priv_path, const char *pub_path, token_keys_t **out)
{
    int rc;
    char *priv = NULL, *pub = NULL;

    if (!out || !pub_path)
        return NT_EINVAL;
    *out = NULL;
    rc = read_small_file(pub_path, &pub);
    if (rc)
        goto done;
    if (priv_path) {
        rc = read_small_file(priv_path, &priv);
        if (rc)
            goto done;
    }
    rc = token_keys_from_pem(priv, pub, out);
    if (rc)
        log_error("bad token keys", "priv=%s pub=%s", priv_path ? priv_path : "-", pub_path);

done:
    if (priv) {
        OPENSSL_cleanse(priv, strlen(priv));
        free(priv);
    }
    free(pub);
    return rc;
}

void token_keys_free(token_keys_t *keys)
{
    if (!keys)
        return;
    if (keys->priv_pem) {
        OPENSSL_cleanse(keys->priv_pem, keys->priv_len);
        free(keys->priv_pem);
    }
    free(keys->pub_pem);
    EVP_PKEY_free(keys->pub_key);
    free(keys);
}

/* --- claims ------------------------------------------------------------ */

int token_id_ok(const char *s, size_t len)
{
    if (len == 0 || len >= TOKEN_ID_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return 0;
    }
    return 1;
}

static int claims_ok(const token_claims_t *c)
{
    size_t ul = strnlen(c->uid, TOKEN_ID_MAX), sl = strnlen(c->sid, TOKEN_ID_MAX);
    if (!token_id_ok(c->uid, ul) || !token_id_ok(c->sid, sl))
        return 0;
    /* jwt_add_grant_int takes a long. */
    if (c->iat <= 0 || c->exp <= c->iat || c->exp > LONG_MAX)
        return 0;
    return 1;
}

int token_sign(const token_keys_t *keys, const token_claims_t *claims, char **out)
{
    int rc = NT_ECRYPTO;
    jwt_t *j = NULL;
    char *s = NULL;

    if (!keys || !claims || !out)
        return NT_EINVAL;
    *out = NULL;
    if (!keys->priv_pem || keys->priv_len > INT_MAX || !claims_ok(claims))
        return NT_EINVAL;

    if (jwt_new(&j) != 0) {
        rc = NT_ENOMEM;
        goto fail;
    }
    if (jwt_add_grant(j, "iss", TOKEN_ISSUER) || jwt_add_grant(j, "sub", claims->uid) ||
        jwt_add_grant(j, "sid", claims->sid) || jwt_add_grant_int(j, "iat", (long)claims->iat) ||
        jwt_add_grant_int(j, "exp", (long)claims->exp))
        goto fail;
    if (jwt_set_alg(j, JWT_ALG_ES256, (const unsigned char *)keys->priv_pem,
                    (int)keys->priv_len))
        goto fail;
    /* Allocated with libjwt's default allocator, which is malloc: the caller
     * may free() it as token.h promises (we never call jwt_set_alloc). */
    s = jwt_encode_str(j);
    if (!s)
        goto fail;
    jwt_free(j); /* also wipes libjwt's copy of the key */
    *out = s;
    return 0;

fail:
    ERR_clear_error();
    jwt_free(j);
    return rc;
}

/* --- opaque tokens ------------------------------------------------------ */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int token_random(char *buf, size_t n)
{
    unsigned char raw[TOKEN_RANDOM_BYTES];
    size_t o = 0;

    /* 32 bytes -> 43 base64url chars without padding. */
    if (!buf || n < (TOKEN_RANDOM_BYTES * 4 + 2) / 3 + 1)
        return NT_EINVAL;
    if (RAND_bytes(raw, sizeof raw) != 1) {
        ERR_clear_error();
        return NT_ECRYPTO;
    }
    for (size_t i = 0; i < sizeof raw; i += 3) {
        uint32_t v = (uint32_t)raw[i] << 16;
        size_t left = sizeof raw - i;
        if (left > 1)
            v |= (uint32_t)raw[i + 1] << 8;
        if (left > 2)
            v |= raw[i + 2];
        buf[o++] = b64url[(v >> 18) & 63];
        buf[o++] = b64url[(v >> 12) & 63];
        if (left > 1)
            buf[o++] = b64url[(v >> 6) & 63];
        if (left > 2)
            buf[o++] = b64url[v & 63];
    }
    buf[o] = '\0';
    OPENSSL_cleanse(raw, sizeof raw);
    return 0;
}

void token_hash(const char *s, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    /* No status to return (token.h): on the (practically impossible) failure
     * write "", which no stored hash equals, so a lookup simply misses. */
    out[0] = '\0';
    if (!s)
        return;
    if (EVP_Digest(s, strlen(s), md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        ERR_clear_error();
        return;
    }
    for (unsigned int i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}
