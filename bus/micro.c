/*
 * micro.c - the NATS micro services protocol (ADR-32) by hand (see micro.h).
 *
 * nats.c 3.4 has no micro API, yet operators expect `nats micro ls|info|
 * stats` to find every natter process.  The protocol is only request/reply
 * with three small JSON documents, so we answer it ourselves: $SRV.<VERB>,
 * $SRV.<VERB>.<name> and $SRV.<VERB>.<name>.<id> for PING, INFO and STATS,
 * as plain subscriptions (every instance answers).  The field names and
 * shapes follow the reference implementation (nats.go micro): durations are
 * integer nanoseconds, "started" is RFC 3339 UTC, metadata is an object.
 *
 * Endpoints are queue subscriptions in the group named like the service,
 * made `workers` times so a slow handler (argon2) does not hold up the
 * next request.  A wrapper times each call on CLOCK_MONOTONIC and counts
 * requests and errors for STATS.
 *
 * micro_new accepts a NULL bus: the JSON documents can then be built and
 * tested without a server; only micro_start needs the bus.
 */
#include "bus/micro.h"

#include "common/err.h"
#include "common/log.h"

#include <jansson.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MICRO_ID_LEN 22
#define MICRO_NAME_MAX 64
#define MICRO_MAX_ENDPOINTS 128
#define MICRO_MAX_WORKERS 256
#define MICRO_LAST_ERROR_MAX 128

#define PING_TYPE "io.nats.micro.v1.ping_response"
#define INFO_TYPE "io.nats.micro.v1.info_response"
#define STATS_TYPE "io.nats.micro.v1.stats_response"

/* One endpoint.  name, subject, fn, arg are immutable after
 * micro_add_endpoint; the counters are guarded by m->mu. */
typedef struct micro_ep {
    micro_t *m;
    char *name;
    char *subject;
    int workers;
    micro_handler_fn fn;
    void *arg;
    int64_t num_requests;
    int64_t num_errors;
    int64_t processing_ns;
    char last_error[MICRO_LAST_ERROR_MAX];
} micro_ep_t;

/* Configuration fields are immutable after micro_start; endpoints are only
 * added before it (so the array is read without a lock by the handlers).
 * mu guards the endpoint counters and `started`. */
struct micro {
    bus_t *bus;
    char *name;
    char *version;
    char *description;
    char id[MICRO_ID_LEN + 1];
    struct timespec started; /* CLOCK_REALTIME */
    int running;
    pthread_mutex_t mu;
    micro_ep_t **eps;
    int neps;
};

/* ---- validation ---- */

