/*
 * denylist.h - revoked session ids an edge must refuse, each until the last
 * access token of that session would have expired anyway (DESIGN.md
 * "Tokens").  Checked on every authenticated request, so a lookup is a hash
 * probe under a mutex; expired entries are dropped as they are met and in a
 * sweep every few hundred inserts, so the table stays the size of "sessions
 * revoked in the last access-TTL".
 *
 * Thread-safe: the mutex guards the whole table; callers are civetweb
 * workers (lookups) and the nats.c delivery thread (inserts).
 */
#ifndef NT_DENYLIST_H
#define NT_DENYLIST_H

#include <stddef.h>
#include <stdint.h>

typedef struct denylist denylist_t;

int denylist_new(denylist_t **out);
void denylist_free(denylist_t *d);

/* Deny sid until expires_at (ms).  A later expiry wins. */
int denylist_add(denylist_t *d, const char *sid, int64_t expires_at);

/* 1 if sid is denied at now (ms). */
int denylist_has(denylist_t *d, const char *sid, int64_t now);

/* Entries currently held (for metrics and tests). */
size_t denylist_size(denylist_t *d);

/* Drop entries expired at now; returns how many. */
size_t denylist_sweep(denylist_t *d, int64_t now);

#endif
