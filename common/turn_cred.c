/*
 * turn_cred.c - coturn use-auth-secret credentials (turn_cred.h), with
 * OpenSSL's HMAC and base64.
 */
#include "common/turn_cred.h"

#include "common/err.h"

#include <inttypes.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

int turn_cred(const char *secret, const char *uid, int64_t expiry, char *user, size_t user_n,
              char *pass, size_t pass_n)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mac_len = 0;
    if (!secret || !*secret || !uid || !*uid || pass_n < TURN_PASS_MAX)
        return NT_EINVAL;
    int n = snprintf(user, user_n, "%" PRId64 ":%s", expiry, uid);
    if (n <= 0 || (size_t)n >= user_n)
        return NT_EINVAL;
    if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)user, (size_t)n, mac,
              &mac_len) ||
        mac_len != 20)
        return NT_ECRYPTO;
    /* 20 bytes -> 28 characters and a NUL */
    if (EVP_EncodeBlock((unsigned char *)pass, mac, (int)mac_len) != 28)
        return NT_ECRYPTO;
    return NT_OK;
}
