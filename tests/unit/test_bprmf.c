/* test_bprmf.c: BPR matrix factorisation. One thread is bit-reproducible for a seed (and another seed differs),
 * a checkpoint scores identically (fold-in of an anonymous history included), fold-in from a history recovers
 * a user's taste, items without training events score 0, bad hyper-parameters are refused, and bprmf beats
 * popularity on the synthetic default (loo, full ranking). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "crec/crec.h"
#include "testutil.h"

static crec_dataset *synth(int32_t nu, int32_t ni) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = nu;
    o.n_items = ni;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    return ds;
}

/* Train bprmf with hyper-parameters "k=v,k=v" (NULL: defaults). */
static crec_model *train_bpr(const crec_csr *x, const crec_csr *valid, const char *kvs, int threads, uint64_t seed) {
    crec_config cfg = {0};
    char buf[256];
    snprintf(buf, sizeof buf, "%s", kvs ? kvs : "");
    for (char *save = NULL, *kv = strtok_r(buf, ",", &save); kv; kv = strtok_r(NULL, ",", &save))
        assert_int_equal(crec_config_set_kv(&cfg, kv), 0);
    crec_model *m;
    char err[256];
    assert_int_equal(crec_model_new("bprmf", &cfg, &m, err, sizeof err), 0);
    crec_train_input in = {.train = x, .valid = valid, .n_threads = threads, .seed = seed};
    assert_int_equal(crec_model_train(m, &in), 0);
    return m;
}

static double eval_ndcg(const crec_model *m, const crec_dataset *ds, const crec_split *s) {
    crec_eval_opts eo;
    crec_eval_opts_defaults(&eo);
    eo.n_ks = 1;
    eo.ks[0] = 10;
    crec_eval_result r;
    assert_int_equal(crec_evaluate(m, ds, s, &eo, &r), 0);
    return r.at[0].ndcg;
}

/* All scores of users 0..n-1 of x into out[n * n_items]. */
static void score_users(const crec_model *m, const crec_csr *x, int32_t n, float *out) {
    for (int32_t u = 0; u < n; u++) {
        crec_context ctx = {.user = u, .hist = x->idx + x->ptr[u], .n_hist = (int32_t)(x->ptr[u + 1] - x->ptr[u])};
        assert_int_equal(crec_model_score(m, &ctx, out + (size_t)u * m->n_items), 0);
    }
}

static void test_reproducible_one_thread(void **st) {
    crec_dataset *ds = synth(300, 200);
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    /* with validation (early stopping) on: the whole path must be deterministic */
    crec_model *a = train_bpr(&s.train, &s.valid, "epochs=12,factors=16", 1, 7);
    crec_model *b = train_bpr(&s.train, &s.valid, "epochs=12,factors=16", 1, 7);
    crec_model *c = train_bpr(&s.train, &s.valid, "epochs=12,factors=16", 1, 8);
    size_t n = (size_t)300 * 200;
    float *sa = malloc(n * sizeof *sa), *sb = malloc(n * sizeof *sb), *sc = malloc(n * sizeof *sc);
    score_users(a, &s.train, 300, sa);
    score_users(b, &s.train, 300, sb);
    score_users(c, &s.train, 300, sc);
    assert_memory_equal(sa, sb, n * sizeof *sa);
    assert_memory_not_equal(sa, sc, n * sizeof *sa);
    free(sa);
    free(sb);
    free(sc);
    crec_model_free(a);
    crec_model_free(b);
    crec_model_free(c);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

/* Save, load: identical scores for known users and for an anonymous history (fold-in). */
static void test_checkpoint(void **st) {
    crec_dataset *ds = synth(200, 150);
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(ds, &x), 0);
    crec_model *m = train_bpr(&x, NULL, "epochs=10", 2, 3);
    snprintf(m->split, sizeof m->split, "loo");
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/bpr.crecm", dir);
    assert_int_equal(crec_model_save(m, path), 0);
    crec_model *l;
    assert_int_equal(crec_model_load(path, &l), 0);
    float a[150], b[150];
    for (int32_t u = -1; u < 30; u++) {
        int32_t hu = u < 0 ? 5 : u;
        crec_context ctx = {.user = u, .hist = x.idx + x.ptr[hu], .n_hist = (int32_t)(x.ptr[hu + 1] - x.ptr[hu])};
        assert_int_equal(crec_model_score(m, &ctx, a), 0);
        assert_int_equal(crec_model_score(l, &ctx, b), 0);
        assert_memory_equal(a, b, sizeof a);
    }
    /* a truncated payload is refused */
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, len - 100), 0);
    crec_model *t = NULL;
    assert_true(crec_model_load(path, &t) < 0);
    assert_null(t);
    tu_rmrf(dir);
    free(dir);
    crec_model_free(l);
    crec_model_free(m);
    crec_csr_free(&x);
    crec_dataset_free(ds);
}


