/*
 * bus.c - natter's one NATS connection per process (see bus.h).
 *
 * Why this file exists: every role needs the same connection policy (start
 * before the server is up, reconnect forever, low-latency replies, a bounded
 * delivery thread pool), the same headers on every message, and the same
 * shutdown story (drain: finish in-flight handlers, flush replies, close).
 * Getting those right once here keeps pools and edges about chat.
 *
 * Lifetimes.  nats.c calls back into us from its own threads: connection
 * events (connected, disconnected, reconnected, closed) from its async
 * callback thread, messages from the global delivery pool.  The closure of
 * each is memory we own, so nothing is freed until nats.c has promised not
 * to call again:
 *   - each subscription's record lives until its onComplete callback has run
 *     (nats.c: "invoked after the subscription is closed and the message
 *     handler has returned");
 *   - the bus itself lives until the closed callback has run (the last
 *     connection event nats.c delivers).
 * bus_drain and bus_free wait, bounded, for both.
 */
#include "bus/bus.h"

#include "bus/bus_internal.h"
#include "bus/bus_loop.h"
#include "common/backoff.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/natter.pb-c.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define BUS_RETRY_FIRST_MS 100    /* (re)connect back-off: 0.1 s doubling to 5 s */
#define BUS_RETRY_MAX_MS 5000
#define BUS_RECONNECT_MAX_MS 1000 /* ... to 1 s once we had a connection: a server
                                     restart should cost a second, not five */
#define BUS_STOP_POLL_MS 100      /* initial wait: how often stop_requested is asked */
#define BUS_CLOSE_WAIT_MS 5000     /* bus_free: wait for nats.c callbacks to end */
#define BUS_MAX_SERVERS 16

/* One subscription.  Immutable after bus_subscribe returns, except `done`
 * (guarded by bus->mu).  Freed by bus_free only. */
typedef struct bus_sub {
    struct bus_sub *next;
    bus_t *bus;
    bus_handler_fn fn;
    void *arg;
    natsSubscription *sub;
    int done; /* onComplete ran: the handler will not be called again */
} bus_sub_t;

/* nc is set once in bus_connect and immutable after.  mu guards subs, live,
 * connected, closed and drain_timed_out; cv signals changes of live,
 * connected, closed. */
struct bus {
    natsConnection *nc;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bus_sub_t *subs;
    int live;      /* subscriptions whose onComplete has not run */
    int connected; /* the initial connect succeeded (either path) */
    int closed;    /* closed callback ran: no more connection events */
    int drain_timed_out; /* nats.c gave up draining and closed */
    int auth_failed;     /* a connect attempt was refused for credentials */
    void *loop;    /* uv_loop_t the socket is attached to, or NULL; immutable */
    int inline_off;      /* bus_opts_t.inline_off; immutable */
    bus_inline_t *inl;   /* bus_inline's routes, made by the first call; guarded by mu */
    char name[128];
    _Atomic uint64_t timeouts; /* requests that got no answer in time (bus_note_timeout) */
};

int bus_status_err(natsStatus s)
{
    switch (s) {
    case NATS_OK: return NT_OK;
    case NATS_NO_MEMORY: return NT_ENOMEM;
    case NATS_INVALID_ARG:
    case NATS_INVALID_SUBJECT: return NT_EINVAL;
    case NATS_TIMEOUT: return NT_ETIMEDOUT;
    case NATS_NO_RESPONDERS: return NT_EUNAVAIL;
    case NATS_MAX_PAYLOAD: return NT_ETOOLARGE;
    default: return NT_EBUS;
    }
}

static void deadline_after(struct timespec *ts, int ms)
{
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_sec += ms / 1000;
    ts->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
}

/* Wait (mu held) until the connection is closed and every handler is done. */
static int wait_quiet(bus_t *bus, int ms)
{
    struct timespec dl;
    deadline_after(&dl, ms);
    while (!bus->closed || bus->live > 0)
        if (pthread_cond_timedwait(&bus->cv, &bus->mu, &dl) == ETIMEDOUT)
            return !bus->closed || bus->live > 0 ? NT_ETIMEDOUT : NT_OK;
    return NT_OK;
}

