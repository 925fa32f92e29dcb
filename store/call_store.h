/*
 * call_store.h - who is in a call right now (Redis), so a second call to
 * or from a user in one can be refused as busy whichever process keeps
 * the first (docs/calls.md).
 *
 * One key per user, pr:call:<uid> = the call id, with a TTL that the
 * call's owner keeps extending while the call lives: a killed owner's
 * markers lapse by themselves.  Like presence, nothing here is precious:
 * losing it only lets a busy user be rung.
 */
#ifndef NT_CALL_STORE_H
#define NT_CALL_STORE_H

#include "store/redis.h"

#include <stdint.h>

/* Mark caller and callee as in call id for ttl_ms, both or neither: NT_OK,
 * or NT_ECONFLICT if either is in a call already (nothing changed);
 * NT_EUNAVAIL if Redis did not answer. */
int call_store_take(redis_pool_t *r, const char *caller, const char *callee, const char *id,
                    int64_t ttl_ms);

/* Extend (ttl_ms > 0) or drop (ttl_ms == 0) the markers of uids[0..n) that
 * still name call id; a marker another call took meanwhile is left alone. */
int call_store_keep(redis_pool_t *r, const char *const *uids, int n, const char *id,
                    int64_t ttl_ms);

#endif
