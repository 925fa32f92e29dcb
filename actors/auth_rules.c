/*
 * auth_rules.c - account field rules (see auth_rules.h).
 *
 * Text fields are counted in UTF-8 code points (utf8_chars) because a limit
 * of "64 characters" must not cut a name written in a script that takes
 * three bytes per letter; control characters are refused in names because
 * they break every client's rendering.
 */
#include "actors/auth_rules.h"

#include "common/err.h"
#include "common/jsonv.h"
#include "store/user_store.h"

#include <stdio.h>
#include <string.h>

static int fail(char *err, size_t n, const char *msg)
{
    snprintf(err, n, "%s", msg);
    return NT_EINVAL;
}

int rule_username(const char *s, char *err, size_t n)
{
    size_t len = s ? strlen(s) : 0;
    if (len < 3 || len > USERNAME_MAX)
        return fail(err, n, "username must be 3-32 characters of a-z, 0-9, _ and .");
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.'))
            return fail(err, n, "username must be 3-32 characters of a-z, 0-9, _ and .");
    }
    return NT_OK;
}

int rule_password(const char *s, size_t len, char *err, size_t n)
{
    if (!s || len < PASSWORD_MIN || len > PASSWORD_MAX)
        return fail(err, n, "password must be 8-256 bytes");
    if (memchr(s, '\0', len))
        return fail(err, n, "password must not contain NUL");
    return NT_OK;
}

static int has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return 1;
    return 0;
}

int rule_display_name(const char *s, char *err, size_t n)
{
    size_t chars = s ? utf8_chars(s) : 0;
    if (chars < 1 || chars > DISPLAY_NAME_MAX || has_control(s))
        return fail(err, n, "display_name must be 1-64 characters without control characters");
    return NT_OK;
}

int rule_avatar_url(const char *s, char *err, size_t n)
{
    if (!s || !*s)
        return NT_OK; /* empty clears the avatar */
    if (strlen(s) > AVATAR_URL_MAX || has_control(s) || strchr(s, ' ') ||
        (strncmp(s, "https://", 8) != 0 && strncmp(s, "http://", 7) != 0))
        return fail(err, n, "avatar_url must be an http(s) URL of at most 512 bytes");
    return NT_OK;
}

int rule_bio(const char *s, char *err, size_t n)
{
    if (s && utf8_chars(s) > BIO_MAX)
        return fail(err, n, "bio must be at most 500 characters");
    return NT_OK;
}

int rule_platform(const char *s, char *err, size_t n)
{
    if (s && (strcmp(s, "web") == 0 || strcmp(s, "mobile") == 0 || strcmp(s, "desktop") == 0))
        return NT_OK;
    return fail(err, n, "platform must be one of web, mobile, desktop");
}

int rule_device_id(const char *s, char *err, size_t n)
{
    size_t len = s ? strlen(s) : 0;
    if (len > DEVICE_ID_MAX)
        return fail(err, n, "device_id must be at most 128 characters");
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x21 || s[i] > 0x7e)
            return fail(err, n, "device_id must be printable ASCII");
    return NT_OK;
}
