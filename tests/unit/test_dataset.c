/* test_dataset.c: id maps, the interaction log, item metadata, the binary .crecds file (round trip and
 * every kind of corruption), filters and statistics. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "crec/crec.h"
#include "testutil.h"

static void test_idmap(void **st) {
    crec_idmap m;
    crec_idmap_init(&m);
    char buf[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(buf, sizeof buf, "id-%d", i);
        assert_int_equal(crec_idmap_intern(&m, buf, strlen(buf)), i);
    }
    assert_int_equal(m.n, 5000);
    assert_int_equal(crec_idmap_intern(&m, "id-42", 5), 42);
    assert_int_equal(crec_idmap_get(&m, "id-4999", 7), 4999);
    assert_int_equal(crec_idmap_get(&m, "id-5000", 7), -1);
    assert_int_equal(crec_idmap_get(&m, "id-4", 4), 4);  /* a prefix of many others */
    assert_int_equal(crec_idmap_get(&m, "id-42x", 5), 42); /* len bounds the key */
    assert_string_equal(m.names[123], "id-123");
    crec_idmap_free(&m);
}

static crec_dataset *small_dataset(void) {
    crec_dataset *ds = crec_dataset_new();
    /* u1: a b c d (times 1..4), u2: b c (10, 5: out of order), u3: a */
    const char *rows[][2] = {{"u1", "a"}, {"u1", "b"}, {"u2", "b"}, {"u1", "c"}, {"u2", "c"}, {"u1", "d"}, {"u3", "a"}};
    int64_t ts[] = {1, 2, 10, 3, 5, 4, 7};
    float val[] = {5, 4, 3, 2, 1, 5, 4};
    for (int k = 0; k < 7; k++)
        assert_int_equal(crec_dataset_add(ds, rows[k][0], 2, rows[k][1], 1, ts[k], val[k], 0), 0);
    ds->has_time = ds->has_value = 1;
    snprintf(ds->name, sizeof ds->name, "small");
    assert_int_equal(crec_dataset_set_title(ds, 0, "Alpha", 5), 0);
    assert_int_equal(crec_dataset_set_text(ds, 2, "about c", 7), 0);
    assert_int_equal(crec_dataset_add_attr(ds, 0, "red", 3), 0);
    assert_int_equal(crec_dataset_add_attr(ds, 0, "big", 3), 0);
    assert_int_equal(crec_dataset_add_attr(ds, 0, "red", 3), 0); /* duplicate, removed by attr_csr */
    assert_int_equal(crec_dataset_add_attr(ds, 3, "big", 3), 0);
    assert_int_equal(crec_dataset_add_user_attr(ds, 1, "gender:F", 8), 0);
    assert_int_equal(crec_dataset_add_user_attr(ds, 1, "age:25-34", 9), 0);
    assert_int_equal(crec_dataset_add_user_attr(ds, 0, "gender:M", 8), 0);
    assert_int_equal(crec_dataset_add_user_attr(ds, 1, "gender:F", 8), 0); /* duplicate */
    return ds;
}

static void test_dataset_basics(void **st) {
    crec_dataset *ds = small_dataset();
    assert_int_equal(ds->users.n, 3);
    assert_int_equal(ds->items.n, 4);
    assert_int_equal(ds->n, 7);
    assert_string_equal(crec_dataset_item_label(ds, 0), "Alpha");
    assert_string_equal(crec_dataset_item_label(ds, 1), "b"); /* no title: external id */
    assert_int_equal(crec_dataset_add_dense(ds, 3, 0, 0, 1, 0), CREC_EINVAL); /* user 3 does not exist */
    assert_int_equal(crec_dataset_set_title(ds, 99, "x", 1), CREC_EINVAL);
    assert_int_equal(crec_dataset_attr_csr(ds), 0);
    assert_int_equal(ds->attr_ptr[1] - ds->attr_ptr[0], 2); /* red, big (deduplicated) */
    assert_int_equal(ds->attr_ptr[4] - ds->attr_ptr[3], 1);
    assert_int_equal(crec_dataset_add_user_attr(ds, 7, "x", 1), CREC_EINVAL);
    assert_int_equal(crec_dataset_user_attr_csr(ds), 0);
    assert_int_equal(ds->uattr_ptr[2] - ds->uattr_ptr[1], 2); /* gender:F, age:25-34 */
    assert_int_equal(ds->uattr_ptr[3] - ds->uattr_ptr[2], 0);
    crec_dataset_info in;
    assert_int_equal(crec_dataset_info_compute(ds, &in), 0);
    assert_int_equal(in.n_users, 3);
    assert_int_equal(in.n_interactions, 7);
    assert_true(fabs(in.density - 7.0 / 12.0) < 1e-12);
    /* per-user counts 1, 2, 4: min 1, median 2, max 4 */
    assert_true(in.seq_q[0] == 1 && in.seq_q[2] == 2 && in.seq_q[4] == 4);
    /* item counts a2 b2 c2 d1 sorted 1,2,2,2: G = ((-3)1 + (-1)2 + (1)2 + (3)2) / (4*7) = 3/28 */
    assert_true(fabs(in.pop_gini - 3.0 / 28.0) < 1e-12);
    crec_dataset_free(ds);
}

