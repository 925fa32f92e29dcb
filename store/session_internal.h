/*
 * session_internal.h - what the two halves of the session store share:
 * session_store.c (one session at a time: create, refresh, logout, lists)
 * and session_revoke.c (many at once: a login replacing a platform's
 * sessions, a password change revoking all but the caller's).  Not for
 * use outside store/.  Every helper runs inside the caller's transaction.
 */
#ifndef NT_SESSION_INTERNAL_H
#define NT_SESSION_INTERNAL_H

#include "store/session_store.h"

/* A growing list of session ids (heap; the owner frees v). */
typedef struct sid_list {
    char (*v)[SESSION_ID_MAX];
    int n, cap;
} sid_list_t;

/* db_row_fn: append column 0 to the sid_list_t at arg. */
int session_collect_sid(void *arg, int ncols, char **cols, unsigned long *lens);

/* Spend every unspent refresh token of sid. */
int session_spend_family(MYSQL *db, const char *sid, int64_t now);

/* Insert session sid of user with its first refresh token. */
int session_insert(MYSQL *db, const char *sid, int64_t user, const char *platform,
                   const char *device_id, const char *refresh_hash, int64_t refresh_expires_at,
                   int64_t now);

/* Mark each sid of l from index `from` revoked with reason and spend its
 * tokens. */
int session_mark_revoked(MYSQL *db, const sid_list_t *l, int from, const char *reason,
                         int64_t now);

#endif
