/* test_online_table.c: the collisionless embedding table (crec/online.h): no two ids share a row through growth
 * and removals, the frequency filter admits on the N-th sighting and its overestimate stays within the count-min
 * bound, expiry evicts exactly the stale rows, snapshot + deltas restore every row bit for bit, Adagrad and FTRL
 * against hand-computed values, and bad options, arguments and files give errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "core/binio.h"
#include "crec/online.h"
#include "testutil.h"

static uint64_t rnd(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static crec_online_table *mk(int dim, crec_online_optim optim, uint32_t min_count, int64_t ttl) {
    crec_online_opts o;
    crec_online_opts_default(&o, dim);
    o.optim = optim;
    o.min_count = min_count;
    o.ttl = ttl;
    o.capacity = 16;
    o.filter_width = 1u << 16;
    crec_online_table *t = crec_online_table_new(&o);
    assert_non_null(t);
    return t;
}

static int cmp_ptr(const void *a, const void *b) {
    uintptr_t x = (uintptr_t) * (const float *const *)a, y = (uintptr_t) * (const float *const *)b;
    return x < y ? -1 : x > y;
}

/* 400k random ids (plus 0 and UINT64_MAX) into a table sized for 16: every id keeps its own row and its vector (the
 * id's own bits) through 14 rehashes and ~10^5 cuckoo moves; removals leave the rest intact. (The sanitizers make
 * this the slow test; bench_online_table checks the same at 1M and 10M ids before timing.) */
static void test_no_collisions(void **state) {
    (void)state;
    enum { N = 400000 };
    crec_online_table *t = mk(2, CREC_ONLINE_SGD, 1, 0);
    uint64_t *ids = malloc(N * sizeof *ids);
    const float **rows = malloc(N * sizeof *rows);
    assert_non_null(ids);
    assert_non_null(rows);
    uint64_t s = 7;
    for (int i = 0; i < N; i++) ids[i] = i == 0 ? 0 : i == 1 ? UINT64_MAX : rnd(&s);
    for (int i = 0; i < N; i++) {
        float v[2];
        memcpy(v, &ids[i], 8);
        assert_int_equal(crec_online_table_put(t, ids[i], v, NULL, i), 0);
    }
    crec_online_stats st;
    crec_online_table_stats(t, &st);
    assert_int_equal(st.rows, N);
    assert_true(st.rehashes >= 12);
    assert_true(st.kicks > 1000);
    assert_true((double)st.rows / (double)st.slots > 0.4);
    assert_int_equal(crec_online_table_lookup_batch(t, ids, N, rows), N);
    for (int i = 0; i < N; i++) {
        assert_ptr_equal(rows[i], crec_online_table_lookup(t, ids[i]));
        if (memcmp(rows[i], &ids[i], 8) != 0) fail_msg("id %d: vector lost", i);
        assert_int_equal(crec_online_table_row_touch(t, rows[i]), i);
    }
    qsort(rows, N, sizeof *rows, cmp_ptr);
    for (int i = 1; i < N; i++)
        if (rows[i] == rows[i - 1]) fail_msg("two ids share a row");
    /* remove every third id, then insert 150k new ones: the survivors are untouched */
    for (int i = 0; i < N; i += 3) assert_int_equal(crec_online_table_remove(t, ids[i]), 0);
    assert_int_equal(crec_online_table_remove(t, ids[0]), CREC_ENOTFOUND);
    for (int i = 0; i < 150000; i++) {
        uint64_t id = rnd(&s);
        float v[2];
        memcpy(v, &id, 8);
        assert_int_equal(crec_online_table_put(t, id, v, NULL, 0), 0);
    }
    assert_int_equal(crec_online_table_lookup_batch(t, ids, N, rows), N - (N + 2) / 3);
    for (int i = 0; i < N; i++) {
        const float *r = crec_online_table_lookup(t, ids[i]);
        assert_ptr_equal(r, rows[i]);
        if (i % 3 == 0) {
            assert_null(r);
        } else {
            assert_non_null(r);
            if (memcmp(r, &ids[i], 8) != 0) fail_msg("id %d: vector lost after removals", i);
        }
    }
    crec_online_table_stats(t, &st);
    assert_int_equal(st.rows, N - (N + 2) / 3 + 150000);
    free(ids);
    free(rows);
    crec_online_table_free(t);
}

