/*
 * token_internal.h - what token.c (keys, signing) and token_verify.c
 * (verification) share.  Not for other modules: they see token.h only.
 */
#ifndef NT_TOKEN_INTERNAL_H
#define NT_TOKEN_INTERNAL_H

#include <stddef.h>

#include <openssl/evp.h>

/* Immutable after load; shared by every thread of a process. */
struct token_keys {
    char *priv_pem;    /* NULL on verify-only processes; owned, wiped on free */
    size_t priv_len;
    char *pub_pem;     /* owned */
    size_t pub_len;
    EVP_PKEY *pub_key; /* parsed once at load: verifying never parses PEM */
};

#define TOKEN_ISSUER "natter"

/* sub and sid are ids we mint: short (< TOKEN_ID_MAX), non-empty,
 * [A-Za-z0-9_-].  Checking the alphabet keeps odd bytes out of logs and
 * NATS subjects downstream. */
int token_id_ok(const char *s, size_t len);

#endif
