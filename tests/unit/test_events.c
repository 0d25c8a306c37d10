/* test_events.c: the pure parts of the Redis Streams event path (crec/events.h): redis:// URLs (good ones parsed,
 * bad ones refused naming what is wrong), stream entry ids, and row messages - a table export re-keyed by external
 * id, whose rows, optimizer state and removals come back bit for bit, applied into a table with other dense ids
 * gives the same vectors under the same names, and a corrupt or truncated message is an error, never a crash. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crec/events.h"
#include "crec/online.h"

static void test_url(void **st) {
    (void)st;
    crec_redis_url u;
    char err[256];
    assert_int_equal(crec_redis_url_parse("redis://127.0.0.1:6380/events", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6380);
    assert_string_equal(u.stream, "events");
    assert_int_equal(crec_redis_url_parse("redis://cache.local/crec:ev-1{a}", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "cache.local");
    assert_int_equal(u.port, 6379);
    assert_string_equal(u.stream, "crec:ev-1{a}");
    assert_int_equal(crec_redis_url_parse("redis://[::1]:7000/s", &u, err, sizeof err), 0);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    struct { const char *url, *says; } bad[] = {
        {"http://h/s", "expected redis://"},      {"redis://h:0/s", "port"},     {"redis://h:70000/s", "port"},
        {"redis://h:12x/s", "port"},              {"redis://h", "no stream"},    {"redis://h/", "no stream"},
        {"redis:///s", "host is empty"},          {"redis://h/a b", "stream name"}, {"redis://[::1/s", "IPv6"},
        {"redis://user:pw@h/s", "not supported"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        err[0] = 0;
        int rc = crec_redis_url_parse(bad[k].url, &u, err, sizeof err);
        if (rc != CREC_EINVAL || !strstr(err, bad[k].says))
            fail_msg("%s: rc %d, message '%s' (want one naming '%s')", bad[k].url, rc, err, bad[k].says);
    }
}

static void test_ids(void **st) {
    (void)st;
    uint64_t a, b;
    assert_int_equal(crec_redis_id_parse("1700000000000-3", 15, &a, &b), 0);
    assert_true(a == 1700000000000ULL && b == 3);
    const char *bad[] = {"", "-", "1-", "-1", "1-2-3", "a-1", "1 -2", "18446744073709551616-0"};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++)
        if (crec_redis_id_parse(bad[k], strlen(bad[k]), &a, &b) != CREC_EPARSE) fail_msg("'%s' parsed", bad[k]);
    char buf[32];
    crec_redis_event_id(42, buf, sizeof buf);
    assert_string_equal(buf, "42-0");
    assert_int_equal(crec_redis_id_parse(buf, strlen(buf), &a, &b), 0);
    assert_true(a == 42 && b == 0);
}

#define U(x) ((UINT64_C(1) << 60) | (uint64_t)(x))
#define I(x) ((UINT64_C(2) << 60) | (uint64_t)(x))

static const char *names_a(void *ctx, int kind, int32_t dense) {
    static char buf[2][32];
    (void)ctx;
    snprintf(buf[kind - 1], sizeof buf[0], "%s%d", kind == 1 ? "user" : "item", dense);
    return dense == 99 ? NULL : buf[kind - 1]; /* dense 99: a row the producer cannot name (skipped) */
}

typedef struct seen {
    crec_online_table *into;   /* rows re-keyed into this table: user k -> dense 1000 + k */
    int rows, removed, users, items;
    const crec_online_table *from;
} seen;

static int on_row(void *ctx, const crec_rowmsg_row *r) {
    seen *s = ctx;
    int dense = atoi(r->name + 4);
    uint64_t src_key = r->kind == 1 ? U(dense) : I(dense);
    const float *want = crec_online_table_lookup(s->from, src_key);
    assert_non_null(want);
    assert_memory_equal(r->vec, want, 8 * sizeof(float));
    assert_non_null(r->state); /* Adagrad: dim floats of state */
    s->rows++;
    s->users += r->kind == 1;
    s->items += r->kind == 2;
    uint64_t key = ((uint64_t)r->kind << 60) | (uint64_t)(1000 + dense);
    return crec_online_table_put(s->into, key, r->vec, r->state, r->touch);
}