/* min_count 3 with a filter far larger than the ids: no row on sightings 1 and 2, a row on the 3rd. */
static void test_filter_admits_on_nth(void **state) {
    (void)state;
    crec_online_table *t = mk(4, CREC_ONLINE_ADAGRAD, 3, 0);
    float *row;
    for (int k = 1; k <= 3; k++)
        for (uint64_t id = 1000; id < 3000; id++) {
            assert_int_equal(crec_online_table_get(t, id, k, &row), 0);
            if (k < 3) {
                assert_null(row);
                assert_null(crec_online_table_lookup(t, id));
                assert_int_equal(crec_online_table_filter_count(t, id), k);
            } else {
                assert_non_null(row);
                assert_ptr_equal(row, crec_online_table_lookup(t, id));
            }
        }
    crec_online_stats st;
    crec_online_table_stats(t, &st);
    assert_int_equal(st.rows, 2000);
    assert_int_equal(st.admitted, 2000);
    assert_int_equal(st.filtered, 4000);
    assert_int_equal(st.filter_bytes, 4u * (1u << 16) * 2);
    /* the 4th sighting finds the row, unchanged in place */
    assert_int_equal(crec_online_table_get(t, 1000, 4, &row), 0);
    assert_ptr_equal(row, crec_online_table_lookup(t, 1000));
    assert_int_equal(crec_online_table_row_touch(t, row), 4);
    /* min_count 1: no filter at all */
    crec_online_table *t1 = mk(4, CREC_ONLINE_SGD, 1, 0);
    assert_int_equal(crec_online_table_get(t1, 5, 0, &row), 0);
    assert_non_null(row);
    crec_online_table_stats(t1, &st);
    assert_int_equal(st.filter_bytes, 0);
    crec_online_table_free(t1);
    crec_online_table_free(t);
}

/* A small sketch (width 1024, depth 4) under 30k single sightings: the estimate is never below the truth and
 * exceeds it by more than e * N / width for at most exp(-depth) of the queried ids (with slack for sampling). */
static void test_filter_bound(void **state) {
    (void)state;
    crec_online_opts o;
    crec_online_opts_default(&o, 1);
    o.min_count = 65535;
    o.filter_width = 1000; /* rounded up to 1024 */
    o.filter_depth = 4;
    crec_online_table *t = crec_online_table_new(&o);
    assert_non_null(t);
    assert_int_equal(crec_online_table_opts(t)->filter_width, 1024);
    enum { NSEEN = 30000, NQ = 20000 };
    float *row;
    uint64_t s = 11;
    /* ids 1..100 seen 5 times each, then 29500 random ids once */
    for (int k = 0; k < 5; k++)
        for (uint64_t id = 1; id <= 100; id++) assert_int_equal(crec_online_table_get(t, id, 0, &row), 0);
    for (int i = 0; i < NSEEN - 500; i++) assert_int_equal(crec_online_table_get(t, rnd(&s) | (1ULL << 63), 0, &row), 0);
    for (uint64_t id = 1; id <= 100; id++) assert_true(crec_online_table_filter_count(t, id) >= 5);
    double bound = exp(1.0) * NSEEN / 1024.0;
    int over = 0, any = 0;
    uint64_t q = 99;
    for (int i = 0; i < NQ; i++) {
        uint32_t est = crec_online_table_filter_count(t, (rnd(&q) >> 1) + 1000); /* never seen */
        over += est > bound;
        any += est > 0;
    }
    double rate = (double)over / NQ;
    double mean = 0;
    for (int i = 0; i < 1000; i++) mean += crec_online_table_filter_count(t, (rnd(&q) >> 1) + 1000) / 1000.0;
    assert_true(mean <= (double)NSEEN / 1024.0); /* E[one counter] = N / width; the minimum of 4 is below it */
    print_message("count-min: mean overestimate %.1f; ", mean);
    print_message("count-min: %d of %d unseen ids overestimated, %d beyond e*N/w = %.1f (rate %.4f, bound %.4f)\n",
                  any, NQ, over, bound, rate, exp(-4.0));
    assert_true(rate <= exp(-4.0) * 1.5);
    crec_online_table_free(t);
}

