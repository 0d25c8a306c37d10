/* test_genrec_ls.c: label smoothing of genrec's token CE (parameter `ls`).
 *
 * Checked:
 *   1. the float loss training computes (crec__genrec_ce) against a double implementation written here from the
 *      definition - per level, CE against the target (1 - ls) one-hot + ls / K uniform over the level's K tokens -
 *      at ls = 0, 0.1 and 0.4, on levels of 3, 7 and 300 tokens (the last one wider than a row block of logits);
 *   2. the double implementation's analytic gradient (p - (1 - ls) onehot - ls / K) against central finite
 *      differences in double, and the float gradients dh, dW against it;
 *   3. ls = 0 is the plain CE (the model's loss unchanged when the option is off);
 *   4. the whole model's backward with ls = 0.1 by finite differences (crec__genrec_gradcheck, bit 4), with and
 *      without dropout. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/crec.h"
#include "crec/index.h"
#include "models/genrec.h"

#define NL 3
#define ND 6
#define NS 5
static const int32_t KL[NL] = {3, 7, 300};

/* Reference in double: loss and (optionally) its gradient wrt h and W. */
static double ref_ce(const double *h, const double *W, const int32_t *tgt, double ls, double *dh, double *dW) {
    int off = 0;
    double tot = 0;
    if (dh) memset(dh, 0, sizeof(double) * NS * NL * ND);
    if (dW) memset(dW, 0, sizeof(double) * (KL[0] + KL[1] + KL[2]) * ND);
    for (int l = 0; l < NL; l++) {
        double z[300], p[300];
        for (int s = 0; s < NS; s++) {
            const double *hr = h + (s * NL + l) * ND;
            double mx = -INFINITY;
            for (int k = 0; k < KL[l]; k++) {
                z[k] = 0;
                for (int i = 0; i < ND; i++) z[k] += hr[i] * W[(off + k) * ND + i];
                mx = z[k] > mx ? z[k] : mx;
            }
            double sum = 0;
            for (int k = 0; k < KL[l]; k++) sum += exp(z[k] - mx);
            double lse = mx + log(sum);
            int t = tgt[s * NL + l];
            for (int k = 0; k < KL[l]; k++) {
                double y = (1 - ls) * (k == t) + ls / KL[l]; /* the smoothed target */
                tot += -y * (z[k] - lse);
                p[k] = exp(z[k] - lse) - y;
            }
            for (int k = 0; k < KL[l]; k++)
                for (int i = 0; i < ND; i++) {
                    if (dh) dh[(s * NL + l) * ND + i] += p[k] * W[(off + k) * ND + i];
                    if (dW) dW[(off + k) * ND + i] += p[k] * hr[i];
                }
        }
        off += KL[l];
    }
    return tot;
}

