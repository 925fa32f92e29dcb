/*
 * http_call.c - one REST request becomes one bus request to a pool.
 *
 * The edge stamps Natter-Uid (only after the token check) and traceparent;
 * the pool's Natter-Error becomes the API error with its status; no answer
 * within the timeout, or nobody subscribed, becomes 503 unavailable.
 */
#include "edge/http/http_edge.h"

#include "bus/pb.h"
#include "bus/subject.h"
#include "common/err.h"
#include "common/log.h"

int http_call(http_req_t *r, const char *pool, const char *op, const ProtobufCMessage *m,
              const ProtobufCMessageDescriptor *d, ProtobufCMessage **reply)
{
    char subject[SUBJECT_MAX];
    if (subject_svc(subject, sizeof subject, pool, op) != NT_OK) {
        http_reply_error(r, NT_EINTERNAL, "internal error");
        return NT_EINTERNAL;
    }
    return http_call_subject(r, subject, m, d, reply);
}

int http_call_subject(http_req_t *r, const char *subject, const ProtobufCMessage *m,
                      const ProtobufCMessageDescriptor *d, ProtobufCMessage **reply)
{
    char text[256], detail[8192]; /* a ban reason is up to 2000 bytes, JSON-escaped */
    natsMsg *req = NULL, *rep = NULL;
    int rc = bus_msg_new_pb(subject, m, r->authed ? r->who.uid : NULL, r->traceparent, &req);
    if (rc == NT_OK)
        rc = bus_request(r->edge->bus, req, r->edge->timeout_ms, &rep);
    if (rc == NT_ETIMEDOUT || rc == NT_EUNAVAIL || rc == NT_EBUS) {
        http_reply_error(r, NT_EUNAVAIL, "service unavailable, try again");
        return NT_EUNAVAIL;
    }
    if (rc != NT_OK) {
        http_reply_error(r, rc, NULL);
        return rc;
    }
    if ((rc = bus_reply_status_detail(rep, text, sizeof text, detail, sizeof detail)) != NT_OK) {
        bus_msg_free(rep);
        http_reply_error_detail(r, rc, text, detail);
        return rc;
    }
    *reply = protobuf_c_message_unpack(d, NULL, (size_t)natsMsg_GetDataLength(rep),
                                       (const uint8_t *)natsMsg_GetData(rep));
    bus_msg_free(rep);
    if (!*reply) {
        log_error("malformed pool reply", "subject=%s", subject);
        http_reply_error(r, NT_EINTERNAL, "internal error");
        return NT_EINTERNAL;
    }
    return NT_OK;
}
