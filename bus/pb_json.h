/*
 * pb_json.h - bus payloads as JSON for people: `natter trace` prints every
 * message on the bus this way.
 *
 * The Natter-Type header names the protobuf message of a payload
 * ("natter.SendReq"); pb_type finds its descriptor in the table of every
 * message in proto/natter.proto (a unit test keeps the table complete), and
 * pb_json renders a decoded message through protobuf-c's reflection, so a
 * new field shows up in traces without code here.
 *
 * Secrets never reach the screen: string fields whose name contains
 * "password" or "token" print as "***" (passwords cross the bus from the
 * edge to the auth pool; refresh and access tokens come back).
 */
#ifndef NT_PB_JSON_H
#define NT_PB_JSON_H

#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

/* The descriptor for a Natter-Type value, or NULL if it is not ours. */
const ProtobufCMessageDescriptor *pb_type(const char *name);

/* Every descriptor pb_type knows (for tests); *n gets the count. */
const ProtobufCMessageDescriptor *const *pb_types(size_t *n);

/* m as a JSON object (fields at their default value are left out);
 * NULL on allocation failure.  Caller owns the result. */
json_t *pb_json(const ProtobufCMessage *m);

/* Decode data as type name and render it; NULL if the type is unknown or
 * the bytes are not that message. */
json_t *pb_json_decode(const char *name, const void *data, size_t len);

#endif
