/*
 * reloader.c - keep something loaded on a background thread (reloader.h).
 */
#include "common/reloader.h"

#include "common/err.h"
#include "common/log.h"
#include "common/stopper.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#define RELOADER_RETRY_MS 1000

struct reloader {
    const char *what;
    long interval_ms;
    reloader_load_fn load;
    void *arg;
    stopper_t stop;
    pthread_t thread;
    atomic_int loaded;
};

static void *run(void *arg)
{
    reloader_t *r = arg;
    int warned = 0;
    for (;;) {
        int rc = r->load(r->arg);
        if (rc == NT_OK) {
            atomic_store(&r->loaded, 1);
            warned = 0;
        } else if (!warned++) {
            log_warn("load failed, retrying", "what=\"%s\" err=\"%s\"", r->what, nt_strerror(rc));
        }
        if (stopper_sleep_ms(&r->stop, rc == NT_OK ? r->interval_ms : RELOADER_RETRY_MS))
            return NULL;
    }
}

int reloader_start(const char *what, int interval_s, reloader_load_fn load, void *arg,
                   reloader_t **out)
{
    *out = NULL;
    if (!what || !load || interval_s < 1)
        return NT_EINVAL;
    reloader_t *r = calloc(1, sizeof *r);
    if (!r)
        return NT_ENOMEM;
    r->what = what;
    r->interval_ms = (long)interval_s * 1000;
    r->load = load;
    r->arg = arg;
    if (stopper_init(&r->stop) != NT_OK) {
        free(r);
        return NT_EINTERNAL;
    }
    if (pthread_create(&r->thread, NULL, run, r) != 0) {
        stopper_fini(&r->stop);
        free(r);
        return NT_ENOMEM;
    }
    *out = r;
    return NT_OK;
}

void reloader_poke(reloader_t *r)
{
    stopper_poke(&r->stop);
}

int reloader_loaded(reloader_t *r)
{
    return atomic_load(&r->loaded);
}

void reloader_stop(reloader_t *r)
{
    if (!r)
        return;
    stopper_stop(&r->stop);
    pthread_join(r->thread, NULL);
    stopper_fini(&r->stop);
    free(r);
}
