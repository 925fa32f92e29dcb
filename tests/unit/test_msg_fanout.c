/*
 * test_msg_fanout.c - the fan-out stage of the msg pool
 * (actors/msg_fanout.c): a key's jobs run in submit order, whole, each
 * unit once; a big job takes turns a chunk at a time so a small job of
 * another key behind it is done long before it; zero-unit jobs are done;
 * a full stage makes submit wait; wait_idle and stop finish what was
 * queued.
 */
#include "actors/msg_fanout.h"
#include "common/err.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define MAXJOBS 4096
#define MAXLOG 65536

typedef struct job {
    int id, key, units;
    int next_unit;   /* the unit the next step must start at */
    int steps;
} job_t;

/* What the callbacks saw.  mu guards all; the gate holds step while closed. */
typedef struct rec {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int gate_closed, in_step;
    int done_order[MAXJOBS], ndone;   /* job ids as done */
    int step_job[MAXLOG], nsteps;     /* job id of each step, in order */
    int errors;                       /* a step out of place, a unit twice */
} rec_t;

static rec_t r;
static job_t jobs[MAXJOBS];

static void step(void *arg, void *job, int from, int to)
{
    rec_t *x = arg;
    job_t *j = job;
    pthread_mutex_lock(&x->mu);
    x->in_step++;
    pthread_cond_broadcast(&x->cv);
    while (x->gate_closed)
        pthread_cond_wait(&x->cv, &x->mu);
    x->in_step--;
    if (from != j->next_unit || to <= from || to > j->units)
        x->errors++;
    j->next_unit = to;
    j->steps++;
    if (x->nsteps < MAXLOG)
        x->step_job[x->nsteps++] = j->id;
    pthread_mutex_unlock(&x->mu);
}

static void done(void *arg, void *job)
{
    rec_t *x = arg;
    job_t *j = job;
    pthread_mutex_lock(&x->mu);
    if (j->next_unit != j->units)
        x->errors++;
    x->done_order[x->ndone++] = j->id;
    pthread_cond_broadcast(&x->cv);
    pthread_mutex_unlock(&x->mu);
}

static void setup(void)
{
    memset(&r, 0, sizeof r);
    memset(jobs, 0, sizeof jobs);
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
}

TestSuite(msg_fanout, .init = setup, .timeout = 30);

static msg_fanout_t *start(int threads, int chunk, int queue_max)
{
    msg_fanout_opts_t o = {.threads = threads, .chunk = chunk, .queue_max = queue_max,
                           .step = step, .done = done, .arg = &r};
    msg_fanout_t *f = NULL;
    cr_assert_eq(msg_fanout_new(&o, &f), NT_OK);
    return f;
}

static void submit(msg_fanout_t *f, int id, int key, int units)
{
    char k[16];
    snprintf(k, sizeof k, "c%d", key);
    jobs[id] = (job_t){.id = id, .key = key, .units = units};
    cr_assert_eq(msg_fanout_submit(f, k, &jobs[id], units), NT_OK, "submit %d", id);
}

static void gate(int closed)
{
    pthread_mutex_lock(&r.mu);
    r.gate_closed = closed;
    pthread_cond_broadcast(&r.cv);
    pthread_mutex_unlock(&r.mu);
}

static void wait_in_step(int n)
{
    pthread_mutex_lock(&r.mu);
    while (r.in_step < n)
        pthread_cond_wait(&r.cv, &r.mu);
    pthread_mutex_unlock(&r.mu);
}

/* Position of job id in the done order, or -1. */
static int done_pos(int id)
{
    for (int i = 0; i < r.ndone; i++)
        if (r.done_order[i] == id)
            return i;
    return -1;
}

Test(msg_fanout, bad_options)
{
    msg_fanout_t *f = NULL;
    msg_fanout_opts_t o = {.threads = 0, .chunk = 1, .queue_max = 1, .step = step, .done = done};
    cr_assert_eq(msg_fanout_new(&o, &f), NT_EINVAL);
    o.threads = 1;
    o.chunk = 0;
    cr_assert_eq(msg_fanout_new(&o, &f), NT_EINVAL);
    o.chunk = 1;
    o.done = NULL;
    cr_assert_eq(msg_fanout_new(&o, &f), NT_EINVAL);
    cr_assert_null(f);
    msg_fanout_free(NULL);
    msg_fanout_stop(NULL);
}

Test(msg_fanout, a_keys_jobs_in_order_every_unit_once)
{
    msg_fanout_t *f = start(3, 7, 4096);
    int n = 2000;
    for (int i = 0; i < n; i++)
        submit(f, i, i % 10, (i * 37) % 50); /* 0..49 units, some zero */
    msg_fanout_wait_idle(f);
    cr_assert_eq(r.ndone, n);
    cr_assert_eq(r.errors, 0, "a step out of place, or done before the last unit");
    int last[10];
    memset(last, -1, sizeof last);
    for (int k = 0; k < r.ndone; k++) {
        int id = r.done_order[k];
        cr_assert_gt(id, last[id % 10], "key %d: job %d done after %d", id % 10, id, last[id % 10]);
        last[id % 10] = id;
    }
    for (int i = 0; i < n; i++)
        cr_assert_eq(jobs[i].steps, (jobs[i].units + 6) / 7, "job %d: %d steps", i, jobs[i].steps);
    msg_fanout_stats_t st;
    msg_fanout_stats(f, &st);
    cr_assert_eq(st.jobs, n);
    cr_assert_eq(st.queued, 0);
    msg_fanout_free(f);
}

