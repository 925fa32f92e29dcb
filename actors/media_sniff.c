/*
 * media_sniff.c - the MIME type of an upload, from its bytes (libmagic).
 *
 * Clients name files and set Content-Type as they like; what we store and
 * later serve as Content-Type is what the content says it is.  A magic_t
 * is not thread-safe, and a lookup of at most MEDIA_SNIFF_BYTES takes well
 * under a millisecond next to hashing the whole upload, so the media
 * workers share one handle under a mutex rather than keep one each.
 */
#include "actors/media_pool.h"

#include "common/err.h"
#include "common/log.h"

#include <magic.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct media_sniff {
    pthread_mutex_t mu;   /* guards m */
    magic_t m;
};

int media_sniff_new(media_sniff_t **out)
{
    *out = NULL;
    media_sniff_t *s = calloc(1, sizeof *s);
    if (!s)
        return NT_ENOMEM;
    /* MIME type only; no looking inside compressed data; never follow or
     * open anything ourselves: we only ever pass a buffer. */
    s->m = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR | MAGIC_NO_CHECK_COMPRESS);
    if (!s->m || magic_load(s->m, NULL) != 0) {
        log_error("cannot load the libmagic database", "err=\"%s\"",
                  s->m && magic_error(s->m) ? magic_error(s->m) : "magic_open failed");
        if (s->m)
            magic_close(s->m);
        free(s);
        return NT_ECONFIG;
    }
    size_t max = MEDIA_SNIFF_BYTES;
    magic_setparam(s->m, MAGIC_PARAM_BYTES_MAX, &max);
    pthread_mutex_init(&s->mu, NULL);
    *out = s;
    return NT_OK;
}

void media_sniff_free(media_sniff_t *s)
{
    if (!s)
        return;
    magic_close(s->m);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* A MIME type as libmagic writes it: type/subtype of printable ASCII
 * without spaces or ';' (so it can go into a header as it is). */
static int mime_ok(const char *t)
{
    const char *slash = t ? strchr(t, '/') : NULL;
    if (!slash || slash == t || !slash[1])
        return 0;
    for (const char *c = t; *c; c++)
        if (*c <= ' ' || *c >= 0x7f || *c == ';' || *c == ',' || *c == '"')
            return 0;
    return 1;
}

int media_sniff_buf(media_sniff_t *s, const void *buf, size_t n, char *mime, size_t cap)
{
    if (cap < 32)
        return NT_EINVAL;
    pthread_mutex_lock(&s->mu);
    const char *t = magic_buffer(s->m, buf, n);
    int ok = mime_ok(t) && strlen(t) < cap;
    if (ok)
        strcpy(mime, t);
    else if (!t)
        log_warn("libmagic failed", "err=\"%s\"", magic_error(s->m) ? magic_error(s->m) : "");
    pthread_mutex_unlock(&s->mu);
    if (!ok)
        strcpy(mime, "application/octet-stream");
    return NT_OK;
}
