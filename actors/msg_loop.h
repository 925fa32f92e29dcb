/*
 * msg_loop.h - the msg pool's loop thread: the process's NATS socket on a
 * libuv loop, and the send path run on that thread from the read to the
 * reply (issue 12 item 3, "a send should not wake three threads";
 * docs/design.md "Conversations and messages").
 *
 * Why: with nats.c's own threads a send was read on its reader thread,
 * handed to a delivery thread (a futex wake-up), committed there and its
 * reply and pushes handed to the flusher thread (another wake-up, 1 ms
 * linger).  Here the bus runs on a loop (bus_opts_t.loop: no reader or
 * flusher thread, publishes written at the end of each loop turn) and the
 * send subjects are taken on the loop thread as they are read
 * (bus_inline): each send is checked and queued for its worker without
 * waking it (msg_batch deferral), and at the end of the turn a check
 * handle runs the queued batches right there (msg_batch_flush, inline),
 * so the replies and pushes they publish go out in the same turn's write.
 * While a batch commits nothing is read: the next sends pile up in the
 * socket and the next turn takes them all, so batches grow with the load
 * by themselves.
 *
 * Everything else (sync, history, read, typing, group, revoke, the
 * $SRV endpoints, instance and member events) stays on the delivery
 * threads: their handlers block on the database, which the loop must not
 * do for them.  With bus_inline unavailable (nats.inline = 0, or a libnats
 * without the filter) sends stay there too, as before (msg_send_h).
 */
#ifndef NT_MSG_LOOP_H
#define NT_MSG_LOOP_H

#include "actors/msg_pool.h"
#include "bus/bus.h"
#include "bus/micro.h"

typedef struct msg_loop msg_loop_t;

/* Connect *bus on `loop` (a uv_loop_t), from the loop's own thread. */
typedef int (*msg_loop_connect_fn)(void *arg, void *loop, bus_t **bus);

/* Start the loop thread: it connects (connect, which may wait for the
 * server) and then runs the loop until msg_loop_stop.  NT_OK with *bus
 * set, or connect's error (the thread is gone; msg_loop_free still). */
int msg_loop_start(msg_loop_connect_fn connect, void *arg, bus_t **bus, msg_loop_t **out);

/* Take the sends on the loop thread: im.conv.*.send and the owner's
 * im.svc.msg.fwd.<micro id>.* are run there through m's "send" and
 * "send_owned" endpoints (counted as usual), their batches committed at
 * the end of the turn.  After msg_pool_register, before micro_start.
 * NT_EUNAVAIL: bus_inline is off or missing; the sends stay on the
 * delivery threads (nothing else changes). */
int msg_loop_take_sends(msg_loop_t *l, msg_pool_t *p, micro_t *m);

/* Seconds the loop thread has not been waiting for its sockets since it
 * started (reading, taking sends, committing their batches, writing):
 * libuv's idle-time metric, subtracted from the time up.  Any thread. */
double msg_loop_busy_seconds(msg_loop_t *l);

/* On the loop: run what is deferred, write out what the bus holds (up to
 * flush_ms), close the connection, end the loop; then join the thread.
 * After bus_drain, and after the send workers and the fan-out stage
 * stopped (their last replies are written here).  Idempotent; NULL is
 * fine. */
void msg_loop_stop(msg_loop_t *l, int flush_ms);

/* After msg_loop_stop and bus_free.  NULL is fine. */
void msg_loop_free(msg_loop_t *l);

#endif
