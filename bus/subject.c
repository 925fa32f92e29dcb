/*
 * subject.c - build natter's NATS subjects (see subject.h, DESIGN.md
 * "Subjects").
 *
 * A subject is an address, and parts of it (user ids, conversation ids,
 * session ids) come from data a client can influence.  NATS gives '.', '*'
 * and '>' meaning and ends a subject at whitespace, so an unchecked id could
 * turn "im.conv.<cid>.send" into a wildcard or into someone else's address.
 * Every data token therefore passes subject_token_ok() before it is
 * formatted, and this is the only file that formats subjects.
 */
#include "bus/subject.h"

#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define SUBJECT_TOKEN_MAX 64

int subject_token_ok(const char *tok)
{
    if (!tok)
        return 0;
    size_t i = 0;
    for (; tok[i]; i++) {
        if (i >= SUBJECT_TOKEN_MAX)
            return 0;
        char c = tok[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        if (!ok)
            return 0;
    }
    return i > 0;
}

/* Format into buf; the format's literal parts are ours, the %s arguments
 * have been checked by the caller. */
__attribute__((format(printf, 3, 4))) static int fmt(char *buf, size_t n, const char *f, ...)
{
    if (!buf || n == 0)
        return NT_ETOOLARGE;
    va_list ap;
    va_start(ap, f);
    int w = vsnprintf(buf, n, f, ap);
    va_end(ap);
    if (w < 0) {
        buf[0] = '\0';
        return NT_EINTERNAL;
    }
    if ((size_t)w >= n) {
        buf[0] = '\0'; /* never leave a truncated, valid-looking address */
        return NT_ETOOLARGE;
    }
    return NT_OK;
}

static int bad(char *buf, size_t n)
{
    if (buf && n > 0)
        buf[0] = '\0';
    return NT_EINVAL;
}

int subject_svc(char *buf, size_t n, const char *pool, const char *op)
{
    if (!subject_token_ok(pool) || !subject_token_ok(op))
        return bad(buf, n);
    return fmt(buf, n, "im.svc.%s.%s", pool, op);
}

int subject_svc_all(char *buf, size_t n, const char *pool)
{
    if (!subject_token_ok(pool))
        return bad(buf, n);
    return fmt(buf, n, "im.svc.%s.>", pool);
}

int subject_conv(char *buf, size_t n, const char *cid, const char *verb)
{
    if (!subject_token_ok(cid) || !subject_token_ok(verb))
        return bad(buf, n);
    return fmt(buf, n, "im.conv.%s.%s", cid, verb);
}

int subject_call(char *buf, size_t n, const char *call_id, const char *verb)
{
    if (!subject_token_ok(call_id) || !subject_token_ok(verb))
        return bad(buf, n);
    return fmt(buf, n, "im.call.%s.%s", call_id, verb);
}

int subject_user_push(char *buf, size_t n, const char *uid)
{
    if (!subject_token_ok(uid))
        return bad(buf, n);
    return fmt(buf, n, "im.user.%s.push", uid);
}

int subject_user_ctl(char *buf, size_t n, const char *uid)
{
    if (!subject_token_ok(uid))
        return bad(buf, n);
    return fmt(buf, n, "im.user.%s.ctl", uid);
}

int subject_sess_ctl(char *buf, size_t n, const char *sid)
{
    if (!subject_token_ok(sid))
        return bad(buf, n);
    return fmt(buf, n, "im.sess.%s.ctl", sid);
}

int subject_evt(char *buf, size_t n, const char *kind, const char *id)
{
    if (!subject_token_ok(kind) || !subject_token_ok(id))
        return bad(buf, n);
    return fmt(buf, n, "im.evt.%s.%s", kind, id);
}

int subject_evt_all(char *buf, size_t n, const char *kind)
{
    if (!subject_token_ok(kind))
        return bad(buf, n);
    return fmt(buf, n, "im.evt.%s.>", kind);
}

int subject_match(const char *p, const char *s)
{
    if (!p || !s || !*p || !*s)
        return 0;
    for (;;) {
        const char *pe = strchr(p, '.'), *se = strchr(s, '.');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p);
        size_t sl = se ? (size_t)(se - s) : strlen(s);
        if (sl == 0)
            return 0;                       /* "a..b", "a.", ".a" */
        if (pl == 1 && *p == '>' && !pe)    /* the rest, at least this token, */
            return !strstr(s, "..") && s[strlen(s) - 1] != '.'; /* none empty */
        if (!(pl == 1 && *p == '*') && (pl != sl || memcmp(p, s, pl) != 0))
            return 0;
        if (!pe || !se)
            return !pe && !se;              /* both end here, or lengths differ */
        p = pe + 1;
        s = se + 1;
    }
}
