/*
 * password.c - argon2id password hashes (see password.h).
 *
 * The encoded string carries its own parameters, so a hash made with old
 * settings still verifies after the defaults change.  That also means the
 * parameters in a stored string drive how much memory and time a verify
 * spends; they are read and range-checked here before libargon2 sees them,
 * so one corrupt row (m=4 GiB) cannot take a pool down.
 */
#include "common/password.h"

#include "common/err.h"

#include <argon2.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#define SALT_LEN 16
#define HASH_LEN 32
/* API.md allows 8-256 bytes; the edge enforces that.  This cap only bounds
 * the work one call can be asked to do. */
#define PASSWORD_MAX_LEN 4096

/* Sane ranges.  Below 1 MiB argon2 stops being memory-hard in any useful
 * way; above 1 GiB or 16 lanes a login would starve the pool. */
#define T_MIN 1u
#define T_MAX 16u
#define M_MIN 1024u
#define M_MAX (1024u * 1024u)
#define P_MIN 1u
#define P_MAX 16u

static const password_params_t defaults = {.t_cost = 2, .m_kib = 19456, .parallelism = 1};

static int params_ok(uint32_t t, uint32_t m, uint32_t p)
{
    return t >= T_MIN && t <= T_MAX && m >= M_MIN && m <= M_MAX && p >= P_MIN && p <= P_MAX &&
           m >= 8 * p; /* argon2 needs 8 blocks per lane */
}

int password_hash(const password_params_t *p, const char *pw, size_t len, char *out, size_t n)
{
    unsigned char salt[SALT_LEN];
    int rc;

    if (!p)
        p = &defaults;
    if (!out || n < PASSWORD_HASH_MAX || (!pw && len) || len > PASSWORD_MAX_LEN)
        return NT_EINVAL;
    if (!params_ok(p->t_cost, p->m_kib, p->parallelism))
        return NT_EINVAL;
    if (argon2_encodedlen(p->t_cost, p->m_kib, p->parallelism, SALT_LEN, HASH_LEN, Argon2_id) >
        n)
        return NT_EINVAL;
    if (RAND_bytes(salt, sizeof salt) != 1) {
        ERR_clear_error();
        return NT_ECRYPTO;
    }
    rc = argon2id_hash_encoded(p->t_cost, p->m_kib, p->parallelism, pw ? pw : "", len, salt,
                               sizeof salt, HASH_LEN, out, n);
    OPENSSL_cleanse(salt, sizeof salt);
    if (rc == ARGON2_MEMORY_ALLOCATION_ERROR)
        return NT_ENOMEM;
    if (rc != ARGON2_OK) {
        out[0] = '\0';
        return NT_ECRYPTO;
    }
    return 0;
}

/* Read a decimal uint32 at *s, advancing it; no sign, no spaces, no
 * leading zeros (argon2's own encoder never writes them). */
static int read_u32(const char **s, uint32_t *out)
{
    const char *c = *s;
    uint64_t v = 0;
    if (*c < '0' || *c > '9' || (c[0] == '0' && c[1] >= '0' && c[1] <= '9'))
        return 0;
    for (; *c >= '0' && *c <= '9'; c++) {
        v = v * 10 + (uint64_t)(*c - '0');
        if (v > UINT32_MAX)
            return 0;
    }
    *out = (uint32_t)v;
    *s = c;
    return 1;
}

static int expect(const char **s, const char *lit)
{
    size_t l = strlen(lit);
    if (strncmp(*s, lit, l) != 0)
        return 0;
    *s += l;
    return 1;
}

/* Parameters of "$argon2id$v=19$m=M,t=T,p=P$..." if they are in range. */
static int encoded_params_ok(const char *e)
{
    uint32_t m, t, p;
    if (!expect(&e, "$argon2id$v=19$m=") || !read_u32(&e, &m) || !expect(&e, ",t=") ||
        !read_u32(&e, &t) || !expect(&e, ",p=") || !read_u32(&e, &p) || !expect(&e, "$"))
        return 0;
    return params_ok(t, m, p);
}

int password_verify(const char *encoded, const char *pw, size_t len)
{
    if (!encoded || (!pw && len))
        return NT_EINVAL;
    if (strnlen(encoded, PASSWORD_HASH_MAX) >= PASSWORD_HASH_MAX || !encoded_params_ok(encoded))
        return NT_EINVAL;
    /* No stored hash was made from a longer password, so it cannot match. */
    if (len > PASSWORD_MAX_LEN)
        return NT_EUNAUTH;

    int rc = argon2id_verify(encoded, pw ? pw : "", len);
    switch (rc) {
    case ARGON2_OK:
        return 0;
    case ARGON2_VERIFY_MISMATCH:
        return NT_EUNAUTH;
    case ARGON2_MEMORY_ALLOCATION_ERROR:
        return NT_ENOMEM;
    default: /* decoding, salt/hash length, version ... */
        return NT_EINVAL;
    }
}
