/*
 * pb_json.c - render any protobuf-c message as JSON through its descriptor
 * (see pb_json.h).  Only what protobuf-c's reflection offers is used: each
 * field's type, label, offset and quantifier offset.  64-bit integers are
 * JSON integers (jansson's json_int_t is 64-bit); uint64 above INT64_MAX
 * and bytes print as strings.
 */
#include "bus/pb_json.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int secret(const char *field)
{
    return strstr(field, "password") || strstr(field, "token");
}

static size_t elem_size(ProtobufCType t)
{
    switch (t) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
    case PROTOBUF_C_TYPE_ENUM:
        return 4;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64:
        return 8;
    case PROTOBUF_C_TYPE_FLOAT:
        return sizeof(float);
    case PROTOBUF_C_TYPE_DOUBLE:
        return sizeof(double);
    case PROTOBUF_C_TYPE_BOOL:
        return sizeof(protobuf_c_boolean);
    case PROTOBUF_C_TYPE_STRING:
        return sizeof(char *);
    case PROTOBUF_C_TYPE_BYTES:
        return sizeof(ProtobufCBinaryData);
    case PROTOBUF_C_TYPE_MESSAGE:
        return sizeof(ProtobufCMessage *);
    }
    return 0;
}

/* One value at p; *is_default tells whether proto3 would leave it out. */
static json_t *value(const ProtobufCFieldDescriptor *f, const void *p, int *is_default)
{
    char buf[32];
    *is_default = 0;
    switch (f->type) {
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        *is_default = *(const int32_t *)p == 0;
        return json_integer(*(const int32_t *)p);
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        *is_default = *(const uint32_t *)p == 0;
        return json_integer(*(const uint32_t *)p);
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        *is_default = *(const int64_t *)p == 0;
        return json_integer(*(const int64_t *)p);
    case PROTOBUF_C_TYPE_UINT64:
    case PROTOBUF_C_TYPE_FIXED64: {
        uint64_t v = *(const uint64_t *)p;
        *is_default = v == 0;
        if (v <= INT64_MAX)
            return json_integer((json_int_t)v);
        snprintf(buf, sizeof buf, "%" PRIu64, v);
        return json_string(buf);
    }
    case PROTOBUF_C_TYPE_FLOAT:
        *is_default = *(const float *)p == 0;
        return json_real(*(const float *)p);
    case PROTOBUF_C_TYPE_DOUBLE:
        *is_default = *(const double *)p == 0;
        return json_real(*(const double *)p);
    case PROTOBUF_C_TYPE_BOOL:
        *is_default = !*(const protobuf_c_boolean *)p;
        return json_boolean(*(const protobuf_c_boolean *)p);
    case PROTOBUF_C_TYPE_ENUM: {
        int v = *(const int *)p;
        const ProtobufCEnumValue *ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
        *is_default = v == 0;
        return ev ? json_string(ev->name) : json_integer(v);
    }
    case PROTOBUF_C_TYPE_STRING: {
        const char *s = *(char *const *)p;
        *is_default = !s || !*s;
        if (s && *s && secret(f->name))
            return json_string("***");
        if (!s)
            return json_string("");
        /* json_string refuses invalid UTF-8; a trace must still show it. */
        json_t *v = json_string(s);
        return v ? v : json_string("<invalid utf-8>");
    }
    case PROTOBUF_C_TYPE_BYTES: {
        const ProtobufCBinaryData *b = p;
        *is_default = b->len == 0;
        snprintf(buf, sizeof buf, "<%zu bytes>", b->len);
        return json_string(buf);
    }
    case PROTOBUF_C_TYPE_MESSAGE: {
        const ProtobufCMessage *m = *(ProtobufCMessage *const *)p;
        *is_default = m == NULL;
        return m ? pb_json(m) : json_null();
    }
    }
    return json_null();
}

/* Present at all?  Oneof members and proto2 optional scalars say so in
 * their quantifier; the rest are always "present" (maybe as default). */
static int present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
    const char *base = (const char *)m;
    if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
        return *(const uint32_t *)(base + f->quantifier_offset) == f->id;
    if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
        f->type != PROTOBUF_C_TYPE_MESSAGE)
        return *(const protobuf_c_boolean *)(base + f->quantifier_offset) != 0;
    return 1;
}

json_t *pb_json(const ProtobufCMessage *m)
{
    json_t *o = json_object();
    if (!o || !m)
        return o;
    const ProtobufCMessageDescriptor *d = m->descriptor;
    const char *base = (const char *)m;
    for (unsigned i = 0; i < d->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &d->fields[i];
        int dflt = 0;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(base + f->quantifier_offset);
            const char *arr = *(char *const *)(base + f->offset);
            if (n == 0)
                continue;
            json_t *a = json_array();
            for (size_t k = 0; a && k < n; k++)
                json_array_append_new(a, value(f, arr + k * elem_size(f->type), &dflt));
            json_object_set_new(o, f->name, a);
            continue;
        }
        if (!present(m, f))
            continue;
        json_t *v = value(f, base + f->offset, &dflt);
        if (dflt && !(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)) {
            json_decref(v);
            continue;
        }
        json_object_set_new(o, f->name, v);
    }
    return o;
}

json_t *pb_json_decode(const char *name, const void *data, size_t len)
{
    const ProtobufCMessageDescriptor *d = pb_type(name);
    if (!d)
        return NULL;
    ProtobufCMessage *m = protobuf_c_message_unpack(d, NULL, len, data);
    if (!m)
        return NULL;
    json_t *o = pb_json(m);
    protobuf_c_message_free_unpacked(m, NULL);
    return o;
}
