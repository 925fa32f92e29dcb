/*
 * fuzz_config.c - the INI reader (common/config.c): any bytes as a config
 * file, read through config_load (a memfd, so the file path is the real
 * one), and every documented key looked up as a string and an integer.
 *
 * Properties: the result is 0 or NT_ECONFIG; config_load and config_parse
 * agree on text without NUL bytes; a file with a NUL byte is refused (C
 * would silently ignore everything after it, and config.c's promise is that
 * no setting is silently ignored); an accepted integer is in its range.
 * NATTER_* environment variables are cleared first so only the file counts.
 */
#include "fuzz_common.h"

#include "common/config.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Every key of config/natter.conf, and a few that are not. */
static const char *const keys[] = {
    "log.level", "nats.url", "nats.user", "nats.password", "nats.request_timeout_ms", "nats.delivery_threads", "nats.send_asap", "db.host", "db.port", "db.user", "db.password", "db.name", "db.pool_size", "db.migrations", "db.connect_timeout", "redis.host", "redis.port", "redis.timeout_ms", "auth.private_key", "auth.public_key", "auth.access_ttl", "auth.refresh_ttl", "auth.prune_s", "auth.prune_margin_s", "auth.workers", "auth.login_rate_ip", "auth.login_rate_user", "http.bind", "http.port", "http.threads", "http.max_body", "ws.bind", "ws.port", "ws.max_frame", "ws.idle_timeout_s", "ws.max_outq", "ws.max_outq_bytes", "ws.ack_timeout_s", "ws.resend_max", "ws.max_unacked", "ws.presence_heartbeat_s", "msg.workers", "msg.text_max", "msg.group_max", "msg.revoke_window_s", "msg.batch_max", "msg.batch_wait_us", "msg.queue_max", "msg.send_rate", "msg.fanout_threads", "msg.fanout_chunk", "contacts.list_max", "ops.bind", "ops.http_port", "presence.workers", "presence.ttl_s", "presence.debounce_ms", "presence.sweep_ms", "presence.sweep_max", "presence.query_max", "presence.contacts_max", "media.root", "media.max_upload_bytes", "media.thumb_px", "media.workers", "media.max_pixels", 
    "a.b", "x-y.z_0", ".", "", NULL,
};

static void lookups(const config_t *c)
{
    for (size_t i = 0; keys[i]; i++) {
        const char *v = config_str(c, keys[i], NULL);
        FUZZ_CHECK(!v || strlen(v) < 1u << 20);
        long out = -9;
        int rc = config_int(c, keys[i], 7, -1000, 1000000, &out);
        FUZZ_CHECK(rc == NT_OK || rc == NT_ECONFIG);
        FUZZ_CHECK(rc != NT_OK || out == 7 || (out >= -1000 && out <= 1000000));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
    static int fd = -1;
    char path[64];
    config_t *a = NULL, *b = NULL;
    fuzz_quiet();
    if (fd < 0) {
        clearenv();
        fd = memfd_create("natter-fuzz-config", 0);
        if (fd < 0)
            abort();
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, n, 0) != (ssize_t)n)
        abort();
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    int rc = config_load(path, 1, &a);
    FUZZ_CHECK(rc == NT_OK || rc == NT_ECONFIG);
    char *text = fuzz_cstr(data, n);
    int rc2 = config_parse(text, &b);
    FUZZ_CHECK(rc2 == NT_OK || rc2 == NT_ECONFIG);
    if (memchr(data, '\0', n))
        FUZZ_CHECK(rc != NT_OK);
    else
        FUZZ_CHECK(rc == rc2);
    if (rc == NT_OK)
        lookups(a);
    if (rc2 == NT_OK)
        lookups(b);
    config_free(a);
    config_free(b);
    free(text);
    return 0;
}
