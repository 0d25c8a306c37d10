/* test_hstu_tiled.c: the tiled HSTU attention the model trains with (nn/hstu.h) and its integer-log time buckets.
 *   - crec__nn_hstu_bucket_fast equals the formula (crec__nn_hstu_bucket, libm's log) on every dt up to 2^17, at
 *     and beside every bucket's first dt (found by bisection on the formula), at powers of two and on 200,000
 *     log-uniform random pairs of int64 times, and at the extremes of int64;
 *   - the bucket matrix of a batch equals the formula pair by pair;
 *   - forward and backward (double) against the per-pair reference kernels of nn.h, on sequences of 1 to 200 rows
 *     (one, two, four tiles; a tile boundary exactly at 64 and one past it), both normalisers, biases on and off,
 *     with and without the bias scratch: outputs, logits and every gradient to 1e-12;
 *   - the float kernels against the double reference to float precision;
 *   - finite differences in double on every input (q, k, v, both bias tables) of a batch whose second sequence
 *     spans two tiles. */
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

static long n_checked, n_bad;

static void check(int64_t tq, int64_t tk) {
    int f = crec__nn_hstu_bucket_fast(tq, tk), r = crec__nn_hstu_bucket(tq, tk);
    n_checked++;
    if (f != r && n_bad++ < 5)
        print_message("  bucket(%lld, %lld): fast %d, formula %d\n", (long long)tq, (long long)tk, f, r);
}

static void test_bucket_fast(void **st) {
    (void)st;
    for (int64_t dt = 0; dt <= (1 << 17); dt++) {
        check(1700000000 + dt, 1700000000);
        check(5, 5 + dt);
    }
    /* the first dt of every bucket, by bisection on the formula, and its neighbours */
    for (int b = 1; b < CREC_NN_HSTU_BUCKETS; b++) {
        uint64_t lo = 1, hi = (uint64_t)1 << 62;
        while (hi - lo > 1) {
            uint64_t m = lo + (hi - lo) / 2;
            if (crec__nn_hstu_bucket((int64_t)m, 0) >= b)
                hi = m;
            else
                lo = m;
        }
        for (int64_t d = -2; d <= 2; d++) {
            check((int64_t)hi + d, 0);
            check(-7, -7 - ((int64_t)hi + d));
        }
    }
    for (int p = 0; p < 63; p++)
        for (int64_t d = -1; d <= 1; d++) check(((int64_t)1 << p) + d, 0);
    crec_rng r;
    crec__rng_seed(&r, 5);
    for (int i = 0; i < 200000; i++) {
        int64_t tk = (int64_t)(crec__rng_next(&r) >> 2) - ((int64_t)1 << 61);
        int64_t dt = (int64_t)exp2(crec__rng_uniform(&r) * 61);
        check(tk + dt, tk);
        check(tk - dt, tk);
    }
    check(INT64_MAX, INT64_MIN);
    check(INT64_MIN, INT64_MAX);
    check(INT64_MAX, 0);
    check(0, INT64_MIN);
    print_message("  %ld time differences, %ld where the table and the formula differ\n", n_checked, n_bad);
    assert_int_equal(n_bad, 0);
}

/* ---- a packed batch with times ---- */

enum { MAXB = 8 };
typedef struct batch {
    int B, N, D, H, Tmax;
    int32_t seq_off[MAXB + 1];
    int64_t att_off[MAXB + 1], *tk, *tq;
    uint8_t *bkt;
} batch;

static void batch_make(batch *b, const int *len, int B, int D, int H, int Tmax, crec_rng *r) {
    memset(b, 0, sizeof *b);
    b->B = B, b->D = D, b->H = H, b->Tmax = Tmax;
    b->seq_off[0] = 0;
    for (int i = 0; i < B; i++) b->seq_off[i + 1] = b->seq_off[i] + len[i];
    b->N = b->seq_off[B];
    crec__nn_attention_offsets(b->att_off, b->seq_off, B, H);
    b->tk = malloc((size_t)b->N * sizeof *b->tk);
    b->tq = malloc((size_t)b->N * sizeof *b->tq);
    b->bkt = malloc((size_t)(b->att_off[B] / H) + 1);
    for (int i = 0; i < B; i++) {
        int64_t t = 1000000000;
        for (int n = b->seq_off[i]; n < b->seq_off[i + 1]; n++) /* gaps of seconds to months, some repeats */
            b->tk[n] = (t += crec__rng_uniform(r) < 0.2 ? 0 : (int64_t)exp2(crec__rng_uniform(r) * 23));
        for (int n = b->seq_off[i]; n < b->seq_off[i + 1]; n++)
            b->tq[n] = n + 1 < b->seq_off[i + 1] ? b->tk[n + 1] : b->tk[n];
    }
    crec__nn_hstu_buckets(b->bkt, b->tk, b->tq, b->seq_off, b->att_off, B, H);
}

