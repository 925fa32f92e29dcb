/*
 * bus_msgfree.c - free a natsMsg on the thread that is done with it
 * (bus.h bus_msg_free).
 *
 * natsMsg_Destroy does not free: it hands every message to nats.c's
 * garbage-collector thread (a global mutex, and a condition signal
 * whenever that thread sleeps, which at a few thousand messages a second
 * is nearly every time).  In edge-ws, once pushes were handled on the
 * loop, natsGC_collect was a sixth of the loop thread's profile at 2,000
 * msg/s and the collector a fifth of the process.  The collector only
 * calls natsMsg_free (free the headers, free the message), so that is
 * called here instead when libnats has it (nats_private.c).
 */
#include "bus/bus.h"

#include "bus/bus_internal.h"

#include <pthread.h>

typedef void (*nats_msg_free_fn)(void *msg);

static nats_msg_free_fn msg_free;
static pthread_once_t looked = PTHREAD_ONCE_INIT;

static void look_up(void)
{
    *(void **)&msg_free = nats_private("natsMsg_free");
}

void bus_msg_free(natsMsg *msg)
{
    if (!msg)
        return;
    pthread_once(&looked, look_up);
    if (msg_free)
        msg_free(msg);
    else
        natsMsg_Destroy(msg);
}
