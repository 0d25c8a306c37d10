/* test_online_mf.c: the online factorisation model (crec_omf, src/online/mf.c; model "onlinemf"):
 *   - its per-event kernel against central finite differences, both losses (double, tiny shapes);
 *   - new users and items get rows as their first events arrive (and only on their min_count-th with the filter);
 *   - learning from a stream recovers a planted preference (two taste groups);
 *   - save / load gives identical scores; as a crec model, update grows the id space and scores it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/crec.h"
#include "crec/online.h"
#include "online/mf.h"

static void fill(double *x, int n, crec_rng *r, double s) {
    for (int i = 0; i < n; i++) x[i] = s * (2 * crec__rng_uniform(r) - 1);
}

/* d loss / d x for every parameter by central differences vs the kernel's gradient */
static void grad_check(int loss, double corr) {
    enum { D = 5, N = 3, R = D + 1 };
    crec_rng r;
    crec__rng_seed(&r, 7 + (uint64_t)loss);
    double p[D], qi[R], qj[N * R], gp[D], gqi[R], gqj[N * R];
    fill(p, D, &r, 1.0);
    fill(qi, R, &r, 1.0);
    fill(qj, N * R, &r, 1.0);
    crec__omf_event_grad(loss, D, N, corr, p, qi, qj, gp, gqi, gqj);
    double *params[3] = {p, qi, qj}, *grads[3] = {gp, gqi, gqj};
    int sizes[3] = {D, R, N * R};
    const double h = 1e-6;
    for (int b = 0; b < 3; b++)
        for (int k = 0; k < sizes[b]; k++) {
            double keep = params[b][k];
            params[b][k] = keep + h;
            double lp = crec__omf_event_grad(loss, D, N, corr, p, qi, qj, NULL, NULL, NULL);
            params[b][k] = keep - h;
            double lm = crec__omf_event_grad(loss, D, N, corr, p, qi, qj, NULL, NULL, NULL);
            params[b][k] = keep;
            double fd = (lp - lm) / (2 * h), an = grads[b][k];
            if (fabs(fd - an) > 1e-6 * (1 + fabs(fd)))
                fail_msg("loss %d block %d coord %d: analytic %.10g, finite difference %.10g", loss, b, k, an, fd);
        }
    /* the loss itself: BPR by hand for one negative */
    double L1 = crec__omf_event_grad(CREC_OMF_BPR, D, 1, 0, p, qi, qj, NULL, NULL, NULL);
    double si = qi[D], sj = qj[D];
    for (int d = 0; d < D; d++) si += p[d] * qi[d], sj += p[d] * qj[d];
    assert_true(fabs(L1 - log1p(exp(-(si - sj)))) < 1e-12);
}

static void test_gradients(void **st) {
    (void)st;
    grad_check(CREC_OMF_BPR, 0);
    grad_check(CREC_OMF_SOFTMAX, 0);
    grad_check(CREC_OMF_SOFTMAX, 2.5);
}

static crec_omf *small_model(uint32_t min_count, crec_omf_loss loss) {
    crec_omf_opts o;
    crec_omf_opts_default(&o);
    o.dim = 8;
    o.min_count = min_count;
    o.loss = loss;
    o.seed = 3;
    crec_omf *m = crec_omf_new(&o);
    assert_non_null(m);
    return m;
}

static void test_new_ids(void **st) {
    (void)st;
    crec_omf *m = small_model(1, CREC_OMF_BPR);
    crec_omf_stats s;
    crec_event ev[3] = {{.user = 0, .item = 0, .ts = 1}, {.user = 1, .item = 1, .ts = 2}, {.user = 5, .item = 9, .ts = 3}};
    assert_int_equal(crec_omf_learn(m, ev, 3, NULL), 0);
    crec_omf_get_stats(m, &s);
    assert_int_equal(s.users, 3);
    assert_int_equal(s.items, 3);
    assert_int_equal(s.max_item, 9);
    float sc[12];
    assert_int_equal(crec_omf_score(m, 5, NULL, 0, 12, sc), 0);
    for (int i = 0; i < 12; i++) {
        int known = i == 0 || i == 1 || i == 9;
        if (known) assert_true(isfinite(sc[i]) && sc[i] > -FLT_MAX);
        else assert_true(sc[i] == -FLT_MAX);
    }
    /* a brand-new id far past the others: a row on its first event */
    crec_event e2 = {.user = 1000000, .item = 123456, .ts = 4};
    assert_int_equal(crec_omf_learn(m, &e2, 1, NULL), 0);
    crec_omf_get_stats(m, &s);
    assert_int_equal(s.users, 4);
    assert_int_equal(s.items, 4);
    crec_omf_free(m);

    /* with the admission filter: the row comes on the second sighting */
    m = small_model(2, CREC_OMF_BPR);
    crec_event a = {.user = 0, .item = 4, .ts = 1};
    assert_int_equal(crec_omf_learn(m, &a, 1, NULL), 0);
    crec_omf_get_stats(m, &s);
    assert_int_equal(s.items, 0);
    assert_int_equal(s.learned, 0);
    assert_int_equal(crec_omf_learn(m, &a, 1, NULL), 0);
    crec_omf_get_stats(m, &s);
    assert_int_equal(s.items, 1);
    assert_int_equal(s.users, 1);
    crec_omf_free(m);

    /* bad input */
    m = small_model(1, CREC_OMF_BPR);
    crec_event bad = {.user = -1, .item = 0};
    assert_int_equal(crec_omf_learn(m, &bad, 1, NULL), CREC_EINVAL);
    crec_omf_free(m);
    crec_omf_opts o;
    crec_omf_opts_default(&o);
    o.dim = 0;
    assert_null(crec_omf_new(&o));
}

