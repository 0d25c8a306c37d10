/* test_store_conv.c: the conversations table (schema step 4): create, read back byte for byte (JSON text with
 * non-ASCII), update, a missing id, a conversation written inside a group commit that is rolled back (gone) and
 * one that is committed (there after reopening the store). (test_store migrates a schema-1 store through
 * every step, this one included.) SQLite, or PostgreSQL when CREC_TEST_DB_URL is set (store_testdb.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crec/crec.h"
#include "crec/store.h"
#include "store_testdb.h"
#include "testutil.h"

static char *g_dir;

static crec_store *open_ok(const char *path) {
    crec_store *s = NULL;
    char err[256];
    int rc = crec_store_open(path, NULL, &s, err, sizeof err);
    if (rc) fprintf(stderr, "open %s: %s\n", path, err);
    assert_int_equal(rc, 0);
    return s;
}

static void test_conv_crud(void **unused) {
    (void)unused;
    char path[1024];
    snprintf(path, sizeof path, "%s", tdb_path(g_dir, "c.db")); /* SQLite, or PostgreSQL with CREC_TEST_DB_URL */
    crec_store *s = open_ok(path);
    int64_t id = 0, id2 = 0;
    const char *state = "{\"v\":1,\"ops\":[[\"s\",[3]]],\"pending\":{\"kind\":\"ask\",\"attr\":2}}";
    const char *tr = "[{\"from\":\"person\",\"text\":\"caf\xc3\xa9 ja\"}]";
    assert_int_equal(crec_store_conv_create(s, "u1", state, tr, 1000, &id), 0);
    assert_true(id > 0);
    assert_int_equal(crec_store_conv_create(s, NULL, "{}", "[]", 1001, &id2), 0);
    assert_true(id2 > id);
    crec_store_conv c;
    assert_int_equal(crec_store_conv_get(s, id, &c), 0);
    assert_string_equal(c.user, "u1");
    assert_string_equal(c.state, state);
    assert_string_equal(c.transcript, tr);
    assert_int_equal(c.done, 0);
    assert_int_equal(c.created, 1000);
    crec_store_conv_clear(&c);
    assert_int_equal(crec_store_conv_get(s, id2, &c), 0);
    assert_null(c.user);
    crec_store_conv_clear(&c);
    assert_int_equal(crec_store_conv_update(s, id, "{\"v\":2}", "[1]", 1, 1005), 0);
    assert_int_equal(crec_store_conv_get(s, id, &c), 0);
    assert_string_equal(c.state, "{\"v\":2}");
    assert_string_equal(c.transcript, "[1]");
    assert_int_equal(c.done, 1);
    assert_int_equal(c.created, 1000);
    assert_int_equal(c.updated, 1005);
    crec_store_conv_clear(&c);
    assert_int_equal(crec_store_conv_get(s, 999, &c), CREC_ENOTFOUND);
    assert_null(c.state);
    assert_int_equal(crec_store_conv_update(s, 999, "{}", "[]", 0, 1), CREC_ENOTFOUND);
    /* inside a group: a rollback drops it, a commit keeps it */
    int64_t id3 = 0, id4 = 0;
    assert_int_equal(crec_store_group_begin(s), 0);
    assert_int_equal(crec_store_conv_create(s, "u2", "{}", "[]", 2000, &id3), 0);
    crec_store_group_rollback(s);
    assert_int_equal(crec_store_conv_get(s, id3, &c), CREC_ENOTFOUND);
    assert_int_equal(crec_store_group_begin(s), 0);
    assert_int_equal(crec_store_conv_create(s, "u3", "{}", "[]", 2001, &id4), 0);
    assert_int_equal(crec_store_conv_update(s, id4, "{\"x\":1}", "[]", 0, 2002), 0);
    assert_int_equal(crec_store_group_commit(s), 0);
    crec_store_close(s);
    s = open_ok(path);
    assert_int_equal(crec_store_conv_get(s, id4, &c), 0);
    assert_string_equal(c.user, "u3");
    assert_string_equal(c.state, "{\"x\":1}");
    crec_store_conv_clear(&c);
    crec_store_close(s);
}

static int setup(void **st) {
    (void)st;
    g_dir = tu_tmpdir();
    return g_dir ? 0 : -1;
}

static int teardown(void **st) {
    (void)st;
    tu_rmrf(g_dir);
    free(g_dir);
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_conv_crud)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
