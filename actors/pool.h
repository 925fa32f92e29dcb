/*
 * pool.h - what every pool's handlers share: failing a request the same way
 * (API error code, one log line with the trace id) and unpacking its
 * protobuf payload.  Pools (auth, msg, ...) add their own wiring on top.
 */
#ifndef NT_POOL_H
#define NT_POOL_H

#include "bus/bus.h"

#include <protobuf-c/protobuf-c.h>

/* Reply with err and message, log it with the request's trace id, and
 * return err (so a handler can `return pool_fail(...)`).  Internal
 * failures get a fixed text: they are not the client's business. */
int pool_fail(bus_t *bus, natsMsg *msg, int err, const char *message);
/* The same with detail: "" / NULL or a JSON object text whose members the
 * edge adds to the API error object. */
int pool_fail_detail(bus_t *bus, natsMsg *msg, int err, const char *message, const char *detail);

/* Unpack msg's payload as d; on failure answer bad_request and return NULL.
 * Free the result with protobuf_c_message_free_unpacked(x, NULL). */
void *pool_unpack(bus_t *bus, natsMsg *msg, const ProtobufCMessageDescriptor *d);

#endif