static int on_removed(void *ctx, int kind, const char *name) {
    seen *s = ctx;
    assert_int_equal(kind, 2);
    assert_string_equal(name, "item7");
    s->removed++;
    return 0;
}

static void test_rowmsg(void **st) {
    (void)st;
    crec_online_opts o;
    crec_online_opts_default(&o, 8);
    crec_online_table *t = crec_online_table_new(&o), *into = crec_online_table_new(&o);
    assert_non_null(t);
    assert_non_null(into);
    float g[8];
    for (int k = 0; k < 8; k++) g[k] = 0.1f * (float)(k + 1);
    for (int u = 0; u < 5; u++) assert_int_equal(crec_online_table_update(t, U(u), g, 1), 0);
    for (int i = 0; i < 10; i++) assert_int_equal(crec_online_table_update(t, I(i), g, 2), 0);
    assert_int_equal(crec_online_table_update(t, I(99), g, 2), 0); /* unnamed: skipped */
    crec_buf full = {0}, msg = {0};
    assert_int_equal(crec_online_table_export(t, CREC_ONLINE_FULL, &full), 0);

    uint64_t n = 0;
    assert_int_equal(crec_rowmsg_from_export(&full, names_a, NULL, &msg, &n), 0);
    assert_int_equal((int)n, 15);
    seen s = {.into = into, .from = t};
    crec_rowmsg_head h;
    assert_int_equal(crec_rowmsg_foreach(msg.data, msg.len, &h, on_row, on_removed, &s), 0);
    assert_int_equal(h.dim, 8);
    assert_int_equal(h.state_dim, 8);
    assert_int_equal(s.users, 5);
    assert_int_equal(s.items, 10);
    assert_int_equal(s.removed, 0);
    /* the re-keyed table holds the same vectors and optimizer state under the new dense ids */
    float *row = NULL;
    assert_int_equal(crec_online_table_get(into, U(1002), 9, &row), 0);
    assert_non_null(row);
    assert_memory_equal(row, crec_online_table_lookup(t, U(2)), 8 * sizeof(float));

    /* a delta: two rows touched again, one removed */
    assert_int_equal(crec_online_table_update(t, U(2), g, 3), 0);
    assert_int_equal(crec_online_table_update(t, I(3), g, 3), 0);
    assert_int_equal(crec_online_table_remove(t, I(7)), 0);
    crec_buf delta = {0};
    assert_int_equal(crec_online_table_export(t, CREC_ONLINE_DELTA, &delta), 0);
    crec_buf dmsg = {0};
    assert_int_equal(crec_rowmsg_from_export(&delta, names_a, NULL, &dmsg, &n), 0);
    assert_int_equal((int)n, 2);
    seen s2 = {.into = into, .from = t};
    assert_int_equal(crec_rowmsg_foreach(dmsg.data, dmsg.len, &h, on_row, on_removed, &s2), 0);
    assert_int_equal(s2.rows, 2);
    assert_int_equal(s2.removed, 1);
    assert_int_equal((int)h.n_removed, 1);

    /* every truncation and a flipped magic are errors */
    for (size_t cut = 0; cut < dmsg.len; cut++) {
        seen s3 = {.into = into, .from = t};
        if (crec_rowmsg_foreach(dmsg.data, cut, NULL, on_row, NULL, &s3) != CREC_EFORMAT)
            fail_msg("a message cut at %zu of %zu bytes was accepted", cut, dmsg.len);
    }
    dmsg.data[0] ^= 1;
    assert_int_equal(crec_rowmsg_foreach(dmsg.data, dmsg.len, NULL, NULL, NULL, NULL), CREC_EFORMAT);
    dmsg.data[0] ^= 1;
    /* trailing garbage */
    crec_buf_write(&dmsg, "x", 1);
    assert_int_equal(crec_rowmsg_foreach(dmsg.data, dmsg.len, NULL, NULL, NULL, NULL), CREC_EFORMAT);
    crec_buf_free(&full);
    crec_buf_free(&delta);
    crec_buf_free(&msg);
    crec_buf_free(&dmsg);
    crec_online_table_free(t);
    crec_online_table_free(into);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_rowmsg),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
