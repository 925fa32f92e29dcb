/*
 * role_edge_ws.c - `natter edge-ws`: the WebSocket gateway process.
 *
 * The main thread runs one libuv loop that carries the WebSockets (lws),
 * the NATS socket (bus on the loop) and the stop signals (uv_signal_t:
 * with a foreign loop lws installs no handlers of its own).  The first
 * SIGTERM, SIGINT or SIGHUP starts a drain (ws_edge_drain: new sockets are
 * refused, the open ones are closed 1012 with a reconnect delay hint over
 * ws.drain_s); when it is done, or on a second signal, or after
 * ops.drain_timeout_s, inside the loop: the edge stops (the sockets left
 * close, their presence `down` reports are published, subscriptions go),
 * the bus writes out what is buffered and closes, and uv_run returns once
 * every handle is closed.  Then the bus is drained (late nats callbacks
 * finish) and what they used is freed.
 */
#include "cmd/role_common.h"
#include "common/err.h"
#include "common/log.h"
#include "edge/revocations.h"
#include "edge/ws/ws_edge.h"

#include <signal.h>
#include <uv.h>

#define EDGE_CLOSE_FLUSH_MS 2000   /* at most this long to write out the bus buffer */

static const int stop_signals[] = {SIGTERM, SIGINT, SIGHUP};
#define N_STOP_SIGNALS (sizeof stop_signals / sizeof stop_signals[0])

typedef struct edge_run {
    ws_edge_t *e;
    uv_signal_t sig[N_STOP_SIGNALS];
    int n_sig;                 /* initialised handles in sig */
    uv_timer_t timer;          /* drain deadline; at 0 once the drain is done */
    int timer_ok;
    int draining, drained, stopping;
    long drain_timeout_ms;     /* ops.drain_timeout_s */
} edge_run_t;

/* Loop thread: everything the loop holds goes, so uv_run can return. */
static void run_stop(edge_run_t *r)
{
    if (r->stopping)
        return;
    r->stopping = 1;
    ws_edge_log_stats(r->e);
    ws_edge_stop(r->e);
    for (int i = 0; i < r->n_sig; i++)
        uv_close((uv_handle_t *)&r->sig[i], NULL);
    if (r->timer_ok)
        uv_close((uv_handle_t *)&r->timer, NULL);
    if (r->e->bus)
        bus_loop_close(r->e->bus, EDGE_CLOSE_FLUSH_MS);
}

static void on_timer(uv_timer_t *h)
{
    edge_run_t *r = h->data;
    if (!r->stopping && !r->drained)
        log_warn("drain took longer than ops.drain_timeout_s, stopping", "timeout_ms=%ld",
                 r->drain_timeout_ms);
    run_stop(r);
}

/* ws_edge_drain's done: called inside an lws timer, so stop on the next
 * loop turn rather than destroy the context under lws's feet. */
static void on_drained(void *arg)
{
    edge_run_t *r = arg;
    r->drained = 1;
    uv_timer_start(&r->timer, on_timer, 0, 0);
}

static void on_signal(uv_signal_t *h, int sig)
{
    edge_run_t *r = h->data;
    const char *name = sig == SIGTERM ? "TERM" : sig == SIGINT ? "INT" : "HUP";
    if (r->draining || !r->timer_ok) {
        log_info("stopping now", "role=edge-ws signal=%s", name);
        run_stop(r);
        return;
    }
    log_info("stopping", "role=edge-ws signal=%s drain_timeout_s=%ld", name,
             r->drain_timeout_ms / 1000);
    r->draining = 1;
    uv_timer_start(&r->timer, on_timer, (uint64_t)r->drain_timeout_ms, 0);
    ws_edge_drain(r->e, on_drained, r);
}

/* main() blocked the stop signals for every thread (sigwait roles); this
 * thread takes them back, through libuv's handler. */
static int signals_start(edge_run_t *r, uv_loop_t *loop)
{
    sigset_t set;
    sigemptyset(&set);
    if (uv_timer_init(loop, &r->timer) != 0)
        return NT_EINTERNAL;
    r->timer_ok = 1;
    r->timer.data = r;
    for (size_t i = 0; i < N_STOP_SIGNALS; i++) {
        if (uv_signal_init(loop, &r->sig[i]) != 0)
            return NT_EINTERNAL;
        r->n_sig++;
        r->sig[i].data = r;
        if (uv_signal_start(&r->sig[i], on_signal, stop_signals[i]) != 0)
            return NT_EINTERNAL;
        sigaddset(&set, stop_signals[i]);
    }
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return NT_OK;
}