/* ttl 10: rows with now - touch >= 10 go, the others stay; a get refreshes; ttl 0 never expires. */
static void test_expiry(void **state) {
    (void)state;
    crec_online_table *t = mk(3, CREC_ONLINE_FTRL, 1, 10);
    float v[3] = {1, 2, 3};
    for (uint64_t id = 1; id <= 20; id++) assert_int_equal(crec_online_table_put(t, id, v, NULL, (int64_t)id - 1), 0);
    uint64_t ev;
    assert_int_equal(crec_online_table_expire(t, 20, &ev), 0);
    assert_int_equal(ev, 11); /* touches 0..10 */
    for (uint64_t id = 1; id <= 20; id++) {
        if (id <= 11) assert_null(crec_online_table_lookup(t, id));
        else assert_non_null(crec_online_table_lookup(t, id));
    }
    float *row;
    assert_int_equal(crec_online_table_get(t, 12, 25, &row), 0);
    assert_int_equal(crec_online_table_expire(t, 30, &ev), 0);
    assert_int_equal(ev, 8);
    assert_non_null(crec_online_table_lookup(t, 12));
    crec_online_stats st;
    crec_online_table_stats(t, &st);
    assert_int_equal(st.rows, 1);
    assert_int_equal(st.expired, 19);
    assert_int_equal(crec_online_table_expire(t, 34, &ev), 0);
    assert_int_equal(ev, 0);
    assert_int_equal(crec_online_table_expire(t, 35, &ev), 0);
    assert_int_equal(ev, 1);
    crec_online_table_free(t);
    crec_online_table *t0 = mk(3, CREC_ONLINE_SGD, 1, 0);
    assert_int_equal(crec_online_table_put(t0, 1, v, NULL, 0), 0);
    assert_int_equal(crec_online_table_expire(t0, INT64_MAX, &ev), 0);
    assert_int_equal(ev, 0);
    crec_online_table_free(t0);
}

typedef struct {
    const crec_online_table *other;
    int n, bad;
} cmp_ctx;

static int cmp_row(uint64_t id, const float *vec, int64_t touch, void *p) {
    cmp_ctx *c = p;
    c->n++;
    const float *o = crec_online_table_lookup(c->other, id);
    int sdim = crec_online_table_state_dim(c->other), dim = crec_online_table_opts(c->other)->dim;
    if (!o || memcmp(o, vec, (size_t)(dim + sdim) * 4) != 0 || crec_online_table_row_touch(c->other, o) != touch)
        c->bad++;
    return 0;
}

/* Every row of a is in b with the same bytes, and the counts match. */
static void assert_same(const crec_online_table *a, const crec_online_table *b) {
    cmp_ctx c = {b, 0, 0}, d = {a, 0, 0};
    assert_int_equal(crec_online_table_foreach(a, cmp_row, &c), 0);
    assert_int_equal(crec_online_table_foreach(b, cmp_row, &d), 0);
    assert_int_equal(c.bad, 0);
    assert_int_equal(d.bad, 0);
    assert_int_equal(c.n, d.n);
}

/* A stream of sightings, updates, removals and expiry; one snapshot, then three deltas: the snapshot plus the
 * deltas in order give the trainer's rows bit for bit (buffers and files), and out-of-order deltas are refused. */
static void run_stream(crec_online_table *t, uint64_t *s, int64_t t0, int n) {
    int dim = crec_online_table_opts(t)->dim;
    float g[8];
    for (int i = 0; i < n; i++) {
        uint64_t r = rnd(s);
        uint64_t id = r % 3000 == 0 ? UINT64_MAX : r % 2000;
        for (int j = 0; j < dim; j++) g[j] = (float)((int)(rnd(s) % 200) - 100) / 50.0f;
        int rc = crec_online_table_update(t, id, g, t0 + i / 10);
        assert_true(rc == 0 || rc == CREC_ENOTFOUND);
        if (r % 97 == 0) crec_online_table_remove(t, rnd(s) % 2000);
    }
    uint64_t ev;
    assert_int_equal(crec_online_table_expire(t, t0 + n / 10, &ev), 0);
}

