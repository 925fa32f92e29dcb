/*
 * bus_internal.h - what the bus/ modules share and no one else needs.
 */
#ifndef NT_BUS_INTERNAL_H
#define NT_BUS_INTERNAL_H

#include <nats/nats.h>

/* A nats.c status as one of natter's NT_* codes (common/err.h). */
int bus_status_err(natsStatus s);

#endif