static void test_binary_roundtrip(void **st) {
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/d.crecds", dir);
    crec_dataset *ds = small_dataset();
    assert_int_equal(crec_dataset_save(ds, path), 0);
    crec_dataset *back;
    assert_int_equal(crec_dataset_load(path, &back), 0);
    assert_int_equal(back->n, ds->n);
    assert_int_equal(back->users.n, 3);
    assert_int_equal(back->items.n, 4);
    assert_string_equal(back->name, "small");
    assert_int_equal(back->has_time, 1);
    for (int64_t k = 0; k < ds->n; k++) {
        assert_int_equal(back->user[k], ds->user[k]);
        assert_int_equal(back->item[k], ds->item[k]);
        assert_int_equal(back->ts[k], ds->ts[k]);
        assert_true(back->value[k] == ds->value[k]);
    }
    assert_string_equal(back->title[0], "Alpha");
    assert_null(back->title[1]);
    assert_string_equal(back->text[2], "about c");
    assert_int_equal(back->n_attr_pairs, 4);
    assert_string_equal(back->attrs.names[back->attr_id[0]], "red");
    assert_int_equal(back->n_uattr_pairs, 4);
    assert_int_equal(back->user_attrs.n, 3);
    assert_string_equal(back->user_attrs.names[back->uattr_id[1]], "age:25-34");
    assert_int_equal(crec_idmap_get(&back->users, "u2", 2), 1);
    /* a loaded dataset is a private map: in-place filters, then appends (which copy the arrays out) */
    assert_int_equal(back->arrays_mapped, 1);
    assert_int_equal(crec_dataset_filter_min_value(back, 4.0f), 0);
    assert_int_equal(back->n, 4);
    assert_int_equal(crec_dataset_add(back, "u9", 2, "zz", 2, 99, 1, 0), 0);
    assert_int_equal(back->arrays_mapped, 0);
    assert_int_equal(back->n, 5);
    assert_string_equal(back->items.names[back->item[4]], "zz");
    assert_int_equal(crec_dataset_add_attr(back, 0, "new", 3), 0);
    crec_dataset_free(back);
    /* the file itself is untouched by those edits */
    assert_int_equal(crec_dataset_load(path, &back), 0);
    assert_int_equal(back->n, 7);
    crec_dataset_free(back);

    /* corruption: flip one payload byte -> checksum */
    FILE *f = fopen(path, "r+b");
    fseek(f, -3, SEEK_END);
    int c = fgetc(f);
    fseek(f, -3, SEEK_END);
    fputc(c ^ 0x5a, f);
    fclose(f);
    assert_int_equal(crec_dataset_load(path, &back), CREC_ECHECKSUM);
    assert_null(back);
    /* truncated */
    assert_int_equal(crec_dataset_save(ds, path), 0);
    assert_int_equal(truncate(path, 40), 0);
    assert_int_equal(crec_dataset_load(path, &back), CREC_EFORMAT);
    /* not a dataset at all */
    tu_write(path, "1 2 3\n4 5 6\n");
    assert_int_equal(crec_dataset_load(path, &back), CREC_EFORMAT);
    /* a newer version */
    assert_int_equal(crec_dataset_save(ds, path), 0);
    f = fopen(path, "r+b");
    fseek(f, 8, SEEK_SET);
    uint32_t v = 99;
    fwrite(&v, 4, 1, f);
    fclose(f);
    assert_int_equal(crec_dataset_load(path, &back), CREC_EVERSION);
    /* missing */
    snprintf(path, sizeof path, "%s/nope.crecds", dir);
    assert_int_equal(crec_dataset_load(path, &back), CREC_ENOTFOUND);
    crec_dataset_free(ds);
    tu_rmrf(dir);
    free(dir);
}

