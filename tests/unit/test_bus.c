/*
 * test_bus.c - bus against a real nats-server started by each test on a
 * free loopback port: connect policy (start before the server, bounded
 * wait, reconnect, auth, URL lists), request/reply with natter's headers,
 * error replies, queue groups, drain, and trace context helpers.
 */
#include "bus/bus.h"
#include "common/err.h"
#include "common/log.h"
#include "nats_fixture.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void setup(void)
{
    log_init("test_bus", LOG_WARN);
    srv_start_on(free_port(), NULL, NULL);
}

static void teardown(void)
{
    srv_stop();
    nats_CloseAndWait(2000); /* release nats.c's globals so LSan sees no leak */
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bus_t *connect_url(const char *url)
{
    bus_opts_t o = {.url = url, .role = "test", .delivery_threads = 2};
    bus_t *bus = NULL;
    cr_assert_eq(bus_connect(&o, &bus), NT_OK);
    cr_assert(bus_connected(bus));
    return bus;
}

/* ---- handlers ---- */

/* Echo "<uid>|<type>|<payload>" so the requester sees what arrived. */
static void echo_handler(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)arg;
    char out[256];
    const char *uid = bus_header(msg, BUS_H_UID);
    const char *type = bus_header(msg, BUS_H_TYPE);
    int n = snprintf(out, sizeof out, "%s|%s|%.*s", uid ? uid : "-", type ? type : "-",
                     natsMsg_GetDataLength(msg), natsMsg_GetData(msg));
    cr_assert_eq(bus_reply(bus, msg, "natter.Echo", out, n), NT_OK);
}

static void fail_handler(bus_t *bus, natsMsg *msg, void *arg)
{
    const int *err = arg;
    const char *text = natsMsg_GetDataLength(msg) > 0 ? natsMsg_GetData(msg) : NULL;
    bus_reply_error(bus, msg, *err, text);
}

static void silent_handler(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    (void)msg;
    atomic_fetch_add((atomic_int *)arg, 1);
}

