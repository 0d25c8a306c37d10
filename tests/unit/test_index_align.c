/* test_index_align.c: PRORec-style cross-view alignment (index/align.h).
 *
 * Checked:
 *   1. the symmetric InfoNCE's gradient with respect to both projections against central finite differences in
 *      double (rows of unequal norm, a zero row, dc != dv, two temperatures);
 *   2. training on planted views - content and collaborative vectors that are two different random linear maps of
 *      one shared latent, plus noise - raises the in-batch cross-view top-1 accuracy far above chance (1 / B) and
 *      lowers the loss; the fused output rows have unit length and the output is deterministic for a seed;
 *   3. bad options are refused (CREC_EINVAL). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/common.h"
#include "index/align.h"

static void test_gradient(void **st) {
    (void)st;
    crec_rng r;
    crec__rng_seed(&r, 3);
    enum { N = 9, DC = 5, DV = 7, D = 4, B = 6 };
    double C[N * DC], V[N * DV], Wc[D * DC], Wv[D * DV];
    for (int i = 0; i < N * DC; i++) C[i] = crec__rng_normal(&r) * (1 + i % 3);
    for (int i = 0; i < N * DV; i++) V[i] = crec__rng_normal(&r);
    for (int i = 0; i < DC; i++) C[4 * DC + i] = 0; /* item 4: a zero content row */
    for (int i = 0; i < D * DC; i++) Wc[i] = crec__rng_normal(&r);
    for (int i = 0; i < D * DV; i++) Wv[i] = crec__rng_normal(&r);
    int32_t rows[B] = {7, 2, 4, 0, 8, 5};
    for (int t = 0; t < 2; t++) {
        double tau = t ? 0.1 : 0.7;
        double gc[D * DC] = {0}, gv[D * DV] = {0}, acc;
        double l = crec__align_loss(Wc, Wv, C, DC, V, DV, rows, B, D, tau, gc, gv, &acc);
        assert_false(isnan(l));
        assert_true(acc >= 0 && acc <= 1);
        double worst = 0;
        for (int which = 0; which < 2; which++) {
            double *W = which ? Wv : Wc, *g = which ? gv : gc;
            int n = which ? D * DV : D * DC;
            for (int i = 0; i < n; i++) {
                double o = W[i], h = 1e-6;
                W[i] = o + h;
                double lp = crec__align_loss(Wc, Wv, C, DC, V, DV, rows, B, D, tau, NULL, NULL, NULL);
                W[i] = o - h;
                double lm = crec__align_loss(Wc, Wv, C, DC, V, DV, rows, B, D, tau, NULL, NULL, NULL);
                W[i] = o;
                double num = (lp - lm) / (2 * h);
                double e = fabs(num - g[i]) / fmax(1e-3, fabs(num));
                worst = fmax(worst, e);
            }
        }
        if (worst > 1e-5) fail_msg("align InfoNCE gradient (tau %g): worst relative error %g vs finite differences", tau, worst);
    }
}

static void test_planted(void **st) {
    (void)st;
    crec_rng r;
    crec__rng_seed(&r, 11);
    enum { N = 1200, K = 8, DC = 24, DV = 16 };
    float *C = malloc(sizeof(float) * N * DC), *V = malloc(sizeof(float) * N * DV);
    double Ac[DC * K], Av[DV * K], z[K];
    for (int i = 0; i < DC * K; i++) Ac[i] = crec__rng_normal(&r);
    for (int i = 0; i < DV * K; i++) Av[i] = crec__rng_normal(&r);
    for (int n = 0; n < N; n++) {
        for (int k = 0; k < K; k++) z[k] = crec__rng_normal(&r);
        for (int i = 0; i < DC; i++) {
            double s = 0.3 * crec__rng_normal(&r);
            for (int k = 0; k < K; k++) s += Ac[i * K + k] * z[k];
            C[n * DC + i] = (float)s;
        }
        for (int i = 0; i < DV; i++) {
            double s = 0.3 * crec__rng_normal(&r);
            for (int k = 0; k < K; k++) s += Av[i * K + k] * z[k];
            V[n * DV + i] = (float)s;
        }
    }
    crec__align_opts o;
    crec__align_opts_default(&o);
    o.dim = 8, o.epochs = 30, o.batch = 100, o.lr = 0.01, o.seed = 5;
    float *out = NULL, *out2 = NULL;
    double l0, l1, acc;
    assert_int_equal(crec__align_vectors(C, DC, V, DV, N, &o, &out, &l0, &l1, &acc), 0);
    if (!(acc > 0.5 && l1 < 0.6 * l0))
        fail_msg("planted views: in-batch top-1 %.3f (chance 0.01, want > 0.5), loss %.3f -> %.3f", acc, l0, l1);
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int i = 0; i < o.dim; i++) s += (double)out[n * o.dim + i] * out[n * o.dim + i];
        assert_true(fabs(s - 1) < 1e-4);
    }
    assert_int_equal(crec__align_vectors(C, DC, V, DV, N, &o, &out2, NULL, NULL, NULL), 0);
    assert_memory_equal(out, out2, sizeof(float) * N * o.dim);
    free(out2);
    /* bad options */
    o.tau = 0;
    assert_int_equal(crec__align_vectors(C, DC, V, DV, N, &o, &out2, NULL, NULL, NULL), CREC_EINVAL);
    o.tau = 0.1, o.batch = 1;
    assert_int_equal(crec__align_vectors(C, DC, V, DV, N, &o, &out2, NULL, NULL, NULL), CREC_EINVAL);
    o.batch = 100;
    assert_int_equal(crec__align_vectors(C, DC, V, DV, 1, &o, &out2, NULL, NULL, NULL), CREC_EINVAL);
    free(out), free(C), free(V);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradient),
        cmocka_unit_test(test_planted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
