/*
 * msg_owner.c - the live msg instances and rendezvous placement
 * (msg_owner.h).
 */
#include "actors/msg_owner.h"

#include "common/err.h"
#include "common/log.h"
#include "common/stopper.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define OWNER_MAX 256              /* instances remembered */
#define SUBJECT_PREFIX "im.evt.msg_instance."

typedef struct peer {
    char id[MSG_OWNER_ID_MAX];
    uint64_t h;                    /* hash of id */
    int64_t seen;                  /* ms, monotonic */
} peer_t;

struct msg_owner {
    msg_owner_opts_t o;
    char self[MSG_OWNER_ID_MAX];
    uint64_t self_h;
    pthread_mutex_t mu;            /* guards peers, npeers, leaving */
    peer_t peers[OWNER_MAX];       /* others, not self */
    int npeers;
    int leaving;
    stopper_t stop;
    pthread_t beat;
    int beating;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t fnv(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t mix(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    return x ^ (x >> 33);
}

static void announce(msg_owner_t *o, const char *what)
{
    char subject[128];
    snprintf(subject, sizeof subject, SUBJECT_PREFIX "%s", o->self);
    natsMsg *m = NULL;
    int rc = bus_msg_new(subject, "text", NULL, NULL, what, (int)strlen(what), &m);
    if (rc == NT_OK)
        rc = bus_publish(o->o.bus, m);
    if (rc != NT_OK)
        log_warn("msg instance announce failed", "what=%s err=\"%s\"", what, nt_strerror(rc));
}

/* An announcement from an instance (ours too: ignored). */
static void on_announce(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    msg_owner_t *o = arg;
    const char *id = natsMsg_GetSubject(msg) + strlen(SUBJECT_PREFIX);
    size_t len = strlen(id);
    int leaving = natsMsg_GetDataLength(msg) == 7 &&
                  memcmp(natsMsg_GetData(msg), "leaving", 7) == 0;
    if (len == 0 || len >= MSG_OWNER_ID_MAX || strcmp(id, o->self) == 0)
        return;
    pthread_mutex_lock(&o->mu);
    int i = 0;
    while (i < o->npeers && strcmp(o->peers[i].id, id) != 0)
        i++;
    if (leaving) {
        if (i < o->npeers) {
            o->peers[i] = o->peers[--o->npeers];
            log_info("msg instance left", "id=%s", id);
        }
    } else if (i < o->npeers) {
        o->peers[i].seen = mono_ms();
    } else if (o->npeers < OWNER_MAX) {
        peer_t *p = &o->peers[o->npeers++];
        memcpy(p->id, id, len + 1);
        p->h = fnv(id, len);
        p->seen = mono_ms();
        log_info("msg instance joined", "id=%s", id);
    }
    pthread_mutex_unlock(&o->mu);
}

/* Drop instances not heard from in expire_ms (mu held). */
static void expire(msg_owner_t *o, int64_t now)
{
    for (int i = 0; i < o->npeers;) {
        if (now - o->peers[i].seen > o->o.expire_ms) {
            log_warn("msg instance silent, dropped", "id=%s", o->peers[i].id);
            o->peers[i] = o->peers[--o->npeers];
        } else {
            i++;
        }
    }
}

static void *beat_main(void *arg)
{
    msg_owner_t *o = arg;
    pthread_setname_np(pthread_self(), "msg-beat");
    while (!stopper_sleep_ms(&o->stop, o->o.beat_ms)) {
        pthread_mutex_lock(&o->mu);
        int leaving = o->leaving;
        expire(o, mono_ms());
        pthread_mutex_unlock(&o->mu);
        if (!leaving)
            announce(o, "alive");
    }
    return NULL;
}

int msg_owner_start(const msg_owner_opts_t *opts, msg_owner_t **out)
{
    *out = NULL;
    if (!opts || !opts->bus || !opts->self || !*opts->self ||
        strlen(opts->self) >= MSG_OWNER_ID_MAX || opts->beat_ms <= 0 ||
        opts->expire_ms <= opts->beat_ms)
        return NT_EINVAL;
    msg_owner_t *o = calloc(1, sizeof *o);
    if (!o)
        return NT_ENOMEM;
    o->o = *opts;
    snprintf(o->self, sizeof o->self, "%s", opts->self);
    o->o.self = o->self;
    o->self_h = fnv(o->self, strlen(o->self));
    if (pthread_mutex_init(&o->mu, NULL) != 0) {
        free(o);
        return NT_ENOMEM;
    }
    if (stopper_init(&o->stop) != NT_OK) {
        pthread_mutex_destroy(&o->mu);
        free(o);
        return NT_ENOMEM;
    }
    int rc = bus_subscribe(o->o.bus, SUBJECT_PREFIX "*", NULL, on_announce, o);
    if (rc != NT_OK) {
        msg_owner_free(o);
        return rc;
    }
    *out = o;
    return NT_OK;
}

int msg_owner_join(msg_owner_t *o)
{
    announce(o, "alive");
    if (pthread_create(&o->beat, NULL, beat_main, o) != 0)
        return NT_ENOMEM;
    o->beating = 1;
    return NT_OK;
}

int msg_owner_other(msg_owner_t *o, const char *cid, size_t cidlen, char *inst, size_t n)
{
    uint64_t ch = fnv(cid, cidlen);
    pthread_mutex_lock(&o->mu);
    int best = -1; /* -1: self */
    uint64_t top = o->leaving ? 0 : mix(o->self_h ^ ch);
    int have = !o->leaving;
    int64_t now = mono_ms();
    for (int i = 0; i < o->npeers; i++) {
        if (now - o->peers[i].seen > o->o.expire_ms)
            continue; /* silent: the beat thread drops it soon */
        uint64_t s = mix(o->peers[i].h ^ ch);
        if (!have || s > top) {
            top = s;
            best = i;
            have = 1;
        }
    }
    if (best >= 0)
        snprintf(inst, n, "%s", o->peers[best].id);
    pthread_mutex_unlock(&o->mu);
    return best >= 0;
}

void msg_owner_leave(msg_owner_t *o)
{
    if (!o)
        return;
    pthread_mutex_lock(&o->mu);
    o->leaving = 1;
    pthread_mutex_unlock(&o->mu);
    announce(o, "leaving");
}

int msg_owner_live(msg_owner_t *o)
{
    pthread_mutex_lock(&o->mu);
    int n = o->npeers + !o->leaving;
    pthread_mutex_unlock(&o->mu);
    return n;
}

void msg_owner_stop(msg_owner_t *o)
{
    if (!o)
        return;
    stopper_stop(&o->stop);
    if (o->beating)
        pthread_join(o->beat, NULL);
    o->beating = 0;
}

void msg_owner_free(msg_owner_t *o)
{
    if (!o)
        return;
    msg_owner_stop(o);
    stopper_fini(&o->stop);
    pthread_mutex_destroy(&o->mu);
    free(o);
}