/* A URL (list) fit for logs: credentials go, "user:pw@host" -> "***@host". */
static void redact(const char *url, char *buf, size_t n)
{
    size_t o = 0;
    const char *p = url ? url : "-";
    buf[0] = '\0';
    while (*p && o + 1 < n) {
        size_t len = strcspn(p, ",");
        const char *at = memchr(p, '@', len);
        const char *scheme = strstr(p, "://");
        int w;
        if (at) {
            size_t keep = scheme && scheme < at ? (size_t)(scheme + 3 - p) : 0;
            w = snprintf(buf + o, n - o, "%.*s***%.*s", (int)keep, p, (int)(p + len - at), at);
        } else {
            w = snprintf(buf + o, n - o, "%.*s", (int)len, p);
        }
        if (w < 0 || (size_t)w >= n - o)
            return; /* truncated is fine for a log line */
        o += (size_t)w;
        p += len;
        if (*p == ',' && o + 1 < n) {
            buf[o++] = *p++;
            buf[o] = '\0';
        }
    }
}

/* ---- connection events (nats.c async callback thread) ---- */

static void url_of(natsConnection *nc, char *buf, size_t n)
{
    char raw[256];
    if (natsConnection_GetConnectedUrl(nc, raw, sizeof raw) != NATS_OK || !raw[0])
        snprintf(raw, sizeof raw, "-");
    redact(raw, buf, n);
}

static void on_connected(natsConnection *nc, void *closure)
{
    bus_t *bus = closure;
    char url[256];
    url_of(nc, url, sizeof url);
    log_info("bus connected", "url=%s", url);
    pthread_mutex_lock(&bus->mu);
    bus->connected = 1;
    pthread_cond_broadcast(&bus->cv);
    pthread_mutex_unlock(&bus->mu);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)closure;
    if (natsConnection_IsClosed(nc))
        return; /* a close, not a loss: on_closed logs it */
    const char *why = NULL;
    natsStatus s = natsConnection_GetLastError(nc, &why);
    log_warn("bus disconnected, reconnecting", "status=%s err=\"%s\"", natsStatus_GetText(s),
             why && *why ? why : "-");
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    (void)closure;
    char url[256];
    url_of(nc, url, sizeof url);
    log_info("bus reconnected", "url=%s", url);
}

static void on_closed(natsConnection *nc, void *closure)
{
    bus_t *bus = closure;
    (void)nc;
    log_info("bus closed", "name=%s", bus->name);
    pthread_mutex_lock(&bus->mu);
    bus->closed = 1;
    pthread_cond_broadcast(&bus->cv);
    pthread_mutex_unlock(&bus->mu);
}

static void on_async_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    bus_t *bus = closure;
    (void)nc;
    if (!sub && err == NATS_TIMEOUT) {
        /* nats.c reports a drain that ran out of time only here (the
         * connection's last error stays OK), then closes. */
        pthread_mutex_lock(&bus->mu);
        bus->drain_timed_out = 1;
        pthread_mutex_unlock(&bus->mu);
        log_warn("bus drain ran out of time, closing", "name=%s", bus->name);
        return;
    }
    const char *subj = sub ? natsSubscription_GetSubject(sub) : NULL;
    log_error("bus async error", "status=%s subject=%s", natsStatus_GetText(err),
              subj ? subj : "-");
}

/* ---- connect ---- */

/* nats.c asks how long to wait after every server in the list failed, both
 * for the first connect (RetryOnFailedConnect) and for reconnects: the
 * shared back-off (capped lower for reconnects), one log line per step.  Runs on nats.c's reconnect
 * thread; attempts counts the failed rounds of this episode. */
static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
    bus_t *bus = closure;
    pthread_mutex_lock(&bus->mu);
    int had = bus->connected;
    pthread_mutex_unlock(&bus->mu);
    backoff_t b;
    backoff_init(&b, BUS_RETRY_FIRST_MS, had ? BUS_RECONNECT_MAX_MS : BUS_RETRY_MAX_MS);
    int ms = BUS_RETRY_FIRST_MS;
    for (int i = 0; i < attempts && i < 64; i++)
        ms = backoff_next(&b);
    const char *why = NULL;
    natsStatus s = natsConnection_GetLastError(nc, &why);
    if (s == NATS_CONNECTION_AUTH_FAILED) {
        pthread_mutex_lock(&bus->mu);
        bus->auth_failed = 1; /* nats.c closes after the next refusal */
        pthread_mutex_unlock(&bus->mu);
    }
    log_warn("bus not reachable, retrying", "name=%s attempt=%d retry_in_ms=%d status=%s err=\"%s\"",
             bus->name, attempts, ms, natsStatus_GetText(s), why && *why ? why : "-");
    return ms;
}