static void test_filters(void **st) {
    crec_dataset *ds = small_dataset();
    /* ratings >= 4: u1 a(5) b(4) d(5), u3 a(4) -> 4 events; u2 disappears; c has no events but keeps its text */
    assert_int_equal(crec_dataset_filter_min_value(ds, 4.0f), 0);
    assert_int_equal(ds->n, 4);
    assert_int_equal(ds->users.n, 2);
    assert_int_equal(crec_idmap_get(&ds->users, "u2", 2), -1);
    assert_int_equal(ds->has_value, 0);
    /* u2's features went with u2; u1's (dense id 0) stay */
    assert_int_equal(ds->n_uattr_pairs, 1);
    assert_int_equal(ds->uattr_user[0], 0);
    for (int64_t k = 0; k < ds->n; k++) assert_true(ds->value[k] == 1.0f);
    crec_dataset_free(ds);

    ds = crec_dataset_new();
    /* duplicates: (x,p) at t=3 and t=1, (x,q) once, (y,p) twice */
    crec_dataset_add(ds, "x", 1, "p", 1, 3, 1, 0);
    crec_dataset_add(ds, "x", 1, "q", 1, 2, 1, 0);
    crec_dataset_add(ds, "x", 1, "p", 1, 1, 1, 0);
    crec_dataset_add(ds, "y", 1, "p", 1, 5, 1, 0);
    crec_dataset_add(ds, "y", 1, "p", 1, 6, 1, 0);
    assert_int_equal(crec_dataset_dedup(ds, 0), 0);
    assert_int_equal(ds->n, 3);
    /* the earliest (x,p) is kept: t=1; load order of survivors is preserved */
    assert_int_equal(ds->ts[0], 2);
    assert_int_equal(ds->ts[1], 1);
    assert_int_equal(ds->ts[2], 5);
    crec_dataset_free(ds);

    /* k-core: a chain where removing one item cascades */
    ds = crec_dataset_new();
    const char *ev[][2] = {{"1", "A"}, {"1", "B"}, {"2", "A"}, {"2", "B"}, {"3", "A"}, {"3", "C"}, {"4", "C"}};
    for (int k = 0; k < 7; k++) crec_dataset_add(ds, ev[k][0], 1, ev[k][1], 1, k, 1, 0);
    /* 2-core: C has 2 (users 3, 4), user 4 has 1 -> drop; then C has 1 -> drop; then user 3 has 1 -> drop */
    assert_int_equal(crec_dataset_kcore(ds, 2, 2), 0);
    assert_int_equal(ds->n, 4);
    assert_int_equal(ds->users.n, 2);
    assert_int_equal(ds->items.n, 2);
    assert_int_equal(crec_idmap_get(&ds->items, "C", 1), -1);
    for (int64_t k = 0; k < ds->n; k++) assert_true(ds->user[k] < 2 && ds->item[k] < 2);
    crec_dataset_free(ds);
}

static void test_synth_deterministic(void **st) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = 300;
    o.n_items = 200;
    crec_dataset *a, *b, *c;
    assert_int_equal(crec_synth_generate(&o, &a), 0);
    assert_int_equal(crec_synth_generate(&o, &b), 0);
    o.seed = 7;
    assert_int_equal(crec_synth_generate(&o, &c), 0);
    assert_int_equal(a->n, b->n);
    assert_memory_equal(a->item, b->item, (size_t)a->n * sizeof *a->item);
    assert_memory_equal(a->ts, b->ts, (size_t)a->n * sizeof *a->ts);
    assert_true(a->n != c->n || memcmp(a->item, c->item, (size_t)a->n * sizeof *a->item) != 0);
    assert_int_equal(a->users.n, 300);
    assert_int_equal(a->items.n, 200);
    /* every user has at least min_len distinct items, no repeats, increasing timestamps */
    crec_csr m;
    assert_int_equal(crec_csr_from_dataset(a, &m), 0);
    for (int32_t u = 0; u < m.n_rows; u++) {
        assert_true(m.ptr[u + 1] - m.ptr[u] >= o.min_len);
        for (int64_t k = m.ptr[u] + 1; k < m.ptr[u + 1]; k++) assert_true(m.ts[k] > m.ts[k - 1]);
    }
    crec_dataset_info in;
    crec_dataset_info_compute(a, &in);
    assert_true(in.pop_gini > 0.3); /* power-law popularity */
    for (int32_t i = 0; i < a->items.n; i++) assert_non_null(a->title[i]);
    assert_true(a->n_attr_pairs >= a->items.n);
    crec_csr_free(&m);
    crec_dataset_free(a);
    crec_dataset_free(b);
    crec_dataset_free(c);
    /* bad options */
    crec_synth_defaults(&o);
    o.min_len = 10;
    o.max_len = 5;
    assert_int_equal(crec_synth_generate(&o, &a), CREC_EINVAL);
    assert_null(a);
}

static void test_errors(void **st) {
    assert_string_equal(crec_strerror(CREC_EPARSE), "malformed input");
    assert_string_equal(crec_errname(CREC_ECHECKSUM), "CREC_ECHECKSUM");
    assert_string_equal(crec_strerror(12345), "unknown error");
    assert_string_equal(crec_strerror(0), "success");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idmap),           cmocka_unit_test(test_dataset_basics),
        cmocka_unit_test(test_binary_roundtrip), cmocka_unit_test(test_filters),
        cmocka_unit_test(test_synth_deterministic), cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
