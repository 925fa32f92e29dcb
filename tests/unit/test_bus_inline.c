/*
 * test_bus_inline.c - a bus on a libuv loop against a real nats-server:
 * messages taken on the loop thread (bus_inline), declined ones going on to
 * their handler, the switch that turns it off, and the loop's own writer
 * (bus_loop.c): a burst larger than the socket takes, and publishes from
 * another thread, all arrive without the loop being woken by anything else.
 */
#include "bus/bus.h"
#include "common/err.h"
#include "common/log.h"
#include "nats_fixture.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static void setup(void)
{
    log_init("test_bus_inline", LOG_WARN);
    srv_start_on(free_port(), NULL, NULL);
}

static void teardown(void)
{
    srv_stop();
    nats_CloseAndWait(2000);
}

TestSuite(bus_inline, .init = setup, .fini = teardown, .timeout = 30);

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bus_t *connect_plain(void)
{
    bus_opts_t o = {.url = srv_url, .role = "test", .delivery_threads = 2};
    bus_t *bus = NULL;
    cr_assert_eq(bus_connect(&o, &bus), NT_OK);
    return bus;
}

static bus_t *connect_loop(uv_loop_t *loop, int inline_off)
{
    bus_opts_t o = {.url = srv_url, .role = "test", .delivery_threads = 1, .loop = loop,
                    .inline_off = inline_off};
    bus_t *bus = NULL;
    bus_loop_thread(loop);
    cr_assert_eq(bus_connect(&o, &bus), NT_OK);
    return bus;
}

static void publish(bus_t *bus, const char *subject, const void *data, int len)
{
    natsMsg *m;
    cr_assert_eq(bus_msg_new(subject, "natter.Empty", NULL, NULL, data, len, &m), NT_OK);
    cr_assert_eq(bus_publish(bus, m), NT_OK);
}

/* What the loop side saw. */
typedef struct seen {
    pthread_t loop_thread;
    atomic_int taken, taken_off_loop, handled, bytes;
    int want;               /* stop the loop once taken + handled reach it */
    bus_t *bus;
    uv_timer_t timer;
} seen_t;

static int take_even(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    seen_t *s = arg;
    const char *d = natsMsg_GetData(msg);
    if (d[0] % 2) /* odd: decline, the subscription's handler gets it */
        return 0;
    atomic_fetch_add(&s->taken, 1);
    if (!pthread_equal(pthread_self(), s->loop_thread))
        atomic_fetch_add(&s->taken_off_loop, 1);
    bus_msg_free(msg); /* ours now */
    return 1;
}

static void count_handler(bus_t *bus, natsMsg *msg, void *arg)
{
    (void)bus;
    seen_t *s = arg;
    atomic_fetch_add(&s->bytes, natsMsg_GetDataLength(msg));
    atomic_fetch_add(&s->handled, 1);
}

static void stop_when_done(uv_timer_t *t)
{
    seen_t *s = t->data;
    if (atomic_load(&s->taken) + atomic_load(&s->handled) < s->want)
        return;
    cr_assert_eq(bus_loop_close(s->bus, 1000), NT_OK);
    uv_close((uv_handle_t *)t, NULL);
}

static void run_until_done(uv_loop_t *loop, seen_t *s)
{
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, stop_when_done, 5, 5);
    uv_run(loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(loop), 0, "every handle of the bus closed");
}

Test(bus_inline, taken_on_the_loop_thread_declined_go_to_the_handler)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    bus_t *bus = connect_loop(&loop, 0);
    seen_t s = {.loop_thread = pthread_self(), .want = 100, .bus = bus};
    cr_assert_eq(bus_inline(bus, "t.in.*", take_even, &s), NT_OK);
    cr_assert_eq(bus_subscribe(bus, "t.in.*", NULL, count_handler, &s), NT_OK);
    /* Published on the same connection after its SUB, so the server has
     * the interest first; they come back to it (no "no echo"). */
    for (int i = 0; i < 100; i++) {
        char d = (char)i;
        publish(bus, i % 3 ? "t.in.a" : "t.in.b", &d, 1);
    }
    run_until_done(&loop, &s);
    cr_assert_eq(atomic_load(&s.taken), 50);
    cr_assert_eq(atomic_load(&s.handled), 50, "declined messages reach the handler");
    cr_assert_eq(atomic_load(&s.taken_off_loop), 0, "fn runs on the loop's thread");
    bus_free(bus);
}

Test(bus_inline, other_subjects_are_not_touched)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    bus_t *bus = connect_loop(&loop, 0);
    seen_t s = {.loop_thread = pthread_self(), .want = 20, .bus = bus};
    cr_assert_eq(bus_inline(bus, "t.in.*.x", take_even, &s), NT_OK);
    cr_assert_eq(bus_subscribe(bus, "t.in.>", NULL, count_handler, &s), NT_OK);
    char zero = 0;
    for (int i = 0; i < 20; i++)
        publish(bus, "t.in.a.y", &zero, 1); /* even, but not the pattern */
    run_until_done(&loop, &s);
    cr_assert_eq(atomic_load(&s.taken), 0);
    cr_assert_eq(atomic_load(&s.handled), 20);
    bus_free(bus);
}