static void snapshot_deltas(crec_online_optim optim) {
    crec_online_table *a = mk(8, optim, 2, 300);
    uint64_t s = 3;
    crec_buf full = {0}, d1 = {0}, d2 = {0}, d3 = {0};
    run_stream(a, &s, 0, 20000);
    assert_int_equal(crec_online_table_export(a, CREC_ONLINE_FULL, &full), 0);
    run_stream(a, &s, 2000, 3000);
    assert_int_equal(crec_online_table_export(a, CREC_ONLINE_DELTA, &d1), 0);
    run_stream(a, &s, 2300, 5000);
    assert_int_equal(crec_online_table_export(a, CREC_ONLINE_DELTA, &d2), 0);
    assert_int_equal(crec_online_table_export(a, CREC_ONLINE_DELTA, &d3), 0); /* empty */
    assert_true(d1.len < full.len);
    crec_online_stats st;
    crec_online_table_stats(a, &st);
    assert_true(st.expired > 0);
    assert_int_equal(st.export_seq, 4);

    crec_online_table *b;
    assert_int_equal(crec_online_table_import(&full, &b), 0);
    crec_buf d2c = d2;
    d2c.pos = 0;
    assert_int_equal(crec_online_table_apply_delta(b, &d2c), CREC_ESTATE);
    assert_int_equal(crec_online_table_apply_delta(b, &d1), 0);
    assert_int_equal(crec_online_table_apply_delta(b, &d2), 0);
    assert_int_equal(crec_online_table_apply_delta(b, &d3), 0);
    assert_same(a, b);
    /* the filter came with the snapshot: an id seen once before it needs one more sighting in both */
    for (uint64_t id = 5000; id < 5100; id++)
        assert_int_equal(crec_online_table_filter_count(a, id), crec_online_table_filter_count(b, id));
    crec_online_table_free(b);

    /* files */
    char *dir = tu_tmpdir(), p0[512], p1[512], p2[512];
    snprintf(p0, sizeof p0, "%s/full.crecot", dir);
    snprintf(p1, sizeof p1, "%s/d1.crecot", dir);
    snprintf(p2, sizeof p2, "%s/d2.crecot", dir);
    assert_int_equal(crec_online_table_save(a, CREC_ONLINE_FULL, p0), 0);
    run_stream(a, &s, 3000, 2000);
    assert_int_equal(crec_online_table_save(a, CREC_ONLINE_DELTA, p1), 0);
    run_stream(a, &s, 3200, 2000);
    assert_int_equal(crec_online_table_save(a, CREC_ONLINE_DELTA, p2), 0);
    assert_int_equal(crec_online_table_load(p0, &b), 0);
    assert_int_equal(crec_online_table_apply_delta_file(b, p2), CREC_ESTATE);
    assert_int_equal(crec_online_table_apply_delta_file(b, p1), 0);
    assert_int_equal(crec_online_table_apply_delta_file(b, p2), 0);
    assert_same(a, b);
    crec_online_table *c = (crec_online_table *)1;
    assert_int_equal(crec_online_table_load(p1, &c), CREC_EFORMAT); /* a delta is no snapshot */
    assert_null(c);
    crec_online_table_free(b);
    tu_rmrf(dir);
    free(dir);
    crec_buf_free(&full);
    crec_buf_free(&d1);
    crec_buf_free(&d2);
    crec_buf_free(&d3);
    crec_online_table_free(a);
}

static void test_snapshot_deltas_adagrad(void **state) {
    (void)state;
    snapshot_deltas(CREC_ONLINE_ADAGRAD);
}
static void test_snapshot_deltas_ftrl(void **state) {
    (void)state;
    snapshot_deltas(CREC_ONLINE_FTRL);
}

