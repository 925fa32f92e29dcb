/*
 * role_auth.c - `natter auth`: the auth pool process.
 *
 * Wires config, database pool, signing keys and the bus into an auth
 * micro service, then waits for SIGTERM and drains: NATS stops routing new
 * requests to us, in-flight handlers finish and their replies are flushed,
 * then we exit 0.
 */
#include "actors/auth_pool.h"
#include "actors/auth_prune.h"
#include "actors/contact_pool.h"
#include "cmd/role_common.h"
#include "cmd/role_ops.h"
#include "common/err.h"
#include "common/log.h"
#include "common/version.h"

int role_auth(const role_ctx_t *ctx)
{
    auth_pool_t p = {0};
    contact_pool_t contacts = {0};
    token_keys_t *keys = NULL;
    micro_t *m = NULL;
    role_ops_t *ops = NULL;
    auth_prune_t *prune = NULL;
    long workers, t_cost, m_kib, par, access_ttl, refresh_ttl, prune_s, prune_margin_s;
    int rc = 1;
    const config_t *c = ctx->cfg;
    if (config_int(c, "auth.workers", 4, 1, 64, &workers) ||
        config_int(c, "auth.argon2_t_cost", 2, 1, 16, &t_cost) ||
        config_int(c, "auth.argon2_m_kib", 19456, 1024, 1 << 20, &m_kib) ||
        config_int(c, "auth.argon2_parallelism", 1, 1, 16, &par) ||
        config_int(c, "auth.access_ttl", 900, 10, 86400, &access_ttl) ||
        config_int(c, "auth.refresh_ttl", 2592000, 60, 31536000, &refresh_ttl) ||
        config_int(c, "auth.prune_s", 3600, 0, 86400 * 7, &prune_s) ||
        config_int(c, "auth.prune_margin_s", 86400, 0, 86400 * 365, &prune_margin_s))
        return 2;
    p.argon2 = (password_params_t){(uint32_t)t_cost, (uint32_t)m_kib, (uint32_t)par};
    p.access_ttl = access_ttl;
    p.refresh_ttl = refresh_ttl;
    p.db_wait_ms = 2000;

    const char *priv = config_str(c, "auth.private_key", "var/keys/jwt.key");
    const char *pub = config_str(c, "auth.public_key", "var/keys/jwt.pub");
    if (token_keys_load(priv, pub, &keys) != NT_OK) {
        log_error("cannot load signing keys", "private=%s public=%s", priv, pub);
        goto done;
    }
    p.keys = keys;
    if (role_rate_rule(ctx, "auth.login_rate_ip", "1/20", &p.login_ip) != NT_OK ||
        role_rate_rule(ctx, "auth.login_rate_user", "0.2/10", &p.login_user) != NT_OK ||
        role_redis_open(ctx, (int)workers, &p.redis) != NT_OK)
        goto done;
    if (role_db_open(ctx, &p.db) != NT_OK || role_bus_connect(ctx, "auth", (int)workers, &p.bus) != NT_OK)
        goto done;
    if (micro_new(p.bus, "auth", NATTER_VERSION, "natter accounts, passwords, tokens, profiles",
                  &m) != NT_OK ||
        auth_pool_register(&p, m, (int)workers) != NT_OK ||
        contact_pool_register(&contacts, p.bus, p.db, c, m, (int)workers) != NT_OK ||
        micro_start(m) != NT_OK) {
        log_error("cannot start the auth service", NULL);
        goto done;
    }
    role_ops_deps_t od = {.micro = m, .bus = p.bus, .db = p.db, .redis = p.redis};
    if (role_ops_start(ctx, &od, &ops) != NT_OK ||
        auth_prune_start(p.db, (int)prune_s, (int)prune_margin_s, &prune) != NT_OK)
        goto done;
    log_info("auth pool ready", "id=%s workers=%ld", micro_id(m), workers);
    role_wait_stop(ctx);
    auth_prune_stop(prune);
    prune = NULL;
    rc = bus_drain(p.bus, 10000) == NT_OK ? 0 : 1;
    log_info("drained", "ok=%s", rc == 0 ? "yes" : "no");
done:
    auth_prune_stop(prune);
    role_ops_stop(ops); /* it reads m and the pools */
    bus_free(p.bus); /* first: no handler may run once m is gone */
    micro_free(m);
    db_pool_free(p.db);
    redis_pool_free(p.redis);
    token_keys_free(keys);
    return rc;
}
