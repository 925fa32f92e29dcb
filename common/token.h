/*
 * token.h - access tokens (JWT, ES256) and refresh tokens (opaque).
 *
 * The auth pool signs with the private key; edges verify with the public key
 * alone (no bus hop per request).  token_verify is strict on purpose, because
 * libjwt 1.10 is not (STACK.md): it requires alg == ES256 (rejecting "none"
 * and the HS256-with-public-key-as-secret confusion), checks the signature,
 * requires exp > now and the sub/sid claims.  Any failure is NT_EUNAUTH; the
 * reason is not told to the client.
 *
 * token_keys_t is immutable after load and shared between threads.
 */
#ifndef NT_TOKEN_H
#define NT_TOKEN_H

#include <stddef.h>
#include <stdint.h>

typedef struct token_keys token_keys_t;

#define TOKEN_ID_MAX 64

typedef struct token_claims {
    char uid[TOKEN_ID_MAX];  /* "sub" */
    char sid[TOKEN_ID_MAX];  /* "sid": the session (refresh family) */
    int64_t iat;             /* seconds */
    int64_t exp;             /* seconds */
} token_claims_t;

/* Load PEM keys.  priv_path may be NULL (verify-only, edges).  Caller frees. */
int token_keys_load(const char *priv_path, const char *pub_path, token_keys_t **out);

/* Same from PEM text in memory (tests). */
int token_keys_from_pem(const char *priv_pem, const char *pub_pem, token_keys_t **out);

void token_keys_free(token_keys_t *keys);

/* Sign claims as an ES256 JWT.  *out is malloc'd; caller frees. */
int token_sign(const token_keys_t *keys, const token_claims_t *claims, char **out);

/* Verify jwt at time now (seconds); on success fills *claims. */
int token_verify(const token_keys_t *keys, const char *jwt, int64_t now, token_claims_t *claims);

/* A random opaque token: 32 bytes from the OS CSPRNG, base64url, no padding
 * (43 chars + NUL; buf must be >= 44). */
int token_random(char *buf, size_t n);

/* Lower-case hex SHA-256 of s (65 bytes with NUL): how refresh tokens are stored. */
void token_hash(const char *s, char out[65]);

#endif
