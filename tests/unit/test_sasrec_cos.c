/* test_sasrec_cos.c: sasrec's cosine head (cos=1, temp) and label smoothing (ls).
 *   - the head alone (final states and item rows L2-normalised, logits / temp, full-softmax CE, the label-smoothing
 *     term) against an independent double-precision implementation: its loss, and its gradients w.r.t. h and E
 *     against central differences of that double loss;
 *   - the whole model's backward through the cosine head (with and without ls, with dropout) against finite
 *     differences (crec__seqtrain_gradcheck);
 *   - cos=1 (and ls) trains to far better than popularity on the synthetic default; a checkpoint round trip gives
 *     bit-identical scores (the normalised table is derived from E on load); an empty history scores popularity;
 *   - refit=1 retrains on training + validation events (its popularity counts both) and gives another model;
 *   - ls with a loss other than ce is refused, with the keys named;
 *   - attr=1 (attribute fusion): the whole model's backward against finite differences, with and without the
 *     cosine head, the attribute rows checked; it trains far above popularity on the synthetic default (whose
 *     items have topic and style tags), its checkpoint is a plain sasrec that loads and scores bit for bit, and
 *     without item attributes (no dataset) training is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "crec/crec.h"
#include "models/sasrec.h"
#include "modeltest.h"
#include "testutil.h"

/* The reference: mean over N rows of [(1 - ls) CE + ls CE_uniform] for rows with a target, in double. */
static double ref_loss(const double *h, const double *E, const int32_t *tgt, int N, int D, int I, double temp,
                       double ls) {
    double l = 0, *z = malloc((size_t)I * sizeof *z);
    for (int n = 0; n < N; n++) {
        if (tgt[n] < 0) continue;
        double hn = 0;
        for (int d = 0; d < D; d++) hn += h[n * D + d] * h[n * D + d];
        hn = sqrt(hn);
        double mx = -1e300, mean = 0;
        for (int j = 0; j < I; j++) {
            double en = 0, dot = 0;
            for (int d = 0; d < D; d++) en += E[j * D + d] * E[j * D + d], dot += h[n * D + d] * E[j * D + d];
            z[j] = dot / (hn * sqrt(en)) / temp;
            mx = fmax(mx, z[j]);
            mean += z[j] / I;
        }
        double s = 0;
        for (int j = 0; j < I; j++) s += exp(z[j] - mx);
        double lse = mx + log(s);
        l += (1 - ls) * (lse - z[tgt[n]]) + ls * (lse - mean);
    }
    free(z);
    return l / N;
}

static void test_head_vs_double(void **st) {
    enum { N = 5, D = 6, I = 9 };
    int32_t tgt[N] = {3, 0, -1, 8, 3};
    crec_rng r;
    crec__rng_seed(&r, 5);
    float hf[N * D], Ef[I * D], dh[N * D], dE[I * D];
    double h[N * D], E[I * D];
    for (int i = 0; i < N * D; i++) hf[i] = (float)crec__rng_normal(&r), h[i] = hf[i];
    for (int i = 0; i < I * D; i++) Ef[i] = (float)crec__rng_normal(&r), E[i] = Ef[i];
    const double temps[] = {1.0, 0.2, 0.05}, lss[] = {0.0, 0.2, 0.0};
    for (int c = 0; c < 3; c++) {
        double loss;
        assert_int_equal(crec__sasrec_cos_head(hf, Ef, tgt, N, D, I, (float)temps[c], lss[c], &loss, dh, dE), 0);
        double want = ref_loss(h, E, tgt, N, D, I, temps[c], lss[c]);
        double worst = 0, eps = 1e-6;
        for (int which = 0; which < 2; which++) {
            double *x = which ? E : h;
            const float *g = which ? dE : dh;
            int n = which ? I * D : N * D;
            for (int i = 0; i < n; i++) {
                double x0 = x[i];
                x[i] = x0 + eps;
                double lp = ref_loss(h, E, tgt, N, D, I, temps[c], lss[c]);
                x[i] = x0 - eps;
                double lm = ref_loss(h, E, tgt, N, D, I, temps[c], lss[c]);
                x[i] = x0;
                double num = (lp - lm) / (2 * eps), e = fabs(g[i] - num) / fmax(fabs(num), 1e-2);
                if (e > worst) worst = e;
            }
        }
        print_message("  temp %.2f ls %.1f: loss %.6f (double %.6f), worst relative gradient error %.2e over %d\n",
                      temps[c], lss[c], loss, want, worst, N * D + I * D);
        assert_true(fabs(loss - want) < 1e-4 * fmax(1, fabs(want)));
        assert_true(worst < 2e-3); /* float head vs double differences; a wrong term gives O(1) */
    }
}

