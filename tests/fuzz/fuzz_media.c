/*
 * fuzz_media.c - an upload's name and content type: the edge's ?name=
 * check (http_upload_name), the media pool's rule for the same name
 * (media_name_ok), and the MIME type sniffed from the content
 * (media_sniff_buf, libmagic with the system database) that decides
 * whether the bytes get decoded for a thumbnail (media_thumb_type) and
 * what Content-Type they are served with.
 *
 * Input: the query string of POST /api/files/upload, '\n', the file's
 * first bytes.
 * Properties: a name the edge accepts, the pool accepts too (else an
 * upload is refused only after all its bytes were streamed and hashed);
 * a sniffed type is "type/subtype" in printable ASCII without spaces,
 * quotes, ',' or ';' that fits files.mime, so it can go into a header.
 */
#include "fuzz_common.h"

#include "actors/media_pool.h"
#include "common/err.h"
#include "edge/http/http_edge.h"
#include "store/media_store.h"

#include <stdlib.h>
#include <string.h>

static media_sniff_t *sniff;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    const uint8_t *q;
    size_t qn;
    fuzz_quiet();
    if (!sniff && media_sniff_new(&sniff) != NT_OK)
        abort();
    fuzz_take_line(&data, &n, &q, &qn);

    char *qs = fuzz_cstr(q, qn), name[256 * 4];
    if (http_upload_name(qs, name, sizeof name) == NT_OK) {
        FUZZ_CHECK(http_file_name_ok(name, strlen(name)));
        FUZZ_CHECK(media_name_ok(name));
    }
    free(qs);
    /* The raw bytes as a stored name, as the pool sees a MediaRegisterReq. */
    char *raw = fuzz_cstr(q, qn);
    if (http_file_name_ok(raw, qn))
        FUZZ_CHECK(media_name_ok(raw));
    free(raw);

    char mime[MEDIA_MIME_MAX];
    FUZZ_CHECK(media_sniff_buf(sniff, data, n, mime, sizeof mime) == NT_OK);
    size_t len = strnlen(mime, sizeof mime);
    FUZZ_CHECK(len < sizeof mime);
    const char *slash = strchr(mime, '/');
    FUZZ_CHECK(slash && slash != mime && slash[1]);
    for (size_t i = 0; i < len; i++)
        FUZZ_CHECK(mime[i] > ' ' && mime[i] < 0x7f && !strchr(";,\"", mime[i]));
    (void)media_thumb_type(mime);
    return 0;
}