static void test_ce_vs_double(void **st) {
    (void)st;
    crec_rng r;
    crec__rng_seed(&r, 5);
    int V = KL[0] + KL[1] + KL[2];
    double *h = malloc(sizeof(double) * NS * NL * ND), *W = malloc(sizeof(double) * V * ND);
    double *gh = malloc(sizeof(double) * NS * NL * ND), *gW = malloc(sizeof(double) * V * ND);
    float *hf = malloc(sizeof(float) * NS * NL * ND), *Wf = malloc(sizeof(float) * V * ND);
    float *dhf = malloc(sizeof(float) * NS * NL * ND), *dWf = malloc(sizeof(float) * V * ND);
    int32_t tgt[NS * NL];
    for (int i = 0; i < NS * NL * ND; i++) hf[i] = (float)crec__rng_normal(&r), h[i] = hf[i];
    for (int i = 0; i < V * ND; i++) Wf[i] = (float)(0.7 * crec__rng_normal(&r)), W[i] = Wf[i];
    for (int s = 0; s < NS; s++)
        for (int l = 0; l < NL; l++) tgt[s * NL + l] = (int32_t)crec__rng_below(&r, (uint64_t)KL[l]);
    const double lss[3] = {0, 0.1, 0.4};
    double plain = 0;
    for (int c = 0; c < 3; c++) {
        double ls = lss[c];
        double ref = ref_ce(h, W, tgt, ls, gh, gW);
        if (c == 0) plain = ref;
        /* 2. the reference gradient against central differences in double */
        double worst = 0;
        for (int pass = 0; pass < 2; pass++) {
            double *x = pass ? W : h, *g = pass ? gW : gh;
            int n = pass ? V * ND : NS * NL * ND;
            for (int i = 0; i < n; i += pass ? 7 : 1) {
                double o = x[i], e = 1e-4;
                x[i] = o + e;
                double lp = ref_ce(h, W, tgt, ls, NULL, NULL);
                x[i] = o - e;
                double lm = ref_ce(h, W, tgt, ls, NULL, NULL);
                x[i] = o;
                double num = (lp - lm) / (2 * e), err = fabs(num - g[i]) / fmax(fabs(num), 1e-2);
                worst = err > worst ? err : worst;
            }
        }
        if (worst > 1e-6) fail_msg("ls %.1f: double CE gradient vs finite differences: worst rel error %g", ls, worst);
        /* 1. the float loss and gradients against the double ones */
        double lf = 0;
        assert_int_equal(crec__genrec_ce(NL, KL, ND, NS, hf, Wf, tgt, (float)ls, dhf, dWf, &lf), 0);
        if (fabs(lf - ref) > 1e-5 * fabs(ref) + 1e-5) fail_msg("ls %.1f: loss %.9g, double reference %.9g", ls, lf, ref);
        double gw = 0;
        for (int i = 0; i < NS * NL * ND; i++) gw = fmax(gw, fabs(dhf[i] - gh[i]) / fmax(fabs(gh[i]), 1e-2));
        for (int i = 0; i < V * ND; i++) gw = fmax(gw, fabs(dWf[i] - gW[i]) / fmax(fabs(gW[i]), 1e-2));
        if (gw > 1e-4) fail_msg("ls %.1f: float gradient vs double: worst rel error %g", ls, gw);
        /* smoothing raises the loss of a confident model only through the uniform term: a different number */
        if (c > 0) assert_true(fabs(ref - plain) > 1e-3);
    }
    /* 3. ls = 0: the plain CE, sum over targets of lse - z_t */
    double lf0 = 0;
    assert_int_equal(crec__genrec_ce(NL, KL, ND, NS, hf, Wf, tgt, 0.0f, NULL, NULL, &lf0), 0);
    assert_true(fabs(lf0 - plain) < 1e-5 * fabs(plain) + 1e-5);
    /* bad input refused */
    int32_t bad[NS * NL];
    memcpy(bad, tgt, sizeof bad);
    bad[2] = 300; /* level 2 has 300 tokens: 0..299 */
    assert_int_equal(crec__genrec_ce(NL, KL, ND, NS, hf, Wf, bad, 0.1f, NULL, NULL, &lf0), CREC_EINVAL);
    assert_int_equal(crec__genrec_ce(NL, KL, ND, NS, hf, Wf, tgt, 1.0f, NULL, NULL, &lf0), CREC_EINVAL);
    free(h), free(W), free(gh), free(gW), free(hf), free(Wf), free(dhf), free(dWf);
}

static void test_model_gradcheck_ls(void **st) {
    (void)st;
    int32_t codes[27];
    for (int i = 0; i < 9; i++) codes[i * 3] = i / 3, codes[i * 3 + 1] = i % 3, codes[i * 3 + 2] = (i * 7) % 2;
    crec_index ix = {.n_items = 9, .L = 3, .K = {3, 3, 2}, .codes = codes, .tok_off = {0, 3, 6, 8}};
    assert_int_equal(crec_index_check(&ix), 0);
    for (int variant = 0; variant < 2; variant++) {
        double worst = 0;
        int checked = 0;
        int causal = 1 | 2 | 16; /* causal, item_emb, ls = 0.1 */
        float drop = variant ? 0.2f : 0;
        assert_int_equal(crec__genrec_gradcheck(&ix, causal, drop, 31 + variant, &worst, &checked), 0);
        if (worst > 0.02)
            fail_msg("genrec whole-model gradient with ls 0.1%s: worst relative error %g over %d elements",
                     drop > 0 ? ", dropout" : "", worst, checked);
        assert_true(checked > 200);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ce_vs_double),
        cmocka_unit_test(test_model_gradcheck_ls),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
