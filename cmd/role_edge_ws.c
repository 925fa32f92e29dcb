/*
 * role_edge_ws.c - `natter edge-ws`: the WebSocket gateway process.
 *
 * Same order as edge-http on the way down: stop the lws loop (sockets and
 * subscriptions go), drain the bus (late nats callbacks finish), then free
 * what they used.
 */
#include "cmd/role_common.h"
#include "common/err.h"
#include "common/log.h"
#include "edge/revocations.h"
#include "edge/ws/ws_edge.h"

static int read_config(const config_t *c, ws_edge_t *e)
{
    long port, max_frame, idle, outq, outq_bytes, timeout, ack_timeout, resend_max, unacked;
    long heartbeat;
    if (config_int(c, "ws.port", 8081, 1, 65535, &port) ||
        config_int(c, "ws.max_frame", 16384, 256, 1 << 20, &max_frame) ||
        config_int(c, "ws.idle_timeout_s", 60, 1, 86400, &idle) ||
        config_int(c, "ws.max_outq", 256, 1, 1 << 20, &outq) ||
        config_int(c, "ws.max_outq_bytes", 1 << 20, 4096, 1 << 30, &outq_bytes) ||
        config_int(c, "ws.ack_timeout_s", 10, 1, 3600, &ack_timeout) ||
        config_int(c, "ws.resend_max", 3, 0, 100, &resend_max) ||
        config_int(c, "ws.max_unacked", 512, 0, 1 << 16, &unacked) ||
        config_int(c, "ws.presence_heartbeat_s", 20, 0, 3600, &heartbeat) ||
        config_int(c, "nats.request_timeout_ms", 3000, 50, 60000, &timeout))
        return NT_ECONFIG;
    e->bind = config_str(c, "ws.bind", "127.0.0.1");
    e->port = (int)port;
    e->max_frame = (size_t)max_frame;
    e->idle_timeout_s = (int)idle;
    e->max_outq = (size_t)outq;
    e->max_outq_bytes = (size_t)outq_bytes;
    e->timeout_ms = (int)timeout;
    e->ack_timeout_s = (int)ack_timeout;
    e->resend_max = (int)resend_max;
    e->max_unacked = (size_t)unacked;
    e->presence_heartbeat_s = (int)heartbeat;
    return NT_OK;
}

int role_edge_ws(const role_ctx_t *ctx)
{
    const config_t *c = ctx->cfg;
    ws_edge_t e = {0};
    token_keys_t *keys = NULL;
    revocations_t *rev = NULL;
    int rc = 1;
    if (read_config(c, &e) != NT_OK)
        return 2;
    const char *pub = config_str(c, "auth.public_key", "var/keys/jwt.pub");
    if (token_keys_load(NULL, pub, &keys) != NT_OK) {
        log_error("cannot load the token public key", "path=%s", pub);
        return 1;
    }
    e.keys = keys;
    if (metrics_new(&e.metrics) != NT_OK || denylist_new(&e.deny) != NT_OK ||
        role_bus_connect(ctx, "edge", 1, &e.bus) != NT_OK ||
        revocations_start(e.bus, e.deny, e.timeout_ms, 60, &rev) != NT_OK ||
        ws_edge_start(&e) != NT_OK)
        goto done;
    role_wait_stop(ctx);
    ws_edge_stop(&e);
    rc = bus_drain(e.bus, 5000) == NT_OK ? 0 : 1;
    log_info("drained", "ok=%s", rc == 0 ? "yes" : "no");
done:
    ws_edge_stop(&e);
    if (rc != 0 && e.bus)
        bus_drain(e.bus, 1000);
    revocations_stop(rev);
    ws_edge_free(&e);
    bus_free(e.bus);
    denylist_free(e.deny);
    metrics_free(e.metrics);
    token_keys_free(keys);
    return rc;
}
