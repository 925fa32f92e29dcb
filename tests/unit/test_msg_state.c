/*
 * test_msg_state.c - the conversation state a send worker keeps
 * (actors/msg_state.h): entries by cid, the recent-keys window,
 * invalidations queued from another thread, and the cap.
 */
#include "actors/msg_state.h"
#include "common/err.h"

#include <criterion/criterion.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

static conv_rec_t conv(const char *id, int64_t last, const char *m1, const char *m2)
{
    conv_rec_t c;
    memset(&c, 0, sizeof c);
    strcpy(c.id, id);
    strcpy(c.type, "direct");
    c.last_seq = last;
    cr_assert_eq(conv_member_add(&c, m1, "member"), NT_OK);
    cr_assert_eq(conv_member_add(&c, m2, "member"), NT_OK);
    return c;
}

Test(msg_state, put_get_replace_drop)
{
    msg_state_t *s;
    cr_assert_eq(msg_state_new(100, &s), NT_OK);
    conv_rec_t c = conv("7", 5, "1", "2");
    msg_conv_state_t *e;
    cr_assert_eq(msg_state_put(s, 7, &c, &e), NT_OK);
    conv_rec_fini(&c); /* the state has its own copy */
    cr_assert_eq(msg_state_get(s, 7), e);
    cr_assert_null(msg_state_get(s, 8));
    cr_assert_str_eq(conv_member_role(&e->conv, "2"), "member");
    cr_assert_eq(e->conv.last_seq, 5);
    msg_state_key_add(e, msg_state_key(1, "abc"));
    c = conv("7", 9, "1", "3");
    cr_assert_eq(msg_state_put(s, 7, &c, &e), NT_OK);
    conv_rec_fini(&c);
    cr_assert_eq(e->conv.last_seq, 9);
    cr_assert_null(conv_member_role(&e->conv, "2"));
    cr_assert(msg_state_key_seen(e, msg_state_key(1, "abc")), "window kept on reload");
    cr_assert_eq(msg_state_count(s), 1);
    msg_state_drop(s, 7);
    cr_assert_null(msg_state_get(s, 7));
    cr_assert_eq(msg_state_count(s), 0);
    msg_state_free(s);
}

Test(msg_state, key_window_remembers_the_latest)
{
    msg_state_t *s;
    cr_assert_eq(msg_state_new(10, &s), NT_OK);
    conv_rec_t c = conv("1", 0, "1", "2");
    msg_conv_state_t *e;
    cr_assert_eq(msg_state_put(s, 1, &c, &e), NT_OK);
    conv_rec_fini(&c);
    char k[16];
    for (int i = 0; i < MSG_STATE_KEYS + 10; i++) {
        snprintf(k, sizeof k, "k%d", i);
        msg_state_key_add(e, msg_state_key(1, k));
    }
    cr_assert_not(msg_state_key_seen(e, msg_state_key(1, "k0")), "oldest fell out");
    snprintf(k, sizeof k, "k%d", MSG_STATE_KEYS + 9);
    cr_assert(msg_state_key_seen(e, msg_state_key(1, k)));
    cr_assert_not(msg_state_key_seen(e, msg_state_key(2, k)), "the sender is part of the key");
    msg_state_free(s);
}

static void *invalidate(void *arg)
{
    msg_state_invalidate(arg, 3);
    return NULL;
}

Test(msg_state, invalidations_apply_on_the_owner)
{
    msg_state_t *s;
    cr_assert_eq(msg_state_new(100, &s), NT_OK);
    for (int i = 1; i <= 5; i++) {
        char id[8];
        snprintf(id, sizeof id, "%d", i);
        conv_rec_t c = conv(id, 0, "1", "2");
        cr_assert_eq(msg_state_put(s, i, &c, NULL), NT_OK);
        conv_rec_fini(&c);
    }
    pthread_t t;
    pthread_create(&t, NULL, invalidate, s);
    pthread_join(t, NULL);
    cr_assert_not_null(msg_state_get(s, 3), "only queued until applied");
    msg_state_apply(s);
    cr_assert_null(msg_state_get(s, 3));
    cr_assert_not_null(msg_state_get(s, 4));
    msg_state_invalidate(s, 0);
    msg_state_apply(s);
    cr_assert_eq(msg_state_count(s), 0);
    msg_state_free(s);
}

Test(msg_state, cap_drops_everything_and_goes_on)
{
    msg_state_t *s;
    cr_assert_eq(msg_state_new(3, &s), NT_OK);
    for (int i = 1; i <= 4; i++) {
        conv_rec_t c = conv("1", 0, "1", "2");
        cr_assert_eq(msg_state_put(s, i, &c, NULL), NT_OK);
        conv_rec_fini(&c);
    }
    cr_assert_eq(msg_state_count(s), 1);
    cr_assert_not_null(msg_state_get(s, 4));
    msg_state_free(s);
}
