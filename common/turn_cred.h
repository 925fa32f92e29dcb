/*
 * turn_cred.h - TURN credentials the way coturn's `use-auth-secret`
 * (the "TURN REST API" draft) checks them: username "<expiry>:<user id>"
 * (expiry in Unix seconds), password base64(HMAC-SHA1(secret, username)).
 * The server recomputes the HMAC with the same shared secret and refuses
 * an expired username, so nothing is stored anywhere (docs/calls.md).
 */
#ifndef NT_TURN_CRED_H
#define NT_TURN_CRED_H

#include <stddef.h>
#include <stdint.h>

#define TURN_USER_MAX 64   /* "<20 digits>:<user id>" */
#define TURN_PASS_MAX 32   /* base64 of 20 bytes is 28 characters */

/* username = "<expiry>:<uid>", password = base64(HMAC-SHA1(secret,
 * username)).  NT_OK, or NT_EINVAL (empty secret, buffers too small),
 * NT_ECRYPTO. */
int turn_cred(const char *secret, const char *uid, int64_t expiry, char *user, size_t user_n,
              char *pass, size_t pass_n);

#endif
