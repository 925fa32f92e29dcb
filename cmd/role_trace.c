/*
 * role_trace.c - `natter trace [subject ...]`: print bus traffic for
 * people, one line per message, bodies decoded (the nats CLI is not in
 * Debian, and `nats sub` could show headers but not protobuf bodies).
 *
 *   12:03:04.512 im.conv.7.send reply=_INBOX.x.12 type=natter.SendReq uid=3
 *     trace=4bf9... {"conversation_id":"7","client_msg_id":"c1",...}
 *
 * Subjects default to "im.>" (requests, pushes and events; replies go to
 * inboxes: add '_INBOX.>' to see them).  It connects as the read-only NATS
 * user "ops"; its password comes from nats.password or, as ops/up leaves
 * it in var/keys/secrets.env, NATTER_NATS_PW_OPS.  Secrets in bodies are
 * masked (bus/pb_json.h).  One delivery thread keeps lines in order.
 */
#include "cmd/role_common.h"
#include "cmd/roles.h"

#include "bus/bus.h"
#include "bus/pb_json.h"
#include "common/err.h"
#include "common/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void header(FILE *f, natsMsg *msg, const char *name, const char *label)
{
    const char *v = bus_header(msg, name);
    if (v)
        fprintf(f, " %s=%s", label, v);
}

static void print_msg(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    FILE *f = arg;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    const char *type = bus_header(msg, BUS_H_TYPE), *reply = natsMsg_GetReply(msg);
    const char *tp = bus_header(msg, BUS_H_TRACE);
    char trace[33] = "";
    if (tp)
        bus_trace_id(tp, trace, sizeof trace);
    int len = natsMsg_GetDataLength(msg);
    json_t *body = type ? pb_json_decode(type, natsMsg_GetData(msg), (size_t)len) : NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;

    pthread_mutex_lock(&out_mu);
    fprintf(f, "%02d:%02d:%02d.%03ld %s", tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
            natsMsg_GetSubject(msg));
    if (reply && *reply)
        fprintf(f, " reply=%s", reply);
    header(f, msg, BUS_H_TYPE, "type");
    header(f, msg, BUS_H_UID, "uid");
    header(f, msg, BUS_H_ERROR, "error");
    if (tp)
        fprintf(f, " trace=%s", trace);
    if (text)
        fprintf(f, " %s\n", text);
    else if (len > 0)
        fprintf(f, " <%d bytes%s>\n", len, type ? ", undecodable" : "");
    else
        fputc('\n', f);
    fflush(f);
    pthread_mutex_unlock(&out_mu);
    free(text);
    json_decref(body);
}

int role_trace(const role_ctx_t *ctx)
{
    /* ops/up's secrets.env names the ops password NATTER_NATS_PW_OPS. */
    const char *ops_pw = getenv("NATTER_NATS_PW_OPS");
    if (!getenv("NATTER_NATS_PASSWORD") && ops_pw) {
        setenv("NATTER_NATS_USER", "ops", 1);
        setenv("NATTER_NATS_PASSWORD", ops_pw, 1);
    }
    bus_t *bus = NULL;
    if (role_bus_connect(ctx, "ops", 1, &bus) != NT_OK)
        return 1;
    int n = ctx->argc > 0 ? ctx->argc : 1;
    for (int i = 0; i < n; i++) {
        const char *subject = ctx->argc > 0 ? ctx->argv[i] : "im.>";
        if (bus_subscribe(bus, subject, NULL, print_msg, stdout) != NT_OK) {
            log_error("cannot subscribe", "subject=%s", subject);
            bus_free(bus);
            return 1;
        }
        log_info("tracing", "subject=%s", subject);
    }
    role_wait_stop(ctx);
    int rc = bus_drain(bus, 2000) == NT_OK ? 0 : 1;
    bus_free(bus);
    return rc;
}
