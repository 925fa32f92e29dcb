/*
 * proc_stat.h - the standard process metrics every role exports on
 * /metrics (the names of the Prometheus client libraries, so dashboards
 * and alerts written for any process work here): resident memory, CPU
 * seconds, open and maximum file descriptors, start time, and
 * natter_info{role,instance_id,version} = 1, which says what is running
 * and lets an alert see a role with no process at all.
 *
 * Read from /proc/self when scraped: nothing is counted on any hot path.
 */
#ifndef NT_PROC_STAT_H
#define NT_PROC_STAT_H

#include "common/textbuf.h"

void proc_stat_prometheus(textbuf_t *out);

/* Count of open file descriptors (entries of /proc/self/fd), or -1. */
long proc_stat_open_fds(void);

#endif
