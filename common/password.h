/*
 * password.h - argon2id password hashes (libargon2), in the encoded form
 * "$argon2id$v=19$m=...,t=...,p=...$salt$hash" so parameters can change
 * later without a migration.  Thread-safe.
 */
#ifndef NT_PASSWORD_H
#define NT_PASSWORD_H

#include <stddef.h>
#include <stdint.h>

#define PASSWORD_HASH_MAX 256

typedef struct password_params {
    uint32_t t_cost;      /* iterations (default 2) */
    uint32_t m_kib;       /* memory in KiB (default 19456 = 19 MiB, OWASP) */
    uint32_t parallelism; /* lanes (default 1) */
} password_params_t;

/* Hash pw (len bytes) with a fresh random salt into out (>= PASSWORD_HASH_MAX). */
int password_hash(const password_params_t *p, const char *pw, size_t len, char *out, size_t n);

/* 0 if pw matches encoded; NT_EUNAUTH if not; NT_EINVAL if encoded is malformed. */
int password_verify(const char *encoded, const char *pw, size_t len);

#endif
