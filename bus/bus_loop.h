/*
 * bus_loop.h - private to bus/: what bus.c needs from bus_loop.c, the one
 * file that includes nats.c's libuv adapter (its functions are not static,
 * so a second includer would define them twice).
 */
#ifndef NT_BUS_LOOP_H
#define NT_BUS_LOOP_H

#include "bus/bus.h"

/* Point o's socket I/O at loop (a uv_loop_t) through the adapter. */
natsStatus bus_loop_opts(natsOptions *o, void *loop);

/* The loop the bus was connected on, or NULL (bus.c). */
void *bus_loop_get(bus_t *bus);

#endif
