/*
 * pb.h - protobuf-c payloads on the bus.
 *
 * Every bus payload is a protobuf-c message (DESIGN.md); its full name
 * ("natter.User") goes into the Natter-Type header so traffic is readable
 * without decoding.  These wrap packing + bus_msg_new/bus_reply in one call.
 * bus stays ignorant of chat: it only knows ProtobufCMessage.
 */
#ifndef NT_BUS_PB_H
#define NT_BUS_PB_H

#include "bus/bus.h"

#include <protobuf-c/protobuf-c.h>

/* Payloads above this are refused before they reach NATS (max_payload is
 * 1 MB in config/nats-server.conf; this keeps headroom for headers). */
#define BUS_PB_MAX (900 * 1024)

/* New message carrying m; caller owns *out (or hands it to bus_publish /
 * bus_request, which consume it). */
int bus_msg_new_pb(const char *subject, const ProtobufCMessage *m, const char *uid,
                   const char *traceparent, natsMsg **out);

/* Reply to req with m. */
int bus_reply_pb(bus_t *bus, natsMsg *req, const ProtobufCMessage *m);

/* Publish m on subject (fire and forget). */
int bus_publish_pb(bus_t *bus, const char *subject, const ProtobufCMessage *m,
                   const char *uid, const char *traceparent);

#endif
