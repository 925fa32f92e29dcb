/*
 * reloader.h - a background thread that keeps something loaded from
 * elsewhere: load at once, again every interval, at once when poked (a
 * change was announced), and every second while loading fails, with one
 * warning per failing stretch.  It stops at once, whatever it was waiting
 * for (common/stopper.h).
 *
 * Why one module: the edges keep two such lists fed from the auth pool,
 * the IP rules (edge/iprules.c) and the deny-list of revoked sessions
 * (edge/revocations.c), and both need exactly this loop.
 */
#ifndef NT_RELOADER_H
#define NT_RELOADER_H

/* Returns NT_OK when loaded; anything else is retried after a second. */
typedef int (*reloader_load_fn)(void *arg);

typedef struct reloader reloader_t;

/* what names the data in the warning ("ip rules"); it must outlive r. */
int reloader_start(const char *what, int interval_s, reloader_load_fn load, void *arg,
                   reloader_t **out);

/* Load again soon (any thread; the load runs on the reloader's thread). */
void reloader_poke(reloader_t *r);

/* 1 once a load succeeded. */
int reloader_loaded(reloader_t *r);

/* Stop the thread (waits for a load under way) and free.  NULL is fine. */
void reloader_stop(reloader_t *r);

#endif