static int name_ok(const char *s)
{
    if (!s || !*s || strlen(s) > MICRO_NAME_MAX)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-'))
            return 0;
    return 1;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int ident_char(char c)
{
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
}

/* One dot-separated run of SemVer identifiers starting at *p; numeric
 * identifiers may not have leading zeros when numeric_strict. */
static int semver_idents(const char **p, int numeric_strict)
{
    for (;;) {
        const char *s = *p;
        int all_digits = 1;
        while (ident_char(**p)) {
            all_digits &= is_digit(**p);
            (*p)++;
        }
        size_t len = (size_t)(*p - s);
        if (len == 0)
            return 0;
        if (numeric_strict && all_digits && len > 1 && s[0] == '0')
            return 0;
        if (**p != '.')
            return 1;
        (*p)++;
    }
}

/* MAJOR.MINOR.PATCH[-pre][+build], as semver.org (ADR-32 requires it). */
static int semver_ok(const char *v)
{
    if (!v)
        return 0;
    const char *p = v;
    for (int part = 0; part < 3; part++) {
        const char *s = p;
        while (is_digit(*p))
            p++;
        if (p == s || (p - s > 1 && *s == '0'))
            return 0;
        if (part < 2 && *p++ != '.')
            return 0;
    }
    if (*p == '-') {
        p++;
        if (!semver_idents(&p, 1))
            return 0;
    }
    if (*p == '+') {
        p++;
        if (!semver_idents(&p, 0))
            return 0;
    }
    return *p == '\0';
}

static int subject_ok(const char *s)
{
    if (!s || !*s || strlen(s) >= 256)
        return 0;
    for (; *s; s++)
        if (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
            return 0;
    return 1;
}

/* 22 chars of [0-9A-Za-z], like a nuid: unique per process start. */
static void make_id(char *out)
{
    static const char alpha[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    int i = 0;
    while (i < MICRO_ID_LEN) {
        unsigned char b[32];
        if (RAND_bytes(b, sizeof b) != 1)
            for (size_t k = 0; k < sizeof b; k++)
                b[k] = (unsigned char)(rand() & 0xff);
        for (size_t k = 0; k < sizeof b && i < MICRO_ID_LEN; k++)
            if (b[k] < 248) /* 248 = 4 * 62: no modulo bias */
                out[i++] = alpha[b[k] % 62];
    }
    out[MICRO_ID_LEN] = '\0';
}

/* ---- lifecycle ---- */

int micro_new(bus_t *bus, const char *name, const char *version, const char *description,
              micro_t **out)
{
    if (!out)
        return NT_EINVAL;
    *out = NULL;
    if (!name_ok(name) || !semver_ok(version))
        return NT_EINVAL;
    micro_t *m = calloc(1, sizeof *m);
    if (!m)
        return NT_ENOMEM;
    pthread_mutex_init(&m->mu, NULL);
    m->bus = bus;
    m->name = strdup(name);
    m->version = strdup(version);
    m->description = strdup(description ? description : "");
    if (!m->name || !m->version || !m->description)
        goto fail;
    make_id(m->id);
    clock_gettime(CLOCK_REALTIME, &m->started);
    *out = m;
    return NT_OK;
fail:
    micro_free(m);
    return NT_ENOMEM;
}

static void ep_free(micro_ep_t *ep)
{
    if (!ep)
        return;
    free(ep->name);
    free(ep->subject);
    free(ep);
}

int micro_add_endpoint(micro_t *m, const char *name, const char *subject, int workers,
                       micro_handler_fn fn, void *arg)
{
    if (!m || !name_ok(name) || !subject_ok(subject) || !fn || workers < 1 ||
        workers > MICRO_MAX_WORKERS)
        return NT_EINVAL;
    if (m->running || m->neps >= MICRO_MAX_ENDPOINTS)
        return NT_EINVAL;
    micro_ep_t *ep = calloc(1, sizeof *ep);
    if (!ep)
        return NT_ENOMEM;
    ep->m = m;
    ep->workers = workers;
    ep->fn = fn;
    ep->arg = arg;
    ep->name = strdup(name);
    ep->subject = strdup(subject);
    micro_ep_t **eps = realloc(m->eps, (size_t)(m->neps + 1) * sizeof *eps);
    if (!ep->name || !ep->subject || !eps) {
        if (eps)
            m->eps = eps;
        ep_free(ep);
        return NT_ENOMEM;
    }
    m->eps = eps;
    m->eps[m->neps++] = ep;
    return NT_OK;
}

const char *micro_name(const micro_t *m)
{
    return m->name;
}

int micro_endpoint_stats(micro_t *m, micro_ep_stat_t *out, int max)
{
    pthread_mutex_lock(&m->mu);
    int n = m->neps < max ? m->neps : max;
    for (int i = 0; i < n; i++) {
        out[i].name = m->eps[i]->name;
        out[i].num_requests = m->eps[i]->num_requests;
        out[i].num_errors = m->eps[i]->num_errors;
        out[i].processing_ns = m->eps[i]->processing_ns;
    }
    pthread_mutex_unlock(&m->mu);
    return n;
}

const char *micro_id(const micro_t *m)
{
    return m ? m->id : NULL;
}

void micro_free(micro_t *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->neps; i++)
        ep_free(m->eps[i]);
    free(m->eps);
    free(m->name);
    free(m->version);
    free(m->description);
    pthread_mutex_destroy(&m->mu);
    free(m);
}

/* ---- JSON documents ---- */

/* type, name, id, version, metadata: common to the three responses. */
static json_t *identity(const micro_t *m, const char *type)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:{}}", "type", type, "name", m->name, "id", m->id,
                     "version", m->version, "metadata");
}

