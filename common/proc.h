/*
 * proc.h - process plumbing every role shares: the file-descriptor limit
 * and shutdown signals.
 *
 * proc_signals_block() must run in main before any thread is created (nats.c,
 * civetweb and libmariadb all start threads): it blocks SIGTERM/SIGINT/SIGHUP
 * so every thread inherits the mask, and SIGPIPE is ignored.  The main thread
 * then parks in proc_wait_stop(), which returns the signal that asked us to
 * stop, and the role drains and exits 0 (DESIGN.md: drain on SIGTERM).
 */
#ifndef NT_PROC_H
#define NT_PROC_H

/* Raise the soft RLIMIT_NOFILE to the hard limit and log both. */
void proc_raise_nofile(void);

void proc_signals_block(void);

/* Wait for SIGTERM, SIGINT or SIGHUP; returns the signal number. */
int proc_wait_stop(void);

/* Wait like proc_wait_stop but give up after ms; 0 on timeout. */
int proc_wait_stop_for(int ms);

#endif
