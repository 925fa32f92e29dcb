/*
 * authn.h - who is calling: the one token check every edge runs before it
 * lets a request onto the bus.  A token is accepted when its ES256 signature,
 * issuer and expiry hold (token_verify) and its session is not on the
 * deny-list.  Any failure is NT_EUNAUTH, and the client is told nothing more.
 */
#ifndef NT_AUTHN_H
#define NT_AUTHN_H

#include "common/token.h"
#include "edge/denylist.h"

#include <stdint.h>

/* jwt: the bare token (WebSocket ?token=). */
int authn_token(const char *jwt, const token_keys_t *keys, denylist_t *deny, int64_t now_ms,
                token_claims_t *out);

/* authorization: an HTTP Authorization header value, "Bearer <jwt>"
 * (scheme case-insensitive). */
int authn_bearer(const char *authorization, const token_keys_t *keys, denylist_t *deny,
                 int64_t now_ms, token_claims_t *out);

#endif
