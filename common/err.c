/*
 * err.c - texts and API mappings for the shared error enum (see err.h).
 */
#include "common/err.h"

#include <string.h>

const char *nt_strerror(int err)
{
    switch (err) {
    case NT_OK: return "ok";
    case NT_ENOMEM: return "out of memory";
    case NT_EINVAL: return "invalid input";
    case NT_EIO: return "i/o error";
    case NT_ETIMEDOUT: return "timed out";
    case NT_ENOTFOUND: return "not found";
    case NT_ECONFLICT: return "conflict";
    case NT_ETAKEN: return "already taken";
    case NT_EUNAUTH: return "unauthorized";
    case NT_EFORBIDDEN: return "forbidden";
    case NT_ETOOLARGE: return "too large";
    case NT_ERATELIMIT: return "rate limited";
    case NT_EUNAVAIL: return "unavailable";
    case NT_EDB: return "database error";
    case NT_EBUS: return "bus error";
    case NT_ECRYPTO: return "crypto error";
    case NT_ECONFIG: return "configuration error";
    case NT_EINTERNAL: return "internal error";
    case NT_EBANNED: return "banned";
    default: return "unknown error";
    }
}

static const struct {
    int err;
    const char *code;
    int status;
} api_map[] = {
    {NT_EINVAL, "bad_request", 400},
    {NT_EUNAUTH, "unauthorized", 401},
    {NT_EFORBIDDEN, "forbidden", 403},
    {NT_EBANNED, "banned", 403},
    {NT_ENOTFOUND, "not_found", 404},
    {NT_ECONFLICT, "conflict", 409},
    {NT_ETAKEN, "username_taken", 409},
    {NT_ETOOLARGE, "too_large", 413},
    {NT_ERATELIMIT, "rate_limited", 429},
    {NT_EUNAVAIL, "unavailable", 503},
    {NT_ETIMEDOUT, "unavailable", 503},
};

const char *api_code(int err)
{
    for (size_t i = 0; i < sizeof api_map / sizeof api_map[0]; i++)
        if (api_map[i].err == err)
            return api_map[i].code;
    return "internal";
}

int api_status(const char *code)
{
    for (size_t i = 0; code && i < sizeof api_map / sizeof api_map[0]; i++)
        if (strcmp(api_map[i].code, code) == 0)
            return api_map[i].status;
    return 500;
}

int api_err(const char *code)
{
    for (size_t i = 0; code && i < sizeof api_map / sizeof api_map[0]; i++)
        if (strcmp(api_map[i].code, code) == 0)
            return api_map[i].err;
    return NT_EINTERNAL;
}