/* Adagrad lr 0.1, a0 0.1, eps 0 from w = (1, -2): hand-computed a and w after two steps. */
static void test_adagrad_rule(void **state) {
    (void)state;
    crec_online_opts o;
    crec_online_opts_default(&o, 2);
    o.lr = 0.1f;
    o.adagrad_init = 0.1f;
    o.adagrad_eps = 0;
    crec_online_table *t = crec_online_table_new(&o);
    assert_non_null(t);
    float w0[2] = {1, -2}, g1[2] = {0.5f, -1}, g2[2] = {0.5f, 0};
    assert_int_equal(crec_online_table_put(t, 42, w0, NULL, 0), 0);
    assert_int_equal(crec_online_table_update(t, 42, g1, 1), 0);
    float *row;
    assert_int_equal(crec_online_table_get(t, 42, 1, &row), 0);
    float *a = crec_online_table_row_state(t, row);
    assert_float_equal(row[0], 0.9154846f, 1e-6);
    assert_float_equal(row[1], -1.9046537f, 1e-6);
    assert_float_equal(a[0], 0.35f, 1e-7);
    assert_float_equal(a[1], 1.1f, 1e-7);
    assert_int_equal(crec_online_table_update_row(t, row, g2, 2), 0);
    assert_float_equal(row[0], 0.8509349f, 1e-6);
    assert_float_equal(row[1], -1.9046537f, 1e-6);
    assert_float_equal(a[0], 0.6f, 1e-7);
    assert_int_equal(crec_online_table_row_touch(t, row), 2);
    /* SGD: w -= lr g */
    crec_online_opts_default(&o, 2);
    o.optim = CREC_ONLINE_SGD;
    o.lr = 0.5f;
    crec_online_table *s = crec_online_table_new(&o);
    assert_int_equal(crec_online_table_put(s, 1, w0, NULL, 0), 0);
    assert_int_equal(crec_online_table_update(s, 1, g1, 0), 0);
    assert_float_equal(crec_online_table_lookup(s, 1)[0], 0.75f, 0);
    assert_float_equal(crec_online_table_lookup(s, 1)[1], -1.5f, 0);
    assert_null(crec_online_table_row_state(s, (float *)crec_online_table_lookup(s, 1)));
    crec_online_table_free(s);
    crec_online_table_free(t);
}

/* FTRL-Proximal alpha 0.1, beta 1, l1 0.1, l2 0.5 from w = 0: hand-computed z, n, w after two steps (coordinate 1
 * stays at 0 while |z| <= l1). */
static void test_ftrl_rule(void **state) {
    (void)state;
    crec_online_opts o;
    crec_online_opts_default(&o, 2);
    o.optim = CREC_ONLINE_FTRL;
    o.lr = 0.1f;
    o.ftrl_beta = 1;
    o.ftrl_l1 = 0.1f;
    o.ftrl_l2 = 0.5f;
    o.init_scale = 0;
    crec_online_table *t = crec_online_table_new(&o);
    assert_non_null(t);
    assert_int_equal(crec_online_table_state_dim(t), 4);
    float g1[2] = {0.3f, -0.05f}, g2[2] = {-0.2f, -0.2f}, *row;
    assert_int_equal(crec_online_table_get(t, 9, 0, &row), 0);
    assert_float_equal(row[0], 0, 0);
    assert_int_equal(crec_online_table_update_row(t, row, g1, 0), 0);
    float *st = crec_online_table_row_state(t, row);
    assert_float_equal(row[0], -0.01481481f, 1e-7);
    assert_float_equal(row[1], 0.0f, 0);
    assert_float_equal(st[0], 0.3f, 1e-7);
    assert_float_equal(st[1], -0.05f, 1e-7);
    assert_float_equal(st[2], 0.09f, 1e-7);
    assert_float_equal(st[3], 0.0025f, 1e-8);
    assert_int_equal(crec_online_table_update_row(t, row, g2, 0), 0);
    assert_float_equal(row[0], -0.00063600f, 1e-7);
    assert_float_equal(row[1], 0.01194120f, 1e-7);
    assert_float_equal(st[0], 0.10897113f, 1e-6);
    assert_float_equal(st[1], -0.25f, 1e-7);
    assert_float_equal(st[2], 0.13f, 1e-7);
    assert_float_equal(st[3], 0.0425f, 1e-7);
    crec_online_table_free(t);
}

/* New rows: a pure function of (seed, id) within [-init_scale, init_scale). */
static void test_init_deterministic(void **state) {
    (void)state;
    crec_online_table *a = mk(16, CREC_ONLINE_ADAGRAD, 1, 0), *b = mk(16, CREC_ONLINE_ADAGRAD, 1, 0);
    float *ra, *rb;
    for (uint64_t id = 0; id < 50; id++) crec_online_table_get(b, id * 77, 0, &rb);
    assert_int_equal(crec_online_table_get(a, 77 * 3, 0, &ra), 0);
    rb = (float *)crec_online_table_lookup(b, 77 * 3);
    assert_memory_equal(ra, rb, 16 * 4);
    float mx = 0;
    for (int j = 0; j < 16; j++) mx = fmaxf(mx, fabsf(ra[j]));
    assert_true(mx > 0 && mx < 0.01f);
    assert_float_equal(crec_online_table_row_state(a, ra)[0], 0.1f, 0);
    crec_online_table_free(a);
    crec_online_table_free(b);
}