/* Users 0..39 like items 0..9, users 40..79 like items 10..19; a stream of 8000 such clicks, one event per batch
 * and then in batches of 32. Each user's top 10 must be nearly all its own group's items. */
static double planted(crec_omf_loss loss, int batch) {
    crec_omf *m = small_model(1, loss);
    crec_rng r;
    crec__rng_seed(&r, 11);
    enum { NEV = 8000 };
    crec_event *ev = malloc(NEV * sizeof *ev);
    for (int k = 0; k < NEV; k++) {
        int32_t u = (int32_t)crec__rng_below(&r, 80);
        int32_t i = (int32_t)crec__rng_below(&r, 10) + (u < 40 ? 0 : 10);
        ev[k] = (crec_event){.user = u, .item = i, .ts = k, .value = 1};
    }
    for (int k = 0; k < NEV; k += batch) assert_int_equal(crec_omf_learn(m, ev + k, NEV - k < batch ? NEV - k : batch, NULL), 0);
    float sc[20];
    int32_t top[10];
    double hit = 0;
    for (int32_t u = 0; u < 80; u++) {
        assert_int_equal(crec_omf_score(m, u, NULL, 0, 20, sc), 0);
        int n = crec_topk(sc, 20, NULL, 10, top);
        for (int j = 0; j < n; j++) hit += (top[j] < 10) == (u < 40);
    }
    /* a new user folded in from three group-B items ranks group B first too */
    int32_t hist[3] = {10, 11, 12};
    assert_int_equal(crec_omf_score(m, -1, hist, 3, 20, sc), 0);
    int n = crec_topk(sc, 20, NULL, 10, top);
    int fold = 0;
    for (int j = 0; j < n; j++) fold += top[j] >= 10;
    assert_true(fold >= 9);
    free(ev);
    crec_omf_free(m);
    return hit / 800.0;
}

static void test_planted_preference(void **st) {
    (void)st;
    double a = planted(CREC_OMF_BPR, 1), b = planted(CREC_OMF_SOFTMAX, 1), c = planted(CREC_OMF_BPR, 32);
    if (a < 0.95 || b < 0.95 || c < 0.95)
        fail_msg("planted groups recovered: bpr %.3f, softmax %.3f, bpr batch 32 %.3f (want >= 0.95)", a, b, c);
}

static void test_save_load(void **st) {
    (void)st;
    crec_omf *m = small_model(1, CREC_OMF_SOFTMAX);
    crec_event ev[64];
    for (int k = 0; k < 64; k++) ev[k] = (crec_event){.user = k % 7, .item = (k * 5) % 13, .ts = k};
    assert_int_equal(crec_omf_learn(m, ev, 64, NULL), 0);
    crec_buf b = {0};
    assert_int_equal(crec_omf_save(m, &b), 0);
    crec_omf *m2 = NULL;
    b.pos = 0;
    assert_int_equal(crec_omf_load(&b, &m2), 0);
    float a[13], c[13];
    for (int32_t u = -1; u < 7; u++) {
        int32_t h[2] = {1, 2};
        assert_int_equal(crec_omf_score(m, u, h, 2, 13, a), 0);
        assert_int_equal(crec_omf_score(m2, u, h, 2, 13, c), 0);
        assert_memory_equal(a, c, sizeof a);
    }
    /* the same events learned next give the same model (the RNG travels too) */
    assert_int_equal(crec_omf_learn(m, ev, 8, NULL), 0);
    assert_int_equal(crec_omf_learn(m2, ev, 8, NULL), 0);
    assert_int_equal(crec_omf_score(m, 3, NULL, 0, 13, a), 0);
    assert_int_equal(crec_omf_score(m2, 3, NULL, 0, 13, c), 0);
    assert_memory_equal(a, c, sizeof a);
    /* a truncated payload is refused */
    crec_omf *m3 = NULL;
    crec_buf t = b;
    t.pos = 0;
    t.len = b.len / 2;
    assert_true(crec_omf_load(&t, &m3) < 0);
    assert_null(m3);
    crec_buf_free(&b);
    crec_omf_free(m);
    crec_omf_free(m2);
}