static void test_model_gradcheck(void **st) {
    const struct {
        float temp;
        double ls;
        float drop;
    } v[] = {{0.5f, 0.0, 0.0f}, {0.5f, 0.2, 0.3f}, {1.0f, 0.1, 0.0f}};
    for (int i = 0; i < 3; i++) {
        double worst;
        int n;
        assert_int_equal(crec__sasrec_cos_gradcheck(v[i].temp, v[i].ls, v[i].drop, 21 + (uint64_t)i, &worst, &n), 0);
        print_message("  cos temp %.1f ls %.1f dropout %.1f: %d parameters, worst relative gradient error %.2e\n",
                      v[i].temp, v[i].ls, v[i].drop, n, worst);
        assert_true(n >= 150);
        assert_true(worst < 5e-3);
    }
}

/* Checkpoint round trip: m saved and loaded scores the first 30 users' histories bit for bit; scores bounded by
 * bound in absolute value when bound > 0. */
static void roundtrip_equal(const crec_model *m, const crec_split *s, float bound) {
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/c.crecm", dir);
    assert_int_equal(crec_model_save(m, path), 0);
    crec_model *l;
    assert_int_equal(crec_model_load(path, &l), 0);
    int32_t ni = m->n_items;
    float *a = malloc(ni * sizeof *a), *b = malloc(ni * sizeof *b);
    for (int32_t u = 0; u < 30; u++) {
        crec_context c = {.user = u,
                          .hist = s->train.idx + s->train.ptr[u],
                          .n_hist = (int32_t)(s->train.ptr[u + 1] - s->train.ptr[u])};
        assert_int_equal(crec_model_score(m, &c, a), 0);
        assert_int_equal(crec_model_score(l, &c, b), 0);
        assert_memory_equal(a, b, ni * sizeof *a);
        for (int32_t j = 0; bound > 0 && j < ni; j++) assert_true(fabsf(a[j]) <= bound + 1e-3f);
    }
    free(a), free(b);
    crec_model_free(l);
    tu_rmrf(dir);
    free(dir);
}

static void test_trains_and_scores(void **st) {
    crec_dataset *ds;
    crec_split s;
    synth(600, 300, &ds, &s);
    crec_model *p = train_cfg("pop", &s, NULL, 2, 1, 0);
    double qp = ndcg10(p, ds, &s);
    crec_model_free(p);
    const char *variants[][2] = {{"cos=0", "ls=0"}, {"cos=1", "ls=0"}, {"cos=1", "ls=0.1"}, {"cos=0", "ls=0.1"}};
    double q[4];
    for (int v = 0; v < 4; v++) {
        const char *kv[] = {"dim=32",   "blocks=1",    "epochs=6",     "batch=32",     "lr=0.01",
                            "temp=0.1", "max_len=20",  variants[v][0], variants[v][1], NULL};
        crec_model *m = train_cfg("sasrec", &s, kv, 1, 3, 1);
        q[v] = ndcg10(m, ds, &s);
        print_message("  %s %s: NDCG@10 %.4f (pop %.4f)\n", variants[v][0], variants[v][1], q[v], qp);
        assert_true(q[v] > 2 * qp);
        if (v == 2) { /* the normalised table comes back from E; cosine scores are bounded by 1 / temp */
            roundtrip_equal(m, &s, 10.0f);
            float *a = malloc(m->n_items * sizeof *a);
            assert_true(mt_empty_history_is_pop(m, &s, a));
            free(a);
        }
        crec_model_free(m);
    }
    crec_split_free(&s);
    crec_dataset_free(ds);
}

/* refit=1: a second training from scratch on training + validation events for the epoch count validation chose;
 * its popularity (the empty history's scores) counts both, and it is another model than the one without refit. */
