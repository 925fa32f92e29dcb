/*
 * auth_account.c - register, login, refresh, logout and the revoked-session
 * list (DESIGN.md "Tokens", API.md "Accounts and tokens").
 *
 * A login creates a session (one device's login) with its first refresh
 * token; the access token (JWT) names the session, so revoking the session
 * revokes every token of it.  argon2 runs without holding a database
 * connection: it is the slow part, and a connection held for it would make
 * the pool the bottleneck.
 */
#include "actors/auth_pool.h"
#include "actors/auth_rules.h"
#include "actors/pool.h"

#include "bus/pb.h"
#include "common/err.h"
#include "common/log.h"
#include "store/session_store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#define BAD_LOGIN "invalid username or password"
#define BAD_REFRESH "invalid or expired refresh token"
#define REVOKED_LIST_MAX 10000

static void trace_of(natsMsg *msg, char *buf, size_t n)
{
    bus_trace_id(bus_header(msg, BUS_H_TRACE), buf, n);
}

int auth_register(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__RegisterReq *req = auth_unpack(bus, msg, &natter__register_req__descriptor);
    if (!req)
        return NT_EINVAL;
    char err[128], hash[PASSWORD_HASH_MAX];
    const char *display = req->display_name[0] ? req->display_name : req->username;
    MYSQL *db = NULL;
    user_rec_t u;
    int rc;
    if (rule_username(req->username, err, sizeof err) != NT_OK ||
        rule_password(req->password, strlen(req->password), err, sizeof err) != NT_OK ||
        rule_display_name(display, err, sizeof err) != NT_OK) {
        rc = auth_fail(bus, msg, NT_EINVAL, err);
        goto out;
    }
    if ((rc = password_hash(&p->argon2, req->password, strlen(req->password), hash,
                            sizeof hash)) != NT_OK) {
        rc = auth_fail(bus, msg, rc, "");
        goto out;
    }
    if ((rc = auth_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = user_create(db, req->username, display, hash, &u);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        auth_fail(bus, msg, rc, rc == NT_ETAKEN ? "username is taken" : "");
        goto out;
    }
    Natter__User pb;
    auth_user_pb(&u, &pb);
    rc = bus_reply_pb(bus, msg, &pb.base);
    log_info("user registered", "uid=%s", u.id);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

/* Sign an access token for (uid, sid) and reply with the pair and the user. */
static int reply_tokens(auth_pool_t *p, bus_t *bus, natsMsg *msg, const user_rec_t *u,
                        const char *sid, const char *refresh)
{
    token_claims_t c = {0};
    snprintf(c.uid, sizeof c.uid, "%s", u->id);
    snprintf(c.sid, sizeof c.sid, "%s", sid);
    c.iat = db_now_ms() / 1000;
    c.exp = c.iat + p->access_ttl;
    char *access = NULL;
    int rc = token_sign(p->keys, &c, &access);
    if (rc != NT_OK)
        return auth_fail(bus, msg, rc, "");
    Natter__User upb;
    auth_user_pb(u, &upb);
    Natter__TokenReply rep = NATTER__TOKEN_REPLY__INIT;
    rep.access_token = access;
    rep.refresh_token = (char *)refresh;
    rep.expires_in = (int32_t)p->access_ttl;
    rep.user = &upb;
    rep.session_id = (char *)sid;
    rc = bus_reply_pb(bus, msg, &rep.base);
    free(access);
    return rc;
}

/* Per-address and per-username buckets (config auth.login_rate_*).  Every
 * attempt counts, so a stranger can slow down logins to someone's name;
 * the username bucket is generous for that reason and the address bucket
 * does the real work.  Redis down: let the attempt through (logged). */
static int login_limited(auth_pool_t *p, bus_t *bus, natsMsg *msg, const Natter__LoginReq *req)
{
    char key[160], text[96];
    const struct {
        const char *kind, *value;
        const ratelimit_rule_t *rule;
    } b[] = {{"ip", req->ip, &p->login_ip}, {"user", req->username, &p->login_user}};
    for (size_t i = 0; i < sizeof b / sizeof b[0]; i++) {
        int allowed;
        long retry_ms;
        if (!b[i].value[0] || strlen(b[i].value) > 100)
            continue;
        snprintf(key, sizeof key, "login:%s:%s", b[i].kind, b[i].value);
        if (ratelimit_take(p->redis, key, b[i].rule, &allowed, &retry_ms) != NT_OK) {
            log_warn("rate limit unchecked", "what=login kind=%s", b[i].kind);
            continue;
        }
        if (!allowed) {
            snprintf(text, sizeof text, "too many login attempts; retry in %ld s",
                     (retry_ms + 999) / 1000);
            return auth_fail(bus, msg, NT_ERATELIMIT, text);
        }
    }
    return NT_OK;
}

/* Check the password with no connection held; 0 if it matches, with the
 * hash it matched in hash[PASSWORD_HASH_MAX] (session_login makes sure it
 * is still the user's when the session is created). */
static int login_check(auth_pool_t *p, bus_t *bus, natsMsg *msg, const Natter__LoginReq *req,
                       user_rec_t *u, char *hash)
{
    char err[128];
    size_t pwlen = strlen(req->password);
    MYSQL *db = NULL;
    int rc = NT_ENOTFOUND;
    if (rule_username(req->username, err, sizeof err) == NT_OK && pwlen <= PASSWORD_MAX) {
        if ((rc = auth_db_take(p, bus, msg, &db)) != NT_OK)
            return rc;
        rc = user_get_login(db, req->username, u, hash, PASSWORD_HASH_MAX);
        db_release(p->db, db, db_is_broken(rc));
        if (rc != NT_OK && rc != NT_ENOTFOUND)
            return auth_fail(bus, msg, rc, "");
    }
    if (rc == NT_ENOTFOUND) {
        password_verify(p->dummy_hash, req->password, pwlen); /* same cost as a real check */
        return auth_fail(bus, msg, NT_EUNAUTH, BAD_LOGIN);
    }
    if (password_verify(hash, req->password, pwlen) != NT_OK)
        return auth_fail(bus, msg, NT_EUNAUTH, BAD_LOGIN);
    return NT_OK;
}

/* 403 banned, with the reason and the end (ms, null = for good) in the
 * error body (natter.Error.detail, API.md "Admin"). */
static int login_banned(bus_t *bus, natsMsg *msg, const session_login_out_t *done,
                        const char *uid)
{
    json_t *d = json_pack("{s:s,s:o}", "reason", done->ban_reason, "until",
                          done->ban_until ? json_integer(done->ban_until) : json_null());
    char *text = d ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    log_info("login refused", "uid=%s why=banned", uid);
    int rc = pool_fail_detail(bus, msg, NT_EBANNED, "this account is banned", text);
    free(text);
    return rc;
}

int auth_login(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__LoginReq *req = auth_unpack(bus, msg, &natter__login_req__descriptor);
    if (!req)
        return NT_EINVAL;
    char err[128], trace[40], refresh[64], hash[65], sid[40], pw_hash[PASSWORD_HASH_MAX] = "";
    const char *platform = req->platform[0] ? req->platform : "web";
    user_rec_t u;
    MYSQL *db = NULL;
    int rc;
    trace_of(msg, trace, sizeof trace);
    if (rule_platform(platform, err, sizeof err) != NT_OK ||
        rule_device_id(req->device_id, err, sizeof err) != NT_OK) {
        rc = auth_fail(bus, msg, NT_EINVAL, err);
        goto out;
    }
    if ((rc = login_limited(p, bus, msg, req)) != NT_OK ||
        (rc = login_check(p, bus, msg, req, &u, pw_hash)) != NT_OK)
        goto out;

    uuid_t raw;
    uuid_generate_random(raw);
    uuid_unparse_lower(raw, sid);
    if ((rc = token_random(refresh, sizeof refresh)) != NT_OK) {
        rc = auth_fail(bus, msg, rc, "");
        goto out;
    }
    token_hash(refresh, hash);
    int64_t now = db_now_ms();
    if ((rc = auth_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    /* One live session per platform (API.md "login"): the same device
     * logging in again renews its session quietly; another device on the
     * same platform is kicked ("replaced").  Other platforms keep theirs. */
    session_login_t in = {.sid = sid, .uid = u.id, .platform = platform,
                          .device_id = req->device_id, .refresh_hash = hash,
                          .pw_hash = pw_hash, .refresh_expires_at = now + p->refresh_ttl * 1000,
                          .now = now};
    session_login_out_t done;
    rc = session_login(db, &in, &done);
    db_release(p->db, db, db_is_broken(rc));
    if (rc == NT_EBANNED) { /* told only to whoever knows the password */
        rc = login_banned(bus, msg, &done, u.id);
        goto out;
    }
    if (rc != NT_OK) { /* NT_EUNAUTH: the password changed since we checked it */
        rc = auth_fail(bus, msg, rc, rc == NT_EUNAUTH ? BAD_LOGIN : "");
        goto out;
    }
    for (int i = 0; i < done.n_renewed; i++)
        auth_announce_revoked(p, done.renewed[i], u.id, "renewed", now, trace);
    for (int i = 0; i < done.n_replaced; i++)
        auth_announce_revoked(p, done.replaced[i], u.id, "replaced", now, trace);
    rc = reply_tokens(p, bus, msg, &u, sid, refresh);
    log_info("login", "uid=%s sid=%s platform=%s trace=%s", u.id, sid, platform, trace);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

int auth_refresh(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__RefreshReq *req = auth_unpack(bus, msg, &natter__refresh_req__descriptor);
    if (!req)
        return NT_EINVAL;
    char trace[40], refresh[64], old_hash[65], new_hash[65];
    session_rec_t s;
    user_rec_t u;
    MYSQL *db = NULL;
    int rc, reused = 0;
    trace_of(msg, trace, sizeof trace);
    if (strlen(req->refresh_token) != 43) { /* token_random's shape; skip the db */
        rc = auth_fail(bus, msg, NT_EUNAUTH, BAD_REFRESH);
        goto out;
    }
    if ((rc = token_random(refresh, sizeof refresh)) != NT_OK) {
        rc = auth_fail(bus, msg, rc, "");
        goto out;
    }
    token_hash(req->refresh_token, old_hash);
    token_hash(refresh, new_hash);
    int64_t now = db_now_ms();
    if ((rc = auth_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = session_refresh(db, old_hash, new_hash, now + p->refresh_ttl * 1000, now, &s, &reused);
    if (rc == NT_OK)
        rc = user_get(db, s.uid, &u);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        if (reused) /* a spent token came back: someone holds a copy */
            auth_announce_revoked(p, s.sid, s.uid, "reuse", now, trace);
        rc = auth_fail(bus, msg, rc == NT_EUNAUTH ? NT_EUNAUTH : rc, BAD_REFRESH);
        goto out;
    }
    rc = reply_tokens(p, bus, msg, &u, s.sid, refresh);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

int auth_logout(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    Natter__LogoutReq *req = auth_unpack(bus, msg, &natter__logout_req__descriptor);
    if (!req)
        return NT_EINVAL;
    const char *uid = bus_header(msg, BUS_H_UID);
    char trace[40];
    MYSQL *db = NULL;
    int rc;
    trace_of(msg, trace, sizeof trace);
    if (!uid || !req->session_id[0]) {
        rc = auth_fail(bus, msg, NT_EUNAUTH, "not logged in");
        goto out;
    }
    int64_t now = db_now_ms();
    if ((rc = auth_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = session_revoke(db, req->session_id, uid, now);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = auth_fail(bus, msg, rc == NT_ENOTFOUND ? NT_EUNAUTH : rc, "not logged in");
        goto out;
    }
    auth_announce_revoked(p, req->session_id, uid, "logout", now, trace);
    Natter__Empty empty = NATTER__EMPTY__INIT;
    rc = bus_reply_pb(bus, msg, &empty.base);
out:
    protobuf_c_message_free_unpacked(&req->base, NULL);
    return rc;
}

typedef struct revoked_acc {
    Natter__SessionRevoked *items;
    Natter__SessionRevoked **ptrs;
    session_rec_t *recs;
    size_t n;
    int64_t ttl_ms;
} revoked_acc_t;

static int revoked_add(void *arg, const session_rec_t *s)
{
    revoked_acc_t *a = arg;
    if (a->n == REVOKED_LIST_MAX)
        return 1; /* stop: see the cap note in docs/design.md */
    a->recs[a->n] = *s;
    Natter__SessionRevoked *e = &a->items[a->n];
    natter__session_revoked__init(e);
    e->session_id = a->recs[a->n].sid;
    e->user_id = a->recs[a->n].uid;
    e->expires_at = s->revoked_at + a->ttl_ms;
    a->ptrs[a->n] = e;
    a->n++;
    return 0;
}

int auth_revoked_list(bus_t *bus, natsMsg *msg, void *arg)
{
    auth_pool_t *p = arg;
    revoked_acc_t a = {.ttl_ms = p->access_ttl * 1000};
    MYSQL *db = NULL;
    int rc;
    a.items = calloc(REVOKED_LIST_MAX, sizeof *a.items);
    a.ptrs = calloc(REVOKED_LIST_MAX, sizeof *a.ptrs);
    a.recs = calloc(REVOKED_LIST_MAX, sizeof *a.recs);
    if (!a.items || !a.ptrs || !a.recs) {
        rc = auth_fail(bus, msg, NT_ENOMEM, "");
        goto out;
    }
    if ((rc = auth_db_take(p, bus, msg, &db)) != NT_OK)
        goto out;
    rc = session_revoked_since(db, db_now_ms() - a.ttl_ms, revoked_add, &a);
    db_release(p->db, db, db_is_broken(rc));
    if (rc != NT_OK) {
        rc = auth_fail(bus, msg, rc, "");
        goto out;
    }
    if (a.n == REVOKED_LIST_MAX)
        log_warn("revoked list truncated", "max=%d", REVOKED_LIST_MAX);
    Natter__SessionRevokedList list = NATTER__SESSION_REVOKED_LIST__INIT;
    list.n_sessions = a.n;
    list.sessions = a.ptrs;
    rc = bus_reply_pb(bus, msg, &list.base);
out:
    free(a.items);
    free(a.ptrs);
    free(a.recs);
    return rc;
}