static void slow_handler(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    (void)msg;
    usleep(300 * 1000);
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* ---- connect ---- */

TestSuite(bus, .init = setup, .fini = teardown, .timeout = 30);

Test(bus, connect_names_the_connection)
{
    bus_t *bus = connect_url(srv_url);
    cr_assert_not_null(bus_conn(bus));
    /* The connection name shows up in the server's /connz. */
    int fd = tcp_connect(srv_mon_port);
    cr_assert(fd >= 0);
    const char req[] = "GET /connz HTTP/1.0\r\n\r\n";
    cr_assert_eq(write(fd, req, sizeof req - 1), (ssize_t)(sizeof req - 1));
    static char resp[65536];
    size_t got = 0;
    ssize_t r;
    while (got < sizeof resp - 1 && (r = read(fd, resp + got, sizeof resp - 1 - got)) > 0)
        got += (size_t)r;
    resp[got] = '\0';
    close(fd);
    char want[128];
    char host[64] = "";
    gethostname(host, sizeof host);
    host[sizeof host - 1] = '\0';
    snprintf(want, sizeof want, "\"name\": \"natter-test-%s-%ld\"", host, (long)getpid());
    cr_assert_not_null(strstr(resp, want), "connz lacks %s", want);
    bus_free(bus);
}

Test(bus, connect_url_list)
{
    char urls[160];
    snprintf(urls, sizeof urls, "nats://127.0.0.1:%d, %s", free_port(), srv_url);
    bus_t *bus = connect_url(urls);
    bus_free(bus);
}

Test(bus, connect_bad_args)
{
    bus_t *bus = (bus_t *)1;
    bus_opts_t o = {.url = NULL};
    cr_assert_eq(bus_connect(&o, &bus), NT_EINVAL);
    cr_assert_null(bus);
    cr_assert_eq(bus_connect(NULL, &bus), NT_EINVAL);
    bus_free(NULL);
}

/* bus_opts_t.stop_requested: yes once the deadline in arg has passed. */
static int stop_after(void *arg)
{
    return now_ms() >= *(int64_t *)arg;
}

Test(bus, connect_waits_until_stop_requested)
{
    char url[64];
    snprintf(url, sizeof url, "nats://127.0.0.1:%d", free_port());
    int64_t t0 = now_ms(), stop_at = t0 + 1500;
    bus_opts_t o = {.url = url, .role = "test", .stop_requested = stop_after, .stop_arg = &stop_at};
    bus_t *bus = (bus_t *)1;
    cr_assert_eq(bus_connect(&o, &bus), NT_EUNAVAIL);
    int64_t dt = now_ms() - t0;
    cr_assert_null(bus);
    cr_assert(dt >= 1500 && dt < 3000, "waited %lld ms", (long long)dt);
}

struct connect_job {
    char url[64];
    bus_t *bus;
    int rc;
};

static void *connect_thread(void *p)
{
    struct connect_job *j = p;
    bus_opts_t o = {.url = j->url, .role = "test"};
    j->rc = bus_connect(&o, &j->bus);
    return NULL;
}

Test(bus, connect_before_server_starts)
{
    srv_stop();
    struct connect_job j = {.rc = 99};
    int port = free_port();
    snprintf(j.url, sizeof j.url, "nats://127.0.0.1:%d", port);
    pthread_t t;
    pthread_create(&t, NULL, connect_thread, &j);
    usleep(6000 * 1000); /* longer than the 5 s the bus used to give up after */
    srv_start_on(port, NULL, NULL);
    pthread_join(t, NULL);
    cr_assert_eq(j.rc, NT_OK);
    cr_assert(bus_connected(j.bus));
    bus_free(j.bus);
}

Test(bus, connect_with_auth)
{
    srv_stop();
    srv_start_on(free_port(), "natter", "s3cret");
    bus_opts_t o = {.url = srv_url, .role = "test", .user = "natter", .password = "s3cret"};
    bus_t *bus = NULL;
    cr_assert_eq(bus_connect(&o, &bus), NT_OK);
    bus_free(bus);
    o.password = "wrong";
    bus = (bus_t *)1;
    int64_t t0 = now_ms();
    cr_assert_eq(bus_connect(&o, &bus), NT_ECONFIG, "a bad password is a config error");
    cr_assert(now_ms() - t0 < 3000, "and fails without the full retry wait");
    cr_assert_null(bus);
}

Test(bus, url_credentials_work_and_stay_out_of_logs)
{
    srv_stop();
    srv_start_on(free_port(), "natter", "s3cret");
    log_init("test_bus", LOG_DEBUG);
    char log_path[] = "/tmp/test_bus_log_XXXXXX";
    int log_fd = mkstemp(log_path);
    cr_assert(log_fd >= 0);
    int saved = dup(STDERR_FILENO);
    dup2(log_fd, STDERR_FILENO);

    char url[128];
    snprintf(url, sizeof url, "nats://natter:s3cret@127.0.0.1:%d", srv_port);
    bus_opts_t o = {.url = url, .role = "test"};
    bus_t *bus = NULL;
    int rc_ok = bus_connect(&o, &bus);
    bus_free(bus);
    snprintf(url, sizeof url, "nats://natter:wr0ng@127.0.0.1:%d", srv_port);
    int rc_bad = bus_connect(&o, &bus);

    dup2(saved, STDERR_FILENO);
    close(saved);
    char logs[8192] = "";
    ssize_t n = pread(log_fd, logs, sizeof logs - 1, 0);
    logs[n > 0 ? n : 0] = '\0';
    close(log_fd);
    unlink(log_path);
    cr_assert_eq(rc_ok, NT_OK);
    cr_assert_eq(rc_bad, NT_ECONFIG);
    cr_assert_null(strstr(logs, "s3cret"), "password logged: %s", logs);
    cr_assert_null(strstr(logs, "wr0ng"), "password logged: %s", logs);
    cr_assert_not_null(strstr(logs, "nats://***@127.0.0.1:"), "logs: %s", logs);
}

Test(bus, reconnects_after_server_restart)
{
    bus_t *bus = connect_url(srv_url);
    cr_assert_eq(bus_subscribe(bus, "t.echo", "echo", echo_handler, NULL), NT_OK);
    int port = srv_port;
    srv_stop();
    for (int i = 0; i < 100 && bus_connected(bus); i++)
        usleep(10000);
    cr_assert_not(bus_connected(bus));
    srv_start_on(port, NULL, NULL);
    for (int i = 0; i < 500 && !bus_connected(bus); i++)
        usleep(10000);
    cr_assert(bus_connected(bus), "reconnected within 5 s");
    natsMsg *req, *rep = NULL;
    cr_assert_eq(bus_msg_new("t.echo", "natter.Ping", NULL, NULL, "x", 1, &req), NT_OK);
    cr_assert_eq(bus_request(bus, req, 2000, &rep), NT_OK, "subscription restored");
    natsMsg_Destroy(rep);
    bus_free(bus);
}

/* ---- messages ---- */

Test(bus, msg_new_headers)
{
    natsMsg *m = NULL;
    cr_assert_eq(bus_msg_new("im.svc.auth.login", "natter.LoginReq", "u1", "00-tp", "abc", 3, &m),
                 NT_OK);
    cr_assert_str_eq(natsMsg_GetSubject(m), "im.svc.auth.login");
    cr_assert_str_eq(bus_header(m, BUS_H_TYPE), "natter.LoginReq");
    cr_assert_str_eq(bus_header(m, BUS_H_UID), "u1");
    cr_assert_str_eq(bus_header(m, BUS_H_TRACE), "00-tp");
    cr_assert_null(bus_header(m, BUS_H_ERROR));
    cr_assert_eq(natsMsg_GetDataLength(m), 3);
    cr_assert_eq(memcmp(natsMsg_GetData(m), "abc", 3), 0);
    natsMsg_Destroy(m);

    cr_assert_eq(bus_msg_new("x", "natter.Empty", NULL, NULL, NULL, 0, &m), NT_OK);
    cr_assert_null(bus_header(m, BUS_H_UID));
    cr_assert_null(bus_header(m, BUS_H_TRACE));
    natsMsg_Destroy(m);

    cr_assert_eq(bus_msg_new(NULL, "t", NULL, NULL, NULL, 0, &m), NT_EINVAL);
    cr_assert_eq(bus_msg_new("", "t", NULL, NULL, NULL, 0, &m), NT_EINVAL);
    cr_assert_eq(bus_msg_new("x", "t", NULL, NULL, "a", -1, &m), NT_EINVAL);
    cr_assert_eq(bus_msg_new("x", "t", NULL, NULL, NULL, 4, &m), NT_EINVAL);
    cr_assert_null(bus_header(NULL, BUS_H_TYPE));
}

Test(bus, no_responders_is_unavailable_at_once)
{
    bus_t *bus = connect_url(srv_url);
    natsMsg *req, *rep = (natsMsg *)1;
    cr_assert_eq(bus_msg_new("im.svc.nobody.op", "natter.Empty", NULL, NULL, NULL, 0, &req), NT_OK);
    int64_t t0 = now_ms();
    cr_assert_eq(bus_request(bus, req, 5000, &rep), NT_EUNAVAIL);
    cr_assert(now_ms() - t0 < 1000, "took %lld ms", (long long)(now_ms() - t0));
    cr_assert_null(rep);
    bus_free(bus);
}

Test(bus, request_timeout)
{
    bus_t *bus = connect_url(srv_url);
    atomic_int n = 0;
    cr_assert_eq(bus_subscribe(bus, "t.silent", NULL, silent_handler, &n), NT_OK);
    natsMsg *req, *rep = NULL;
    cr_assert_eq(bus_msg_new("t.silent", "natter.Empty", NULL, NULL, NULL, 0, &req), NT_OK);
    int64_t t0 = now_ms();
    cr_assert_eq(bus_request(bus, req, 200, &rep), NT_ETIMEDOUT);
    int64_t dt = now_ms() - t0;
    cr_assert(dt >= 150 && dt < 2000, "took %lld ms", (long long)dt);
    cr_assert_eq(atomic_load(&n), 1);
    bus_free(bus);
}

Test(bus, request_reply_round_trip_with_headers)
{
    bus_t *bus = connect_url(srv_url);
    cr_assert_eq(bus_subscribe(bus, "t.echo", "echo", echo_handler, NULL), NT_OK);
    char tp[64];
    bus_traceparent_new(tp, sizeof tp);
    natsMsg *req, *rep = NULL;
    cr_assert_eq(bus_msg_new("t.echo", "natter.Hello", "u42", tp, "hi", 2, &req), NT_OK);
    cr_assert_eq(bus_request(bus, req, 2000, &rep), NT_OK);
    cr_assert_eq(natsMsg_GetDataLength(rep), (int)strlen("u42|natter.Hello|hi"));
    cr_assert_eq(memcmp(natsMsg_GetData(rep), "u42|natter.Hello|hi", 19), 0);
    cr_assert_str_eq(bus_header(rep, BUS_H_TYPE), "natter.Echo");
    cr_assert_str_eq(bus_header(rep, BUS_H_TRACE), tp, "reply copies traceparent");
    cr_assert_null(bus_header(rep, BUS_H_UID), "replies never carry a uid");
    char text[64] = "junk";
    cr_assert_eq(bus_reply_status(rep, text, sizeof text), NT_OK);
    cr_assert_str_eq(text, "");
    natsMsg_Destroy(rep);

    /* Without traceparent, the reply has none either. */
    cr_assert_eq(bus_msg_new("t.echo", "natter.Hello", NULL, NULL, NULL, 0, &req), NT_OK);
    cr_assert_eq(bus_request(bus, req, 2000, &rep), NT_OK);
    cr_assert_null(bus_header(rep, BUS_H_TRACE));
    natsMsg_Destroy(rep);
    bus_free(bus);
}

Test(bus, reply_error_round_trip)
{
    bus_t *bus = connect_url(srv_url);
    static const int notfound = NT_ENOTFOUND, dberr = NT_EDB, timeout = NT_ETIMEDOUT;
    cr_assert_eq(bus_subscribe(bus, "t.nf", NULL, fail_handler, (void *)&notfound), NT_OK);
    cr_assert_eq(bus_subscribe(bus, "t.db", NULL, fail_handler, (void *)&dberr), NT_OK);
    cr_assert_eq(bus_subscribe(bus, "t.to", NULL, fail_handler, (void *)&timeout), NT_OK);
    char tp[64], text[64];
    bus_traceparent_new(tp, sizeof tp);

    natsMsg *req, *rep = NULL;
    const char *why = "no such conversation";
    cr_assert_eq(bus_msg_new("t.nf", "natter.X", NULL, tp, why, (int)strlen(why), &req), NT_OK);
    cr_assert_eq(bus_request(bus, req, 2000, &rep), NT_OK);
    cr_assert_str_eq(bus_header(rep, BUS_H_ERROR), "not_found");
    cr_assert_str_eq(bus_header(rep, BUS_H_TYPE), "natter.Error");
    cr_assert_str_eq(bus_header(rep, BUS_H_TRACE), tp);
    cr_assert_eq(bus_reply_status(rep, text, sizeof text), NT_ENOTFOUND);
    cr_assert_str_eq(text, why);
    cr_assert_eq(bus_reply_status(rep, text, 5), NT_ENOTFOUND, "small buffer truncates");
    cr_assert_str_eq(text, "no s");
    cr_assert_eq(bus_reply_status(rep, NULL, 0), NT_ENOTFOUND);
    natsMsg_Destroy(rep);

    /* No message: the text is nt_strerror; internal codes stay internal. */
    cr_assert_eq(bus_msg_new("t.db", "natter.X", NULL, NULL, NULL, 0, &req), NT_OK);
    cr_assert_eq(bus_request(bus, req, 2000, &rep), NT_OK);
    cr_assert_str_eq(bus_header(rep, BUS_H_ERROR), "internal");
    cr_assert_eq(bus_reply_status(rep, text, sizeof text), NT_EINTERNAL);
    cr_assert_str_eq(text, "database error");
    natsMsg_Destroy(rep);

    cr_assert_eq(bus_msg_new("t.to", "natter.X", NULL, NULL, NULL, 0, &req), NT_OK);
    cr_assert_eq(bus_request(bus, req, 2000, &rep), NT_OK);
    cr_assert_eq(bus_reply_status(rep, text, sizeof text), NT_EUNAVAIL);
    natsMsg_Destroy(rep);
    bus_free(bus);
}

Test(bus, reply_needs_reply_subject)
{
    bus_t *bus = connect_url(srv_url);
    natsMsg *m = NULL;
    cr_assert_eq(bus_msg_new("x", "natter.Empty", NULL, NULL, NULL, 0, &m), NT_OK);
    cr_assert_eq(bus_reply(bus, m, "natter.Empty", NULL, 0), NT_EINVAL);
    cr_assert_eq(bus_reply_error(bus, m, NT_EINVAL, "bad"), NT_EINVAL);
    natsMsg_Destroy(m);
    cr_assert_eq(bus_publish(bus, NULL), NT_EINVAL);
    cr_assert_eq(bus_subscribe(bus, "x", NULL, NULL, NULL), NT_EINVAL);
    cr_assert_eq(bus_subscribe(bus, "", NULL, silent_handler, NULL), NT_EINVAL);
    bus_free(bus);
}

/* Publish n empty messages on subject, then flush (a round trip: they are
 * back in this client's subscriptions after it). */
static void publish_empty(bus_t *bus, const char *subject, int n)
{
    for (int i = 0; i < n; i++) {
        natsMsg *m;
        cr_assert_eq(bus_msg_new(subject, "natter.Empty", NULL, NULL, NULL, 0, &m), NT_OK);
        cr_assert_eq(bus_publish(bus, m), NT_OK);
    }
    cr_assert_eq(natsConnection_Flush(bus_conn(bus)), NATS_OK);
}

Test(bus, publish_queue_and_plain_subscribers)
{
    bus_t *bus = connect_url(srv_url);
    atomic_int q = 0, plain = 0;
    for (int i = 0; i < 3; i++)
        cr_assert_eq(bus_subscribe(bus, "t.fan", "pool", silent_handler, &q), NT_OK);
    cr_assert_eq(bus_subscribe(bus, "t.fan", NULL, silent_handler, &plain), NT_OK);
    cr_assert_eq(natsConnection_Flush(bus_conn(bus)), NATS_OK);
    publish_empty(bus, "t.fan", 50);
    for (int i = 0; i < 200 && (atomic_load(&q) < 50 || atomic_load(&plain) < 50); i++)
        usleep(10000);
    usleep(50000);
    cr_assert_eq(atomic_load(&q), 50, "queue group: each message once");
    cr_assert_eq(atomic_load(&plain), 50);
    bus_free(bus);
}

/* bus_more_pending: the first handler call waits until all five messages
 * reached the client, so it and the three after it see more pending and
 * the last one sees none; outside a handler it is 0. */
typedef struct pend_rec {
    atomic_int calls, more[8];
    atomic_int release;
} pend_rec_t;

static void pending_handler(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    (void)msg;
    pend_rec_t *r = arg;
    int i = atomic_fetch_add(&r->calls, 1);
    for (int k = 0; i == 0 && k < 500 && !atomic_load(&r->release); k++)
        usleep(10000);
    if (i < 8)
        atomic_store(&r->more[i], bus_more_pending());
}

Test(bus, more_pending_says_what_waits_for_this_handler)
{
    bus_t *bus = connect_url(srv_url);
    static pend_rec_t r;
    cr_assert_eq(bus_more_pending(), 0, "outside a handler");
    cr_assert_eq(bus_subscribe(bus, "t.pend", NULL, pending_handler, &r), NT_OK);
    cr_assert_eq(natsConnection_Flush(bus_conn(bus)), NATS_OK);
    publish_empty(bus, "t.pend", 5);
    usleep(50000);
    atomic_store(&r.release, 1);
    for (int i = 0; i < 300 && atomic_load(&r.calls) < 5; i++)
        usleep(10000);
    cr_assert_eq(atomic_load(&r.calls), 5);
    for (int i = 0; i < 4; i++)
        cr_assert_eq(atomic_load(&r.more[i]), 1, "call %d: more were pending", i);
    cr_assert_eq(atomic_load(&r.more[4]), 0, "the last call: none pending");
    bus_free(bus);
}

/* ---- drain ---- */

Test(bus, drain_finishes_in_flight_work)
{
    bus_t *bus = connect_url(srv_url);
    atomic_int n = 0;
    cr_assert_eq(bus_subscribe(bus, "t.slow", NULL, slow_handler, &n), NT_OK);
    cr_assert_eq(natsConnection_Flush(bus_conn(bus)), NATS_OK);
    publish_empty(bus, "t.slow", 3);
    usleep(50000);
    cr_assert_eq(bus_drain(bus, 5000), NT_OK);
    cr_assert_eq(atomic_load(&n), 3, "pending messages handled before close");
    cr_assert_not(bus_connected(bus));
    cr_assert_eq(bus_drain(bus, 1000), NT_OK, "second drain is harmless");
    natsMsg *m;
    cr_assert_eq(bus_msg_new("t.slow", "natter.Empty", NULL, NULL, NULL, 0, &m), NT_OK);
    cr_assert_neq(bus_publish(bus, m), NT_OK, "closed bus refuses to publish");
    bus_free(bus);
}

Test(bus, drain_timeout_then_free_waits_for_handler)
{
    bus_t *bus = connect_url(srv_url);
    atomic_int n = 0;
    cr_assert_eq(bus_subscribe(bus, "t.slow", NULL, slow_handler, &n), NT_OK);
    cr_assert_eq(natsConnection_Flush(bus_conn(bus)), NATS_OK);
    for (int i = 0; i < 10; i++) {
        natsMsg *m;
        cr_assert_eq(bus_msg_new("t.slow", "natter.Empty", NULL, NULL, NULL, 0, &m), NT_OK);
        cr_assert_eq(bus_publish(bus, m), NT_OK);
    }
    cr_assert_eq(natsConnection_Flush(bus_conn(bus)), NATS_OK);
    usleep(50000);
    int64_t t0 = now_ms();
    cr_assert_eq(bus_drain(bus, 100), NT_ETIMEDOUT);
    cr_assert(now_ms() - t0 < 2000);
    cr_assert_lt(atomic_load(&n), 10, "not everything was handled");
    bus_free(bus); /* must not free closures under a running handler (ASan) */
}

/* ---- trace context ---- */

Test(bus, traceparent_format)
{
    char a[64], b[64], id[33];
    bus_traceparent_new(a, sizeof a);
    bus_traceparent_new(b, sizeof b);
    cr_assert_eq(strlen(a), 55);
    cr_assert_str_neq(a, b);
    cr_assert_eq(strncmp(a, "00-", 3), 0);
    cr_assert_eq(a[35], '-');
    cr_assert_eq(strcmp(a + 52, "-01"), 0);
    for (int i = 3; i < 52; i++)
        if (i != 35)
            cr_assert(strchr("0123456789abcdef", a[i]) && a[i], "bad char at %d", i);
    bus_trace_id(a, id, sizeof id);
    cr_assert_eq(strlen(id), 32);
    cr_assert_eq(strncmp(id, a + 3, 32), 0);

    char small[55] = "x";
    bus_traceparent_new(small, sizeof small);
    cr_assert_str_eq(small, "", "buffer under 56 bytes gets an empty string");
}

static void *two_ids(void *arg)
{
    char *out = arg;
    bus_traceparent_new(out, 64);
    bus_traceparent_new(out + 64, 64);
    return NULL;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(a, b);
}

Test(bus, traceparent_distinct_across_refills_and_threads)
{
    /* 24 random bytes per id from a 1 KB pool per thread: 300 ids cross
     * several refills; another thread has a pool of its own. */
    enum { N = 300 };
    static char ids[N + 2][64];
    for (int i = 0; i < N; i++)
        bus_traceparent_new(ids[i], sizeof ids[i]);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, two_ids, ids[N]), 0);
    pthread_join(t, NULL);
    qsort(ids, N + 2, sizeof ids[0], cmp_str);
    for (int i = 1; i < N + 2; i++)
        cr_assert_str_neq(ids[i - 1], ids[i], "trace id repeated: %s", ids[i]);
}