Test(bus_inline, turned_off_answers_unavailable)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    bus_t *bus = connect_loop(&loop, 1);
    seen_t s = {0};
    cr_assert_eq(bus_inline(bus, "t.in.*", take_even, &s), NT_EUNAVAIL);
    cr_assert_eq(bus_inline(NULL, "t.in.*", take_even, &s), NT_EINVAL);
    cr_assert_eq(bus_loop_close(bus, 100), NT_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    bus_free(bus);
}

Test(bus_inline, bad_arguments)
{
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    bus_t *bus = connect_loop(&loop, 0);
    seen_t s = {0};
    cr_assert_eq(bus_inline(bus, "", take_even, &s), NT_EINVAL);
    cr_assert_eq(bus_inline(bus, "t.x", NULL, &s), NT_EINVAL);
    char big[400];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(bus_inline(bus, big, take_even, &s), NT_EINVAL);
    for (int i = 0; i < 8; i++)
        cr_assert_eq(bus_inline(bus, "t.many", take_even, &s), NT_OK);
    cr_assert_eq(bus_inline(bus, "t.many", take_even, &s), NT_ETOOLARGE, "8 patterns at most");
    cr_assert_eq(bus_loop_close(bus, 100), NT_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    cr_assert_eq(uv_loop_close(&loop), 0);
    bus_free(bus);
}

/* ---- the loop's writer ---- */

#define BIG_MSG (60 * 1024)
#define BIG_COUNT 400 /* 24 MB: far more than a loopback socket buffer takes at once */

Test(bus_inline, burst_larger_than_the_socket_arrives_whole)
{
    bus_t *other = connect_plain();
    seen_t s = {.want = BIG_COUNT};
    cr_assert_eq(bus_subscribe(other, "t.big", NULL, count_handler, &s), NT_OK);
    cr_assert_eq(natsConnection_Flush(bus_conn(other)), NATS_OK);
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    bus_t *bus = connect_loop(&loop, 0);
    char *data = calloc(1, BIG_MSG);
    for (int i = 0; i < BIG_COUNT; i++) /* buffered: the loop writes them */
        publish(bus, "t.big", data, BIG_MSG);
    free(data);
    s.bus = bus;
    s.loop_thread = pthread_self();
    int64_t t0 = now_ms();
    run_until_done(&loop, &s); /* handled counts what `other` received */
    cr_assert_lt(now_ms() - t0, 20000);
    cr_assert_eq(atomic_load(&s.handled), BIG_COUNT);
    cr_assert_eq(atomic_load(&s.bytes), BIG_COUNT * BIG_MSG);
    bus_free(bus);
    bus_free(other);
}

typedef struct pub_job {
    bus_t *bus;
    int n;
} pub_job_t;

static void *publisher(void *arg)
{
    pub_job_t *j = arg;
    for (int i = 0; i < j->n; i++) {
        char d = 'p';
        publish(j->bus, "t.far", &d, 1);
        usleep(2000);
    }
    return NULL;
}

/* Far side: when the last message arrived, tell the loop. */
typedef struct far {
    seen_t s;
    uv_async_t done;
    uv_timer_t guard;
    int64_t done_at;
} far_t;

static void far_handler(bus_t *bus, natsMsg *msg, void *arg)
{
    far_t *f = arg;
    count_handler(bus, msg, &f->s);
    if (atomic_load(&f->s.handled) == 50)
        uv_async_send(&f->done);
}

static void far_stop(far_t *f)
{
    f->done_at = now_ms();
    cr_assert_eq(bus_loop_close(f->s.bus, 1000), NT_OK);
    uv_close((uv_handle_t *)&f->done, NULL);
    uv_close((uv_handle_t *)&f->guard, NULL);
}

static void far_done(uv_async_t *h)
{
    far_stop(h->data);
}

static void far_guard(uv_timer_t *t)
{
    far_stop(t->data);
}

/* A 10 s guard timer is the only other thing on the loop: if a publish
 * from another thread did not wake it, the messages would wait for that. */
Test(bus_inline, publishes_from_another_thread_are_written_at_once)
{
    bus_t *other = connect_plain();
    far_t f = {0};
    cr_assert_eq(bus_subscribe(other, "t.far", NULL, far_handler, &f), NT_OK);
    cr_assert_eq(natsConnection_Flush(bus_conn(other)), NATS_OK);
    uv_loop_t loop;
    cr_assert_eq(uv_loop_init(&loop), 0);
    bus_t *bus = connect_loop(&loop, 0);
    f.s.bus = bus;
    uv_async_init(&loop, &f.done, far_done);
    f.done.data = &f;
    uv_timer_init(&loop, &f.guard);
    f.guard.data = &f;
    uv_timer_start(&f.guard, far_guard, 10000, 0);
    pub_job_t j = {.bus = bus, .n = 50};
    pthread_t th;
    int64_t t0 = now_ms();
    pthread_create(&th, NULL, publisher, &j);
    uv_run(&loop, UV_RUN_DEFAULT);
    pthread_join(th, NULL);
    cr_assert_eq(uv_loop_close(&loop), 0);
    cr_assert_eq(atomic_load(&f.s.handled), 50);
    cr_assert_lt(f.done_at - t0, 1500, "written when published, not when the guard fired (%lld ms)",
                 (long long)(f.done_at - t0));
    bus_free(bus);
    bus_free(other);
}
