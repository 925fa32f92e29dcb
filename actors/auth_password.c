/*
 * auth_password.c - changing the password (docs/sessions.md, DESIGN.md
 * "Tokens": a password change revokes sessions and kicks live sockets).
 *
 * The caller proves they know the old password even though they hold a
 * valid token: a stolen access token alone must not be enough to take the
 * account over.  On success every OTHER session of the user is revoked
 * (reason "password"): whoever else had the old password, or a session
 * stolen with it, is out, and their refresh tokens are dead.  The caller's
 * own session stays valid, so the client that changed the password does
 * not have to log in again.
 *
 * Like login, argon2 (verify the old, hash the new) runs with no database
 * connection held.  The change itself is session_password: one
 * transaction under the user's row lock that stores the new hash only if
 * the row still holds the hash the old password was checked against, so
 * two concurrent changes cannot both win and a login that checked the old
 * password cannot slip a session in after the change.
 */
#include "actors/auth_pool.h"
#include "actors/auth_rules.h"

#include "bus/pb.h"
#include "common/err.h"
#include "common/log.h"
#include "store/session_store.h"

#include <stdio.h>
#include <string.h>

#define BAD_OLD "old password is wrong"

/* Per-user bucket "password:<uid>" with the login-per-username rule
 * (auth.login_rate_user): guessing the old password with a stolen token
 * is as slow as guessing it at login.  Its own bucket, so strangers who
 * hammer logins to this username do not block the change.  Redis down:
 * let it through (logged), like login. */
static int password_limited(auth_pool_t *p, bus_t *bus, natsMsg *msg, const char *uid)
{
    char key[64], text[96];
    int allowed;
    long retry_ms;
    snprintf(key, sizeof key, "password:%s", uid);
    if (ratelimit_take(p->redis, key, &p->login_user, &allowed, &retry_ms) != NT_OK) {
        log_warn("rate limit unchecked", "what=password uid=%s", uid);
        return NT_OK;
    }
    if (allowed)
        return NT_OK;
    snprintf(text, sizeof text, "too many password changes; retry in %ld s",
             (retry_ms + 999) / 1000);
    return auth_fail(bus, msg, NT_ERATELIMIT, text);
}

/* Verify the old password against the stored hash (copied into hash);
 * answers and returns non-zero on any failure. */
static int old_check(auth_pool_t *p, bus_t *bus, natsMsg *msg, const char *uid,
                     const char *old_pw, char *hash)
{
    size_t len = strlen(old_pw);
    MYSQL *db = NULL;
    if (len > PASSWORD_MAX)
        return auth_fail(bus, msg, NT_EUNAUTH, BAD_OLD); /* no stored password is longer */
    int rc = auth_db_take(p, bus, msg, &db);
    if (rc != NT_OK)
        return rc;
    rc = user_get_hash(db, uid, hash, PASSWORD_HASH_MAX);
    db_release(p->db, db, db_is_broken(rc));
    if (rc == NT_ENOTFOUND)
        return auth_fail(bus, msg, NT_EUNAUTH, "not logged in");
    if (rc != NT_OK)
        return auth_fail(bus, msg, rc, "");
    if (password_verify(hash, old_pw, len) != NT_OK)
        return auth_fail(bus, msg, NT_EUNAUTH, BAD_OLD);
    return NT_OK;
}

/* The answer for a session_password failure. */
static int change_failed(bus_t *bus, natsMsg *msg, int rc)
{
    switch (rc) {
    case NT_ECONFLICT: /* changed by someone else after we checked: the old one is gone */
        return auth_fail(bus, msg, NT_EUNAUTH, BAD_OLD);
    case NT_EUNAUTH:
    case NT_ENOTFOUND:
        return auth_fail(bus, msg, NT_EUNAUTH, "not logged in");
    default:
        return auth_fail(bus, msg, rc, "");
    }
}

int auth_password(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__PasswordReq *req = auth_unpack(bus, msg, &natter__password_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *uid = bus_header(msg, BUS_H_UID);
    char err[128], msgtext[160], trace[40];
    char old_hash[PASSWORD_HASH_MAX], new_hash[PASSWORD_HASH_MAX];
    MYSQL *db = NULL;
    int rc;
    bus_trace_id(bus_header(msg, BUS_H_TRACE), trace, sizeof trace);
    if (!uid || !req->session_id[0]) {
        rc = auth_fail(bus, msg, NT_EUNAUTH, "not logged in");
        goto out;
    }
    if ((rc = password_limited(p, bus, msg, uid)) != NT_OK)
        goto out;
    if (rule_password(req->new_password, strlen(req->new_password), err, sizeof err) != NT_OK) {
        snprintf(msgtext, sizeof msgtext, "new_%s", err); /* "new_password must be ..." */
        rc = auth_fail(bus, msg, NT_EINVAL, msgtext);
        goto out;
    }
    if ((rc = old_check(p, bus, msg, uid, req->old_password, old_hash)) != NT_OK)
        goto out;
    if ((rc = password_hash(&p->argon2, req->new_password, strlen(req->new_password), new_hash,
                            sizeof new_hash)) != NT_OK) {
        rc = auth_fail(bus, msg, rc, "");
        goto out;
    }
    int64_t now = db_now_ms();
    session_password_t in = {.uid = uid, .sid = req->session_id, .old_hash = old_hash,
                             .new_hash = new_hash, .now = now};
    session_password_out_t done;
    if ((rc = auth_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = session_password(db, &in, &done);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = change_failed(bus, msg, rc);
        goto out;
    }
    for (int i = 0; i < done.n_revoked; i++)
        auth_announce_revoked(p, done.revoked[i], uid, "password", now, trace);
    Natter__Empty empty = NATTER__EMPTY__INIT;
    rc = bus_reply_pb(bus, msg, &empty.base);
    log_info("password changed", "uid=%s sid=%s revoked=%d trace=%s", uid, req->session_id,
             done.n_revoked, trace);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}
