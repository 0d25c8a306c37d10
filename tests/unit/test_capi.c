/* test_capi.c: the flat C API (crec/capi.h) that the Python package calls, under ASan's leak checker (the
 * Python tests run it with detect_leaks=0): options checked strictly with the key named, every handle and
 * returned string freed, the same figures as the library's own calls (evaluation JSON, recommendations,
 * batch scores), the store's events and histories. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "crec/capi.h"
#include "crec/crec.h"
#include "testutil.h"

static crec_dataset *synth_small(void) {
    const char *k[] = {"users", "items", "seed"}, *v[] = {"120", "60", "3"};
    crec_dataset *ds = NULL;
    assert_int_equal(crec_capi_dataset_synth(k, v, 3, &ds), 0);
    assert_non_null(ds);
    return ds;
}

static void test_options_name_the_key(void **st) {
    crec_dataset *ds = NULL;
    const char *k[] = {"users"}, *bad[] = {"12x"};
    assert_int_equal(crec_capi_dataset_synth(k, bad, 1, &ds), CREC_EINVAL);
    assert_null(ds);
    assert_non_null(strstr(crec_capi_errmsg(), "'users' = '12x'"));
    const char *k2[] = {"userz"}, *v2[] = {"10"};
    assert_int_equal(crec_capi_dataset_synth(k2, v2, 1, &ds), CREC_EINVAL);
    assert_non_null(strstr(crec_capi_errmsg(), "unknown option 'userz'"));
    const char *k3[] = {"users", "users"}, *v3[] = {"10", "20"};
    assert_int_equal(crec_capi_dataset_synth(k3, v3, 2, &ds), CREC_EINVAL);
    assert_non_null(strstr(crec_capi_errmsg(), "given twice"));
    assert_int_equal(crec_capi_dataset_load("/nonexistent/x.crecds", NULL, NULL, 0, &ds), CREC_ENOTFOUND);
    assert_non_null(strstr(crec_capi_errmsg(), "no such file"));

    ds = synth_small();
    crec_model *m = NULL;
    const char *pk[] = {"dimm"}, *pv[] = {"32"};
    assert_int_equal(crec_capi_train(ds, "sasrec", pk, pv, 1, "loo", 42, 1, 0, &m), CREC_EINVAL);
    assert_null(m);
    assert_non_null(strstr(crec_capi_errmsg(), "no parameter 'dimm'"));
    const char *dk[] = {"dim"}, *dv[] = {"6x"};
    assert_int_equal(crec_capi_train(ds, "sasrec", dk, dv, 1, "loo", 42, 1, 0, &m), CREC_EINVAL);
    assert_non_null(strstr(crec_capi_errmsg(), "'dim' = '6x'"));
    assert_int_equal(crec_capi_train(ds, "pop", NULL, NULL, 0, "sideways", 42, 1, 0, &m), CREC_EINVAL);
    assert_non_null(strstr(crec_capi_errmsg(), "bad split 'sideways'"));
    crec_capi_dataset_free(ds);
}

static void test_dataset_views(void **st) {
    crec_dataset *ds = synth_small();
    int64_t n = crec_capi_dataset_size(ds, 2);
    assert_true(n > 0);
    assert_int_equal(crec_capi_dataset_size(ds, 0), 120);
    const int32_t *u, *it;
    const int64_t *ts;
    const float *val;
    const uint8_t *ty;
    assert_int_equal(crec_capi_dataset_log(ds, &u, &it, &ts, &val, &ty), 0);
    assert_ptr_equal(u, ds->user);
    const char *names[] = {crec_capi_dataset_item_name(ds, 7), "nope"};
    int32_t ids[2];
    assert_int_equal(crec_capi_dataset_ids(ds, 1, names, 2, ids), 1);
    assert_int_equal(ids[0], 7);
    assert_int_equal(ids[1], -1);
    int32_t attrs[8];
    int na = crec_capi_dataset_item_attrs(ds, 7, attrs, 8);
    assert_true(na >= 1 && na <= 8);
    assert_non_null(strstr(crec_capi_dataset_attr_name(ds, attrs[0]), "topic:"));
    assert_null(ds->attr_ptr); /* no index built: evaluation's ILD stays as the CLI has it */
    char *json = NULL;
    assert_int_equal(crec_capi_dataset_info(ds, &json), 0);
    assert_non_null(strstr(json, "\"users\":120"));
    crec_capi_free(json);

    crec_split *s = NULL;
    assert_int_equal(crec_capi_split_make(ds, "loo", &s), 0);
    char spec[64];
    assert_int_equal(crec_capi_split_spec(s, spec, sizeof spec), 0);
    assert_string_equal(spec, "loo");
    int32_t rows, cols;
    const int64_t *ptr;
    const int32_t *idx;
    assert_int_equal(crec_capi_split_part(s, 2, &rows, &cols, &ptr, &idx, NULL, NULL), 0);
    assert_int_equal(rows, 120);
    int64_t cnt[120] = {0}, expect = 0; /* one test event per user with at least 3 events */
    for (int64_t e = 0; e < n; e++) cnt[u[e]]++;
    for (int r = 0; r < 120; r++) expect += cnt[r] >= 3;
    assert_true(expect > 100);
    assert_int_equal(ptr[rows], expect);
    crec_capi_split_free(s);

    const char *us[] = {"a", "a", "b"}, *is[] = {"x", "y", "x"};
    const char *fk[] = {"dedup"}, *fv[] = {"1"};
    crec_dataset *e = NULL;
    assert_int_equal(crec_capi_dataset_from_events(us, is, NULL, NULL, 3, "tiny", fk, fv, 1, &e), 0);
    assert_int_equal(crec_capi_dataset_size(e, 1), 2);
    assert_string_equal(crec_capi_dataset_name(e), "tiny");
    crec_capi_dataset_free(e);
    crec_capi_dataset_free(ds);
}

