/*
 * session_store.h - login sessions and their refresh tokens.
 *
 * A session is one login on one device; its refresh tokens form a family.
 * Each refresh spends the presented token and issues the next.  Presenting
 * a spent token means it was stolen or replayed: the whole session is
 * revoked (DESIGN.md "Tokens").  Refresh tokens are stored only as SHA-256
 * hex hashes.  Times are ms since the epoch.
 */
#ifndef NT_SESSION_STORE_H
#define NT_SESSION_STORE_H

#include <mysql.h>
#include <stdint.h>

#define SESSION_ID_MAX 40

typedef struct session_rec {
    char sid[SESSION_ID_MAX];
    char uid[24];
    char platform[16];
    char device_id[129];
    int64_t created_at;
    int64_t revoked_at;  /* 0 if live */
} session_rec_t;

/* Create session sid for uid with its first refresh token (hash). */
int session_create(MYSQL *db, const char *sid, const char *uid, const char *platform,
                   const char *device_id, const char *refresh_hash,
                   int64_t refresh_expires_at, int64_t now);

/* Revoke the live sessions of uid on platform (all devices when device_id is
 * NULL, else only that device), writing up to max revoked sids into sids
 * (each SESSION_ID_MAX bytes) and their count into *n. */
int session_revoke_platform(MYSQL *db, const char *uid, const char *platform,
                            const char *device_id, int64_t now,
                            char (*sids)[SESSION_ID_MAX], int max, int *n);

#define SESSION_LOGIN_REPORT_MAX 8
#define SESSION_BAN_REASON_MAX (500 * 4 + 1) /* users.ban_reason, UTF-8 bytes */

/* A login's session change, in one transaction under the user's row lock
 * (session_revoke.c): revoke uid's live sessions on the same platform and
 * device ("renewed"), then on the same platform with other devices
 * ("replaced"), and create sid with its first refresh token.  NT_ENOTFOUND
 * if the user is gone; NT_EUNAUTH if pw_hash is set and the user's stored
 * hash is no longer it (the password changed after the login checked it);
 * NT_EBANNED if a ban is in force (ban_reason and ban_until of out are set;
 * ban_until 0 = for good). */
typedef struct session_login {
    const char *sid, *uid, *platform;
    const char *device_id;          /* "" or NULL: unknown device */
    const char *refresh_hash;
    const char *pw_hash;            /* the hash the password matched; NULL: no check */
    int64_t refresh_expires_at, now;
} session_login_t;

typedef struct session_login_out {
    char renewed[SESSION_LOGIN_REPORT_MAX][SESSION_ID_MAX];
    int n_renewed;
    char replaced[SESSION_LOGIN_REPORT_MAX][SESSION_ID_MAX];
    int n_replaced;
    char ban_reason[SESSION_BAN_REASON_MAX]; /* NT_EBANNED only */
    int64_t ban_until;
} session_login_out_t;

int session_login(MYSQL *db, const session_login_t *in, session_login_out_t *out);

/* A password change, in one transaction under the user's row lock
 * (session_revoke.c): if uid's stored hash is still old_hash and sid is a
 * live session of uid, store new_hash and revoke every other live session
 * of uid (reason "password", refresh tokens spent).  sid stays valid.
 * NT_ENOTFOUND: no such user; NT_ECONFLICT: the hash is no longer
 * old_hash (changed concurrently); NT_EUNAUTH: sid is not uid's or is
 * revoked. */
typedef struct session_password {
    const char *uid, *sid;
    const char *old_hash, *new_hash;
    int64_t now;
} session_password_t;

typedef struct session_password_out {
    char revoked[SESSION_LOGIN_REPORT_MAX][SESSION_ID_MAX];
    int n_revoked;
} session_password_out_t;

int session_password(MYSQL *db, const session_password_t *in, session_password_out_t *out);

/* Rotate: in one transaction, find the token by hash.
 *  - unknown or expired            -> NT_EUNAUTH, *reused = 0
 *  - already spent, or session revoked -> revoke the session, NT_EUNAUTH,
 *    *reused = 1 and *out filled (so the caller can announce the revocation)
 *  - otherwise mark it spent, store new_hash for the same session, fill *out,
 *    return 0. */
int session_refresh(MYSQL *db, const char *hash, const char *new_hash,
                    int64_t new_expires_at, int64_t now, session_rec_t *out, int *reused);

/* Revoke one session of uid (logout).  NT_ENOTFOUND if it is not uid's. */
int session_revoke(MYSQL *db, const char *sid, const char *uid, int64_t now);

/* Sessions revoked at or after since (for edges' deny-lists at start),
 * newest first, so a caller that stops early keeps the ones that matter
 * longest.  fn returns 0 to go on, > 0 to stop, < 0 (NT_*) to fail. */
typedef int (*session_revoked_fn)(void *arg, const session_rec_t *s);
int session_revoked_since(MYSQL *db, int64_t since, session_revoked_fn fn, void *arg);

/* Delete refresh tokens that expired before `before` (spent or not), at
 * most max rows per call (<= 0: 10000) so a big backlog never holds locks
 * for long; *deleted (may be NULL) gets the count.  Run it periodically
 * with before = now - (a margin): a replay of a token older than that is
 * then just "unknown" (NT_EUNAUTH, not reuse). */
int session_prune(MYSQL *db, int64_t before, int max, uint64_t *deleted);

#endif
