/*
 * auth_rules.h - what a valid account field looks like (API.md).  Pure
 * functions, unit-tested, used by the auth pool, which is the one place the
 * rules are enforced (the edge only checks JSON types).  Each returns 0 or
 * NT_EINVAL and, on failure, a client-facing message in err.
 */
#ifndef NT_AUTH_RULES_H
#define NT_AUTH_RULES_H

#include <stddef.h>

#define PASSWORD_MIN 8
#define PASSWORD_MAX 256
#define DEVICE_ID_MAX 128

int rule_username(const char *s, char *err, size_t n);      /* 3-32 of [a-z0-9_.] */
int rule_password(const char *s, size_t len, char *err, size_t n); /* 8-256 bytes */
int rule_display_name(const char *s, char *err, size_t n);  /* 1-64 chars, no controls */
int rule_avatar_url(const char *s, char *err, size_t n);    /* "" or http(s)://, <= 512 */
int rule_bio(const char *s, char *err, size_t n);           /* <= 500 chars */
int rule_platform(const char *s, char *err, size_t n);      /* web | mobile | desktop */
int rule_device_id(const char *s, char *err, size_t n);     /* <= 128 printable ASCII */

#endif
