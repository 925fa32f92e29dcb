/*
 * ws_msgfree.c - free a natsMsg on the thread that is done with it.
 *
 * Why: natsMsg_Destroy does not free.  Every message nats.c builds (the
 * ones it reads, and the ones natsMsg_Create makes for a publish with
 * headers) is handed to nats.c's garbage-collector thread: a global mutex,
 * and a condition signal whenever that thread sleeps, which at a few
 * thousand messages a second is nearly every time.  With pushes and
 * replies handled on the loop (ws_inbox.c), that hand-off was what was left
 * of edge-ws's scheduling cost: natsGC_collect was a sixth of the loop
 * thread's profile at 2,000 msg/s, and the collector thread a fifth of the
 * process (futex waits, lock contention with the loop).  The edge frees
 * about three messages per delivery (the reply, the push, the request it
 * published).
 *
 * How: the collector only calls natsMsg_free (free the headers, free the
 * message), which libnats 3.x exports but does not declare; it is looked
 * up once with dlsym, with the same version rule as bus_inline (3.4 to
 * 3.x).  Without it, natsMsg_Destroy as before.  Only for messages nobody
 * else holds: one taken by bus_inline or handed over by a delivery-thread
 * handler (nats.c is done with it), or one made by natsMsg_Create.
 */
#include "edge/ws/ws_internal.h"

#include <dlfcn.h>
#include <pthread.h>

typedef void (*nats_msg_free_fn)(void *msg);

static nats_msg_free_fn msg_free;
static pthread_once_t looked = PTHREAD_ONCE_INIT;

static void look_up(void)
{
    uint32_t v = nats_GetVersionNumber();
    if (v >= 0x030400 && v < 0x040000)
        *(void **)&msg_free = dlsym(RTLD_DEFAULT, "natsMsg_free");
}

void ws_msg_free(natsMsg *msg)
{
    pthread_once(&looked, look_up);
    if (msg_free && msg)
        msg_free(msg);
    else
        natsMsg_Destroy(msg);
}
