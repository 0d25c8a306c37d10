/* test_ease.c: EASE^R against a direct dense solve (Gauss-Jordan in double) on a tiny matrix, its zero
 * diagonal, binary histories, both ways of computing X^T X, refusal of huge catalogs, bad parameters,
 * checkpoint round trips, and that it beats pop and itemknn on the synthetic default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "crec/crec.h"
#include "testutil.h"

static crec_model *train_cfg(const char *name, const crec_csr *x, const char *kv1, const char *kv2, int *rc) {
    crec_config cfg = {0};
    if (kv1) assert_int_equal(crec_config_set_kv(&cfg, kv1), 0);
    if (kv2) assert_int_equal(crec_config_set_kv(&cfg, kv2), 0);
    crec_model *m;
    char err[256];
    assert_int_equal(crec_model_new(name, &cfg, &m, err, sizeof err), 0);
    crec_train_input in = {.train = x, .n_threads = 2, .seed = 1};
    *rc = crec_model_train(m, &in);
    return m;
}

static crec_model *train(const char *name, const crec_csr *x, const char *kv1, const char *kv2) {
    int rc;
    crec_model *m = train_cfg(name, x, kv1, kv2, &rc);
    assert_int_equal(rc, 0);
    return m;
}

/* 5 users x 4 items; user 0 repeats item 1 (X stays binary). */
static const int X5[5][4] = {{1, 1, 0, 0}, {1, 0, 1, 0}, {0, 1, 1, 1}, {1, 1, 1, 0}, {0, 0, 1, 1}};

static crec_dataset *tiny(void) {
    crec_dataset *ds = crec_dataset_new();
    char u[16], it[16];
    int64_t ts = 0;
    for (int r = 0; r < 5; r++)
        for (int c = 0; c < 4; c++)
            if (X5[r][c]) {
                snprintf(u, sizeof u, "u%d", r);
                snprintf(it, sizeof it, "i%d", c);
                crec_dataset_add(ds, u, strlen(u), it, strlen(it), ts++, 1, 0);
            }
    crec_dataset_add(ds, "u0", 2, "i1", 2, ts++, 1, 0);
    return ds;
}

/* B = -P / diag(P), P = (X^T X + lambda I)^-1 by Gauss-Jordan with partial pivoting, in double. */
static void reference_b(double lambda, double B[4][4]) {
    double a[4][8];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 8; j++) {
            double g = 0;
            if (j < 4)
                for (int u = 0; u < 5; u++) g += X5[u][i] * X5[u][j];
            a[i][j] = j < 4 ? g + (i == j ? lambda : 0) : (j - 4 == i);
        }
    for (int c = 0; c < 4; c++) {
        int piv = c;
        for (int r = c + 1; r < 4; r++)
            if (fabs(a[r][c]) > fabs(a[piv][c])) piv = r;
        for (int j = 0; j < 8; j++) {
            double t = a[c][j];
            a[c][j] = a[piv][j];
            a[piv][j] = t;
        }
        double p = a[c][c];
        for (int j = 0; j < 8; j++) a[c][j] /= p;
        for (int r = 0; r < 4; r++)
            if (r != c) {
                double f = a[r][c];
                for (int j = 0; j < 8; j++) a[r][j] -= f * a[c][j];
            }
    }
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) B[i][j] = i == j ? 0 : -a[i][4 + j] / a[j][4 + j];
}

static void test_matches_dense_solve(void **st) {
    crec_dataset *ds = tiny();
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(ds, &x), 0);
    const double lambdas[] = {0.5, 2.0, 500.0};
    const char *kv[] = {"lambda=0.5", "lambda=2", NULL};
    for (int l = 0; l < 3; l++) {
        double B[4][4];
        reference_b(lambdas[l], B);
        crec_model *m = train("ease", &x, kv[l], NULL);
        float s[4];
        for (int32_t i = 0; i < 4; i++) {
            int32_t h[] = {i};
            crec_context ctx = {.user = -1, .hist = h, .n_hist = 1};
            assert_int_equal(crec_model_score(m, &ctx, s), 0);
            assert_true(s[i] == 0.0f); /* diag(B) = 0 exactly */
            for (int j = 0; j < 4; j++) {
                if (fabs(s[j] - B[i][j]) > 1e-4 * (lambdas[l] > 100 ? 0.01 : 1))
                    fail_msg("lambda %g: B[%d][%d] = %.7f, dense solve %.7f", lambdas[l], i, j, s[j], B[i][j]);
            }
        }
        /* a history scores as the sum of its distinct items' rows: {0, 2, 0} = B[0] + B[2] */
        int32_t h[] = {0, 2, 0};
        crec_context ctx = {.user = 1, .hist = h, .n_hist = 3};
        assert_int_equal(crec_model_score(m, &ctx, s), 0);
        for (int j = 0; j < 4; j++)
            if (fabs(s[j] - (B[0][j] + B[2][j])) > 2e-4 * (lambdas[l] > 100 ? 0.01 : 1))
                fail_msg("history {0,2,0}: score[%d] = %.7f, want %.7f", j, s[j], B[0][j] + B[2][j]);
        crec_model_free(m);
    }
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

