/*
 * test_sqlb.c - SQL text building (store/sqlb.h) against a real mariadbd
 * (db_fixture.h): the quoting is only right if the server reads back the
 * very bytes that went in.
 *
 * What must hold: sqlb_quote turns any bytes (NUL, quotes, backslashes,
 * control characters, 4-byte UTF-8) into a literal the server reads as
 * exactly those bytes, with and without NO_BACKSLASH_ESCAPES in the
 * session; sqlb_i64 writes the whole int64 range; the placeholder shapes
 * are as before; a cleared builder starts over on the same buffer.
 */
#include "db_fixture.h"

#include "store/sqlb.h"

#define OK(e) cr_assert_eq((e), NT_OK, "%s", #e)

static db_pool_t *pool;
static MYSQL *db;

static void setup(void)
{
    db_fixture_port();
    db_opts_t o = opts("natter", 1);
    OK(db_pool_new(&o, &pool));
    OK(db_acquire(pool, 1000, &db));
}

static void teardown(void)
{
    db_release(pool, db, 0);
    db_pool_free(pool);
}

TestSuite(sqlb, .init = setup, .fini = teardown, .timeout = 60);

/* The text query's single value, as hex, into out. */
static void select_hex(const char *sql, size_t len, char *out, size_t cap)
{
    cr_assert_eq(mysql_real_query(db, sql, (unsigned long)len), 0, "%s", mysql_error(db));
    MYSQL_RES *r = mysql_store_result(db);
    cr_assert(r);
    MYSQL_ROW row = mysql_fetch_row(r);
    cr_assert(row && row[0]);
    snprintf(out, cap, "%s", row[0]);
    mysql_free_result(r);
}

static void hex(const char *s, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++)
        sprintf(out + 2 * i, "%02X", (unsigned char)s[i]);
    out[2 * len] = '\0';
}

static const char odd[] = "a\0b'c\"d\\e\\'f\\\\g\n\r\t\x1a\x01\x7f%_ \xF0\x9F\x98\x80 \xC3\xA9 end\\";

static void quoted_bytes_come_back(void)
{
    size_t len = sizeof odd - 1;
    char want[2 * sizeof odd + 1], got[2 * sizeof odd + 1];
    hex(odd, len, want);
    sqlb_t b = {0};
    sqlb_add(&b, "SELECT HEX(");
    sqlb_quote(&b, db, odd, len);
    sqlb_add(&b, ")");
    cr_assert(!b.oom);
    select_hex(b.s, b.len, got, sizeof got);
    cr_assert_str_eq(got, want);
    /* the same bytes as a utf8mb4 column value, as the owner's INSERT
     * writes them */
    sqlb_clear(&b);
    sqlb_add(&b, "SELECT HEX(CAST(");
    sqlb_quote(&b, db, odd, len);
    sqlb_add(&b, " AS CHAR CHARACTER SET utf8mb4))");
    select_hex(b.s, b.len, got, sizeof got);
    cr_assert_str_eq(got, want);
    sqlb_fini(&b);
    cr_assert_null(b.s);
}

Test(sqlb, quote_keeps_every_byte)
{
    quoted_bytes_come_back();
}

Test(sqlb, quote_keeps_every_byte_without_backslash_escapes)
{
    static const char q[] = "SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')";
    cr_assert_eq(mysql_real_query(db, q, sizeof q - 1), 0, "%s", mysql_error(db));
    cr_assert(db->server_status & SERVER_STATUS_NO_BACKSLASH_ESCAPES);
    quoted_bytes_come_back();
    static const char back[] = "SET SESSION sql_mode = REPLACE(@@sql_mode, 'NO_BACKSLASH_ESCAPES', '')";
    cr_assert_eq(mysql_real_query(db, back, sizeof back - 1), 0, "%s", mysql_error(db));
}

Test(sqlb, quote_of_nothing_is_an_empty_literal)
{
    sqlb_t b = {0};
    sqlb_quote(&b, db, NULL, 5);
    sqlb_add(&b, ",");
    sqlb_quote(&b, db, "", 0);
    cr_assert_str_eq(b.s, "'',''");
    sqlb_fini(&b);
}

Test(sqlb, integers_cover_int64)
{
    sqlb_t b = {0};
    sqlb_i64(&b, INT64_MIN);
    sqlb_add(&b, " ");
    sqlb_i64(&b, INT64_MAX);
    sqlb_add(&b, " ");
    sqlb_i64(&b, 0);
    cr_assert_str_eq(b.s, "-9223372036854775808 9223372036854775807 0");
    sqlb_clear(&b);
    cr_assert_eq(b.len, 0);
    sqlb_i64(&b, -1);
    cr_assert_str_eq(b.s, "-1");
    char *s = sqlb_done(&b);
    cr_assert_str_eq(s, "-1");
    free(s);
}

Test(sqlb, placeholder_shapes)
{
    char *s = sqlb_list("IN (", "?", ", ", 3, ")");
    cr_assert_str_eq(s, "IN (?, ?, ?)");
    free(s);
    s = sqlb_list("V ", "(?, ?)", ", ", 0, "");
    cr_assert_str_eq(s, "V ");
    free(s);
    sqlb_t b = {0};
    sqlb_reserve(&b, 100000);
    cr_assert_geq(b.cap, 100001);
    sqlb_repeat(&b, "x", "", 100000);
    cr_assert_eq(b.len, 100000);
    sqlb_fini(&b);
}