/* On the synthetic default (loo, full ranking) bprmf beats popularity. Fold-in: an anonymous context with a
 * trained user's history ranks that user's held-out item about as well as the trained user vector, and far better
 * than popularity. */
static void test_beats_pop_and_fold_in(void **st) {
    crec_dataset *ds = synth(1500, 800);
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    crec_model *m = train_bpr(&s.train, &s.valid, "factors=32,epochs=20", 2, 42);
    crec_model *pop;
    char err[256];
    assert_int_equal(crec_model_new("pop", NULL, &pop, err, sizeof err), 0);
    crec_train_input in = {.train = &s.train, .n_threads = 2};
    assert_int_equal(crec_model_train(pop, &in), 0);
    double nb = eval_ndcg(m, ds, &s), np = eval_ndcg(pop, ds, &s);
    print_message("synthetic loo NDCG@10: bprmf %.4f, pop %.4f\n", nb, np);
    assert_true(nb > 1.3 * np);

    float *sc = malloc(800 * sizeof *sc);
    uint8_t *ex = calloc(800, 1);
    double hit[3] = {0, 0, 0};
    int n = 0;
    for (int32_t u = 0; u < 1500; u += 3) {
        if (s.test.ptr[u + 1] == s.test.ptr[u]) continue;
        const int32_t *h = s.train.idx + s.train.ptr[u];
        int32_t H = (int32_t)(s.train.ptr[u + 1] - s.train.ptr[u]);
        for (int32_t k = 0; k < H; k++) ex[h[k]] = 1;
        int32_t tgt = s.test.idx[s.test.ptr[u]];
        ex[tgt] = 0;
        for (int v = 0; v < 3; v++) {
            crec_context ctx = {.user = v == 1 ? -1 : u, .hist = h, .n_hist = H};
            assert_int_equal(crec_model_score(v == 2 ? pop : m, &ctx, sc), 0);
            int64_t rank;
            assert_int_equal(crec_rank_targets(sc, 800, ex, &tgt, 1, &rank), 0);
            hit[v] += rank <= 20;
        }
        for (int32_t k = 0; k < H; k++) ex[h[k]] = 0;
        n++;
    }
    print_message("HR@20 over %d users: user vector %.3f, fold-in %.3f, pop %.3f\n", n, hit[0] / n, hit[1] / n,
                  hit[2] / n);
    assert_true(hit[1] > 1.3 * hit[2]);
    assert_true(hit[1] > 0.7 * hit[0]);
    free(sc);
    free(ex);
    crec_model_free(pop);
    crec_model_free(m);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

/* An item nobody interacted with scores exactly 0 (q = 0, b = 0) for every user. */
static void test_untrained_item(void **st) {
    crec_dataset *d2 = synth(100, 60);
    crec_dataset_item(d2, "never-seen", 10);
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(d2, &x), 0);
    assert_int_equal(x.n_cols, 61);
    crec_model *m2 = train_bpr(&x, NULL, "epochs=5", 2, 1);
    float s2[61];
    int positive = 0;
    for (int32_t u = 0; u < 100; u++) {
        crec_context ctx = {.user = u};
        assert_int_equal(crec_model_score(m2, &ctx, s2), 0);
        assert_true(s2[60] == 0.0f);
        for (int32_t i = 0; i < 60; i++) positive += s2[i] != 0.0f;
    }
    assert_true(positive > 0);
    crec_model_free(m2);
    crec_csr_free(&x);
    crec_dataset_free(d2);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reproducible_one_thread), cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_untrained_item),  cmocka_unit_test(test_beats_pop_and_fold_in),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