static void test_evaluate_recommend_score(void **st) {
    crec_dataset *ds = synth_small();
    crec_model *m = NULL;
    const char *k[] = {"factors", "iters"}, *v[] = {"8", "3"};
    assert_int_equal(crec_capi_train(ds, "ials", k, v, 2, "loo", 42, 1, 0, &m), 0);
    /* the JSON is the library's own writer, on the split rebuilt from the checkpoint's spec */
    const char *ek[] = {"k", "threads"}, *ev[] = {"10", "1"};
    char *json = NULL;
    assert_int_equal(crec_capi_evaluate(m, ds, ek, ev, 2, &json), 0);
    assert_non_null(strstr(json, "\"NDCG@10\""));
    assert_non_null(strstr(json, "\"split\": \"loo\""));
    crec_capi_free(json);
    const char *bk[] = {"target"}, *bv[] = {"train"};
    assert_int_equal(crec_capi_evaluate(m, ds, bk, bv, 1, &json), CREC_EINVAL);
    assert_non_null(strstr(crec_capi_errmsg(), "'target'"));

    /* recommend = the top of score with the user's items excluded */
    int32_t items[5], n = 0;
    float sc[5];
    assert_int_equal(crec_capi_recommend(m, ds, 3, NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 5, 0, items, sc, &n), 0);
    assert_int_equal(n, 5);
    float *all = malloc(60 * sizeof *all);
    assert_int_equal(crec_capi_score(m, ds, 3, NULL, NULL, 0, all), 0);
    for (int64_t e = 0; e < ds->n; e++)
        if (ds->user[e] == 3) all[ds->item[e]] = -INFINITY;
    int32_t best = 0;
    for (int32_t i = 1; i < 60; i++)
        if (all[i] > all[best]) best = i;
    assert_int_equal(items[0], best);
    assert_float_equal(sc[0], all[best], 1e-6);
    /* a block of users = one call per user (ials scores blocks with one matrix product) */
    int32_t users[3] = {3, 0, 3};
    float *block = malloc(3 * 60 * sizeof *block);
    assert_int_equal(crec_capi_score_users(m, ds, users, 3, block), 0);
    assert_int_equal(crec_capi_score(m, ds, 3, NULL, NULL, 0, all), 0);
    for (int32_t i = 0; i < 60; i++) {
        assert_float_equal(block[i], all[i], 1e-4);
        assert_float_equal(block[2 * 60 + i], all[i], 1e-4);
    }
    free(block);
    free(all);
    /* a history, exclusions, errors */
    int32_t hist[2] = {1, 2}, excl[1] = {items[0]};
    assert_int_equal(crec_capi_recommend(m, ds, -1, hist, NULL, 2, excl, 1, NULL, 0, NULL, 0, 5, 0, items, sc, &n), 0);
    for (int r = 0; r < n; r++) assert_true(items[r] != excl[0] && items[r] != 1 && items[r] != 2);
    assert_int_equal(crec_capi_recommend(m, ds, 3, hist, NULL, 2, NULL, 0, NULL, 0, NULL, 0, 5, 0, items, sc, &n),
                     CREC_EINVAL);
    assert_int_equal(crec_capi_recommend(m, ds, 999, NULL, NULL, 0, NULL, 0, NULL, 0, NULL, 0, 5, 0, items, sc, &n),
                     CREC_ERANGE);
    char *desc = NULL;
    assert_int_equal(crec_capi_model_describe(m, &desc), 0);
    assert_non_null(strstr(desc, "\"factors\":\"8\""));
    crec_capi_free(desc);
    crec_capi_model_free(m);
    crec_capi_dataset_free(ds);
}