/* opts->url may be "a,b,c": split into natsOptions_SetServers.  The list is
 * tried in the order given (no shuffling, see build_opts): the first URL is
 * the process's home node, the others where it goes when that node dies. */
static natsStatus set_servers(natsOptions *o, const char *url)
{
    char *copy = strdup(url);
    if (!copy)
        return NATS_NO_MEMORY;
    const char *list[BUS_MAX_SERVERS];
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t && n < BUS_MAX_SERVERS;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ')
            t++;
        size_t len = strlen(t);
        while (len > 0 && t[len - 1] == ' ')
            t[--len] = '\0';
        if (len > 0)
            list[n++] = t;
    }
    natsStatus s = n > 0 ? natsOptions_SetServers(o, list, n) : NATS_INVALID_ARG;
    free(copy);
    return s;
}

static natsStatus build_opts(bus_t *bus, const bus_opts_t *opts, natsOptions **out)
{
    natsOptions *o = NULL;
    natsStatus s = natsOptions_Create(&o);
    if (s == NATS_OK)
        s = set_servers(o, opts->url);
    /* nats.c shuffles a server list by default.  An operator spreads the
     * processes over a cluster by giving each its own order (ops/cluster
     * does), so keep it: first URL first, then the next on a reconnect. */
    if (s == NATS_OK)
        s = natsOptions_SetNoRandomize(o, true);
    if (s == NATS_OK)
        s = natsOptions_SetName(o, bus->name);
    if (s == NATS_OK && opts->user)
        s = natsOptions_SetUserInfo(o, opts->user, opts->password ? opts->password : "");
    if (s == NATS_OK)
        s = natsOptions_SetMaxReconnect(o, -1);
    if (s == NATS_OK)
        s = natsOptions_SetCustomReconnectDelay(o, reconnect_delay, bus);
    /* With a callback, Connect does not block: we bound the wait.  Not on a
     * loop: the adapter must attach the first socket on the loop's own
     * thread, and nats.c's retry would connect from its reconnect thread
     * (connect_on_loop retries there instead). */
    if (s == NATS_OK && !opts->loop)
        s = natsOptions_SetRetryOnFailedConnect(o, true, on_connected, bus);
    if (s == NATS_OK && opts->loop)
        s = bus_loop_opts(o, opts->loop);
    if (s == NATS_OK)
        s = natsOptions_SetSendAsap(o, opts->send_asap != 0 || opts->loop); /* bus_loop.c */
    if (s == NATS_OK)
        s = natsOptions_UseGlobalMessageDelivery(o, true);
    if (s == NATS_OK)
        s = natsOptions_SetDisconnectedCB(o, on_disconnected, bus);
    if (s == NATS_OK)
        s = natsOptions_SetReconnectedCB(o, on_reconnected, bus);
    if (s == NATS_OK)
        s = natsOptions_SetClosedCB(o, on_closed, bus);
    if (s == NATS_OK)
        s = natsOptions_SetErrorHandler(o, on_async_error, bus);
    if (s != NATS_OK) {
        natsOptions_Destroy(o);
        return s;
    }
    *out = o;
    return NATS_OK;
}

/* The server was not there at once; nats.c retries in the background
 * (reconnect_delay logs each try).  Wait for it as long as it takes: a
 * process started before NATS must come up once NATS does (ops/up after a
 * crash, a machine booting).  Only an auth failure (nats.c closes the
 * connection) or a stop request ends the wait without a connection. */
