/*
 * config.h - settings from an INI file with NATTER_* environment overrides.
 *
 * Keys are "section.key".  A lookup checks the environment first
 * (NATTER_SECTION_KEY, upper-cased, dots and dashes as underscores), then the
 * file, then the caller's default.  So an operator can run two nodes from one
 * file and move ports with the environment.  config/natter.conf lists every
 * key with its default.  A config_t is read-only after config_load and safe
 * to share between threads.
 */
#ifndef NT_CONFIG_H
#define NT_CONFIG_H

#include <stddef.h>

typedef struct config config_t;

/* Load path (NULL or a missing file when !required gives an empty config,
 * so environment and defaults still work).  Caller frees with config_free. */
int config_load(const char *path, int required, config_t **out);

/* Parse INI text (for tests and config_load).  Caller frees. */
int config_parse(const char *text, config_t **out);

void config_free(config_t *cfg);

/* The value for key, or def.  The pointer lives as long as cfg (or the
 * environment, or def). */
const char *config_str(const config_t *cfg, const char *key, const char *def);

/* Integer value; *out = def if unset.  NT_EINVAL if set but not an integer
 * in [min, max]. */
int config_int(const config_t *cfg, const char *key, long def, long min, long max, long *out);

#endif