static void test_refit(void **st) {
    crec_dataset *ds;
    crec_split s;
    synth(400, 200, &ds, &s);
    crec_model *p = train_cfg("pop", &s, NULL, 2, 1, 0);
    double qp = ndcg10(p, ds, &s);
    crec_model_free(p);
    const char *k0[] = {"dim=16", "blocks=1", "epochs=4", "batch=32", "lr=0.01", "max_len=20", "refit=0", NULL};
    const char *k1[] = {"dim=16", "blocks=1", "epochs=4", "batch=32", "lr=0.01", "max_len=20", "refit=1", NULL};
    crec_model *m0 = train_cfg("sasrec", &s, k0, 1, 3, 1), *m1 = train_cfg("sasrec", &s, k1, 1, 3, 1);
    double q0 = ndcg10(m0, ds, &s), q1 = ndcg10(m1, ds, &s);
    print_message("  refit=0 NDCG@10 %.4f, refit=1 %.4f (pop %.4f)\n", q0, q1, qp);
    assert_true(q1 > 2 * qp);
    float *a = malloc(200 * sizeof *a), *b = malloc(200 * sizeof *b);
    crec_context c0 = {.user = -1, .hist = NULL, .n_hist = 0};
    assert_int_equal(crec_model_score(m1, &c0, a), 0);
    for (int32_t j = 0; j < 200; j++) {
        int64_t cnt = 0;
        for (int64_t q = 0; q < crec_csr_nnz(&s.train); q++) cnt += s.train.idx[q] == j;
        for (int64_t q = 0; q < crec_csr_nnz(&s.valid); q++) cnt += s.valid.idx[q] == j;
        assert_true(a[j] == (float)cnt);
    }
    crec_context c = {.user = 0, .hist = s.train.idx, .n_hist = (int32_t)s.train.ptr[1]};
    assert_int_equal(crec_model_score(m0, &c, a), 0);
    assert_int_equal(crec_model_score(m1, &c, b), 0);
    assert_true(memcmp(a, b, 200 * sizeof *a) != 0);
    /* refit_epochs: the validated run skipped, the refit alone for that many epochs; m1's validation kept epoch 4
     * (its curve still rises there), so refit_epochs=4 is m1 bit for bit */
    const char *k2[] = {"dim=16",     "blocks=1", "epochs=4",       "batch=32", "lr=0.01",
                        "max_len=20", "refit=1",  "refit_epochs=4", NULL};
    crec_model *m2 = train_cfg("sasrec", &s, k2, 1, 3, 1);
    assert_int_equal(crec_model_score(m1, &c, a), 0);
    assert_int_equal(crec_model_score(m2, &c, b), 0);
    assert_memory_equal(a, b, 200 * sizeof *a);
    crec_model_free(m2);
    free(a), free(b);
    crec_model_free(m0), crec_model_free(m1);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

static void test_attr_gradcheck(void **st) {
    for (int i = 0; i < 4; i++) {
        double worst;
        int n;
        int cos = i & 1;
        float drop = i & 2 ? 0.3f : 0.0f;
        assert_int_equal(crec__sasrec_attr_gradcheck(cos, drop, 41 + (uint64_t)i, &worst, &n), 0);
        print_message("  attr cos=%d dropout %.1f: %d parameters, worst relative gradient error %.2e\n", cos, drop, n,
                      worst);
        assert_true(n >= 150);
        assert_true(worst < 5e-3);
    }
}

static crec_model *train_attr(const crec_dataset *ds, const crec_split *s, const char *cos, int *rc) {
    const char *kv[] = {"dim=32", "blocks=1", "epochs=6", "batch=32", "lr=0.01", "temp=0.1", "max_len=20",
                        "attr=1", cos,        NULL};
    crec_config cfg = {0};
    for (int i = 0; kv[i]; i++) assert_int_equal(crec_config_set_kv(&cfg, kv[i]), 0);
    crec_model *m;
    char err[256];
    assert_int_equal(crec_model_new("sasrec", &cfg, &m, err, sizeof err), 0);
    crec_train_input in = {.ds = ds, .train = &s->train, .valid = &s->valid, .n_threads = 1, .seed = 3};
    *rc = crec_model_train(m, &in);
    snprintf(m->split, sizeof m->split, "loo");
    return m;
}

static void test_attr_trains(void **st) {
    crec_dataset *ds;
    crec_split s;
    synth(600, 300, &ds, &s);
    assert_true(ds->n_attr_pairs > 0);
    crec_model *p = train_cfg("pop", &s, NULL, 2, 1, 0);
    double qp = ndcg10(p, ds, &s);
    crec_model_free(p);
    const char *cosv[] = {"cos=0", "cos=1"};
    for (int v = 0; v < 2; v++) {
        int rc;
        crec_model *m = train_attr(ds, &s, cosv[v], &rc);
        assert_int_equal(rc, 0);
        double q = ndcg10(m, ds, &s);
        print_message("  attr=1 %s: NDCG@10 %.4f (pop %.4f)\n", cosv[v], q, qp);
        assert_true(q > 2 * qp);
        roundtrip_equal(m, &s, 0); /* the fused rows folded into E: a plain sasrec checkpoint */
        crec_model_free(m);
    }
    /* no dataset, so no attributes: refused */
    int rc;
    crec_model *m = train_attr(NULL, &s, "cos=0", &rc);
    assert_int_equal(rc, CREC_EINVAL);
    crec_model_free(m);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

static void test_refused(void **st) {
    crec_config cfg = {0};
    assert_int_equal(crec_config_set_kv(&cfg, "ls=0.1"), 0);
    assert_int_equal(crec_config_set_kv(&cfg, "loss=bce"), 0);
    crec_model *m = NULL;
    char err[256] = "";
    assert_int_equal(crec_model_new("sasrec", &cfg, &m, err, sizeof err), CREC_EINVAL);
    assert_null(m);
    print_message("  refused: %s\n", err);
    assert_non_null(strstr(err, "'ls'"));
    assert_non_null(strstr(err, "'loss'"));
    crec_config c2 = {0};
    assert_int_equal(crec_config_set_kv(&c2, "temp=0"), 0);
    assert_int_equal(crec_model_new("sasrec", &c2, &m, err, sizeof err), CREC_EINVAL);
    print_message("  refused: %s\n", err);
    assert_non_null(strstr(err, "temp"));
}

int main(int argc, char **argv) {
    if (argc >= 1 && !getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_vs_double),
        cmocka_unit_test(test_model_gradcheck),
        cmocka_unit_test(test_trains_and_scores),
        cmocka_unit_test(test_refit),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_attr_gradcheck),
        cmocka_unit_test(test_attr_trains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