static int wait_connected(bus_t *bus, const bus_opts_t *opts)
{
    char url[256];
    redact(opts->url, url, sizeof url);
    const char *first = NULL;
    natsStatus first_s = natsConnection_GetLastError(bus->nc, &first);
    log_warn("bus not connected yet, waiting for the server", "url=%s status=%s err=\"%s\"", url,
             natsStatus_GetText(first_s), first && *first ? first : "-");
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int ok = 0, closed = 0, stopped = 0;
    while (!ok && !closed && !stopped) {
        struct timespec dl;
        deadline_after(&dl, BUS_STOP_POLL_MS);
        pthread_mutex_lock(&bus->mu);
        while (!bus->connected && !bus->closed)
            if (pthread_cond_timedwait(&bus->cv, &bus->mu, &dl) == ETIMEDOUT)
                break;
        ok = bus->connected;
        closed = bus->closed;
        pthread_mutex_unlock(&bus->mu);
        if (!ok && !closed && opts->stop_requested)
            stopped = opts->stop_requested(opts->stop_arg);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (ok) {
        log_info("bus connected after waiting", "url=%s waited_ms=%ld", url, ms);
        return NT_OK;
    }
    const char *why = NULL;
    natsStatus s = natsConnection_GetLastError(bus->nc, &why);
    if (stopped) {
        log_info("stop requested while waiting for the bus", "url=%s waited_ms=%ld", url, ms);
        return NT_EUNAVAIL;
    }
    log_error("bus connect failed", "url=%s waited_ms=%ld status=%s err=\"%s\"", url, ms,
              natsStatus_GetText(s), why ? why : "");
    pthread_mutex_lock(&bus->mu);
    int auth = bus->auth_failed;
    pthread_mutex_unlock(&bus->mu);
    return auth || s == NATS_CONNECTION_AUTH_FAILED || first_s == NATS_CONNECTION_AUTH_FAILED
               ? NT_ECONFIG
               : NT_EUNAVAIL;
}

/* On a loop: retry the synchronous connect ourselves, on the loop's
 * thread, with the back-off and patience of the threaded path (as long as
 * it takes, one log line per try); an auth failure or a stop request ends
 * it. */
static natsStatus connect_on_loop(bus_t *bus, natsOptions *o, const bus_opts_t *opts)
{
    backoff_t b;
    backoff_init(&b, BUS_RETRY_FIRST_MS, BUS_RETRY_MAX_MS);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int n = 1;; n++) {
        natsStatus s = natsConnection_Connect(&bus->nc, o);
        if (s == NATS_OK && n > 1) { /* the same line as the threaded path's wait */
            struct timespec t1;
            clock_gettime(CLOCK_MONOTONIC, &t1);
            char url[256];
            redact(opts->url, url, sizeof url);
            log_info("bus connected after waiting", "url=%s waited_ms=%ld", url,
                     (long)(t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        }
        if (s == NATS_OK || s == NATS_CONNECTION_AUTH_FAILED || s == NATS_NO_MEMORY)
            return s;
        int ms = backoff_next(&b);
        log_warn("bus not reachable, retrying", "name=%s attempt=%d retry_in_ms=%d status=%s",
                 bus->name, n, ms, natsStatus_GetText(s));
        for (int waited = 0; waited < ms; waited += BUS_STOP_POLL_MS) {
            if (opts->stop_requested && opts->stop_requested(opts->stop_arg))
                return s;
            nats_Sleep(BUS_STOP_POLL_MS);
        }
    }
}

void *bus_loop_get(bus_t *bus)
{
    return bus ? bus->loop : NULL;
}

int bus_connect(const bus_opts_t *opts, bus_t **out)
{
    if (out)
        *out = NULL;
    if (!opts || !opts->url || !opts->url[0] || !out)
        return NT_EINVAL;
    bus_t *bus = calloc(1, sizeof *bus);
    if (!bus)
        return NT_ENOMEM;
    pthread_mutex_init(&bus->mu, NULL);
    pthread_cond_init(&bus->cv, NULL);
    char host[64] = "unknown";
    if (gethostname(host, sizeof host) != 0)
        snprintf(host, sizeof host, "unknown");
    host[sizeof host - 1] = '\0';
    snprintf(bus->name, sizeof bus->name, "natter-%s-%s-%ld", opts->role ? opts->role : "none",
             host, (long)getpid());

    int rc = NT_EBUS;
    natsOptions *o = NULL;
    int threads = opts->delivery_threads > 0 ? opts->delivery_threads : 4;
    natsStatus s = nats_SetMessageDeliveryPoolSize(threads);
    if (s == NATS_OK)
        s = build_opts(bus, opts, &o);
    if (s != NATS_OK) {
        rc = bus_status_err(s);
        log_error("bus options failed", "status=%s", natsStatus_GetText(s));
        goto fail;
    }
    bus->loop = opts->loop;
    bus->inline_off = opts->inline_off;
    s = opts->loop ? connect_on_loop(bus, o, opts) : natsConnection_Connect(&bus->nc, o);
    natsOptions_Destroy(o); /* the connection keeps its own copy */
    if (s == NATS_NOT_YET_CONNECTED) {
        rc = wait_connected(bus, opts);
        if (rc != NT_OK)
            goto fail;
    } else if (s != NATS_OK) {
        rc = s == NATS_NO_MEMORY                ? NT_ENOMEM
             : s == NATS_CONNECTION_AUTH_FAILED ? NT_ECONFIG
                                                : NT_EUNAVAIL;
        char url[256];
        redact(opts->url, url, sizeof url);
        log_error("bus connect failed", "url=%s status=%s", url, natsStatus_GetText(s));
        goto fail;
    } else {
        char url[256];
        url_of(bus->nc, url, sizeof url);
        log_info("bus connected", "url=%s name=%s threads=%d loop=%s", url, bus->name, threads,
                 bus->loop ? "uv" : "none");
        pthread_mutex_lock(&bus->mu);
        bus->connected = 1; /* reconnect_delay's cap */
        pthread_mutex_unlock(&bus->mu);
    }
    *out = bus;
    return NT_OK;
fail:
    bus_free(bus);
    return rc;
}

/* ---- shutdown ---- */

int bus_drain(bus_t *bus, int timeout_ms)
{
    if (!bus || !bus->nc)
        return NT_EINVAL;
    if (timeout_ms < 1)
        timeout_ms = 1;
    if (timeout_ms > 3600 * 1000)
        timeout_ms = 3600 * 1000;
    int rc = NT_OK;
    natsStatus s = natsConnection_DrainTimeout(bus->nc, timeout_ms);
    if (s != NATS_OK && s != NATS_CONNECTION_CLOSED) {
        /* e.g. reconnecting: nats.c refuses to drain, so close; handlers in
         * flight still finish before we return (onComplete). */
        log_warn("bus drain refused, closing", "status=%s", natsStatus_GetText(s));
        natsConnection_Close(bus->nc);
        rc = NT_EBUS;
    }
    pthread_mutex_lock(&bus->mu);
    /* nats.c closes the connection itself when its drain timer fires; the
     * margin lets that close (and its callback) land. */
    int w = wait_quiet(bus, timeout_ms + 500);
    int live = bus->live;
    int gave_up = bus->drain_timed_out;
    pthread_mutex_unlock(&bus->mu);
    if (w != NT_OK || gave_up) {
        log_warn("bus drain timed out", "timeout_ms=%d busy_handlers=%d", timeout_ms, live);
        return NT_ETIMEDOUT;
    }
    return rc;
}

void bus_free(bus_t *bus)
{
    if (!bus)
        return;
    if (bus->nc) {
        natsConnection_Close(bus->nc); /* no-op if drained already */
        pthread_mutex_lock(&bus->mu);
        int w = wait_quiet(bus, BUS_CLOSE_WAIT_MS);
        pthread_mutex_unlock(&bus->mu);
        if (w != NT_OK) {
            /* A nats.c thread may still hold our closures: leaking is the
             * lesser evil than a use-after-free at exit. */
            log_error("bus free: callbacks still pending, leaking bus", "name=%s", bus->name);
            return;
        }
        for (bus_sub_t *r = bus->subs; r; r = r->next)
            natsSubscription_Destroy(r->sub);
        natsConnection_Destroy(bus->nc);
    }
    bus_inline_free(bus->inl); /* the connection that called its filter is gone */
    bus_sub_t *r = bus->subs;
    while (r) {
        bus_sub_t *next = r->next;
        free(r);
        r = next;
    }
    pthread_cond_destroy(&bus->cv);
    pthread_mutex_destroy(&bus->mu);
    free(bus);
}

natsConnection *bus_conn(bus_t *bus)
{
    return bus ? bus->nc : NULL;
}

int bus_connected(bus_t *bus)
{
    return bus && bus->nc && natsConnection_Status(bus->nc) == NATS_CONN_STATUS_CONNECTED;
}

int bus_inline(bus_t *bus, const char *pattern, bus_inline_fn fn, void *arg)
{
    if (!bus || !bus->nc || !pattern || !*pattern || !fn)
        return NT_EINVAL;
    if (bus->inline_off)
        return NT_EUNAVAIL;
    pthread_mutex_lock(&bus->mu);
    int rc = bus->inl ? NT_OK : bus_inline_new(bus, &bus->inl);
    if (rc == NT_OK)
        rc = bus_inline_add(bus->inl, pattern, fn, arg);
    pthread_mutex_unlock(&bus->mu);
    if (rc == NT_EINTERNAL)
        return NT_EUNAVAIL;
    return rc;
}

/* ---- subscriptions ---- */

/* The subscription whose handler this thread is running (bus_more_pending). */
static __thread natsSubscription *tl_sub;

/* nats.c delivery thread: hand the message to the handler, then free it. */
static void on_msg(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure)
{
    (void)nc;
    bus_sub_t *r = closure;
    tl_sub = sub;
    /* Every log line of the handler carries the request's trace id. */
    char trace[40];
    bus_trace_id(bus_header(msg, BUS_H_TRACE), trace, sizeof trace);
    log_trace_set(trace);
    r->fn(r->bus, msg, r->arg);
    log_trace_set(NULL);
    tl_sub = NULL;
    bus_msg_free(msg); /* nats.c does not touch it after the handler returned */
}

int bus_more_pending(void)
{
    int msgs = 0;
    return tl_sub && natsSubscription_GetPending(tl_sub, &msgs, NULL) == NATS_OK && msgs > 0;
}

void bus_note_timeout(bus_t *bus)
{
    if (bus)
        atomic_fetch_add_explicit(&bus->timeouts, 1, memory_order_relaxed);
}

uint64_t bus_timeouts(bus_t *bus)
{
    return bus ? atomic_load_explicit(&bus->timeouts, memory_order_relaxed) : 0;
}

static void on_sub_complete(void *closure)
{
    bus_sub_t *r = closure;
    bus_t *bus = r->bus;
    pthread_mutex_lock(&bus->mu);
    if (!r->done) {
        r->done = 1;
        bus->live--;
    }
    pthread_cond_broadcast(&bus->cv);
    pthread_mutex_unlock(&bus->mu);
}

int bus_subscribe(bus_t *bus, const char *subject, const char *queue, bus_handler_fn fn,
                  void *arg)
{
    if (!bus || !bus->nc || !subject || !*subject || !fn || (queue && !*queue))
        return NT_EINVAL;
    bus_sub_t *r = calloc(1, sizeof *r);
    if (!r)
        return NT_ENOMEM;
    r->bus = bus;
    r->fn = fn;
    r->arg = arg;
    r->done = 1; /* not live until onComplete is armed */
    natsStatus s = queue ? natsConnection_QueueSubscribe(&r->sub, bus->nc, subject, queue, on_msg, r)
                         : natsConnection_Subscribe(&r->sub, bus->nc, subject, on_msg, r);
    if (s != NATS_OK) {
        log_error("bus subscribe failed", "subject=%s status=%s", subject, natsStatus_GetText(s));
        free(r);
        return bus_status_err(s);
    }
    pthread_mutex_lock(&bus->mu);
    r->done = 0;
    bus->live++;
    r->next = bus->subs;
    bus->subs = r;
    pthread_mutex_unlock(&bus->mu);
    if (natsSubscription_SetOnCompleteCB(r->sub, on_sub_complete, r) != NATS_OK) {
        /* Closed already (connection closing under us): nothing to wait for. */
        pthread_mutex_lock(&bus->mu);
        if (!r->done) {
            r->done = 1;
            bus->live--;
        }
        pthread_mutex_unlock(&bus->mu);
        return NT_EBUS;
    }
    return NT_OK;
}
