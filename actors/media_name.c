/*
 * media_name.c - the rule for the display name an upload is kept under
 * (files.name, VARCHAR(255) utf8mb4): what the media pool refuses before
 * anything touches disk or database.  Alone in a file so that
 * tests/fuzz/fuzz_media.c can hold it against the edge's own check of
 * ?name= (http_file_name_ok): a name the edge accepts must not be refused
 * here after the whole upload has been streamed.
 */
#include "actors/media_pool.h"

#include <stddef.h>

/* A display name: 1-255 characters of valid UTF-8, no control characters. */
int media_name_ok(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t chars = 0, i = 0;
    while (u[i]) {
        unsigned c = u[i], cp, k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3
                                                : (c >> 3) == 30 ? 4 : 0;
        if (k == 0)
            return 0;
        cp = k == 1 ? c : c & (0x7f >> k);
        for (unsigned j = 1; j < k; j++) {
            if ((u[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (u[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp < 0x20 ||
            (cp >= 0x7f && cp <= 0x9f))
            return 0;
        i += k;
        chars++;
    }
    return chars >= 1 && chars <= MEDIA_NAME_CHARS && i < MEDIA_NAME_MAX;
}
