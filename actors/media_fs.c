/*
 * media_fs.c - the layout of the media root (media_pool.h) and the moves
 * that keep an upload: check the bytes the edge left in tmp/, then rename
 * them to their content address.
 *
 * The edge hashed the upload as it streamed it; we hash it again while
 * reading it anyway (its first megabyte goes to libmagic), because the
 * name a file is stored under is a promise about its bytes: dedup drops
 * a new upload whose hash names a stored file, so a wrong hash would serve
 * someone else's bytes.  Reading 25 MiB costs tens of milliseconds.
 *
 * Paths: every name that reaches the file system is either a sha256 we
 * checked (64 lowercase hex) or a tmp name of [A-Za-z0-9._-] not starting
 * with '.', so nothing a client sends can climb out of the root.
 */
#include "actors/media_pool.h"

#include "common/err.h"
#include "common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define READ_CHUNK (64 * 1024)
#define TMP_NAME_MAX 128

int media_tmp_name_ok(const char *name)
{
    size_t n = 0;
    if (!name || name[0] == '.')
        return 0;
    for (; name[n]; n++) {
        char c = name[n];
        if (n >= TMP_NAME_MAX || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                                   (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
            return 0;
    }
    return n > 0;
}

static int sha_ok(const char *s)
{
    size_t n = 0;
    for (; s && s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return 0;
    return n == MEDIA_SHA_HEX;
}

int media_path_file(char *buf, size_t n, const char *sha)
{
    if (!sha_ok(sha))
        return NT_EINVAL;
    int w = snprintf(buf, n, "%.2s/%.2s/%s", sha, sha + 2, sha);
    return w > 0 && (size_t)w < n ? NT_OK : NT_ETOOLARGE;
}

int media_path_thumb(char *buf, size_t n, const char *sha)
{
    if (!sha_ok(sha))
        return NT_EINVAL;
    int w = snprintf(buf, n, "thumbs/%.2s/%s.jpg", sha, sha);
    return w > 0 && (size_t)w < n ? NT_OK : NT_ETOOLARGE;
}

/* mkdir path; each missing parent from its first slash after skip on. */
static int mkdir_from(char *path, size_t skip)
{
    size_t len = strlen(path);
    for (size_t i = skip > 0 ? skip : 1; i <= len; i++) {
        if (path[i] != '/' && path[i] != '\0')
            continue;
        char c = path[i];
        path[i] = '\0';
        int bad = mkdir(path, 0750) != 0 && errno != EEXIST;
        path[i] = c;
        if (bad) {
            log_error("cannot create media directory", "path=%s err=\"%s\"", path,
                      strerror(errno));
            return NT_EIO;
        }
    }
    return NT_OK;
}

int media_fs_init(const char *root)
{
    static const char *const sub[] = {"", "/tmp", "/thumbs"};
    char path[PATH_MAX];
    for (size_t i = 0; i < sizeof sub / sizeof sub[0]; i++) {
        if (snprintf(path, sizeof path, "%s%s", root, sub[i]) >= (int)sizeof path || !*path)
            return NT_ECONFIG;
        if (mkdir_from(path, 0) != NT_OK)
            return NT_EIO;
    }
    return NT_OK;
}

int media_fs_mkdirs(const char *root, const char *rel)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", root, rel) >= (int)sizeof path)
        return NT_EINVAL;
    char *slash = strrchr(path, '/');
    *slash = '\0';               /* the directory of rel */
    return mkdir_from(path, strlen(root) + 1);
}

static void hex(const unsigned char *md, unsigned n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < n; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Hash all of fd (size bytes), keeping its first bytes in head. */
static int hash_fd(int fd, int64_t size, char *sha, unsigned char *head, size_t *nhead)
{
    unsigned char *buf = malloc(READ_CHUNK), md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int64_t total = 0;
    int rc = buf && ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? NT_OK : NT_ENOMEM;
    *nhead = 0;
    while (rc == NT_OK) {
        ssize_t r = read(fd, buf, READ_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = NT_EIO;
        if (r <= 0)
            break;
        if (*nhead < MEDIA_SNIFF_BYTES) {
            size_t take = MEDIA_SNIFF_BYTES - *nhead < (size_t)r ? MEDIA_SNIFF_BYTES - *nhead
                                                                   : (size_t)r;
            memcpy(head + *nhead, buf, take);
            *nhead += take;
        }
        total += r;
        if (total > size || EVP_DigestUpdate(ctx, buf, (size_t)r) != 1)
            rc = NT_EINVAL; /* grew under us, or hashing failed */
    }
    if (rc == NT_OK && (total != size || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1))
        rc = NT_EINVAL;
    if (rc == NT_OK)
        hex(md, mdlen, sha);
    EVP_MD_CTX_free(ctx);
    free(buf);
    return rc;
}

int media_fs_check(const char *root, const char *name, int64_t size, const char *sha,
                   unsigned char **head, size_t *nhead)
{
    char path[PATH_MAX], got[2 * EVP_MAX_MD_SIZE + 1];
    struct stat st;
    *head = NULL;
    *nhead = 0;
    if (!media_tmp_name_ok(name) || !sha_ok(sha) ||
        snprintf(path, sizeof path, "%s/tmp/%s", root, name) >= (int)sizeof path)
        return NT_EINVAL;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        log_warn("upload not found", "path=%s err=\"%s\"", path, strerror(errno));
        return NT_EINVAL;
    }
    int rc = NT_EINVAL;
    unsigned char *buf = NULL;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != size)
        goto out;
    if (!(buf = malloc(MEDIA_SNIFF_BYTES))) {
        rc = NT_ENOMEM;
        goto out;
    }
    if ((rc = hash_fd(fd, size, got, buf, nhead)) == NT_OK && strcmp(got, sha) != 0)
        rc = NT_EINVAL;
out:
    if (rc == NT_EINVAL)
        log_warn("upload does not match its description", "path=%s size=%lld", path,
                 (long long)size);
    close(fd);
    if (rc == NT_OK)
        *head = buf;
    else
        free(buf);
    return rc;
}

int media_fs_keep(const char *root, const char *name, const char *rel)
{
    char from[PATH_MAX], to[PATH_MAX];
    struct stat st;
    if (!media_tmp_name_ok(name) ||
        snprintf(from, sizeof from, "%s/tmp/%s", root, name) >= (int)sizeof from ||
        snprintf(to, sizeof to, "%s/%s", root, rel) >= (int)sizeof to)
        return NT_EINVAL;
    if (stat(to, &st) == 0 && S_ISREG(st.st_mode)) {
        unlink(from); /* stored already: same name, same bytes */
        return NT_OK;
    }
    int rc = media_fs_mkdirs(root, rel);
    if (rc != NT_OK)
        return rc;
    /* Two processes may rename the same bytes here at once: the second
     * replaces the first's file with an identical one. */
    if (rename(from, to) != 0) {
        log_error("cannot store upload", "from=%s to=%s err=\"%s\"", from, to, strerror(errno));
        return NT_EIO;
    }
    return NT_OK;
}
