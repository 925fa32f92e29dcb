/*
 * auth_prune.h - the auth pool's housekeeping thread: deletes refresh
 * tokens that expired long ago (store/session_store.h session_prune).
 *
 * Without it the refresh_tokens table grows by one row per login and per
 * refresh forever.  Every auth process runs one; they do not coordinate,
 * since a DELETE of already-deleted rows costs nothing and each round is
 * bounded (LIMIT) so no round holds locks for long.
 */
#ifndef NT_AUTH_PRUNE_H
#define NT_AUTH_PRUNE_H

#include "store/db.h"

typedef struct auth_prune auth_prune_t;

/* Every interval_s seconds (first run after one interval) delete refresh
 * tokens whose expiry is more than margin_s in the past.  interval_s 0:
 * no thread, *out NULL. */
int auth_prune_start(db_pool_t *db, int interval_s, int margin_s, auth_prune_t **out);

/* Stop and join; NULL is fine. */
void auth_prune_stop(auth_prune_t *p);

#endif