static void batch_free(batch *b) { free(b->tk), free(b->tq), free(b->bkt); }

static void test_bucket_matrix(void **st) {
    (void)st;
    crec_rng r;
    crec__rng_seed(&r, 9);
    int len[] = {1, 7, 130, 64};
    batch b;
    batch_make(&b, len, 4, 4, 2, 130, &r);
    long bad = 0;
    for (int s = 0; s < b.B; s++) {
        int o = b.seq_off[s], T = len[s];
        for (int t = 0; t < T; t++)
            for (int t2 = 0; t2 <= t; t2++)
                bad += b.bkt[b.att_off[s] / b.H + (int64_t)t * T + t2] != crec__nn_hstu_bucket(b.tq[o + t], b.tk[o + t2]);
    }
    assert_int_equal(bad, 0);
    /* times out of order (the per-pair path): sequence 2 reversed, sequence 3's query times before their keys;
     * also huge gaps (the last bucket) in sequence 1 */
    for (int n = b.seq_off[2], m = b.seq_off[3] - 1; n < m; n++, m--) {
        int64_t x = b.tk[n];
        b.tk[n] = b.tk[m], b.tk[m] = x;
    }
    for (int n = b.seq_off[3]; n < b.seq_off[4]; n++) b.tq[n] = b.tk[n] - 1000 * (n % 3);
    for (int n = b.seq_off[1]; n < b.seq_off[2]; n++) b.tk[n] = (int64_t)n << 58, b.tq[n] = b.tk[n] + 7;
    crec__nn_hstu_buckets(b.bkt, b.tk, b.tq, b.seq_off, b.att_off, b.B, b.H);
    for (int s = 0; s < b.B; s++) {
        int o = b.seq_off[s], T = len[s];
        for (int t = 0; t < T; t++)
            for (int t2 = 0; t2 <= t; t2++)
                bad += b.bkt[b.att_off[s] / b.H + (int64_t)t * T + t2] != crec__nn_hstu_bucket(b.tq[o + t], b.tk[o + t2]);
    }
    assert_int_equal(bad, 0);
    batch_free(&b);
}

/* ---- tiled against the per-pair reference ---- */

static double max_rel(const double *a, const double *b, size_t n) {
    double w = 0, s = 0;
    for (size_t i = 0; i < n; i++) s = fmax(s, fabs(b[i]));
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs(a[i] - b[i]));
    return s > 0 ? w / s : w;
}

static void randn(double *x, size_t n, double sd, crec_rng *r) {
    for (size_t i = 0; i < n; i++) x[i] = sd * crec__rng_normal(r);
}

