/*
 * msg_owner.h - which msg process owns a conversation (DESIGN.md "A
 * conversation actor owns its state"; docs/design.md "Conversations and
 * messages").
 *
 * Every msg process announces itself on im.evt.msg_instance.<id> (its micro
 * id) every beat_ms ("alive"), and once more when it drains ("leaving");
 * every msg process listens to all of them.  The live set is what was heard
 * from within expire_ms, plus this process unless it is leaving.  The owner
 * of conversation cid is chosen by rendezvous hashing over that set: the
 * instance with the highest hash(instance id, cid).  All processes that
 * heard the same announcements agree; a process that joins or leaves moves
 * only its own share of conversations.
 *
 * Why a heartbeat subject and not $SRV.PING (which bus/micro.c answers):
 * a ping is a request whose answers must be gathered with a timeout,
 * repeated by every instance; a heartbeat is one publish per beat that all
 * instances receive, a departure is announced at once on SIGTERM, and a
 * killed process simply falls out after expire_ms.  While views differ (a
 * beat in flight, a kill not yet expired) two processes may each think
 * they own a conversation; that costs a conflict in the store
 * (store/msg_append.h), never a wrong answer.
 *
 * Thread-safe: announcements arrive on a bus delivery thread, the beat has
 * its own thread, lookups come from any handler; one mutex guards the
 * table.
 */
#ifndef NT_MSG_OWNER_H
#define NT_MSG_OWNER_H

#include "bus/bus.h"

#include <stddef.h>

#define MSG_OWNER_ID_MAX 64   /* an instance id, with its NUL */

typedef struct msg_owner msg_owner_t;

typedef struct msg_owner_opts {
    bus_t *bus;
    const char *self;    /* this process's instance id ([0-9A-Za-z]) */
    int beat_ms;         /* announce every this often, > 0 */
    int expire_ms;       /* forget an instance not heard from this long */
} msg_owner_opts_t;

/* Listen to the others (this one owns nothing else yet: it has not
 * announced itself).  Free with msg_owner_free. */
int msg_owner_start(const msg_owner_opts_t *o, msg_owner_t **out);

/* Announce this instance and keep announcing every beat_ms: the others
 * hand it its share from now on.  Once it serves im.svc.msg.fwd.<id>.*. */
int msg_owner_join(msg_owner_t *o);

/* 1 if another live instance owns conversation cid (cidlen bytes, not
 * NUL-terminated) and inst (n bytes) gets its id; 0 if this one does. */
int msg_owner_other(msg_owner_t *o, const char *cid, size_t cidlen, char *inst, size_t n);

/* Announce "leaving" and stop owning anything (SIGTERM, before the
 * drain): the others take our conversations over at once. */
void msg_owner_leave(msg_owner_t *o);

/* Live instances, this one included unless leaving. */
int msg_owner_live(msg_owner_t *o);

/* Stop the beat (it publishes): before bus_free.  NULL is fine. */
void msg_owner_stop(msg_owner_t *o);

/* msg_owner_stop, then free: after bus_free (announcements arrive on the
 * bus's threads).  NULL is fine. */
void msg_owner_free(msg_owner_t *o);

#endif