/* Sparse pair counting and dense ssyrk give the same (exact) X^T X, so the same model. */
static void test_gram_methods_agree(void **st) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = 300;
    o.n_items = 120;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(ds, &x), 0);
    crec_model *a = train("ease", &x, "gram=sparse", "lambda=50");
    crec_model *b = train("ease", &x, "gram=dense", "lambda=50");
    float *sa = malloc(120 * sizeof *sa), *sb = malloc(120 * sizeof *sb);
    for (int32_t u = 0; u < 50; u++) {
        crec_context ctx = {.user = u, .hist = x.idx + x.ptr[u], .n_hist = (int32_t)(x.ptr[u + 1] - x.ptr[u])};
        assert_int_equal(crec_model_score(a, &ctx, sa), 0);
        assert_int_equal(crec_model_score(b, &ctx, sb), 0);
        assert_memory_equal(sa, sb, 120 * sizeof *sa);
    }
    free(sa), free(sb);
    crec_model_free(a);
    crec_model_free(b);
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

static void test_refusals(void **st) {
    /* a catalog too large for the dense matrix: refused before any allocation */
    int64_t ptr[2] = {0, 1};
    int32_t idx[1] = {0};
    crec_csr big = {.n_rows = 1, .n_cols = 40001, .ptr = ptr, .idx = idx};
    int rc;
    crec_model *m = train_cfg("ease", &big, NULL, NULL, &rc);
    assert_int_equal(rc, CREC_ERANGE);
    crec_model_free(m);
    /* bad hyper-parameters: tests/unit/test_contract.c */
}

static void test_checkpoint(void **st) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = 200;
    o.n_items = 150;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(ds, &x), 0);
    crec_model *m = train("ease", &x, "lambda=20", NULL);
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/ease.crecm", dir);
    assert_int_equal(crec_model_save(m, path), 0);
    crec_model *l;
    assert_int_equal(crec_model_load(path, &l), 0);
    float *a = malloc(150 * sizeof *a), *b = malloc(150 * sizeof *b);
    for (int32_t u = 0; u < 30; u++) {
        crec_context ctx = {.user = u, .hist = x.idx + x.ptr[u], .n_hist = (int32_t)(x.ptr[u + 1] - x.ptr[u])};
        assert_int_equal(crec_model_score(m, &ctx, a), 0);
        assert_int_equal(crec_model_score(l, &ctx, b), 0);
        assert_memory_equal(a, b, 150 * sizeof *a);
    }
    free(a), free(b);
    crec_model_free(l);
    crec_model_free(m);
    tu_rmrf(dir);
    free(dir);
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

static double ndcg10(const crec_dataset *ds, const crec_split *s, const char *name, const char *kv) {
    crec_model *m = train(name, &s->train, kv, NULL);
    crec_eval_opts eo;
    crec_eval_opts_defaults(&eo);
    eo.n_ks = 1;
    eo.ks[0] = 10;
    eo.n_threads = 2;
    crec_eval_result r;
    assert_int_equal(crec_evaluate(m, ds, s, &eo, &r), 0);
    print_message("%-8s %-12s NDCG@10 %.4f HR@10 %.4f\n", name, kv ? kv : "", r.at[0].ndcg, r.at[0].hr);
    crec_model_free(m);
    return r.at[0].ndcg;
}

static void test_beats_baselines(void **st) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = 1500;
    o.n_items = 800;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    double pop = ndcg10(ds, &s, "pop", NULL), knn = ndcg10(ds, &s, "itemknn", NULL);
    double ease = ndcg10(ds, &s, "ease", "lambda=100");
    assert_true(ease > 1.05 * knn && ease > 2 * pop);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matches_dense_solve), cmocka_unit_test(test_gram_methods_agree),
        cmocka_unit_test(test_refusals),            cmocka_unit_test(test_checkpoint),
        cmocka_unit_test(test_beats_baselines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