static char *dump(json_t *doc)
{
    if (!doc)
        return NULL;
    char *s = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    return s;
}

char *micro_ping_json(micro_t *m)
{
    return m ? dump(identity(m, PING_TYPE)) : NULL;
}

char *micro_info_json(micro_t *m)
{
    if (!m)
        return NULL;
    json_t *doc = identity(m, INFO_TYPE);
    json_t *eps = json_array();
    if (!doc || !eps)
        goto fail;
    if (json_object_set_new(doc, "description", json_string(m->description)) != 0)
        goto fail;
    for (int i = 0; i < m->neps; i++) {
        const micro_ep_t *ep = m->eps[i];
        json_t *e = json_pack("{s:s, s:s, s:s, s:{}}", "name", ep->name, "subject", ep->subject,
                              "queue_group", m->name, "metadata");
        if (!e || json_array_append_new(eps, e) != 0)
            goto fail;
    }
    if (json_object_set_new(doc, "endpoints", eps) != 0) {
        eps = NULL; /* set_new consumed it even on failure */
        goto fail;
    }
    return dump(doc);
fail:
    json_decref(eps);
    json_decref(doc);
    return NULL;
}

/* RFC 3339 UTC with nanoseconds, as Go's time.Time marshals. */
static void rfc3339(const struct timespec *ts, char *buf, size_t n)
{
    struct tm tm;
    gmtime_r(&ts->tv_sec, &tm);
    snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%09ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long)ts->tv_nsec);
}

/* One endpoint's stats; m->mu held. */
static json_t *ep_stats(const micro_t *m, const micro_ep_t *ep)
{
    int64_t avg = ep->num_requests > 0 ? ep->processing_ns / ep->num_requests : 0;
    /* "data" (custom stats) is omitted, as nats.go does when there is none. */
    return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:I}", "name", ep->name, "subject",
                     ep->subject, "queue_group", m->name, "num_requests",
                     (json_int_t)ep->num_requests, "num_errors", (json_int_t)ep->num_errors,
                     "last_error", ep->last_error, "processing_time",
                     (json_int_t)ep->processing_ns, "average_processing_time", (json_int_t)avg);
}

char *micro_stats_json(micro_t *m)
{
    if (!m)
        return NULL;
    json_t *doc = identity(m, STATS_TYPE);
    json_t *eps = json_array();
    if (!doc || !eps)
        goto fail;
    char started[48];
    pthread_mutex_lock(&m->mu);
    rfc3339(&m->started, started, sizeof started);
    int bad = 0;
    for (int i = 0; i < m->neps && !bad; i++) {
        json_t *e = ep_stats(m, m->eps[i]);
        bad = !e || json_array_append_new(eps, e) != 0;
    }
    pthread_mutex_unlock(&m->mu);
    if (bad || json_object_set_new(doc, "started", json_string(started)) != 0)
        goto fail;
    if (json_object_set_new(doc, "endpoints", eps) != 0) {
        eps = NULL;
        goto fail;
    }
    return dump(doc);
fail:
    json_decref(eps);
    json_decref(doc);
    return NULL;
}

