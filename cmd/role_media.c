/*
 * role_media.c - `natter media`: the media pool process.
 *
 * Wires config, MariaDB (the files rows), libmagic, libvips and the bus
 * into the "media" micro service, then waits for SIGTERM and drains: NATS
 * stops routing requests to us, in-flight ones (a hash, a thumbnail)
 * finish and their replies are flushed, then libvips shuts down, exit 0.
 * Any number of these may run, on any machine that sees the same media
 * root as the edges (media.root): everything they write there is named by
 * content and renamed into place.
 */
#include "actors/media_pool.h"
#include "cmd/role_common.h"
#include "cmd/role_ops.h"
#include "common/err.h"
#include "common/log.h"
#include "common/version.h"

int role_media(const role_ctx_t *ctx)
{
    media_pool_t p = {0};
    micro_t *m = NULL;
    role_ops_t *ops = NULL;
    long workers, max_bytes, thumb_px, max_pixels;
    int rc = 1, vips = 0;
    const config_t *c = ctx->cfg;
    if (config_int(c, "media.workers", 4, 1, 64, &workers) ||
        config_int(c, "media.max_upload_bytes", 26214400, 1, 1L << 40, &max_bytes) ||
        config_int(c, "media.thumb_px", 320, 16, 4096, &thumb_px) ||
        config_int(c, "media.max_pixels", 100000000, 1, 1L << 40, &max_pixels)) {
        log_error("bad [media] setting", NULL);
        return 2;
    }
    p.root = config_str(c, "media.root", "var/media");
    p.max_bytes = max_bytes;
    p.thumb_px = (int)thumb_px;
    p.max_pixels = max_pixels;
    p.db_wait_ms = 2000;
    if (!*p.root || media_fs_init(p.root) != NT_OK) {
        log_error("cannot use the media root", "root=%s", p.root);
        return 2;
    }
    if (media_sniff_new(&p.sniff) != NT_OK || media_thumb_init("natter") != NT_OK)
        goto done;
    vips = 1;
    if (role_db_open(ctx, &p.db) != NT_OK ||
        role_bus_connect(ctx, "media", (int)workers, &p.bus) != NT_OK)
        goto done;
    if (micro_new(p.bus, "media", NATTER_VERSION, "natter media: uploads, thumbnails, access",
                  &m) != NT_OK ||
        media_pool_register(&p, m, (int)workers) != NT_OK || micro_start(m) != NT_OK) {
        log_error("cannot start the media service", NULL);
        goto done;
    }
    role_ops_deps_t od = {.micro = m, .bus = p.bus, .db = p.db};
    if (role_ops_start(ctx, &od, &ops) != NT_OK)
        goto done;
    log_info("media pool ready", "id=%s workers=%ld root=%s max_upload_bytes=%ld thumb_px=%ld",
             micro_id(m), workers, p.root, max_bytes, thumb_px);
    role_wait_stop(ctx);
    rc = bus_drain(p.bus, 10000) == NT_OK ? 0 : 1;
    log_info("drained", "ok=%s", rc == 0 ? "yes" : "no");
done:
    role_ops_stop(ops); /* it reads m and the pools */
    bus_free(p.bus);           /* first of the frees: no handler may run once m is gone */
    micro_free(m);
    db_pool_free(p.db);
    media_sniff_free(p.sniff);
    if (vips)
        media_thumb_shutdown();
    return rc;
}
