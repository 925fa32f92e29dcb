/*
 * thread_stack.h - a floor under the stack size of threads that libraries
 * start with a fixed, small stack.
 *
 * civetweb 1.15 as Debian builds it starts every worker with
 * pthread_attr_setstacksize(attr, 102400): 100 KiB, fixed at compile time
 * (USE_STACK_SIZE; objdump shows the constant 0x19000 passed right after
 * pthread_attr_init), with no run-time option.  Because the size is set
 * explicitly on the attribute, pthread_setattr_default_np cannot reach it.
 * Request handlers run there: jansson, OpenSSL, nats.c, our own buffers.
 * So the process chooses the size itself: this module defines
 * pthread_attr_setstacksize, which the dynamic linker binds libcivetweb's
 * call to (the executable's definition comes first), and raises any size
 * below the floor to the floor before calling glibc's.  Floor 0 (the
 * default) changes nothing, so other roles and the unit tests are as
 * before.  Applies to every later caller of pthread_attr_setstacksize in
 * the process, which is the point: a library that asks for a small fixed
 * stack gets at least what the process decided.
 *
 * thread_stack_self tells the stack a thread really got, so the choice can
 * be checked (edge-http shows it in /metrics).  Thread-safe.
 */
#ifndef NT_THREAD_STACK_H
#define NT_THREAD_STACK_H

#include <stddef.h>

/* From now on, threads created with an explicit stack size below bytes get
 * bytes (rounded up to a page).  0 turns the floor off. */
void thread_stack_floor_set(size_t bytes);

/* The stack size of the calling thread (pthread_getattr_np), 0 if unknown. */
size_t thread_stack_self(void);

#endif