static void test_schema(void **st) {
    int n = crec_capi_model_type_count();
    assert_true(n >= 4);
    for (int t = 0; t < n; t++) {
        const char *name, *summary;
        unsigned caps;
        int np;
        assert_int_equal(crec_capi_model_type(t, &name, &summary, &caps, &np), 0);
        for (int p = 0; p < np; p++) {
            const char *pn, *kind, *def, *choices, *help;
            double lo, hi;
            assert_int_equal(crec_capi_model_param(t, p, &pn, &kind, &def, &lo, &hi, &choices, &help), 0);
            assert_non_null(pn);
            assert_non_null(def);
        }
        assert_int_equal(crec_capi_model_param(t, np, NULL, NULL, NULL, NULL, NULL, NULL, NULL), CREC_ERANGE);
    }
}

static void test_store(void **st) {
    char *dir = tu_tmpdir();
    char path[256];
    snprintf(path, sizeof path, "%s/s.db", dir);
    crec_dataset *ds = synth_small();
    crec_store *s = NULL;
    assert_int_equal(crec_capi_store_open(path, 0, &s), 0);
    char *json = NULL;
    assert_int_equal(crec_capi_store_import(s, ds, &json), 0);
    assert_non_null(strstr(json, "\"users_added\":120"));
    crec_capi_free(json);
    const char *item = crec_capi_dataset_item_name(ds, 5);
    const char *us[] = {"new", "new"}, *is[] = {item, "no-such-item"};
    int64_t ts[] = {5, 6}, bad = -1;
    assert_int_equal(crec_capi_store_add_events(s, us, is, NULL, NULL, ts, 2, &bad), CREC_ENOTFOUND);
    assert_int_equal(bad, 1);
    assert_non_null(strstr(crec_capi_errmsg(), "no-such-item"));
    assert_int_equal(crec_capi_store_add_events(s, us, is, NULL, NULL, ts, 1, &bad), 0);
    const char *attrs[] = {"topic:new"};
    assert_int_equal(crec_capi_store_put_item(s, "fresh", "Fresh", NULL, attrs, 1, 1), 0);
    const char *us2[] = {"new"}, *is2[] = {"fresh"}, *ty2[] = {"click"};
    int64_t ts2[] = {7};
    assert_int_equal(crec_capi_store_add_events(s, us2, is2, ty2, NULL, ts2, 1, &bad), 0);
    crec_capi_events *ev = NULL;
    assert_int_equal(crec_capi_store_user_events(s, "new", 0, &ev), 0);
    assert_int_equal(crec_capi_events_count(ev), 2);
    assert_string_equal(crec_capi_events_item(ev, 0), item);
    assert_string_equal(crec_capi_events_item(ev, 1), "fresh");
    assert_string_equal(crec_capi_events_type(ev, 1), "click");
    const int64_t *ets;
    assert_int_equal(crec_capi_events_arrays(ev, &ets, NULL, NULL), 0);
    assert_int_equal(ets[1], 7);
    crec_capi_events_free(ev);
    assert_int_equal(crec_capi_store_user_events(s, "nobody", 0, &ev), CREC_ENOTFOUND);
    assert_int_equal(crec_capi_store_stats(s, &json), 0);
    assert_non_null(strstr(json, "\"users\":121"));
    crec_capi_free(json);
    crec_dataset *snap = NULL;
    assert_int_equal(crec_capi_store_snapshot(s, &snap), 0);
    assert_int_equal(crec_capi_dataset_size(snap, 2), ds->n + 2);
    crec_capi_dataset_free(snap);
    crec_capi_store_close(s);
    crec_capi_dataset_free(ds);
    tu_rmrf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_options_name_the_key), cmocka_unit_test(test_dataset_views),
        cmocka_unit_test(test_evaluate_recommend_score), cmocka_unit_test(test_schema), cmocka_unit_test(test_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