/* Corrupt payloads (random bytes changed, random truncations) load with an error or into a model that scores;
 * never a crash (ASan), never an allocation sized by a corrupt id past the bound. */
static void test_corrupt_payloads(void **st) {
    (void)st;
    crec_omf_opts o;
    crec_omf_opts_default(&o);
    o.dim = 4;
    o.hist = 3;
    crec_omf *m = crec_omf_new(&o);
    crec_event ev[40];
    for (int k = 0; k < 40; k++) ev[k] = (crec_event){.user = k % 5, .item = (k * 3) % 11, .ts = k};
    assert_int_equal(crec_omf_learn(m, ev, 40, NULL), 0);
    crec_buf b = {0};
    assert_int_equal(crec_omf_save(m, &b), 0);
    crec_rng r;
    crec__rng_seed(&r, 17);
    int ok = 0;
    float sc[11];
    for (int t = 0; t < 400; t++) {
        crec_buf c = {0};
        assert_int_equal(crec_buf_write(&c, b.data, b.len), 0);
        if (t % 4 == 3) c.len = (size_t)crec__rng_below(&r, b.len);
        else
            for (int f = 0; f < 1 + t % 3; f++) c.data[crec__rng_below(&r, c.len)] ^= (uint8_t)(1u << crec__rng_below(&r, 8));
        crec_omf *x = NULL;
        c.pos = 0;
        if (crec__omf_load_bounded(&c, 5, 11, &x) == 0) {
            ok++;
            assert_int_equal(crec_omf_score(x, 2, NULL, 0, 11, sc), 0);
            crec_omf_free(x);
        } else {
            assert_null(x);
        }
        crec_buf_free(&c);
    }
    print_message("corrupt payloads: %d of 400 still loaded (flips in vectors are valid floats)\n", ok);
    crec_buf_free(&b);
    crec_omf_free(m);
}

/* The session tower: users walk a chain (next item = last + 1 mod 20, random starts, users interleaved). With
 * hist = 1 the next item is predictable from the last one; without the tower a user vector cannot follow it. */
static double chain_top1(int hist) {
    crec_omf_opts o;
    crec_omf_opts_default(&o);
    o.dim = 16;
    o.loss = CREC_OMF_SOFTMAX;
    o.neg = 16;
    o.lr = 0.2f;
    o.hist = hist;
    o.seed = 9;
    crec_omf *m = crec_omf_new(&o);
    assert_non_null(m);
    crec_rng r;
    crec__rng_seed(&r, 4);
    int32_t last[30];
    for (int u = 0; u < 30; u++) last[u] = (int32_t)crec__rng_below(&r, 20);
    for (int k = 0; k < 6000; k++) {
        int32_t u = (int32_t)crec__rng_below(&r, 30);
        last[u] = crec__rng_below(&r, 10) == 0 ? (int32_t)crec__rng_below(&r, 20) : (last[u] + 1) % 20;
        crec_event e = {.user = u, .item = last[u], .ts = k};
        assert_int_equal(crec_omf_learn(m, &e, 1, NULL), 0);
    }
    /* each user's next item after its recorded last one; and an anonymous context ending in item h */
    float sc[20];
    int32_t top;
    int hit = 0;
    for (int32_t u = 0; u < 30; u++) {
        assert_int_equal(crec_omf_score(m, u, NULL, 0, 20, sc), 0);
        crec_topk(sc, 20, NULL, 1, &top);
        hit += top == (last[u] + 1) % 20;
    }
    for (int32_t h = 0; h < 20; h++) {
        int32_t ctx[2] = {(h + 19) % 20, h};
        assert_int_equal(crec_omf_score(m, -1, ctx, 2, 20, sc), 0);
        crec_topk(sc, 20, NULL, 1, &top);
        hit += top == (h + 1) % 20;
    }
    if (hist) { /* a round trip keeps the tower and the records */
        crec_buf b = {0};
        assert_int_equal(crec_omf_save(m, &b), 0);
        crec_omf *m2 = NULL;
        b.pos = 0;
        assert_int_equal(crec_omf_load(&b, &m2), 0);
        float s2[20];
        for (int32_t u = 0; u < 30; u += 7) {
            assert_int_equal(crec_omf_score(m, u, NULL, 0, 20, sc), 0);
            assert_int_equal(crec_omf_score(m2, u, NULL, 0, 20, s2), 0);
            assert_memory_equal(sc, s2, sizeof sc);
        }
        crec_buf_free(&b);
        crec_omf_free(m2);
    }
    crec_omf_free(m);
    return hit / 50.0;
}

