/*
 * test_textbuf.c - the growing text buffer behind /metrics: nothing
 * printed gives "", text past the first allocation arrives whole and in
 * order, and take leaves the buffer empty for reuse.
 */
#include "common/textbuf.h"

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

Test(textbuf, empty_take_is_empty_string)
{
    textbuf_t t = {0};
    size_t len = 99;
    char *s = textbuf_take(&t, &len);
    cr_assert_not_null(s);
    cr_assert_str_eq(s, "");
    cr_assert_eq(len, 0);
    free(s);
}

Test(textbuf, grows_and_keeps_order)
{
    textbuf_t t = {0};
    for (int i = 0; i < 2000; i++)
        textbuf_printf(&t, "line %04d\n", i); /* 10 bytes each: 20,000 in all */
    size_t len = 0;
    char *s = textbuf_take(&t, &len);
    cr_assert_not_null(s);
    cr_assert_eq(len, 20000);
    cr_assert_eq(strlen(s), len);
    cr_assert_eq(strncmp(s, "line 0000\nline 0001\n", 20), 0);
    cr_assert_str_eq(s + len - 10, "line 1999\n");
    free(s);
    cr_assert_null(t.buf);
    textbuf_printf(&t, "%s", "again");
    s = textbuf_take(&t, NULL);
    cr_assert_str_eq(s, "again");
    free(s);
}