Test(bus, trace_id_malformed)
{
    char id[33];
    bus_trace_id(NULL, id, sizeof id);
    cr_assert_str_eq(id, "-");
    bus_trace_id("", id, sizeof id);
    cr_assert_str_eq(id, "-");
    bus_trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7", id, sizeof id);
    cr_assert_str_eq(id, "-", "truncated");
    bus_trace_id("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", id, sizeof id);
    cr_assert_str_eq(id, "-", "uppercase is not W3C");
    bus_trace_id("00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", id, sizeof id);
    cr_assert_str_eq(id, "-");
    bus_trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", id, sizeof id);
    cr_assert_str_eq(id, "4bf92f3577b34da6a3ce929d0e0e4736");
    char tiny[8];
    bus_trace_id("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tiny, sizeof tiny);
    cr_assert_str_eq(tiny, "-");
}

/* ---- on a libuv loop (bus_loop.c) ---- */

#include <uv.h>

typedef struct loop_job {
    bus_t *bus;
    atomic_int *got;
    int want;
    uv_timer_t timer;
} loop_job_t;

/* On the loop: once every message arrived, close the bus and the timer. */
static void loop_check(uv_timer_t *t)
{
    loop_job_t *j = t->data;
    if (atomic_load(j->got) < j->want)
        return;
    cr_assert_eq(bus_loop_close(j->bus, 1000), NT_OK);
    uv_close((uv_handle_t *)t, NULL);
}

static bus_t *connect_on_loop(uv_loop_t *loop)
{
    bus_opts_t o = {.url = srv_url, .role = "test", .delivery_threads = 1, .loop = loop};
    bus_t *bus = NULL;
    bus_loop_thread(loop);
    cr_assert_eq(bus_connect(&o, &bus), NT_OK);
    cr_assert(bus_connected(bus));
    return bus;
}

Test(bus, loop_subscribe_publish_and_close)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    bus_t *bus = connect_on_loop(&loop);
    atomic_int got = 0;
    cr_assert_eq(bus_subscribe(bus, "t.loop", NULL, silent_handler, &got), NT_OK);
    for (int i = 0; i < 20; i++) {  /* buffered: written once the loop runs */
        natsMsg *m;
        cr_assert_eq(bus_msg_new("t.loop", "natter.Empty", NULL, NULL, "x", 1, &m), NT_OK);
        cr_assert_eq(bus_publish(bus, m), NT_OK);
    }
    loop_job_t j = {.bus = bus, .got = &got, .want = 20};
    uv_timer_init(&loop, &j.timer);
    j.timer.data = &j;
    uv_timer_start(&j.timer, loop_check, 5, 5);
    int64_t t0 = now_ms();
    uv_run(&loop, UV_RUN_DEFAULT);  /* returns once the bus and the timer closed */
    cr_assert_lt(now_ms() - t0, 5000);
    cr_assert_eq(atomic_load(&got), 20);
    cr_assert_eq(bus_drain(bus, 1000), NT_OK, "closed already: waits for nats.c callbacks");
    cr_assert_eq(uv_loop_close(&loop), 0, "no handle left on the loop");
    bus_free(bus);
}