static void test_session_tower(void **st) {
    (void)st;
    double with = chain_top1(1), without = chain_top1(0);
    print_message("next-item top-1: with the session tower %.2f, without %.2f\n", with, without);
    if (with < 0.9 || without > 0.5)
        fail_msg("next item top-1 with the session tower %.2f (want >= 0.9), without %.2f (want <= 0.5)", with, without);
}

/* Expiry: rows untouched for ttl leave the table and the catalogue (no longer scored, no longer negatives). */
static void test_expiry(void **st) {
    (void)st;
    crec_omf_opts o;
    crec_omf_opts_default(&o);
    o.dim = 4;
    o.ttl = 10;
    crec_omf *m = crec_omf_new(&o);
    assert_non_null(m);
    crec_event a[2] = {{.user = 0, .item = 0, .ts = 0}, {.user = 0, .item = 1, .ts = 0}};
    assert_int_equal(crec_omf_learn(m, a, 2, NULL), 0);
    /* item 2 at time 5 (items 0, 1 stay: 5 - 0 < 10); at time 12 item 3 by user 1: user 0 and items 0, 1 go */
    crec_event b = {.user = 1, .item = 2, .ts = 5};
    assert_int_equal(crec_omf_learn(m, &b, 1, NULL), 0);
    crec_omf_stats s;
    crec_omf_get_stats(m, &s);
    assert_int_equal(s.items, 3);
    crec_event c = {.user = 1, .item = 3, .ts = 12};
    assert_int_equal(crec_omf_learn(m, &c, 1, NULL), 0);
    crec_omf_get_stats(m, &s);
    assert_int_equal(s.items, 2); /* 2 and 3: items 0, 1 were drawn as negatives at 5, which does not refresh them */
    assert_int_equal(s.users, 1);
    float sc[4];
    assert_int_equal(crec_omf_score(m, 1, NULL, 0, 4, sc), 0);
    assert_true(sc[0] == -FLT_MAX && sc[1] == -FLT_MAX);
    assert_true(sc[2] > -FLT_MAX && sc[3] > -FLT_MAX);
    crec_omf_free(m);
}

/* The crec model: trained on nothing, taught by update, growing its id space. */
static void test_model_update(void **st) {
    (void)st;
    crec_model *m = NULL;
    char err[256];
    crec_config cfg = {0};
    crec_config_set(&cfg, "factors", "8");
    assert_int_equal(crec_model_new("onlinemf", &cfg, &m, err, sizeof err), 0);
    assert_true(crec_model_has(m->type, CREC_CAP_ONLINE));
    int64_t ptr[1] = {0};
    crec_csr empty = {.n_rows = 0, .n_cols = 0, .ptr = ptr};
    crec_train_input in = {.train = &empty, .seed = 1};
    assert_int_equal(crec_model_train(m, &in), 0);
    assert_int_equal(m->n_items, 0);
    crec_event ev[4] = {{.user = 0, .item = 2}, {.user = 1, .item = 3}, {.user = 2, .item = 2}, {.user = 2, .item = 0}};
    assert_int_equal(crec_model_update(m, ev, 4), 0);
    assert_int_equal(m->n_users, 3);
    assert_int_equal(m->n_items, 4);
    float sc[4];
    crec_context ctx = {.user = 1};
    assert_int_equal(crec_model_score(m, &ctx, sc), 0);
    assert_true(sc[1] == -FLT_MAX && sc[2] > -FLT_MAX && sc[3] > -FLT_MAX);
    crec_model_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradients),
        cmocka_unit_test(test_new_ids),
        cmocka_unit_test(test_planted_preference),
        cmocka_unit_test(test_save_load),
        cmocka_unit_test(test_corrupt_payloads),
        cmocka_unit_test(test_session_tower),
        cmocka_unit_test(test_expiry),
        cmocka_unit_test(test_model_update),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
