/*
 * role_edge_http.c - `natter edge-http`: the REST gateway process.
 *
 * Order matters on the way down: first http.drain_s of serving while
 * /healthz says "draining" and no connection is kept alive (a balancer
 * moves clients away; closing the listener at once would reset the
 * connections still in its queue), then stop civetweb (no new requests,
 * the in-flight ones finish their bus calls), then drain the bus (the
 * deny-list subscription stops), then free what the handlers used.
 */
#include "cmd/role_common.h"
#include "common/err.h"
#include "common/log.h"
#include "edge/http/http_edge.h"
#include "edge/revocations.h"

#include <errno.h>
#include <time.h>

int role_edge_http(const role_ctx_t *ctx)
{
    const config_t *c = ctx->cfg;
    http_edge_t e = {0};
    token_keys_t *keys = NULL;
    revocations_t *rev = NULL;
    long port, threads, max_body, timeout, max_upload, req_ms, ka_ms, stack_kb, ws_port, drain_s;
    int rc = 1;
    if (config_int(c, "http.port", 8080, 1, 65535, &port) ||
        config_int(c, "http.threads", 32, 1, 1024, &threads) ||
        config_int(c, "http.max_body", 1 << 20, 1024, 1 << 30, &max_body) ||
        config_int(c, "nats.request_timeout_ms", 3000, 50, 60000, &timeout) ||
        config_int(c, "media.max_upload_bytes", 26214400, 1, 1L << 40, &max_upload) ||
        config_int(c, "http.request_timeout_ms", HTTP_REQUEST_TIMEOUT_MS, 100, 600000, &req_ms) ||
        config_int(c, "http.keep_alive_timeout_ms", HTTP_KEEP_ALIVE_MS, 0, 600000, &ka_ms) ||
        config_int(c, "http.worker_stack_kb", HTTP_WORKER_STACK / 1024, 128, 65536, &stack_kb) ||
        config_int(c, "ws.port", 8081, 1, 65535, &ws_port) ||
        config_int(c, "http.drain_s", 2, 0, 600, &drain_s))
        return 2;
    e.request_timeout_ms = (int)req_ms;
    e.keep_alive_ms = (int)ka_ms;
    e.worker_stack = (size_t)stack_kb * 1024;
    e.max_body = (size_t)max_body;
    e.media_root = config_str(c, "media.root", "var/media");
    e.max_upload = (size_t)max_upload;
    e.web_root = config_str(c, "http.web_root", "web");
    if (!e.web_root[0])
        e.web_root = NULL; /* empty: no web client */
    e.ws_url = config_str(c, "http.ws_url", "");
    e.ws_port = (int)ws_port;
    e.timeout_ms = (int)timeout;
    const char *proxies = config_str(c, "http.trusted_proxies", "");
    if (client_addr_proxies(proxies, e.proxies, CLIENT_ADDR_PROXIES_MAX, &e.nproxies) != NT_OK) {
        log_error("bad http.trusted_proxies", "value=\"%s\" want=\"comma-separated CIDR blocks\"",
                  proxies);
        return 2;
    }
    const char *pub = config_str(c, "auth.public_key", "var/keys/jwt.pub");
    if (token_keys_load(NULL, pub, &keys) != NT_OK) {
        log_error("cannot load the token public key", "path=%s", pub);
        return 1;
    }
    e.keys = keys;
    if (metrics_new(&e.metrics) != NT_OK || denylist_new(&e.deny) != NT_OK ||
        role_bus_connect(ctx, "edge", 1, &e.bus) != NT_OK ||
        revocations_start(e.bus, e.deny, (int)timeout, 60, &rev) != NT_OK ||
        !(e.revs = rev) || iprules_start(e.bus, (int)timeout, 60, NULL, NULL, &e.iprules) != NT_OK ||
        http_edge_start(&e, config_str(c, "http.bind", "127.0.0.1"), (int)port, (int)threads) !=
            NT_OK)
        goto done;
    role_wait_stop(ctx);
    http_edge_drain(&e);
    log_info("draining", "drain_s=%ld", drain_s);
    struct timespec ts = {.tv_sec = drain_s, .tv_nsec = 0};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
    http_edge_stop(&e);
    rc = bus_drain(e.bus, 5000) == NT_OK ? 0 : 1;
    log_info("drained", "ok=%s", rc == 0 ? "yes" : "no");
done:
    http_edge_stop(&e);
    if (rc != 0 && e.bus)
        bus_drain(e.bus, 1000);
    revocations_stop(rev);
    iprules_stop(e.iprules);
    bus_free(e.bus);
    denylist_free(e.deny);
    metrics_free(e.metrics);
    token_keys_free(keys);
    return rc;
}