static int read_config(const config_t *c, ws_edge_t *e)
{
    long port, max_frame, idle, outq, outq_bytes, timeout, ack_timeout, resend_max, unacked;
    long heartbeat, per_addr, sndbuf, drain_s, jitter_ms;
    if (config_int(c, "ws.port", 8081, 1, 65535, &port) ||
        config_int(c, "ws.max_frame", 16384, 256, 1 << 20, &max_frame) ||
        config_int(c, "ws.idle_timeout_s", 60, 1, 86400, &idle) ||
        config_int(c, "ws.max_outq", 256, 1, 1 << 20, &outq) ||
        config_int(c, "ws.max_outq_bytes", 1 << 20, 4096, 1 << 30, &outq_bytes) ||
        config_int(c, "ws.ack_timeout_s", 10, 1, 3600, &ack_timeout) ||
        config_int(c, "ws.resend_max", 3, 0, 100, &resend_max) ||
        config_int(c, "ws.max_unacked", 512, 0, 1 << 16, &unacked) ||
        config_int(c, "ws.presence_heartbeat_s", 20, 0, 3600, &heartbeat) ||
        config_int(c, "ws.max_conns_per_addr", 2000, 0, 1 << 20, &per_addr) ||
        config_int(c, "ws.sndbuf", 65536, 0, 1 << 26, &sndbuf) ||
        config_int(c, "ws.drain_s", 5, 0, 3600, &drain_s) ||
        config_int(c, "ws.drain_jitter_ms", 1000, 0, 600000, &jitter_ms) ||
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
    e->max_conns_per_addr = (int)per_addr;
    e->sndbuf = (int)sndbuf;
    e->drain_ms = (int)drain_s * 1000;
    e->drain_jitter_ms = (int)jitter_ms;
    /* The same key and rule as edge-http: one list of proxies per site. */
    const char *proxies = config_str(c, "http.trusted_proxies", "");
    if (client_addr_proxies(proxies, e->proxies, CLIENT_ADDR_PROXIES_MAX, &e->nproxies) != NT_OK) {
        log_error("bad http.trusted_proxies", "value=\"%s\" want=\"comma-separated CIDR blocks\"",
                  proxies);
        return NT_ECONFIG;
    }
    return NT_OK;
}

int role_edge_ws(const role_ctx_t *ctx)
{
    const config_t *c = ctx->cfg;
    ws_edge_t e = {0};
    edge_run_t run = {.e = &e};
    token_keys_t *keys = NULL;
    revocations_t *rev = NULL;
    iprules_t *ipr = NULL;
    uv_loop_t loop;
    int rc = 1;
    if (read_config(c, &e) != NT_OK ||
        role_drain_timeout_ms(ctx, &run.drain_timeout_ms) != NT_OK)
        return 2;
    const char *pub = config_str(c, "auth.public_key", "var/keys/jwt.pub");
    if (token_keys_load(NULL, pub, &keys) != NT_OK) {
        log_error("cannot load the token public key", "path=%s", pub);
        return 1;
    }
    e.keys = keys;
    if (uv_loop_init(&loop) != 0) {
        token_keys_free(keys);
        return 1;
    }
    e.loop = &loop;
    if (metrics_new(&e.metrics) != NT_OK || denylist_new(&e.deny) != NT_OK ||
        role_bus_connect_loop(ctx, "edge", &loop, &e.bus) != NT_OK ||
        revocations_start(e.bus, e.deny, e.timeout_ms, 60, &rev) != NT_OK ||
        ws_edge_start(&e) != NT_OK ||
        iprules_start(e.bus, e.timeout_ms, 60, ws_edge_iprules_changed, &e, &ipr) != NT_OK ||
        signals_start(&run, &loop) != NT_OK) {
        run_stop(&run);
        uv_run(&loop, UV_RUN_DEFAULT);      /* let the handles close */
        goto done;
    }
    e.iprules = ipr;                        /* read by the loop from now on */
    uv_run(&loop, UV_RUN_DEFAULT);          /* until run_stop */
    rc = 0;
done:
    if (e.bus && bus_drain(e.bus, 1000) != NT_OK)
        rc = 1;
    log_info("drained", "ok=%s", rc == 0 ? "yes" : "no");
    revocations_stop(rev);
    iprules_stop(ipr);                      /* its callback reaches into e.st */
    e.iprules = NULL;
    ws_edge_free(&e);
    if (uv_loop_close(&loop) != 0) {
        log_error("event loop still has handles", "role=edge-ws");
        rc = 1;
    }
    bus_free(e.bus);
    denylist_free(e.deny);
    metrics_free(e.metrics);
    token_keys_free(keys);
    return rc;
}
