/*
 * test_micro.c - the hand-made NATS micro protocol: the PING/INFO/STATS
 * documents (built without a connection), name and version validation, and,
 * against a real nats-server, the nine $SRV subjects, queue-group endpoints
 * and the request/error/time counters in STATS.
 */
#include "bus/bus.h"
#include "bus/micro.h"
#include "common/err.h"
#include "common/log.h"
#include "nats_fixture.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <jansson.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static void srv_start(void)
{
    log_init("test_micro", LOG_WARN);
    srv_start_on(free_port(), NULL, NULL);
}

static void srv_stop_all(void)
{
    srv_stop();
    nats_CloseAndWait(2000);
}

/* ---- helpers ---- */

static int noop_handler(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    (void)msg;
    (void)arg;
    return 0;
}

static json_t *parse(char *s)
{
    cr_assert_not_null(s);
    json_error_t e;
    json_t *j = json_loads(s, 0, &e);
    cr_assert_not_null(j, "bad JSON: %s: %s", e.text, s);
    free(s);
    return j;
}

static const char *str(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_string(v), "%s is not a string", key);
    return json_string_value(v);
}

static json_int_t num(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    cr_assert(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

static void check_identity(json_t *j, const char *type, micro_t *m)
{
    cr_assert_str_eq(str(j, "type"), type);
    cr_assert_str_eq(str(j, "name"), "auth");
    cr_assert_str_eq(str(j, "id"), micro_id(m));
    cr_assert_str_eq(str(j, "version"), "0.1.0");
    cr_assert(json_is_object(json_object_get(j, "metadata")));
}

static micro_t *new_auth(bus_t *bus)
{
    micro_t *m = NULL;
    cr_assert_eq(micro_new(bus, "auth", "0.1.0", "Accounts and tokens", &m), NT_OK);
    return m;
}

/* ---- documents without a connection ---- */

Test(micro, id_is_22_alnum_and_unique)
{
    micro_t *a = new_auth(NULL), *b = new_auth(NULL);
    const char *id = micro_id(a);
    cr_assert_eq(strlen(id), 22);
    for (int i = 0; i < 22; i++)
        cr_assert(strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", id[i]));
    cr_assert_str_neq(id, micro_id(b));
    micro_free(a);
    micro_free(b);
    micro_free(NULL);
}

Test(micro, ping_json)
{
    micro_t *m = new_auth(NULL);
    json_t *j = parse(micro_ping_json(m));
    check_identity(j, "io.nats.micro.v1.ping_response", m);
    json_decref(j);
    micro_free(m);
}

Test(micro, info_json)
{
    micro_t *m = new_auth(NULL);
    cr_assert_eq(micro_add_endpoint(m, "login", "im.svc.auth.login", 2, noop_handler, NULL), NT_OK);
    cr_assert_eq(micro_add_endpoint(m, "register", "im.svc.auth.register", 1, noop_handler, NULL),
                 NT_OK);
    json_t *j = parse(micro_info_json(m));
    check_identity(j, "io.nats.micro.v1.info_response", m);
    cr_assert_str_eq(str(j, "description"), "Accounts and tokens");
    json_t *eps = json_object_get(j, "endpoints");
    cr_assert(json_is_array(eps));
    cr_assert_eq(json_array_size(eps), 2);
    json_t *e = json_array_get(eps, 0);
    cr_assert_str_eq(str(e, "name"), "login");
    cr_assert_str_eq(str(e, "subject"), "im.svc.auth.login");
    cr_assert_str_eq(str(e, "queue_group"), "auth");
    cr_assert(json_is_object(json_object_get(e, "metadata")));
    cr_assert_str_eq(str(json_array_get(eps, 1), "name"), "register");
    json_decref(j);
    micro_free(m);
}

Test(micro, info_json_without_endpoints)
{
    micro_t *m = NULL;
    cr_assert_eq(micro_new(NULL, "edge-ws", "1.2.3-rc.1+build.7", NULL, &m), NT_OK);
    json_t *j = parse(micro_info_json(m));
    cr_assert_str_eq(str(j, "description"), "");
    cr_assert_str_eq(str(j, "version"), "1.2.3-rc.1+build.7");
    cr_assert_eq(json_array_size(json_object_get(j, "endpoints")), 0);
    cr_assert(json_is_array(json_object_get(j, "endpoints")));
    json_decref(j);
    micro_free(m);
}

Test(micro, stats_json_fresh)
{
    micro_t *m = new_auth(NULL);
    cr_assert_eq(micro_add_endpoint(m, "login", "im.svc.auth.login", 1, noop_handler, NULL), NT_OK);
    json_t *j = parse(micro_stats_json(m));
    check_identity(j, "io.nats.micro.v1.stats_response", m);
    const char *started = str(j, "started");
    int Y, M, D, h, mi, s;
    long ns;
    char z = 0;
    cr_assert_eq(sscanf(started, "%4d-%2d-%2dT%2d:%2d:%2d.%9ld%c", &Y, &M, &D, &h, &mi, &s, &ns, &z),
                 8, "not RFC 3339: %s", started);
    cr_assert_eq(z, 'Z');
    cr_assert_eq(strlen(started), strlen("2026-11-23T09:40:01.123456789Z"));
    cr_assert(Y >= 2024);
    json_t *e = json_array_get(json_object_get(j, "endpoints"), 0);
    cr_assert_not_null(e);
    cr_assert_str_eq(str(e, "name"), "login");
    cr_assert_str_eq(str(e, "subject"), "im.svc.auth.login");
    cr_assert_str_eq(str(e, "queue_group"), "auth");
    cr_assert_eq(num(e, "num_requests"), 0);
    cr_assert_eq(num(e, "num_errors"), 0);
    cr_assert_str_eq(str(e, "last_error"), "");
    cr_assert_eq(num(e, "processing_time"), 0);
    cr_assert_eq(num(e, "average_processing_time"), 0);
    json_decref(j);
    micro_free(m);
}

Test(micro, validation)
{
    micro_t *m = (micro_t *)1;
    const char *bad_names[] = {NULL, "", "a.b", "a b", "a*", "a>", "$SRV", "auth\n"};
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++) {
        cr_assert_eq(micro_new(NULL, bad_names[i], "1.0.0", "", &m), NT_EINVAL, "name %zu", i);
        cr_assert_null(m);
    }
    const char *bad_versions[] = {NULL, "", "1", "1.0", "v1.0.0", "01.0.0", "1.00.0", "1.0.0-",
                                  "1.0.0-01", "1.0.0+", "1.0.0-a..b", "1.0.0 ", "1.0.0-a_b"};
    for (size_t i = 0; i < sizeof bad_versions / sizeof bad_versions[0]; i++)
        cr_assert_eq(micro_new(NULL, "auth", bad_versions[i], "", &m), NT_EINVAL, "version %zu", i);
    const char *good_versions[] = {"0.0.0", "0.1.0", "10.20.30", "1.0.0-alpha", "1.0.0-0.3.7",
                                   "1.0.0-x-y.z", "1.0.0+001", "1.0.0-rc.1+sha.5114f85"};
    for (size_t i = 0; i < sizeof good_versions / sizeof good_versions[0]; i++) {
        cr_assert_eq(micro_new(NULL, "auth", good_versions[i], "", &m), NT_OK, "version %zu", i);
        micro_free(m);
    }
    cr_assert_eq(micro_new(NULL, "auth", "1.0.0", "", NULL), NT_EINVAL);

    m = new_auth(NULL);
    cr_assert_eq(micro_add_endpoint(m, "lo.gin", "x", 1, noop_handler, NULL), NT_EINVAL);
    cr_assert_eq(micro_add_endpoint(m, "login", "has space", 1, noop_handler, NULL), NT_EINVAL);
    cr_assert_eq(micro_add_endpoint(m, "login", "", 1, noop_handler, NULL), NT_EINVAL);
    cr_assert_eq(micro_add_endpoint(m, "login", "x", 0, noop_handler, NULL), NT_EINVAL);
    cr_assert_eq(micro_add_endpoint(m, "login", "x", 1, NULL, NULL), NT_EINVAL);
    cr_assert_eq(micro_start(m), NT_EINVAL, "no bus, no start");
    micro_free(m);
}

/* ---- on a real server ---- */

static atomic_int calls;

/* "fail" -> error reply and NT_ENOTFOUND; "slow" -> 20 ms; else echo. */
static int echo_handler(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)arg;
    atomic_fetch_add(&calls, 1);
    int len = natsMsg_GetDataLength(msg);
    const char *d = natsMsg_GetData(msg);
    if (len == 4 && memcmp(d, "fail", 4) == 0) {
        bus_reply_error(bus, msg, NT_ENOTFOUND, "nope");
        return NT_ENOTFOUND;
    }
    if (len == 4 && memcmp(d, "slow", 4) == 0)
        usleep(20 * 1000);
    if (natsMsg_GetReply(msg))
        bus_reply(bus, msg, "natter.Echo", d, len);
    return 0;
}

static bus_t *connect_bus(void)
{
    bus_opts_t o = {.url = srv_url, .role = "test", .delivery_threads = 4};
    bus_t *bus = NULL;
    cr_assert_eq(bus_connect(&o, &bus), NT_OK);
    return bus;
}

static json_t *request_json(bus_t *bus, const char *subject)
{
    natsMsg *req, *rep = NULL;
    cr_assert_eq(bus_msg_new(subject, NULL, NULL, NULL, NULL, 0, &req), NT_OK);
    int rc = bus_request(bus, req, 2000, &rep);
    cr_assert_eq(rc, NT_OK, "%s: %s", subject, nt_strerror(rc));
    char *s = strndup(natsMsg_GetData(rep), (size_t)natsMsg_GetDataLength(rep));
    natsMsg_Destroy(rep);
    return parse(s);
}

static int request(bus_t *bus, const char *subject, const char *data)
{
    natsMsg *req, *rep = NULL;
    cr_assert_eq(bus_msg_new(subject, "natter.Test", NULL, NULL, data, (int)strlen(data), &req),
                 NT_OK);
    int rc = bus_request(bus, req, 2000, &rep);
    if (rc == NT_OK) {
        rc = bus_reply_status(rep, NULL, 0);
        natsMsg_Destroy(rep);
    }
    return rc;
}

TestSuite(micro_live, .init = srv_start, .fini = srv_stop_all, .timeout = 30);

Test(micro_live, srv_subjects_answer)
{
    bus_t *bus = connect_bus();
    micro_t *m = new_auth(bus);
    cr_assert_eq(micro_add_endpoint(m, "echo", "t.echo", 2, echo_handler, NULL), NT_OK);
    cr_assert_eq(micro_start(m), NT_OK);
    cr_assert_eq(micro_add_endpoint(m, "late", "t.late", 1, echo_handler, NULL), NT_EINVAL,
                 "endpoints are fixed once started");
    cr_assert_eq(micro_start(m), NT_EINVAL, "start once");

    const char *verbs[] = {"PING", "INFO", "STATS"};
    const char *types[] = {"io.nats.micro.v1.ping_response", "io.nats.micro.v1.info_response",
                           "io.nats.micro.v1.stats_response"};
    for (int v = 0; v < 3; v++) {
        char subj[3][128];
        snprintf(subj[0], sizeof subj[0], "$SRV.%s", verbs[v]);
        snprintf(subj[1], sizeof subj[1], "$SRV.%s.auth", verbs[v]);
        snprintf(subj[2], sizeof subj[2], "$SRV.%s.auth.%s", verbs[v], micro_id(m));
        for (int i = 0; i < 3; i++) {
            json_t *j = request_json(bus, subj[i]);
            check_identity(j, types[v], m);
            json_decref(j);
        }
    }
    natsMsg *req, *rep = NULL;
    cr_assert_eq(bus_msg_new("$SRV.PING.other", NULL, NULL, NULL, NULL, 0, &req), NT_OK);
    cr_assert_eq(bus_request(bus, req, 1000, &rep), NT_EUNAVAIL, "another service's name");

    cr_assert_eq(bus_drain(bus, 2000), NT_OK);
    micro_free(m);
    bus_free(bus);
}

Test(micro_live, stats_count_requests_errors_and_time)
{
    bus_t *bus = connect_bus();
    micro_t *m = new_auth(bus);
    cr_assert_eq(micro_add_endpoint(m, "echo", "t.echo", 3, echo_handler, NULL), NT_OK);
    cr_assert_eq(micro_add_endpoint(m, "idle", "t.idle", 1, echo_handler, NULL), NT_OK);
    cr_assert_eq(micro_start(m), NT_OK);

    cr_assert_eq(request(bus, "t.echo", "hello"), NT_OK);
    cr_assert_eq(request(bus, "t.echo", "slow"), NT_OK);
    cr_assert_eq(request(bus, "t.echo", "fail"), NT_ENOTFOUND);
    cr_assert_eq(request(bus, "t.echo", "again"), NT_OK);

    char subj[128];
    snprintf(subj, sizeof subj, "$SRV.STATS.auth.%s", micro_id(m));
    json_t *j = request_json(bus, subj);
    json_t *eps = json_object_get(j, "endpoints");
    cr_assert_eq(json_array_size(eps), 2);
    json_t *e = json_array_get(eps, 0);
    cr_assert_str_eq(str(e, "name"), "echo");
    cr_assert_str_eq(str(e, "queue_group"), "auth");
    cr_assert_eq(num(e, "num_requests"), 4);
    cr_assert_eq(num(e, "num_errors"), 1);
    cr_assert_str_eq(str(e, "last_error"), "not_found: not found");
    json_int_t total = num(e, "processing_time");
    cr_assert_geq(total, 20 * 1000 * 1000, "the slow request took 20 ms: %lld", (long long)total);
    cr_assert_eq(num(e, "average_processing_time"), total / 4);
    json_t *idle = json_array_get(eps, 1);
    cr_assert_eq(num(idle, "num_requests"), 0);
    json_decref(j);

    /* The same counters as Prometheus text (a pool's /metrics). */
    size_t len = 0;
    textbuf_t t = {0};
    micro_prometheus(m, &t);
    char *prom = textbuf_take(&t, &len);
    cr_assert_not_null(prom);
    cr_assert_eq(strlen(prom), len);
    cr_assert_not_null(strstr(prom, "\nnatter_requests_total{service=\"auth\",endpoint=\"echo\"} 4\n"));
    cr_assert_not_null(strstr(prom, "\nnatter_requests_total{service=\"auth\",endpoint=\"idle\"} 0\n"));
    cr_assert_not_null(strstr(prom, "\nnatter_request_errors_total{service=\"auth\",endpoint=\"echo\"} 1\n"));
    const char *secs = strstr(prom, "natter_request_seconds_total{service=\"auth\",endpoint=\"echo\"} ");
    cr_assert_not_null(secs);
    cr_assert_geq(strtod(strchr(secs, '}') + 2, NULL), 0.020);
    cr_assert_not_null(strstr(prom, "# TYPE natter_requests_total counter\n"));
    free(prom);

    cr_assert_eq(bus_drain(bus, 2000), NT_OK);
    micro_free(m);
    bus_free(bus);
}

Test(micro_live, workers_share_a_queue_group)
{
    bus_t *bus = connect_bus();
    micro_t *m = new_auth(bus);
    cr_assert_eq(micro_add_endpoint(m, "echo", "t.echo", 3, echo_handler, NULL), NT_OK);
    cr_assert_eq(micro_start(m), NT_OK);
    atomic_store(&calls, 0);
    for (int i = 0; i < 30; i++) {
        natsMsg *msg;
        cr_assert_eq(bus_msg_new("t.echo", "natter.Test", NULL, NULL, "x", 1, &msg), NT_OK);
        cr_assert_eq(bus_publish(bus, msg), NT_OK);
    }
    cr_assert_eq(natsConnection_Flush(bus_conn(bus)), NATS_OK);
    for (int i = 0; i < 200 && atomic_load(&calls) < 30; i++)
        usleep(10000);
    usleep(50000);
    cr_assert_eq(atomic_load(&calls), 30, "each message handled once, not once per worker");
    json_t *j = parse(micro_stats_json(m));
    cr_assert_eq(num(json_array_get(json_object_get(j, "endpoints"), 0), "num_requests"), 30);
    json_decref(j);

    cr_assert_eq(bus_drain(bus, 2000), NT_OK);
    micro_free(m);
    bus_free(bus);
}

/* micro_call: a message taken off the bus by its caller (bus_inline) is
 * run by the endpoint's handler and counted like a delivered one. */
Test(micro_live, call_counts_like_a_delivery)
{
    bus_t *bus = connect_bus();
    micro_t *m = new_auth(bus);
    cr_assert_eq(micro_add_endpoint(m, "echo", "t.echo", 1, echo_handler, NULL), NT_OK);
    cr_assert_eq(micro_start(m), NT_OK);
    int before = atomic_load(&calls);
    natsMsg *ok = NULL, *bad = NULL;
    cr_assert_eq(natsMsg_Create(&ok, "t.echo", NULL, "hi", 2), NATS_OK);
    cr_assert_eq(natsMsg_Create(&bad, "t.echo", NULL, "fail", 4), NATS_OK);
    cr_assert_eq(micro_call(m, "echo", bus, ok), NT_OK);
    cr_assert_eq(micro_call(m, "echo", bus, bad), NT_OK);
    cr_assert_eq(micro_call(m, "nope", bus, ok), NT_ENOTFOUND);
    cr_assert_eq(atomic_load(&calls), before + 2);
    micro_ep_stat_t st[2];
    cr_assert_eq(micro_endpoint_stats(m, st, 2), 1);
    cr_assert_eq(st[0].num_requests, 2);
    cr_assert_eq(st[0].num_errors, 1);
    natsMsg_Destroy(ok);
    natsMsg_Destroy(bad);
    cr_assert_eq(bus_drain(bus, 2000), NT_OK);
    micro_free(m);
    bus_free(bus);
}