/* ---- handlers (nats.c delivery threads) ---- */

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void on_endpoint(bus_t *bus, natsMsg *msg, void *arg)
{
    micro_ep_t *ep = arg;
    int64_t t0 = mono_ns();
    int rc = ep->fn(bus, msg, ep->arg);
    int64_t dt = mono_ns() - t0;
    pthread_mutex_lock(&ep->m->mu);
    ep->num_requests++;
    ep->processing_ns += dt;
    if (rc < 0) {
        ep->num_errors++;
        snprintf(ep->last_error, sizeof ep->last_error, "%s: %s", api_code(rc), nt_strerror(rc));
    }
    pthread_mutex_unlock(&ep->m->mu);
}

int micro_call(micro_t *m, const char *endpoint, bus_t *bus, natsMsg *msg)
{
    for (int i = 0; m && endpoint && i < m->neps; i++)
        if (strcmp(m->eps[i]->name, endpoint) == 0) {
            on_endpoint(bus, msg, m->eps[i]);
            return NT_OK;
        }
    return NT_ENOTFOUND;
}

static void respond_json(bus_t *bus, natsMsg *req, char *json, const char *verb)
{
    const char *to = natsMsg_GetReply(req);
    if (!json) {
        log_error("micro response failed", "verb=%s err=\"%s\"", verb, nt_strerror(NT_ENOMEM));
        return;
    }
    if (to && *to) {
        natsStatus s = natsConnection_Publish(bus_conn(bus), to, json, (int)strlen(json));
        if (s != NATS_OK)
            log_warn("micro response failed", "verb=%s status=%s", verb, natsStatus_GetText(s));
    }
    free(json);
}

static void on_ping(bus_t *bus, natsMsg *msg, void *arg)
{
    respond_json(bus, msg, micro_ping_json(arg), "PING");
}

static void on_info(bus_t *bus, natsMsg *msg, void *arg)
{
    respond_json(bus, msg, micro_info_json(arg), "INFO");
}

static void on_stats(bus_t *bus, natsMsg *msg, void *arg)
{
    respond_json(bus, msg, micro_stats_json(arg), "STATS");
}

/* $SRV.<verb>, $SRV.<verb>.<name>, $SRV.<verb>.<name>.<id> */
static int subscribe_verb(micro_t *m, const char *verb, bus_handler_fn fn)
{
    char subj[3][160];
    snprintf(subj[0], sizeof subj[0], "$SRV.%s", verb);
    snprintf(subj[1], sizeof subj[1], "$SRV.%s.%s", verb, m->name);
    snprintf(subj[2], sizeof subj[2], "$SRV.%s.%s.%s", verb, m->name, m->id);
    for (int i = 0; i < 3; i++) {
        int rc = bus_subscribe(m->bus, subj[i], NULL, fn, m);
        if (rc != NT_OK)
            return rc;
    }
    return NT_OK;
}

int micro_start(micro_t *m)
{
    if (!m || !m->bus || m->running)
        return NT_EINVAL;
    m->running = 1; /* endpoints are frozen from here on */
    int rc = NT_OK;
    for (int i = 0; i < m->neps && rc == NT_OK; i++)
        for (int w = 0; w < m->eps[i]->workers && rc == NT_OK; w++)
            rc = bus_subscribe(m->bus, m->eps[i]->subject, m->name, on_endpoint, m->eps[i]);
    if (rc == NT_OK)
        rc = subscribe_verb(m, "PING", on_ping);
    if (rc == NT_OK)
        rc = subscribe_verb(m, "INFO", on_info);
    if (rc == NT_OK)
        rc = subscribe_verb(m, "STATS", on_stats);
    if (rc != NT_OK) {
        /* Subscriptions made so far belong to the bus and end with it. */
        log_error("micro start failed", "service=%s err=\"%s\"", m->name, nt_strerror(rc));
        return rc;
    }
    pthread_mutex_lock(&m->mu);
    clock_gettime(CLOCK_REALTIME, &m->started);
    pthread_mutex_unlock(&m->mu);
    log_info("micro service started", "service=%s version=%s id=%s endpoints=%d", m->name,
             m->version, m->id, m->neps);
    return NT_OK;
}
