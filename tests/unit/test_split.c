/* test_split.c: by-user time order, leave-one-out / temporal / random splits: exact assignments on a hand
 * example, and on generated data that the three parts partition the log (no test event in training). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crec/crec.h"
#include "testutil.h"

/* u1: a(t1) b(t2) c(t3) d(t4) loaded out of order; u2: x(t5) y(t6); u3: a(t1) b(t9) c(t8) */
static crec_dataset *hand(void) {
    crec_dataset *ds = crec_dataset_new();
    struct { const char *u, *i; int64_t t; } ev[] = {{"u1", "c", 3}, {"u1", "a", 1}, {"u2", "x", 5}, {"u1", "d", 4},
                                                     {"u1", "b", 2}, {"u2", "y", 6}, {"u3", "a", 1}, {"u3", "b", 9},
                                                     {"u3", "c", 8}};
    for (size_t k = 0; k < sizeof ev / sizeof ev[0]; k++)
        crec_dataset_add(ds, ev[k].u, strlen(ev[k].u), ev[k].i, 1, ev[k].t, 1, 0);
    ds->has_time = 1;
    return ds;
}

static const char *item(const crec_dataset *ds, const crec_csr *m, int64_t k) { return ds->items.names[m->idx[k]]; }

static void test_time_order(void **st) {
    crec_dataset *ds = hand();
    crec_csr m;
    assert_int_equal(crec_csr_from_dataset(ds, &m), 0);
    assert_int_equal(m.ptr[1] - m.ptr[0], 4);
    assert_string_equal(item(ds, &m, 0), "a");
    assert_string_equal(item(ds, &m, 1), "b");
    assert_string_equal(item(ds, &m, 2), "c");
    assert_string_equal(item(ds, &m, 3), "d");
    crec_csr t;
    assert_int_equal(crec_csr_transpose(&m, &t), 0);
    assert_int_equal(t.n_rows, ds->items.n);
    /* item a: users u1 (0) and u3 (2) */
    int32_t a = crec_idmap_get(&ds->items, "a", 1);
    assert_int_equal(t.ptr[a + 1] - t.ptr[a], 2);
    assert_int_equal(t.idx[t.ptr[a]], 0);
    assert_int_equal(t.idx[t.ptr[a] + 1], 2);
    crec_csr_free(&t);
    crec_csr_free(&m);
    crec_dataset_free(ds);
}

static void test_loo(void **st) {
    crec_dataset *ds = hand();
    crec_split_spec sp;
    assert_int_equal(crec_split_spec_parse("loo", &sp), 0);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    /* u1: train a b, valid c, test d */
    assert_int_equal(s.train.ptr[1] - s.train.ptr[0], 2);
    assert_string_equal(item(ds, &s.valid, s.valid.ptr[0]), "c");
    assert_string_equal(item(ds, &s.test, s.test.ptr[0]), "d");
    /* u2 has 2 events (< 3): all in train */
    assert_int_equal(s.train.ptr[2] - s.train.ptr[1], 2);
    assert_int_equal(s.test.ptr[2] - s.test.ptr[1], 0);
    /* u3: by time a(1) c(8) b(9): test b, valid c */
    assert_string_equal(item(ds, &s.test, s.test.ptr[2]), "b");
    assert_string_equal(item(ds, &s.valid, s.valid.ptr[2]), "c");
    crec_split_free(&s);
    crec_dataset_free(ds);
}

static void test_spec_parse(void **st) {
    crec_split_spec sp;
    char buf[64];
    assert_int_equal(crec_split_spec_parse("temporal:0.2:0.1", &sp), 0);
    assert_int_equal(sp.kind, CREC_SPLIT_TEMPORAL);
    crec_split_spec_format(&sp, buf, sizeof buf);
    assert_string_equal(buf, "temporal:0.2:0.1");
    assert_int_equal(crec_split_spec_parse("random:0.3:0.1:7", &sp), 0);
    assert_int_equal(sp.seed, 7);
    crec_split_spec_format(&sp, buf, sizeof buf);
    assert_string_equal(buf, "random:0.3:0.1:7");
    assert_int_equal(crec_split_spec_parse("random:0.2", &sp), 0);
    assert_true(sp.valid_frac == 0.1);
    assert_int_equal(crec_split_spec_parse("random:1.5", &sp), CREC_EINVAL);
    assert_int_equal(crec_split_spec_parse("random:0.6:0.5", &sp), CREC_EINVAL);
    assert_int_equal(crec_split_spec_parse("bogus", &sp), CREC_EINVAL);
    assert_int_equal(crec_split_spec_parse("temporal:abc", &sp), CREC_EINVAL);
    assert_int_equal(crec_split_spec_parse("loo", &sp), 0);
    crec_split_spec_format(&sp, buf, sizeof buf);
    assert_string_equal(buf, "loo");
}