static void test_bad_input(void **state) {
    (void)state;
    crec_online_opts o;
    crec_online_opts_default(&o, 0);
    assert_null(crec_online_table_new(NULL));
    assert_null(crec_online_table_new(&o)); /* dim 0 */
    o.dim = 70000;
    assert_null(crec_online_table_new(&o));
    crec_online_opts_default(&o, 4);
    o.lr = 0;
    assert_null(crec_online_table_new(&o));
    crec_online_opts_default(&o, 4);
    o.lr = NAN;
    assert_null(crec_online_table_new(&o));
    crec_online_opts_default(&o, 4);
    o.min_count = 0;
    assert_null(crec_online_table_new(&o));
    crec_online_opts_default(&o, 4);
    o.filter_depth = 17;
    assert_null(crec_online_table_new(&o));
    crec_online_opts_default(&o, 4);
    o.ttl = -1;
    assert_null(crec_online_table_new(&o));
    crec_online_opts_default(&o, 4);
    o.adagrad_init = 0;
    o.adagrad_eps = 0;
    assert_null(crec_online_table_new(&o));
    crec_online_opts_default(&o, 4);
    o.optim = (crec_online_optim)7;
    assert_null(crec_online_table_new(&o));

    crec_online_table *t = mk(4, CREC_ONLINE_ADAGRAD, 1, 0);
    float g[4] = {0}, *row, other[8] = {0};
    assert_null(crec_online_table_lookup(NULL, 1));
    assert_int_equal(crec_online_table_lookup_batch(NULL, NULL, 3, NULL), 0);
    assert_int_equal(crec_online_table_get(NULL, 1, 0, &row), CREC_EINVAL);
    assert_int_equal(crec_online_table_get(t, 1, 0, NULL), CREC_EINVAL);
    assert_int_equal(crec_online_table_update(t, 1, NULL, 0), CREC_EINVAL);
    assert_int_equal(crec_online_table_update_row(t, NULL, g, 0), CREC_EINVAL);
    assert_int_equal(crec_online_table_update_row(t, other + 4, g, 0), CREC_EINVAL); /* not a row of t */
    assert_int_equal(crec_online_table_put(t, 1, NULL, NULL, 0), CREC_EINVAL);
    assert_int_equal(crec_online_table_remove(t, 12345), CREC_ENOTFOUND);
    assert_int_equal(crec_online_table_export(t, (crec_online_export_kind)5, &(crec_buf){0}), CREC_EINVAL);
    assert_int_equal(crec_online_table_export(NULL, CREC_ONLINE_FULL, &(crec_buf){0}), CREC_EINVAL);
    assert_int_equal(crec_online_table_foreach(t, NULL, NULL), CREC_EINVAL);
    crec_online_table *out = (crec_online_table *)1;
    assert_int_equal(crec_online_table_import(NULL, &out), CREC_EINVAL);
    assert_null(out);
    assert_int_equal(crec_online_table_load(NULL, &out), CREC_EINVAL);
    assert_int_equal(crec_online_table_load("/nonexistent/x.crecot", &out), CREC_ENOTFOUND);
    crec_online_table_free(NULL);
    crec_online_table_free(t);
}

/* Corrupt input: every truncation of an export and random byte flips give an error or a valid table, never a crash
 * (ASan watches); a flipped file byte is a checksum error; a well-checksummed file claiming huge sizes is refused. */
