/* test_hstu_elem.c: the HSTU layer's write-mode element-wise backward passes (nn/hstu.h) against the add-mode
 * kernels of nn.h they replace in the model, composed as the model composed them before, on zeroed buffers:
 *   - hstu_gate_norm_backward = dropout_backward, then hstu_gate_backward, then hstu_norm_backward (dropout 0 and
 *     0.3, row counts on both sides of the parallel threshold, widths 8, 50, 64), and the V, Q, K columns zeroed;
 *   - hstu_silu_backward_inplace = act_backward(SiLU);
 *   - hstu_norm_backward_set = a copy of the residual, then hstu_norm_backward (with and without the residual).
 * The outputs start as garbage (NaN), so a pass that adds instead of writing fails. Double to 1e-12 (the same
 * operations in another order), float to 1e-5 relative. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "nn/hstu.h"
#include "nn/nn.h"

static double rel_err(const double *a, const double *b, size_t n) {
    double w = 0, s = 1e-30;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs(a[i] - b[i])), s = fmax(s, fabs(b[i]));
    return w / s;
}

static void fill(double *x, size_t n, crec_rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = crec__rng_normal(r);
}

static void test_gate_norm(void **st) {
    (void)st;
    int shapes[][2] = {{5, 8}, {400, 50}, {37, 64}};
    float drops[] = {0.0f, 0.3f};
    crec_rng r;
    crec__rng_seed(&r, 11);
    for (size_t s = 0; s < 3; s++)
        for (size_t k = 0; k < 2; k++) {
            int N = shapes[s][0], D = shapes[s][1];
            size_t nd = (size_t)N * D, n4 = 4 * nd;
            double *dgd = malloc(nd * 8), *uvqk = malloc(n4 * 8), *an = malloc(nd * 8), *rstd = malloc(N * 8);
            double *du1 = calloc(n4, 8), *dao1 = calloc(nd, 8), *dg = calloc(nd, 8), *dan = calloc(nd, 8);
            double *du2 = malloc(n4 * 8), *dao2 = malloc(nd * 8);
            fill(dgd, nd, &r), fill(uvqk, n4, &r), fill(an, nd, &r);
            for (int n = 0; n < N; n++) rstd[n] = 0.5 + crec__rng_uniform(&r);
            for (size_t i = 0; i < n4; i++) du2[i] = NAN;
            for (size_t i = 0; i < nd; i++) dao2[i] = NAN;
            uint64_t seed = 0x1234567887654321ull;
            /* before: add-mode kernels on zeroed buffers */
            crec__nn_dropout_backward_d(dg, dgd, nd, drops[k], seed);
            crec__nn_hstu_gate_backward_d(du1, dan, dg, uvqk, an, N, D);
            crec__nn_hstu_norm_backward_d(dao1, dan, an, rstd, N, D);
            /* after: one write-mode pass */
            crec__nn_hstu_gate_norm_backward_d(du2, dao2, dgd, uvqk, an, rstd, N, D, drops[k], seed, 0);
            double e1 = rel_err(du2, du1, n4), e2 = rel_err(dao2, dao1, nd);
            print_message("  gate+norm backward, N %d D %d dropout %.1f: duvqk %.1e, dao %.1e\n", N, D, drops[k], e1,
                          e2);
            assert_true(e1 < 1e-12);
            assert_true(e2 < 1e-12);
            /* float against the double composition */
            float *f[6];
            size_t fn[6] = {nd, n4, nd, (size_t)N, n4, nd};
            const double *src[4] = {dgd, uvqk, an, rstd};
            for (int i = 0; i < 6; i++) f[i] = malloc(fn[i] * sizeof(float));
            for (int i = 0; i < 4; i++)
                for (size_t j = 0; j < fn[i]; j++) f[i][j] = (float)src[i][j];
            crec__nn_hstu_gate_norm_backward(f[4], f[5], f[0], f[1], f[2], f[3], N, D, drops[k], seed, 0);
            double *b = malloc(n4 * 8);
            for (size_t j = 0; j < n4; j++) b[j] = f[4][j];
            double ef = rel_err(b, du1, n4);
            for (size_t j = 0; j < nd; j++) b[j] = f[5][j];
            ef = fmax(ef, rel_err(b, dao1, nd));
            assert_true(ef < 1e-5);
            for (int i = 0; i < 6; i++) free(f[i]);
            free(b), free(dgd), free(uvqk), free(an), free(rstd), free(du1), free(dao1), free(dg), free(dan),
                free(du2), free(dao2);
        }
}

static void test_silu_and_norm_set(void **st) {
    (void)st;
    crec_rng r;
    crec__rng_seed(&r, 12);
    size_t sizes[] = {7, 100003}; /* below and above the parallel threshold */
    for (size_t s = 0; s < 2; s++) {
        size_t n = sizes[s];
        double *d = malloc(n * 8), *pre = malloc(n * 8), *ref = calloc(n, 8);
        fill(d, n, &r), fill(pre, n, &r);
        for (size_t i = 0; i < n; i++) pre[i] *= 4;
        crec__nn_act_backward_d(ref, d, pre, n, CREC_NN_SILU);
        crec__nn_hstu_silu_backward_inplace_d(d, pre, n);
        double e = rel_err(d, ref, n);
        print_message("  SiLU backward in place, n %zu: %.1e\n", n, e);
        assert_true(e < 1e-12);
        free(d), free(pre), free(ref);
    }
    int N = 300, D = 50;
    size_t nd = (size_t)N * D;
    double *g = malloc(nd * 8), *y = malloc(nd * 8), *res = malloc(nd * 8), *rstd = malloc(N * 8);
    double *ref = malloc(nd * 8), *out = malloc(nd * 8);
    fill(g, nd, &r), fill(y, nd, &r), fill(res, nd, &r);
    for (int i = 0; i < N; i++) rstd[i] = 0.5 + crec__rng_uniform(&r);
    for (int with = 0; with < 2; with++) {
        for (size_t i = 0; i < nd; i++) ref[i] = with ? res[i] : 0, out[i] = NAN;
        crec__nn_hstu_norm_backward_d(ref, g, y, rstd, N, D);
        crec__nn_hstu_norm_backward_set_d(out, with ? res : NULL, g, y, rstd, N, D);
        double e = rel_err(out, ref, nd);
        print_message("  norm backward (write), residual %d: %.1e\n", with, e);
        assert_true(e < 1e-12);
    }
    free(g), free(y), free(res), free(rstd), free(ref), free(out);
}

int main(int argc, char **argv) {
    if (argc >= 1 && !getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gate_norm),
        cmocka_unit_test(test_silu_and_norm_set),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
