/*
 * authn.c - token + deny-list check (see authn.h).
 */
#include "edge/authn.h"

#include "common/err.h"

#include <strings.h>

int authn_token(const char *jwt, const token_keys_t *keys, denylist_t *deny, int64_t now_ms,
                token_claims_t *out)
{
    if (!jwt || !*jwt)
        return NT_EUNAUTH;
    if (token_verify(keys, jwt, now_ms / 1000, out) != NT_OK)
        return NT_EUNAUTH;
    if (deny && denylist_has(deny, out->sid, now_ms))
        return NT_EUNAUTH;
    return NT_OK;
}

int authn_bearer(const char *authorization, const token_keys_t *keys, denylist_t *deny,
                 int64_t now_ms, token_claims_t *out)
{
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return NT_EUNAUTH;
    const char *jwt = authorization + 7;
    while (*jwt == ' ')
        jwt++;
    return authn_token(jwt, keys, deny, now_ms, out);
}
