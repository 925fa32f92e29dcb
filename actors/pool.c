/*
 * pool.c - shared request plumbing of the pools (pool.h).
 */
#include "actors/pool.h"

#include "common/err.h"
#include "common/log.h"

#include <string.h>

int pool_fail(bus_t *bus, natsMsg *msg, int err, const char *message)
{
    return pool_fail_detail(bus, msg, err, message, NULL);
}

int pool_fail_detail(bus_t *bus, natsMsg *msg, int err, const char *message, const char *detail)
{
    char trace[40];
    bus_trace_id(bus_header(msg, BUS_H_TRACE), trace, sizeof trace);
    int level = (err == NT_EDB || err == NT_EINTERNAL || err == NT_ENOMEM) ? LOG_ERROR : LOG_INFO;
    log_at(level, "request failed", "subject=%s code=%s err=\"%s\" trace=%s",
           natsMsg_GetSubject(msg), api_code(err), nt_strerror(err), trace);
    if (strcmp(api_code(err), "internal") == 0) {
        message = "internal error";
        detail = NULL;
    }
    bus_reply_error_detail(bus, msg, err, message, detail);
    return err;
}

void *pool_unpack(bus_t *bus, natsMsg *msg, const ProtobufCMessageDescriptor *d)
{
    int len = natsMsg_GetDataLength(msg);
    const uint8_t *data = (const uint8_t *)natsMsg_GetData(msg);
    ProtobufCMessage *m =
        protobuf_c_message_unpack(d, NULL, (size_t)len, data ? data : (const uint8_t *)"");
    if (!m)
        pool_fail(bus, msg, NT_EINVAL, "malformed request");
    return m;
}
