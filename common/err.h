/*
 * err.h - the one error enum every natter module returns.
 *
 * Functions return int: 0 on success, a negative NT_E* code on failure, and
 * hand results back through out-parameters.  nt_strerror() turns a code into
 * a short text for logs.  api_code/api_status map a code onto the client
 * contract (API.md error codes and HTTP statuses), so pools and edges agree
 * on what a failure means without string matching.
 */
#ifndef NT_ERR_H
#define NT_ERR_H

enum {
    NT_OK = 0,
    NT_ENOMEM = -1,       /* allocation failed */
    NT_EINVAL = -2,       /* bad argument or malformed input (bad_request) */
    NT_EIO = -3,          /* file or socket error */
    NT_ETIMEDOUT = -4,    /* nobody answered in time (unavailable) */
    NT_ENOTFOUND = -5,    /* not_found */
    NT_ECONFLICT = -6,    /* conflict */
    NT_ETAKEN = -7,       /* username_taken */
    NT_EUNAUTH = -8,      /* unauthorized */
    NT_EFORBIDDEN = -9,   /* forbidden */
    NT_ETOOLARGE = -10,   /* too_large */
    NT_ERATELIMIT = -11,  /* rate_limited */
    NT_EUNAVAIL = -12,    /* a dependency is down (unavailable) */
    NT_EDB = -13,         /* database error (internal) */
    NT_EBUS = -14,        /* NATS error (internal) */
    NT_ECRYPTO = -15,     /* key, signature or hashing failure */
    NT_ECONFIG = -16,     /* bad configuration */
    NT_EINTERNAL = -17,   /* a bug or an unexpected state */
    NT_EBANNED = -18,     /* banned (403): the account is banned */
};

/* Short static text for a code; never NULL. */
const char *nt_strerror(int err);

/* The API.md error code ("bad_request", ...) for a code; "internal" for
 * codes that are not the client's business. Never NULL. */
const char *api_code(int err);

/* The HTTP status for an API.md error code string; 500 for unknown codes. */
int api_status(const char *code);

/* The NT_E* code for an API.md error code string; NT_EINTERNAL if unknown. */
int api_err(const char *code);

#endif