Test(msg_fanout, a_big_job_takes_turns_with_small_ones)
{
    msg_fanout_t *f = start(1, 10, 64); /* one thread: everyone shares it */
    gate(1);
    submit(f, 0, 0, 10000); /* a 10000-member group */
    wait_in_step(1);        /* its first chunk is running */
    submit(f, 1, 0, 10000); /* its next message: must wait for the first */
    for (int i = 2; i < 12; i++)
        submit(f, i, i, 2); /* ten 1:1 conversations */
    gate(0);
    msg_fanout_wait_idle(f);
    cr_assert_eq(r.errors, 0);
    cr_assert_eq(r.ndone, 12);
    for (int i = 2; i < 12; i++)
        cr_assert_lt(done_pos(i), done_pos(0), "1:1 job %d waited for the whole group", i);
    cr_assert_lt(done_pos(0), done_pos(1), "the group's messages out of order");
    /* each small job ran within the first round: after at most one chunk
     * of the group per conversation ahead of it */
    for (int s = 0; s < r.nsteps; s++)
        if (r.step_job[s] >= 2)
            cr_assert_lt(s, 1 + 1 + 10, "job %d ran only at step %d", r.step_job[s], s);
    msg_fanout_free(f);
}

Test(msg_fanout, a_job_submitted_while_its_lane_runs_waits_its_turn)
{
    msg_fanout_t *f = start(2, 1, 64);
    gate(1);
    submit(f, 0, 5, 3);
    wait_in_step(1);
    submit(f, 1, 5, 1); /* the lane is running now */
    submit(f, 2, 5, 0);
    gate(0);
    msg_fanout_wait_idle(f);
    cr_assert_eq(r.ndone, 3);
    cr_assert_eq(r.done_order[0], 0);
    cr_assert_eq(r.done_order[1], 1);
    cr_assert_eq(r.done_order[2], 2);
    cr_assert_eq(jobs[2].steps, 0, "a job of no units has no step, only done");
    cr_assert_eq(r.errors, 0);
    msg_fanout_free(f);
}

typedef struct submitter {
    msg_fanout_t *f;
    int returned;
} submitter_t;

static void *submit_main(void *arg)
{
    submitter_t *s = arg;
    jobs[99] = (job_t){.id = 99, .units = 1};
    int rc = msg_fanout_submit(s->f, "c99", &jobs[99], 1);
    __atomic_store_n(&s->returned, rc == NT_OK ? 1 : -1, __ATOMIC_SEQ_CST);
    return NULL;
}

Test(msg_fanout, a_full_stage_makes_submit_wait)
{
    msg_fanout_t *f = start(1, 1, 2);
    gate(1);
    submit(f, 0, 0, 1);
    wait_in_step(1);
    submit(f, 1, 1, 1); /* two queued: full */
    submitter_t s = {f, 0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, submit_main, &s), 0);
    usleep(50000);
    cr_assert_eq(__atomic_load_n(&s.returned, __ATOMIC_SEQ_CST), 0, "submit did not wait for room");
    gate(0);
    pthread_join(th, NULL);
    cr_assert_eq(s.returned, 1);
    msg_fanout_wait_idle(f);
    cr_assert_eq(r.ndone, 3);
    msg_fanout_stats_t st;
    msg_fanout_stats(f, &st);
    cr_assert_eq(st.waits, 1);
    msg_fanout_free(f);
}

typedef struct idler {
    msg_fanout_t *f;
    int done;
} idler_t;

static void *idle_main(void *arg)
{
    idler_t *d = arg;
    msg_fanout_wait_idle(d->f);
    __atomic_store_n(&d->done, 1, __ATOMIC_SEQ_CST);
    return NULL;
}

Test(msg_fanout, wait_idle_waits_for_earlier_jobs_and_stop_finishes_the_rest)
{
    msg_fanout_t *f = start(2, 4, 256);
    gate(1);
    for (int i = 0; i < 10; i++)
        submit(f, i, i % 3, 9);
    idler_t d = {f, 0};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, idle_main, &d), 0);
    usleep(50000);
    cr_assert_eq(__atomic_load_n(&d.done, __ATOMIC_SEQ_CST), 0, "wait_idle returned early");
    gate(0);
    pthread_join(th, NULL);
    pthread_mutex_lock(&r.mu);
    cr_assert_geq(r.ndone, 10);
    pthread_mutex_unlock(&r.mu);
    /* stop: what is queued is done, later submits are refused */
    gate(1);
    for (int i = 10; i < 30; i++)
        submit(f, i, i % 4, 5);
    wait_in_step(1);
    gate(0);
    msg_fanout_stop(f);
    cr_assert_eq(r.ndone, 30);
    cr_assert_eq(r.errors, 0);
    jobs[31] = (job_t){.id = 31, .units = 1};
    cr_assert_eq(msg_fanout_submit(f, "c1", &jobs[31], 1), NT_EUNAVAIL);
    msg_fanout_free(f);
}
