/*
 * config.c - a small INI reader (see config.h).
 *
 * Accepts "[section]" headers, "key = value" lines, comments starting with
 * '#' or ';' (also after a value, when preceded by whitespace), and blank
 * lines.  Values are trimmed; no quoting or escapes:
 * settings are ports, paths and numbers.  Anything else is an error with the
 * line number logged, because a silently ignored setting is worse than a
 * refused start; so is a NUL byte in the file.
 */
#include "common/config.h"

#include "common/err.h"
#include "common/log.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct config_entry {
    char *key; /* "section.key" */
    char *value;
} config_entry_t;

struct config {
    config_entry_t *entries;
    size_t n, cap;
};

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int config_put(config_t *cfg, const char *section, const char *key, const char *value)
{
    size_t klen = strlen(section) + 1 + strlen(key) + 1;
    char *full = malloc(klen);
    if (!full)
        return NT_ENOMEM;
    snprintf(full, klen, "%s.%s", section, key);
    for (size_t i = 0; i < cfg->n; i++) {
        if (strcmp(cfg->entries[i].key, full) == 0) { /* later line wins */
            char *v = strdup(value);
            free(full);
            if (!v)
                return NT_ENOMEM;
            free(cfg->entries[i].value);
            cfg->entries[i].value = v;
            return NT_OK;
        }
    }
    if (cfg->n == cfg->cap) {
        size_t cap = cfg->cap ? cfg->cap * 2 : 32;
        config_entry_t *e = realloc(cfg->entries, cap * sizeof *e);
        if (!e) {
            free(full);
            return NT_ENOMEM;
        }
        cfg->entries = e;
        cfg->cap = cap;
    }
    char *v = strdup(value);
    if (!v) {
        free(full);
        return NT_ENOMEM;
    }
    cfg->entries[cfg->n].key = full;
    cfg->entries[cfg->n].value = v;
    cfg->n++;
    return NT_OK;
}

static int valid_name(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '_' && *s != '-')
            return 0;
    return 1;
}

int config_parse(const char *text, config_t **out)
{
    config_t *cfg = calloc(1, sizeof *cfg);
    char *copy = strdup(text ? text : "");
    char section[64] = "";
    int rc = NT_OK, lineno = 0;
    if (!cfg || !copy) {
        rc = NT_ENOMEM;
        goto fail;
    }
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        char *s = trim(line);
        if (*s == '\0' || *s == '#' || *s == ';')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (!end || end[1] != '\0' || (size_t)(end - s - 1) >= sizeof section) {
                rc = NT_ECONFIG;
                goto bad;
            }
            *end = '\0';
            char *name = trim(s + 1);
            if (!valid_name(name)) {
                rc = NT_ECONFIG;
                goto bad;
            }
            snprintf(section, sizeof section, "%s", name);
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq || !section[0]) {
            rc = NT_ECONFIG;
            goto bad;
        }
        *eq = '\0';
        char *value = eq + 1;
        for (char *c = value; *c; c++) { /* inline comment: whitespace then # or ; */
            if ((*c == '#' || *c == ';') && (c == value || isspace((unsigned char)c[-1]))) {
                *c = '\0';
                break;
            }
        }
        char *key = trim(s);
        value = trim(value);
        if (!valid_name(key)) {
            rc = NT_ECONFIG;
            goto bad;
        }
        if ((rc = config_put(cfg, section, key, value)) != NT_OK)
            goto fail;
    }
    free(copy);
    *out = cfg;
    return NT_OK;
bad:
    log_error("config syntax error", "line=%d", lineno);
fail:
    free(copy);
    config_free(cfg);
    return rc;
}

int config_load(const char *path, int required, config_t **out)
{
    FILE *f = path ? fopen(path, "rb") : NULL;
    if (!f) {
        if (required) {
            log_error("cannot open config", "path=%s errno=%d", path ? path : "(none)", errno);
            return NT_ECONFIG;
        }
        return config_parse("", out);
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = NT_OK;
    for (;;) {
        if (cap - len < 4096) {
            if (cap > (1u << 20)) { /* a config file is small; refuse a huge one */
                rc = NT_ECONFIG;
                break;
            }
            char *nb = realloc(buf, cap + 8192);
            if (!nb) {
                rc = NT_ENOMEM;
                break;
            }
            buf = nb;
            cap += 8192;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    if (rc == NT_OK && memchr(buf, '\0', len)) {
        /* config_parse reads a C string: everything after the NUL would be
         * silently ignored (found by tests/fuzz/fuzz_config.c). */
        log_error("config file contains a NUL byte", "path=%s offset=%zu", path,
                  (size_t)((char *)memchr(buf, '\0', len) - buf));
        rc = NT_ECONFIG;
    }
    if (rc == NT_OK) {
        buf[len] = '\0';
        rc = config_parse(buf, out);
    }
    free(buf);
    return rc;
}

void config_free(config_t *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < cfg->n; i++) {
        free(cfg->entries[i].key);
        free(cfg->entries[i].value);
    }
    free(cfg->entries);
    free(cfg);
}

const char *config_str(const config_t *cfg, const char *key, const char *def)
{
    char env[128] = "NATTER_";
    size_t n = strlen(env);
    for (const char *k = key; *k && n < sizeof env - 1; k++)
        env[n++] = (*k == '.' || *k == '-') ? '_' : (char)toupper((unsigned char)*k);
    env[n] = '\0';
    const char *v = getenv(env);
    if (v)
        return v;
    for (size_t i = 0; cfg && i < cfg->n; i++)
        if (strcmp(cfg->entries[i].key, key) == 0)
            return cfg->entries[i].value;
    return def;
}

int config_int(const config_t *cfg, const char *key, long def, long min, long max, long *out)
{
    const char *v = config_str(cfg, key, NULL);
    if (!v || !*v) {
        *out = def;
        return NT_OK;
    }
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || *end || x < min || x > max) {
        log_error("bad integer setting", "key=%s value=%s min=%ld max=%ld", key, v, min, max);
        return NT_ECONFIG;
    }
    *out = x;
    return NT_OK;
}
