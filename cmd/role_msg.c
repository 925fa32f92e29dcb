/*
 * role_msg.c - `natter msg`: the msg pool process (conversations and
 * messages).
 *
 * Wires config, database pool and the bus into the "msg" micro service,
 * then waits for SIGTERM and drains: NATS stops routing new requests to us,
 * in-flight sends finish (commit, reply, fan-out) and are flushed, then we
 * exit 0.  Any number of these may run: the store orders messages.
 */
#include "actors/msg_pool.h"
#include "cmd/role_common.h"
#include "common/err.h"
#include "common/log.h"
#include "common/version.h"

int role_msg(const role_ctx_t *ctx)
{
    msg_pool_t p = {0};
    micro_t *m = NULL;
    long workers, text_max;
    int rc = 1;
    if (config_int(ctx->cfg, "msg.workers", 4, 1, 64, &workers) ||
        config_int(ctx->cfg, "msg.text_max", 4000, 1, 65536, &text_max))
        return 2;
    p.text_max = text_max;
    p.db_wait_ms = 2000;
    if (role_db_open(ctx, &p.db) != NT_OK ||
        role_bus_connect(ctx, "msg", (int)workers, &p.bus) != NT_OK)
        goto done;
    if (micro_new(p.bus, "msg", NATTER_VERSION, "natter conversations and messages", &m) != NT_OK ||
        msg_pool_register(&p, m, (int)workers) != NT_OK || micro_start(m) != NT_OK) {
        log_error("cannot start the msg service", NULL);
        goto done;
    }
    log_info("msg pool ready", "id=%s workers=%ld text_max=%ld", micro_id(m), workers, text_max);
    role_wait_stop(ctx);
    rc = bus_drain(p.bus, 10000) == NT_OK ? 0 : 1;
    log_info("drained", "ok=%s", rc == 0 ? "yes" : "no");
done:
    bus_free(p.bus); /* first: no handler may run once m is gone */
    micro_free(m);
    db_pool_free(p.db);
    return rc;
}
