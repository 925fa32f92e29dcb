/*
 * pb.c - pack protobuf-c messages onto the bus (see pb.h).
 */
#include "bus/pb.h"

#include "common/err.h"

#include <stdlib.h>

static int pack(const ProtobufCMessage *m, uint8_t **buf, size_t *len)
{
    size_t n = protobuf_c_message_get_packed_size(m);
    if (n > BUS_PB_MAX)
        return NT_ETOOLARGE;
    *buf = malloc(n ? n : 1);
    if (!*buf)
        return NT_ENOMEM;
    *len = protobuf_c_message_pack(m, *buf);
    return NT_OK;
}

int bus_msg_new_pb(const char *subject, const ProtobufCMessage *m, const char *uid,
                   const char *traceparent, natsMsg **out)
{
    uint8_t *buf;
    size_t len;
    int rc = pack(m, &buf, &len);
    if (rc != NT_OK)
        return rc;
    rc = bus_msg_new(subject, m->descriptor->name, uid, traceparent, buf, (int)len, out);
    free(buf);
    return rc;
}

int bus_reply_pb(bus_t *bus, natsMsg *req, const ProtobufCMessage *m)
{
    uint8_t *buf;
    size_t len;
    int rc = pack(m, &buf, &len);
    if (rc != NT_OK)
        return rc;
    rc = bus_reply(bus, req, m->descriptor->name, buf, (int)len);
    free(buf);
    return rc;
}

int bus_publish_pb(bus_t *bus, const char *subject, const ProtobufCMessage *m, const char *uid,
                   const char *traceparent)
{
    natsMsg *msg;
    int rc = bus_msg_new_pb(subject, m, uid, traceparent, &msg);
    if (rc != NT_OK)
        return rc;
    return bus_publish(bus, msg);
}
