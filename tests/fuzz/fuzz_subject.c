/*
 * fuzz_subject.c - subject_match (bus/subject.c), which bus_inline runs on
 * the subject of every message nats.c reads before it picks a handler.
 *
 * Input: line 1 the pattern, the rest the subject.  Property: the answer
 * equals a plain token-by-token reading of the NATS rules (split both at
 * '.', an empty token never matches, '*' is one token, a final '>' one or
 * more), and a subject of valid tokens matches itself and ">".
 */
#include "fuzz_common.h"

#include "bus/subject.h"

#include <stdlib.h>
#include <string.h>

#define MAX_TOKENS 64

/* Split s at '.' into at most MAX_TOKENS tokens; -1 if more or empty. */
static int split(char *s, char **tok)
{
    int n = 0;
    for (char *p = s;; n++) {
        if (n == MAX_TOKENS)
            return -1;
        tok[n] = p;
        char *dot = strchr(p, '.');
        if (!dot)
            return n + 1;
        *dot = '\0';
        p = dot + 1;
    }
}

static int reference(const char *pattern, const char *subject)
{
    char *p = strdup(pattern), *s = strdup(subject);
    char *pt[MAX_TOKENS], *st[MAX_TOKENS];
    int np = split(p, pt), ns = split(s, st), match = -1; /* -1: too many tokens */
    if (np > 0 && ns > 0) {
        match = 1;
        for (int i = 0; i < ns; i++)
            if (!*st[i])
                match = 0;
        for (int i = 0; match && i < np; i++) {
            if (i == np - 1 && strcmp(pt[i], ">") == 0) {
                match = ns > i;
                break;
            }
            if (i >= ns || (strcmp(pt[i], "*") != 0 && strcmp(pt[i], st[i]) != 0))
                match = 0;
            else if (i == np - 1 && ns != np)
                match = 0;
        }
    }
    free(p);
    free(s);
    return match;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *line;
    size_t n;
    fuzz_take_line(&data, &size, &line, &n);
    char *pattern = fuzz_cstr(line, n), *subject = fuzz_cstr(data, size);
    int got = subject_match(pattern, subject);
    FUZZ_CHECK(got == 0 || got == 1);
    int want = *pattern && *subject ? reference(pattern, subject) : 0;
    if (want >= 0)
        FUZZ_CHECK(got == want);
    int valid = *subject && reference(subject, subject) == 1;
    for (const char *c = subject; valid && *c; c++)
        valid = *c != '*' && *c != '>';
    if (valid) {
        FUZZ_CHECK(subject_match(subject, subject) == 1);
        FUZZ_CHECK(subject_match(">", subject) == 1);
    }
    free(pattern);
    free(subject);
    return 0;
}