static void test_tiled_vs_reference(void **st) {
    (void)st;
    crec_rng r;
    crec__rng_seed(&r, 21);
    int len[] = {1, 64, 65, 200, 130, 3};
    int B = 6, D = 8, H = 2, Tmax = 200, NB = CREC_NN_HSTU_BUCKETS;
    batch b;
    batch_make(&b, len, B, D, H, Tmax, &r);
    size_t N = (size_t)b.N, A = (size_t)b.att_off[B];
    double *uvqk = malloc(N * 4 * D * sizeof *uvqk), *dout = malloc(N * D * sizeof *dout);
    double pos[2 * 200 - 1], tsw[CREC_NN_HSTU_BUCKETS];
    randn(uvqk, N * 4 * D, 0.6, &r), randn(dout, N * D, 1.0, &r), randn(pos, 2 * Tmax - 1, 0.5, &r);
    randn(tsw, NB, 0.5, &r);
    double *y1 = malloc(N * D * sizeof(double)), *y2 = malloc(N * D * sizeof(double));
    double *att1 = calloc(A, sizeof(double)), *att2 = calloc(A, sizeof(double)), *aw = calloc(A, sizeof(double));
    double *dS = calloc(A, sizeof(double)), *bsum = malloc(crec__nn_hstu_bias_scratch(B, H, Tmax) * sizeof(double));
    double *g1 = malloc(N * 4 * D * sizeof(double)), *g2 = malloc(N * 4 * D * sizeof(double));
    double dp1[2 * 200 - 1], dp2[2 * 200 - 1], dt1[CREC_NN_HSTU_BUCKETS], dt2[CREC_NN_HSTU_BUCKETS];
    for (int nl = 0; nl < 2; nl++)
        for (int bias = 0; bias < 2; bias++)
            for (int scratch = 0; scratch < 2; scratch++) {
                const double *pw = bias ? pos : NULL, *tw = bias ? tsw : NULL;
                crec__nn_hstu_attention_forward_d(y1, att1, uvqk, pw, tw, b.tk, b.tq, b.seq_off, b.att_off, B, D, H,
                                                  Tmax, nl);
                crec__nn_hstu_attn_forward_d(y2, att2, aw, uvqk, pw, tw, b.bkt, b.seq_off, b.att_off, B, D, H, Tmax,
                                             nl);
                double ey = max_rel(y2, y1, N * D), ez = 0;
                for (int s = 0; s < B; s++) /* the logits on and below the diagonal */
                    for (int h = 0; h < H; h++)
                        for (int t = 0; t < len[s]; t++)
                            for (int t2 = 0; t2 <= t; t2++) {
                                size_t i = (size_t)b.att_off[s] + (size_t)h * len[s] * len[s] + (size_t)t * len[s] + t2;
                                ez = fmax(ez, fabs(att2[i] - att1[i]));
                            }
                for (size_t i = 0; i < N * 4 * D; i++) g1[i] = g2[i] = 0.25 * (double)(i % 7);
                memset(dp1, 0, sizeof dp1), memset(dp2, 0, sizeof dp2), memset(dt1, 0, sizeof dt1);
                memset(dt2, 0, sizeof dt2);
                crec__nn_hstu_attention_backward_d(g1, bias ? dp1 : NULL, bias ? dt1 : NULL, dS, dout, uvqk, att1,
                                                   b.tk, b.tq, b.seq_off, b.att_off, B, D, H, Tmax, nl);
                crec__nn_hstu_attn_backward_d(g2, bias ? dp2 : NULL, bias ? dt2 : NULL, dS, scratch ? bsum : NULL,
                                              dout, uvqk, att2, aw, b.bkt, b.seq_off, b.att_off, B, D, H, Tmax, nl);
                double eg = max_rel(g2, g1, N * 4 * D), ep = max_rel(dp2, dp1, 2 * Tmax - 1),
                       et = max_rel(dt2, dt1, NB);
                print_message("  norm %s, biases %s, scratch %s: out %.1e, logits %.1e, d(uvqk) %.1e, dpos %.1e, "
                              "dtime %.1e\n",
                              nl ? "len" : "max_len", bias ? "on" : "off", scratch ? "yes" : "no", ey, ez, eg, ep, et);
                assert_true(ey < 1e-12 && ez < 1e-12 && eg < 1e-12 && ep < 1e-12 && et < 1e-12);
                if (bias) {
                    int used = 0;
                    for (int k = 0; k < NB; k++) used += dt1[k] != 0;
                    assert_true(used >= 10); /* the times spread over many buckets */
                }
            }
    /* float, through the float BLAS and exp, against the double reference */
    float *uf = malloc(N * 4 * D * sizeof *uf), *yf = malloc(N * D * sizeof *yf), *af = malloc(A * sizeof *af);
    float *awf = malloc(A * sizeof *awf), *dSf = malloc(A * sizeof *dSf), *dof = malloc(N * D * sizeof *dof);
    float *gf = calloc(N * 4 * D, sizeof *gf), *bsf = malloc(crec__nn_hstu_bias_scratch(B, H, Tmax) * sizeof *bsf);
    float pf[2 * 200 - 1], tf[CREC_NN_HSTU_BUCKETS], dpf[2 * 200 - 1] = {0}, dtf[CREC_NN_HSTU_BUCKETS] = {0};
    for (size_t i = 0; i < N * 4 * D; i++) uf[i] = (float)uvqk[i];
    for (size_t i = 0; i < N * D; i++) dof[i] = (float)dout[i];
    for (int i = 0; i < 2 * Tmax - 1; i++) pf[i] = (float)pos[i];
    for (int i = 0; i < NB; i++) tf[i] = (float)tsw[i];
    crec__nn_hstu_attention_forward_d(y1, att1, uvqk, pos, tsw, b.tk, b.tq, b.seq_off, b.att_off, B, D, H, Tmax, 1);
    crec__nn_hstu_attn_forward(yf, af, awf, uf, pf, tf, b.bkt, b.seq_off, b.att_off, B, D, H, Tmax, 1);
    memset(g1, 0, N * 4 * D * sizeof *g1), memset(dp1, 0, sizeof dp1), memset(dt1, 0, sizeof dt1);
    crec__nn_hstu_attention_backward_d(g1, dp1, dt1, dS, dout, uvqk, att1, b.tk, b.tq, b.seq_off, b.att_off, B, D, H,
                                       Tmax, 1);
    crec__nn_hstu_attn_backward(gf, dpf, dtf, dSf, bsf, dof, uf, af, awf, b.bkt, b.seq_off, b.att_off, B, D, H, Tmax,
                                1);
    for (size_t i = 0; i < N * D; i++) y2[i] = yf[i];
    double ef = max_rel(y2, y1, N * D);
    for (size_t i = 0; i < N * 4 * D; i++) g2[i] = gf[i];
    double egf = max_rel(g2, g1, N * 4 * D);
    for (int i = 0; i < 2 * Tmax - 1; i++) dp2[i] = dpf[i];
    for (int i = 0; i < NB; i++) dt2[i] = dtf[i];
    double epf = max_rel(dp2, dp1, 2 * Tmax - 1), etf = max_rel(dt2, dt1, NB);
    print_message("  float: out %.1e, d(uvqk) %.1e, dpos %.1e, dtime %.1e\n", ef, egf, epf, etf);
    assert_true(ef < 1e-5 && egf < 1e-5 && epf < 1e-5 && etf < 1e-5);
    free(uf), free(yf), free(af), free(awf), free(dSf), free(dof), free(gf), free(bsf);
    free(uvqk), free(dout), free(y1), free(y2), free(att1), free(att2), free(aw), free(dS), free(bsum), free(g1),
        free(g2);
    batch_free(&b);
}