static void test_temporal_hand(void **st) {
    crec_dataset *ds = hand();
    crec_split_spec sp;
    /* 9 events, ts sorted 1 1 2 3 4 5 6 8 9: test = last 2 (ts >= 8), valid = 1 before (ts >= 6) */
    assert_int_equal(crec_split_spec_parse("temporal:0.25:0.12", &sp), 0);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    assert_int_equal(crec_csr_nnz(&s.test), 2);
    assert_int_equal(crec_csr_nnz(&s.valid), 1);
    assert_int_equal(crec_csr_nnz(&s.train), 6);
    for (int64_t k = 0; k < crec_csr_nnz(&s.train); k++) assert_true(s.train.ts[k] < 6);
    for (int64_t k = 0; k < crec_csr_nnz(&s.test); k++) assert_true(s.test.ts[k] >= 8);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

/* On generated data: the three parts partition each user's events, for every split kind. */
static void test_partition(void **st) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = 400;
    o.n_items = 300;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    crec_csr full;
    assert_int_equal(crec_csr_from_dataset(ds, &full), 0);
    const char *specs[] = {"loo", "temporal:0.2:0.1", "random:0.2:0.1:3"};
    for (int sidx = 0; sidx < 3; sidx++) {
        crec_split_spec sp;
        assert_int_equal(crec_split_spec_parse(specs[sidx], &sp), 0);
        crec_split s;
        assert_int_equal(crec_split_make(ds, &sp, &s), 0);
        assert_int_equal(crec_csr_nnz(&s.train) + crec_csr_nnz(&s.valid) + crec_csr_nnz(&s.test), ds->n);
        int64_t max_train_ts = 0, min_test_ts = INT64_MAX;
        for (int32_t u = 0; u < full.n_rows; u++) {
            /* synth has no repeats per user, so (user, item) identifies an event */
            for (int64_t k = s.test.ptr[u]; k < s.test.ptr[u + 1]; k++) {
                for (int64_t q = s.train.ptr[u]; q < s.train.ptr[u + 1]; q++) assert_int_not_equal(s.train.idx[q], s.test.idx[k]);
                for (int64_t q = s.valid.ptr[u]; q < s.valid.ptr[u + 1]; q++) assert_int_not_equal(s.valid.idx[q], s.test.idx[k]);
                if (s.test.ts[k] < min_test_ts) min_test_ts = s.test.ts[k];
            }
            for (int64_t k = s.valid.ptr[u]; k < s.valid.ptr[u + 1]; k++)
                for (int64_t q = s.train.ptr[u]; q < s.train.ptr[u + 1]; q++) assert_int_not_equal(s.train.idx[q], s.valid.idx[k]);
            for (int64_t q = s.train.ptr[u]; q < s.train.ptr[u + 1]; q++)
                if (s.train.ts[q] > max_train_ts) max_train_ts = s.train.ts[q];
            if (sidx == 0 && full.ptr[u + 1] - full.ptr[u] >= 3) {
                assert_int_equal(s.test.ptr[u + 1] - s.test.ptr[u], 1);
                assert_int_equal(s.test.idx[s.test.ptr[u]], full.idx[full.ptr[u + 1] - 1]);
            }
        }
        if (sidx == 1) assert_true(max_train_ts < min_test_ts); /* global time cut */
        if (sidx == 2) {
            double frac = (double)crec_csr_nnz(&s.test) / (double)ds->n;
            assert_true(frac > 0.17 && frac < 0.23);
        }
        crec_split_free(&s);
    }
    crec_csr_free(&full);
    crec_dataset_free(ds);
}

/* Cold splits: the chosen items (users) have no training event at all, everything else none in test. */
static void test_cold(void **st) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = 300;
    o.n_items = 200;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    crec_split_spec sp;
    crec_split s;
    char buf[64];
    assert_int_equal(crec_split_spec_parse("cold-items:0.1:0.05:9", &sp), 0);
    crec_split_spec_format(&sp, buf, sizeof buf);
    assert_string_equal(buf, "cold-items:0.1:0.05:9");
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    uint8_t *in_train = calloc(200, 1), *in_test = calloc(200, 1), *in_valid = calloc(200, 1);
    for (int64_t k = 0; k < crec_csr_nnz(&s.train); k++) in_train[s.train.idx[k]] = 1;
    for (int64_t k = 0; k < crec_csr_nnz(&s.test); k++) in_test[s.test.idx[k]] = 1;
    for (int64_t k = 0; k < crec_csr_nnz(&s.valid); k++) in_valid[s.valid.idx[k]] = 1;
    int n_test_items = 0, n_valid_items = 0;
    for (int i = 0; i < 200; i++) {
        assert_false(in_train[i] && (in_test[i] || in_valid[i]));
        assert_false(in_test[i] && in_valid[i]);
        n_test_items += in_test[i];
        n_valid_items += in_valid[i];
    }
    assert_true(n_test_items > 0 && n_test_items <= 20);
    assert_true(n_valid_items > 0 && n_valid_items <= 10);
    assert_int_equal(crec_csr_nnz(&s.train) + crec_csr_nnz(&s.valid) + crec_csr_nnz(&s.test), ds->n);
    crec_split_free(&s);
    free(in_train);
    free(in_test);
    free(in_valid);

    assert_int_equal(crec_split_spec_parse("cold-users:0.2:0.1:3", &sp), 0);
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    int n_test_users = 0;
    for (int32_t u = 0; u < s.test.n_rows; u++) {
        int64_t tr = s.train.ptr[u + 1] - s.train.ptr[u], te = s.test.ptr[u + 1] - s.test.ptr[u],
                va = s.valid.ptr[u + 1] - s.valid.ptr[u];
        assert_true((tr > 0) + (te > 0) + (va > 0) == 1); /* each user is in exactly one part */
        n_test_users += te > 0;
    }
    assert_int_equal(n_test_users, 60);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_order), cmocka_unit_test(test_loo), cmocka_unit_test(test_spec_parse),
        cmocka_unit_test(test_temporal_hand), cmocka_unit_test(test_partition), cmocka_unit_test(test_cold),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
