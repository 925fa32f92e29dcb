/*
 * auth_pool.h - the auth service: accounts, passwords, tokens, profiles.
 *
 * Served on im.svc.auth.<op> in queue group "auth", so any number of
 * `natter auth` processes share the load.  Each op is a micro endpoint;
 * handlers run on bus delivery threads (several per endpoint, because argon2
 * is deliberately slow) and take a database connection from the pool for the
 * duration of one request.  Nothing is kept in memory between requests, so
 * a process can die at any time without losing state.
 *
 * Ops (request -> reply, all natter.* protobuf; Natter-Uid set by the edge):
 *   register     RegisterReq   -> User
 *   login        LoginReq      -> TokenReply
 *   refresh      RefreshReq    -> TokenReply
 *   logout       LogoutReq     -> Empty        (publishes SessionRevoked)
 *   password     PasswordReq   -> Empty        (revokes the other sessions)
 *   user_get     UserGetReq    -> User
 *   user_update  UserUpdateReq -> User
 *   user_search  UserSearchReq -> UserList
 *   revoked_list Empty         -> SessionRevokedList (edges' deny-list at start)
 *   ip_rules     Empty         -> IpRuleList (edges' IP rules; admin_ops.c)
 *
 * The same processes serve the admin API on im.svc.admin.<op> (admin_ops.h).
 */
#ifndef NT_AUTH_POOL_H
#define NT_AUTH_POOL_H

#include "bus/bus.h"
#include "bus/micro.h"
#include "common/password.h"
#include "common/token.h"
#include "proto/natter.pb-c.h"
#include "store/db.h"
#include "store/ratelimit.h"
#include "store/redis.h"
#include "store/user_store.h"

#include <stdint.h>

/* Read-only after auth_pool_register; shared by all handler threads. */
typedef struct auth_pool {
    bus_t *bus;
    db_pool_t *db;
    const token_keys_t *keys;  /* with the private key */
    password_params_t argon2;
    int64_t access_ttl;        /* seconds */
    int64_t refresh_ttl;       /* seconds */
    int db_wait_ms;            /* how long a request waits for a connection */
    char dummy_hash[PASSWORD_HASH_MAX]; /* verified for unknown users: same timing */
    redis_pool_t *redis;       /* rate-limit buckets; presence, read by the admin sessions list */
    ratelimit_rule_t login_ip;   /* login attempts per client address */
    ratelimit_rule_t login_user; /* login attempts per username; also password
                                  * changes per user (own bucket) */
} auth_pool_t;

/* Prepare p (computes the dummy hash) and add its endpoints to m, `workers`
 * subscriptions each. */
int auth_pool_register(auth_pool_t *p, micro_t *m, int workers);

/* Handlers, one per op (auth_account.c, auth_users.c). */
int auth_register(bus_t *bus, natsMsg *msg, void *arg);
int auth_login(bus_t *bus, natsMsg *msg, void *arg);
int auth_refresh(bus_t *bus, natsMsg *msg, void *arg);
int auth_logout(bus_t *bus, natsMsg *msg, void *arg);
int auth_password(bus_t *bus, natsMsg *msg, void *arg);   /* auth_password.c */
int auth_revoked_list(bus_t *bus, natsMsg *msg, void *arg);
int auth_user_get(bus_t *bus, natsMsg *msg, void *arg);
int auth_user_update(bus_t *bus, natsMsg *msg, void *arg);
int auth_user_search(bus_t *bus, natsMsg *msg, void *arg);

/* Shared by the handlers (auth_pool.c). */

/* Reply with err and message, log it with the request's trace id, and
 * return err (so a handler can `return auth_fail(...)`). */
int auth_fail(bus_t *bus, natsMsg *msg, int err, const char *message);

/* Take a db connection or answer unavailable; 0 on success. */
int auth_db_take(auth_pool_t *p, bus_t *bus, natsMsg *msg, MYSQL **db);

/* Announce a revoked session on im.evt.session.<sid> so edges deny it. */
void auth_announce_revoked(auth_pool_t *p, const char *sid, const char *uid,
                           const char *reason, int64_t revoked_at_ms, const char *trace);

/* Unpack msg's payload as d; on failure answer bad_request and return NULL.
 * Free the result with protobuf_c_message_free_unpacked(x, NULL). */
void *auth_unpack(bus_t *bus, natsMsg *msg, const ProtobufCMessageDescriptor *d);

/* Point out's fields at u's (no copies: u must outlive out). */
void auth_user_pb(const user_rec_t *u, Natter__User *out);

#endif
