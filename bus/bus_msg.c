/*
 * bus_msg.c - messages on natter's connection (see bus.h): building one with
 * the headers every hop reads (Natter-Type, Natter-Uid, traceparent),
 * publishing, forwarding, request/reply and error replies.
 *
 * Kept apart from bus.c, which owns the connection's life (connect policy,
 * events, drain): nothing here touches the connection's state beyond
 * bus_conn(), so these functions are safe from any thread nats.c allows.
 */
#include "bus/bus.h"

#include "bus/bus_internal.h"
#include "common/err.h"
#include "common/log.h"
#include "proto/natter.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUS_ERR_MSG_MAX 1024 /* natter.Error message text cap */

int bus_forward(bus_t *bus, natsMsg *msg, const char *subject)
{
    natsMsg *m = NULL;
    const char **keys = NULL;
    int nkeys = 0;
    natsStatus s = natsMsg_Create(&m, subject, natsMsg_GetReply(msg), natsMsg_GetData(msg),
                                  natsMsg_GetDataLength(msg));
    if (s == NATS_OK) {
        s = natsMsgHeader_Keys(msg, &keys, &nkeys);
        if (s == NATS_NOT_FOUND)
            s = NATS_OK; /* no headers */
    }
    for (int i = 0; s == NATS_OK && i < nkeys; i++) {
        const char **vals = NULL;
        int nvals = 0;
        s = natsMsgHeader_Values(msg, keys[i], &vals, &nvals);
        for (int k = 0; s == NATS_OK && k < nvals; k++)
            s = natsMsgHeader_Add(m, keys[i], vals[k]);
        free((void *)vals);
    }
    free((void *)keys);
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return bus_status_err(s);
    }
    return bus_publish(bus, m);
}

int bus_msg_new(const char *subject, const char *type, const char *uid, const char *traceparent,
                const void *data, int len, natsMsg **out)
{
    if (out)
        *out = NULL;
    if (!subject || !*subject || len < 0 || (len > 0 && !data) || !out)
        return NT_EINVAL;
    /* natsMsg_Create does not open the library, and natsMsg_Destroy then
     * crashes on the uninitialised GC lock: open it (a no-op once open). */
    natsStatus s = nats_Open(-1);
    if (s != NATS_OK)
        return bus_status_err(s);
    natsMsg *m = NULL;
    s = natsMsg_Create(&m, subject, NULL, (const char *)data, len);
    if (s == NATS_OK && type)
        s = natsMsgHeader_Set(m, BUS_H_TYPE, type);
    if (s == NATS_OK && uid)
        s = natsMsgHeader_Set(m, BUS_H_UID, uid);
    if (s == NATS_OK && traceparent)
        s = natsMsgHeader_Set(m, BUS_H_TRACE, traceparent);
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        return bus_status_err(s);
    }
    *out = m;
    return NT_OK;
}

const char *bus_header(natsMsg *msg, const char *name)
{
    const char *v = NULL;
    if (!msg || !name || natsMsgHeader_Get(msg, name, &v) != NATS_OK)
        return NULL;
    return v;
}

int bus_publish(bus_t *bus, natsMsg *msg)
{
    if (!msg)
        return NT_EINVAL;
    if (!bus || !bus_conn(bus)) {
        natsMsg_Destroy(msg);
        return NT_EINVAL;
    }
    natsStatus s = natsConnection_PublishMsg(bus_conn(bus), msg);
    bus_msg_free(msg); /* copied into the connection's buffer */
    return bus_status_err(s);
}

int bus_request(bus_t *bus, natsMsg *req, int timeout_ms, natsMsg **reply)
{
    if (reply)
        *reply = NULL;
    if (!req)
        return NT_EINVAL;
    if (!bus || !bus_conn(bus) || !reply || timeout_ms <= 0) {
        natsMsg_Destroy(req);
        return NT_EINVAL;
    }
    natsStatus s = natsConnection_RequestMsg(reply, bus_conn(bus), req, timeout_ms);
    bus_msg_free(req);
    if (s == NATS_OK)
        return NT_OK;
    *reply = NULL;
    if (s == NATS_NO_RESPONDERS)
        return NT_EUNAVAIL;
    if (s == NATS_TIMEOUT) {
        bus_note_timeout(bus);
        return NT_ETIMEDOUT;
    }
    if (s == NATS_MAX_PAYLOAD)
        return NT_ETOOLARGE;
    return NT_EBUS;
}

/* Build and send a reply to req carrying headers and data. */
static int reply_with(bus_t *bus, natsMsg *req, const char *type, const char *err_code,
                      const void *data, int len)
{
    if (!bus || !bus_conn(bus) || !req)
        return NT_EINVAL;
    const char *to = natsMsg_GetReply(req);
    if (!to || !*to)
        return NT_EINVAL;
    natsMsg *m = NULL;
    int rc = bus_msg_new(to, type, NULL, bus_header(req, BUS_H_TRACE), data, len, &m);
    if (rc != NT_OK)
        return rc;
    if (err_code) {
        natsStatus s = natsMsgHeader_Set(m, BUS_H_ERROR, err_code);
        if (s != NATS_OK) {
            natsMsg_Destroy(m);
            return bus_status_err(s);
        }
    }
    return bus_publish(bus, m);
}

int bus_reply(bus_t *bus, natsMsg *req, const char *type, const void *data, int len)
{
    return reply_with(bus, req, type, NULL, data, len);
}

int bus_reply_error_detail(bus_t *bus, natsMsg *req, int err, const char *message,
                           const char *detail)
{
    char text[BUS_ERR_MSG_MAX];
    snprintf(text, sizeof text, "%s", message ? message : nt_strerror(err));
    Natter__Error e = NATTER__ERROR__INIT;
    e.code = (char *)api_code(err); /* protobuf-c fields are not const; not written */
    e.message = text;
    e.detail = (char *)(detail ? detail : "");
    size_t n = natter__error__get_packed_size(&e);
    uint8_t *buf = malloc(n ? n : 1);
    if (!buf)
        return NT_ENOMEM;
    natter__error__pack(&e, buf);
    int rc = reply_with(bus, req, natter__error__descriptor.name, e.code, buf, (int)n);
    free(buf);
    return rc;
}

int bus_reply_error(bus_t *bus, natsMsg *req, int err, const char *message)
{
    return bus_reply_error_detail(bus, req, err, message, NULL);
}

int bus_reply_status_detail(natsMsg *reply, char *msgbuf, size_t msgbuf_len, char *detail,
                            size_t detail_len)
{
    if (msgbuf && msgbuf_len > 0)
        msgbuf[0] = '\0';
    if (detail && detail_len > 0)
        detail[0] = '\0';
    const char *code = bus_header(reply, BUS_H_ERROR);
    if (!code)
        return NT_OK;
    int len = natsMsg_GetDataLength(reply);
    const uint8_t *data = (const uint8_t *)natsMsg_GetData(reply);
    Natter__Error *e = len > 0 && data ? natter__error__unpack(NULL, (size_t)len, data) : NULL;
    if (msgbuf && msgbuf_len > 0)
        snprintf(msgbuf, msgbuf_len, "%s", e && e->message && *e->message ? e->message : code);
    if (detail && detail_len > 0 && e && e->detail)
        snprintf(detail, detail_len, "%s", e->detail);
    if (e)
        natter__error__free_unpacked(e, NULL);
    return api_err(code);
}

int bus_reply_status(natsMsg *reply, char *msgbuf, size_t msgbuf_len)
{
    return bus_reply_status_detail(reply, msgbuf, msgbuf_len, NULL, 0);
}
