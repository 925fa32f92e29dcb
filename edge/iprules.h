/*
 * iprules.h - the admin's IP rules as an edge applies them (docs/API.md
 * "Admin").
 *
 * Loads every rule from the auth pool (im.svc.auth.ip_rules) on a
 * background thread: at start, retrying each second until a pool answers,
 * again at once when the pool announces a change (im.evt.ip_rules.changed)
 * and every reload_s seconds, so a change missed during a NATS disconnect
 * is picked up soon after.  The list is replaced whole on each load; the
 * request path only reads it (rwlock).  Until the first load nothing is
 * denied.
 */
#ifndef NT_IPRULES_H
#define NT_IPRULES_H

#include "bus/bus.h"

typedef struct iprules iprules_t;

/* changed (may be NULL) runs on the loader thread after each load that
 * changed the rules, with arg: edge-ws wakes its loop with it to close
 * the sockets a new deny rule covers. */
int iprules_start(bus_t *bus, int timeout_ms, int reload_s, void (*changed)(void *arg), void *arg,
                  iprules_t **out);

/* 1 if the client address addr (text) falls in a deny rule. */
int iprules_denied(iprules_t *r, const char *addr);

/* 1 once the rules have been loaded at least once (/healthz waits). */
int iprules_loaded(iprules_t *r);

/* Stop the loader thread and free.  The subscription belongs to the bus. */
void iprules_stop(iprules_t *r);

#endif
