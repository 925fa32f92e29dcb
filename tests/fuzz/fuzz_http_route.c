/*
 * fuzz_http_route.c - the REST router's view of a request line: the path
 * against every route of the table (http_path_match, what dispatch does),
 * and the query strings the GET routes read (http_query_int for paging,
 * mg_get_var + http_presence_ids for /api/presence, ?q= and ?limit= of the
 * user search, ?name= of an upload).
 *
 * Input: the path, '\n', the query string (civetweb hands both over
 * URL-decoded and NUL-terminated, so a NUL ends them here too).
 * Properties: a match fills {id}/{uid} with one non-empty segment that
 * fits; a pattern without parameters matches only itself (but the web
 * client's catch-all, which matches any path outside /api/); an accepted
 * integer is in its range; presence ids are distinct decimal ids, at most
 * the limit.
 */
#include "fuzz_common.h"

#include "bus/subject.h"
#include "common/err.h"
#include "edge/http/http_edge.h"

#include <civetweb.h>
#include <stdlib.h>
#include <string.h>

#define PARAM 72 /* sizeof http_req_t.param */

static void route(const char *path)
{
    const char *pat, *method;
    for (size_t i = 0; (pat = http_route_pattern(i, &method)) != NULL; i++) {
        char p1[PARAM], p2[PARAM];
        p1[0] = p2[0] = '\0';
        FUZZ_CHECK(method && *method);
        if (!http_path_match(pat, path, p1, p2, PARAM))
            continue;
        if (strcmp(pat, "/**") == 0) /* the web client's files: anything outside /api/ */
            FUZZ_CHECK(path[0] == '/' && strncmp(path, "/api/", 5) != 0);
        else if (!strchr(pat, '{'))
            FUZZ_CHECK(strcmp(pat, path) == 0);
        char subj[SUBJECT_MAX];
        if (p1[0] && subject_conv(subj, sizeof subj, p1, "get") == NT_OK)
            FUZZ_CHECK(subject_token_ok(p1) && !strpbrk(p1, ".*> \t"));
        if (strstr(pat, "{id}"))
            FUZZ_CHECK(p1[0] && strlen(p1) < PARAM && !strchr(p1, '/') && strstr(path, p1));
        if (strstr(pat, "{uid}"))
            FUZZ_CHECK(p2[0] && strlen(p2) < PARAM && !strchr(p2, '/') && strstr(path, p2));
    }
}

static void digits_id(const char *s)
{
    size_t n = strlen(s);
    FUZZ_CHECK(n >= 1 && n <= 19 && s[0] != '0' && strspn(s, "0123456789") == n);
}

static void query(const char *qs)
{
    char err[96];
    long long v = -3;
    int rc = http_query_int(qs, "after_seq", 0, INT64_MAX, &v, err, sizeof err);
    FUZZ_CHECK(rc == NT_OK || rc == NT_EINVAL);
    FUZZ_CHECK(rc != NT_OK || v == -3 || v >= 0);
    v = 50;
    rc = http_query_int(qs, "limit", 1, 100, &v, err, sizeof err);
    FUZZ_CHECK(rc != NT_OK || (v >= 1 && v <= 100));

    /* GET /api/presence?user_ids= (routes_presence.c) */
    char csv[HTTP_PRESENCE_IDS_MAX * 20 + 1];
    const char *ids[HTTP_PRESENCE_IDS_MAX];
    int nids = 0, got = mg_get_var(qs, strlen(qs), "user_ids", csv, sizeof csv);
    if (got >= 0) {
        FUZZ_CHECK((size_t)got < sizeof csv);
        if (http_presence_ids(csv, HTTP_PRESENCE_IDS_MAX, ids, &nids, err, sizeof err) == NT_OK) {
            FUZZ_CHECK(nids >= 1 && nids <= HTTP_PRESENCE_IDS_MAX);
            for (int i = 0; i < nids; i++) {
                digits_id(ids[i]);
                for (int j = 0; j < i; j++)
                    FUZZ_CHECK(strcmp(ids[i], ids[j]) != 0);
            }
        }
    }

    /* GET /api/users?q=&limit= (routes_auth.c) */
    char q[130];
    got = mg_get_var(qs, strlen(qs), "q", q, sizeof q);
    FUZZ_CHECK(got < (int)sizeof q);
    FUZZ_CHECK(got < 0 || strlen(q) <= (size_t)got);

    /* POST /api/files/upload?name= (routes_media.c) */
    char name[256 * 4];
    if (http_upload_name(qs, name, sizeof name) == NT_OK)
        FUZZ_CHECK(http_file_name_ok(name, strlen(name)));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const uint8_t *p, *q;
    size_t plen, qlen;
    fuzz_quiet();
    fuzz_take_line(&data, &n, &p, &plen);
    fuzz_take_line(&data, &n, &q, &qlen);
    char *path = fuzz_cstr(p, plen), *qs = fuzz_cstr(q, qlen);
    route(path);
    query(qs);
    free(path);
    free(qs);
    return 0;
}