Test(bus, loop_close_writes_what_is_buffered)
{
    /* nats.c's own close on a loop drops the unsent buffer; a clean stop
     * of the edge must not lose its last presence reports. */
    bus_t *other = connect_url(srv_url);
    atomic_int got = 0;
    cr_assert_eq(bus_subscribe(other, "t.last", NULL, silent_handler, &got), NT_OK);
    cr_assert_eq(natsConnection_Flush(bus_conn(other)), NATS_OK);
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    bus_t *bus = connect_on_loop(&loop);
    for (int i = 0; i < 500; i++) {
        natsMsg *m;
        cr_assert_eq(bus_msg_new("t.last", "natter.Empty", NULL, NULL, "y", 1, &m), NT_OK);
        cr_assert_eq(bus_publish(bus, m), NT_OK);
    }
    cr_assert_eq(bus_loop_close(bus, 2000), NT_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    for (int i = 0; i < 200 && atomic_load(&got) < 500; i++)
        usleep(10000);
    cr_assert_eq(atomic_load(&got), 500);
    bus_free(bus);
    bus_free(other);
}

Test(bus, loop_close_needs_a_loop)
{
    bus_t *bus = connect_url(srv_url);
    cr_assert_eq(bus_loop_close(bus, 10), NT_EINVAL);
    bus_free(bus);
}
