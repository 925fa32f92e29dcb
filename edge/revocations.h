/*
 * revocations.h - keeps an edge's deny-list current (DESIGN.md "Tokens").
 *
 * Subscribes im.evt.session.* (SessionRevoked events published by the auth
 * pool) and, on a background thread, loads the list of sessions revoked
 * within the last access-TTL from the auth pool (im.svc.auth.revoked_list):
 * at start, retrying every second until a pool answers, and again every
 * reload_s seconds so an event missed during a NATS disconnect is picked up
 * soon after.  Edges never touch the store (DESIGN.md "Layout").
 */
#ifndef NT_REVOCATIONS_H
#define NT_REVOCATIONS_H

#include "bus/bus.h"
#include "edge/denylist.h"

typedef struct revocations revocations_t;

int revocations_start(bus_t *bus, denylist_t *deny, int timeout_ms, int reload_s,
                      revocations_t **out);

/* 1 once the list has been loaded at least once. */
int revocations_loaded(revocations_t *r);

/* Stop the loader thread and free.  The subscription belongs to the bus. */
void revocations_stop(revocations_t *r);

#endif
