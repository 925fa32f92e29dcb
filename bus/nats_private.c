/*
 * nats_private.c - nats.c functions that libnats exports but does not
 * declare in its installed headers (bus_internal.h nats_private).
 *
 * Why use them at all: two of nats.c's hand-offs to its own threads have
 * no public way around them, and on this VM each was a large share of a
 * process's CPU (issue 12): every message read goes to a delivery thread
 * (the message filter lets the reading thread take it: bus_inline.c), and
 * every natsMsg_Destroy goes to the garbage-collector thread (natsMsg_free
 * frees it where it is: bus_msg_free).  Both have kept their signatures
 * from 3.4 to 3.9, so they are trusted for a 3.x libnats at 3.4 or later
 * only, looked up with dlsym, and every caller works without them.
 */
#include "bus/bus_internal.h"

#include "common/log.h"

#include <dlfcn.h>

void *nats_private(const char *name)
{
    uint32_t v = nats_GetVersionNumber();
    void *f = v >= 0x030400 && v < 0x040000 ? dlsym(RTLD_DEFAULT, name) : NULL;
    if (!f)
        log_warn("bus: libnats lacks a function natter uses when it can; going without",
                 "name=%s version=%s", name, nats_GetVersion());
    return f;
}
