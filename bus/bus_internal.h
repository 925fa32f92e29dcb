/*
 * bus_internal.h - what the bus/ modules share and no one else needs.
 */
#ifndef NT_BUS_INTERNAL_H
#define NT_BUS_INTERNAL_H

#include "bus/bus.h"

#include <nats/nats.h>

/* A nats.c status as one of natter's NT_* codes (common/err.h). */
int bus_status_err(natsStatus s);

/* nats_private.c: a function libnats 3.x exports without declaring it, or
 * NULL (older or newer libnats, or gone); logs a warning when NULL. */
void *nats_private(const char *name);

/* bus_inline.c: the route table behind bus_inline.  new installs nats.c's
 * message filter on the bus's connection (NT_EINTERNAL if this libnats has
 * none); add appends a route (callers serialise adds); free after the
 * connection is destroyed. */
typedef struct bus_inline bus_inline_t;
int bus_inline_new(bus_t *bus, bus_inline_t **out);
int bus_inline_add(bus_inline_t *t, const char *pattern, bus_inline_fn fn, void *arg);
void bus_inline_free(bus_inline_t *t);

#endif