static void test_corrupt(void **state) {
    (void)state;
    crec_online_table *t = mk(3, CREC_ONLINE_FTRL, 2, 100);
    uint64_t s = 5;
    run_stream(t, &s, 0, 600);
    crec_buf full = {0}, delta = {0};
    assert_int_equal(crec_online_table_export(t, CREC_ONLINE_FULL, &full), 0);
    run_stream(t, &s, 60, 300);
    assert_int_equal(crec_online_table_export(t, CREC_ONLINE_DELTA, &delta), 0);
    /* truncations: header, rows and filter cut at many points */
    for (size_t cut = 0; cut < full.len; cut += cut < 300 ? 1 : 997) {
        crec_buf b = {.data = full.data, .len = cut, .cap = cut};
        crec_online_table *x = NULL;
        assert_int_not_equal(crec_online_table_import(&b, &x), 0);
        assert_null(x);
    }
    for (size_t cut = 0; cut < delta.len; cut += cut < 200 ? 3 : 211) {
        crec_online_table *x;
        crec_buf b = {.data = full.data, .len = full.len, .cap = full.len};
        assert_int_equal(crec_online_table_import(&b, &x), 0);
        crec_buf d = {.data = delta.data, .len = cut, .cap = cut};
        assert_int_not_equal(crec_online_table_apply_delta(x, &d), 0);
        crec_online_table_free(x);
    }
    /* byte flips in the header and first rows: error or a table, never a crash */
    uint8_t *copy = malloc(full.len);
    for (int k = 0; k < 400; k++) {
        memcpy(copy, full.data, full.len);
        size_t at = rnd(&s) % (k < 300 ? 120 : full.len);
        copy[at] ^= (uint8_t)(1u << (rnd(&s) % 8));
        crec_buf b = {.data = copy, .len = full.len, .cap = full.len};
        crec_online_table *x = NULL;
        if (crec_online_table_import(&b, &x) == 0) crec_online_table_free(x);
    }
    free(copy);
    /* files */
    char *dir = tu_tmpdir(), p[512];
    snprintf(p, sizeof p, "%s/t.crecot", dir);
    crec_online_table *x = NULL;
    assert_int_equal(crec_online_table_save(t, CREC_ONLINE_FULL, p), 0);
    FILE *f = fopen(p, "r+b");
    assert_non_null(f);
    fseek(f, 100, SEEK_SET);
    int c = fgetc(f);
    fseek(f, 100, SEEK_SET);
    fputc(c ^ 0x10, f);
    fclose(f);
    assert_int_equal(crec_online_table_load(p, &x), CREC_ECHECKSUM);
    assert_int_equal(truncate(p, 20), 0);
    assert_int_not_equal(crec_online_table_load(p, &x), 0);
    assert_null(x);
    /* valid checksum, absurd contents: a snapshot claiming 2^60 rows, and one of dim 0 */
    crec_buf b = {0};
    assert_int_equal(crec_online_table_export(t, CREC_ONLINE_FULL, &b), 0);
    size_t nrows_at = 4 + 8 + 8 + 4 * 2 + 4 * 7 + 4 * 3 + 8 * 3 + 8; /* after the header and n_removed */
    uint64_t huge = 1ULL << 60;
    memcpy(b.data + nrows_at, &huge, 8);
    assert_int_equal(crec__binfile_write(p, "CRECOTS\1", 1, &b), 0);
    assert_int_equal(crec_online_table_load(p, &x), CREC_EFORMAT);
    uint32_t zero = 0;
    memcpy(b.data + 20, &zero, 4); /* dim */
    assert_int_equal(crec__binfile_write(p, "CRECOTS\1", 1, &b), 0);
    assert_int_equal(crec_online_table_load(p, &x), CREC_EFORMAT);
    assert_int_equal(crec__binfile_write(p, "CRECOTS\1", 9, &b), 0);
    assert_int_equal(crec_online_table_load(p, &x), CREC_EVERSION);
    crec_buf_free(&b);
    /* a delta of another dim */
    crec_online_table *other = mk(4, CREC_ONLINE_FTRL, 1, 0);
    crec_buf od = {0};
    assert_int_equal(crec_online_table_export(other, CREC_ONLINE_DELTA, &od), 0);
    assert_int_equal(crec_online_table_apply_delta(t, &od), CREC_EFORMAT);
    crec_buf_free(&od);
    crec_online_table_free(other);
    tu_rmrf(dir);
    free(dir);
    crec_buf_free(&full);
    crec_buf_free(&delta);
    crec_online_table_free(t);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_adagrad_rule),
        cmocka_unit_test(test_ftrl_rule),
        cmocka_unit_test(test_init_deterministic),
        cmocka_unit_test(test_filter_admits_on_nth),
        cmocka_unit_test(test_filter_bound),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_snapshot_deltas_adagrad),
        cmocka_unit_test(test_snapshot_deltas_ftrl),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_no_collisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