/* ---- finite differences through the tiled kernels ---- */

enum { FD = 4, FH = 2, FT = 70 };
static const int FLEN[2] = {3, 70};

typedef struct fin {
    double uvqk[73 * 4 * FD], pos[2 * FT - 1], tsw[CREC_NN_HSTU_BUCKETS];
} fin;

static double fd_run(const fin *p, const double *Rw, const batch *b, int nl, fin *g) {
    size_t N = (size_t)b->N, A = (size_t)b->att_off[b->B];
    double *y = malloc(N * FD * sizeof *y), *att = malloc(A * sizeof *att), *aw = malloc(A * sizeof *aw);
    crec__nn_hstu_attn_forward_d(y, att, aw, p->uvqk, p->pos, p->tsw, b->bkt, b->seq_off, b->att_off, b->B, FD, FH, FT,
                                 nl);
    double loss = 0;
    for (size_t i = 0; i < N * FD; i++) loss += y[i] * Rw[i];
    if (g) {
        double *dS = malloc(A * sizeof *dS), *bsum = malloc(crec__nn_hstu_bias_scratch(b->B, FH, FT) * sizeof *bsum);
        memset(g, 0, sizeof *g);
        crec__nn_hstu_attn_backward_d(g->uvqk, g->pos, g->tsw, dS, bsum, Rw, p->uvqk, att, aw, b->bkt, b->seq_off,
                                      b->att_off, b->B, FD, FH, FT, nl);
        free(dS), free(bsum);
    }
    free(y), free(att), free(aw);
    return loss;
}

static void test_tiled_gradcheck(void **st) {
    (void)st;
    crec_rng r;
    crec__rng_seed(&r, 33);
    batch b;
    batch_make(&b, FLEN, 2, FD, FH, FT, &r);
    assert_int_equal(b.N, 73);
    fin p, g;
    double Rw[73 * FD];
    randn((double *)&p, sizeof p / sizeof(double), 0.5, &r);
    randn(Rw, 73 * FD, 1.0, &r);
    for (int nl = 0; nl < 2; nl++) {
        fd_run(&p, Rw, &b, nl, &g);
        double *pp = (double *)&p, *gg = (double *)&g, worst = 0;
        size_t n = sizeof p / sizeof(double);
        int nonzero = 0;
        for (size_t i = 0; i < n; i++) {
            double p0 = pp[i], eps = 1e-5;
            pp[i] = p0 + eps;
            double lp = fd_run(&p, Rw, &b, nl, NULL);
            pp[i] = p0 - eps;
            double lm = fd_run(&p, Rw, &b, nl, NULL);
            pp[i] = p0;
            double num = (lp - lm) / (2 * eps), e = fabs(num - gg[i]) / fmax(fabs(num), 1e-3);
            worst = fmax(worst, e);
            nonzero += fabs(num) > 1e-9;
        }
        print_message("  tiled attention, norm %s: %zu inputs, %d with a gradient, worst relative error %.2e\n",
                      nl ? "len" : "max_len", n, nonzero, worst);
        assert_true(worst < 1e-6);
        /* u columns get none; q, k, v of every row, the 70 relative positions, several buckets */
        assert_true(nonzero >= 73 * 3 * FD + 70 + 8);
    }
    batch_free(&b);
}

int main(int argc, char **argv) {
    if (argc >= 1 && !getenv("OMP_WAIT_POLICY")) { /* the kernels' parallel regions on a shared machine */
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bucket_fast),
        cmocka_unit_test(test_bucket_matrix),
        cmocka_unit_test(test_tiled_vs_reference),
        cmocka_unit_test(test_tiled_gradcheck),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
