/*
 * role_ops.c - the pools' /healthz and /metrics listener (role_ops.h).
 *
 * civetweb, like edge-http, with two threads: scrapes and probes are rare
 * and cheap.  /healthz answers 200 {"status":"ok"} when the bus is
 * connected and the database (and Redis, where the role cannot work
 * without it) answers a ping, else 503 {"status":"unavailable","failed":
 * "<dependency>"}.  /metrics is the endpoint counters (the numbers behind
 * $SRV.STATS), the NATS connection's, the process's (memory, CPU, fds)
 * and the role's own (role_ops_deps_t.prom).
 */
#include "cmd/role_ops.h"

#include "common/err.h"
#include "common/log.h"
#include "common/proc_stat.h"

#include <civetweb.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct role_ops {
    role_ops_deps_t d;
    struct mg_context *mg;
};

static void reply(struct mg_connection *c, int status, const char *type, const char *body,
                  size_t len)
{
    mg_printf(c,
              "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
              "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
              status, status == 200 ? "OK" : status == 404 ? "Not Found" : "Service Unavailable",
              type, len);
    mg_write(c, body, len);
}

/* The first dependency that does not answer, or NULL. */
static const char *failed_dependency(const role_ops_t *o)
{
    if (!bus_connected(o->d.bus))
        return "nats";
    if (o->d.db && db_ping(o->d.db) != NT_OK)
        return "db";
    if (o->d.redis && o->d.redis_required) {
        redisReply *r = NULL;
        int rc = redis_cmd(o->d.redis, &r, "PING");
        int bad = rc != NT_OK || !r || r->type == REDIS_REPLY_ERROR;
        if (r)
            freeReplyObject(r);
        if (bad)
            return "redis";
    }
    return NULL;
}

static int on_request(struct mg_connection *c, void *arg)
{
    role_ops_t *o = arg;
    const struct mg_request_info *ri = mg_get_request_info(c);
    if (strcmp(ri->request_method, "GET") != 0 && strcmp(ri->request_method, "HEAD") != 0) {
        reply(c, 404, "application/json", "{\"error\":\"not_found\"}", 21);
        return 404;
    }
    if (strcmp(ri->local_uri, "/healthz") == 0) {
        const char *bad = failed_dependency(o);
        char body[96];
        int n = bad ? snprintf(body, sizeof body, "{\"status\":\"unavailable\",\"failed\":\"%s\"}", bad)
                    : snprintf(body, sizeof body, "{\"status\":\"ok\"}");
        reply(c, bad ? 503 : 200, "application/json", body, (size_t)n);
        return bad ? 503 : 200;
    }
    if (strcmp(ri->local_uri, "/metrics") == 0) {
        textbuf_t t = {0};
        size_t len = 0;
        micro_prometheus(o->d.micro, &t);
        if (o->d.prom)
            o->d.prom(o->d.prom_arg, &t);
        bus_prometheus(o->d.bus, &t);
        proc_stat_prometheus(&t);
        char *text = textbuf_take(&t, &len);
        if (!text) {
            reply(c, 503, "application/json", "{\"status\":\"unavailable\"}", 24);
            return 503;
        }
        reply(c, 200, "text/plain; version=0.0.4", text, len);
        free(text);
        return 200;
    }
    reply(c, 404, "application/json", "{\"error\":\"not_found\"}", 21);
    return 404;
}

static int on_log(const struct mg_connection *conn, const char *message)
{
    (void)conn;
    log_warn("civetweb", "detail=\"%.200s\"", message);
    return 1;
}

int role_ops_start(const role_ctx_t *ctx, const role_ops_deps_t *deps, role_ops_t **out)
{
    long port;
    *out = NULL;
    if (config_int(ctx->cfg, "ops.http_port", 0, 0, 65535, &port) != NT_OK)
        return NT_EINVAL;
    if (port == 0)
        return NT_OK;
    role_ops_t *o = calloc(1, sizeof *o);
    if (!o)
        return NT_ENOMEM;
    o->d = *deps;
    char listen[128];
    snprintf(listen, sizeof listen, "%s:%ld", config_str(ctx->cfg, "ops.bind", "127.0.0.1"), port);
    const char *options[] = {"listening_ports", listen, "num_threads", "2",
                             "request_timeout_ms", "10000", NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    cb.log_message = on_log;
    mg_init_library(0);
    o->mg = mg_start(&cb, o, options);
    if (!o->mg) {
        log_error("cannot listen for /healthz and /metrics", "addr=%s", listen);
        mg_exit_library();
        free(o);
        return NT_EIO;
    }
    mg_set_request_handler(o->mg, "**", on_request, o);
    log_info("ops endpoints listening", "addr=%s paths=/healthz,/metrics", listen);
    *out = o;
    return NT_OK;
}

void role_ops_stop(role_ops_t *o)
{
    if (!o)
        return;
    mg_stop(o->mg);
    mg_exit_library();
    free(o);
}
