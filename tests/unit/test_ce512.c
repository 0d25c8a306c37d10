/* test_ce512.c: the fused full-catalogue CE with AVX-512 tiles (src/nn/ce512.c) against the double-precision fused
 * kernel (itself checked against brute force, the two-pass kernel and finite differences in test_nn.c) and against
 * the float kernel with OpenBLAS products, on shapes that reach every tile edge: rows not a multiple of 8 (logits)
 * or 4 (E W_c), items not a multiple of 16 (the last panel) or 4 (item-gradient tiles), widths 16, 48, 64, 80 and
 * 128 (tiles of 4 vectors plus single-vector ones), several row blocks and slabs, item chunks that are not whole
 * panels (rounded up) and dW ranges of 256 items, rows without a target, logits up to ~+-90 (the exponential's
 * clamp and the running max). Then: the same bits at 1, 2 and 3 threads; the loss alone equals the loss with
 * gradients. Skips where the CPU has no AVX-512 (the kernel is then never used). Then the AMX bf16 variant
 * (crec__nn_ce_amx) within bf16's precision, with the same thread and loss-alone checks, and through a loss head;
 * skipped where the CPU or Linux provides no AMX. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "nn/ce512.h"
#include "nn/nn.h"

static crec_rng rng;

/* Max over i of |f - d| / max(1, |d|) */
static double rel(const float *f, const double *d, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs(f[i] - d[i]) / fmax(1.0, fabs(d[i])));
    return w;
}

typedef struct {
    int N, D, NI, rb, ic;
    double scale; /* of h and W: logits up to about scale^2 D / 3 */
} shape;

static double run_f(float *dh, float *dW, const float *h, const float *W, const int32_t *p, const shape *s, int simd,
                    int threads) {
    float *scr = crec__aligned_alloc(crec__nn_ce_fused_floats(s->NI, s->D, s->rb, s->ic) * sizeof *scr);
    assert_non_null(scr);
    int nt = omp_get_max_threads(), prev = crec__nn_ce512;
    omp_set_num_threads(threads);
    crec__nn_ce512 = simd;
    if (dh) memset(dh, 0, (size_t)s->N * s->D * sizeof *dh);
    if (dW) memset(dW, 0, (size_t)s->NI * s->D * sizeof *dW);
    double l = crec__nn_softmax_ce_fused(dh, dW, scr, h, W, p, s->N, s->D, s->NI, s->rb, s->ic, 0.25f);
    crec__nn_ce512 = prev;
    omp_set_num_threads(nt);
    free(scr);
    return l;
}

/* A case: random h and W (and their double copies), targets with some rows without one and one in the last
 * partial panel, and the double fused kernel's loss and gradients (same blocking, exact exp) as the reference. */
typedef struct {
    size_t nh, nw;
    float *h, *W;
    double *hd, *Wd, *dhd, *dWd, *sd, ld;
    int32_t *p;
} problem;

static void problem_make(problem *q, const shape *s) {
    int N = s->N, D = s->D, NI = s->NI;
    q->nh = (size_t)N * D, q->nw = (size_t)NI * D;
    q->hd = malloc(q->nh * sizeof *q->hd), q->Wd = malloc(q->nw * sizeof *q->Wd);
    q->h = malloc(q->nh * sizeof *q->h), q->W = malloc(q->nw * sizeof *q->W);
    q->p = malloc((size_t)N * sizeof *q->p);
    for (size_t i = 0; i < q->nh; i++)
        q->h[i] = (float)(s->scale * (2 * crec__rng_uniform(&rng) - 1)), q->hd[i] = q->h[i];
    for (size_t i = 0; i < q->nw; i++)
        q->W[i] = (float)(s->scale * (2 * crec__rng_uniform(&rng) - 1)), q->Wd[i] = q->W[i];
    for (int n = 0; n < N; n++) q->p[n] = n % 13 == 5 ? -1 : (int32_t)crec__rng_below(&rng, (uint64_t)NI);
    q->p[N - 1] = NI - 1; /* a target in the last, partial panel */
    q->sd = calloc(crec__nn_ce_fused_floats(NI, D, s->rb, s->ic), sizeof *q->sd);
    q->dhd = calloc(q->nh, sizeof *q->dhd), q->dWd = calloc(q->nw, sizeof *q->dWd);
    q->ld = crec__nn_softmax_ce_fused_d(q->dhd, q->dWd, q->sd, q->hd, q->Wd, q->p, N, D, NI, s->rb, s->ic, 0.25);
}

static void problem_free(problem *q) {
    free(q->hd), free(q->Wd), free(q->h), free(q->W), free(q->p), free(q->sd), free(q->dhd), free(q->dWd);
}

/* The same bits at 2 and 3 threads as (l1, dh1, dW1) at one; the loss alone equals the loss with gradients. */
static void check_threads(const problem *q, const shape *s, double l1, const float *dh1, const float *dW1) {
    float *dh = malloc(q->nh * sizeof(float)), *dW = malloc(q->nw * sizeof(float));
    for (int t = 2; t <= 3; t++) {
        double lt = run_f(dh, dW, q->h, q->W, q->p, s, 1, t);
        assert_true(lt == l1);
        assert_memory_equal(dh1, dh, q->nh * sizeof(float));
        assert_memory_equal(dW1, dW, q->nw * sizeof(float));
    }
    assert_true(run_f(NULL, NULL, q->h, q->W, q->p, s, 1, 2) == l1);
    free(dh), free(dW);
}

static void check_shape(const shape *s) {
    problem q;
    problem_make(&q, s);
    size_t nh = q.nh, nw = q.nw;
    float *dh[2], *dW[2];
    for (int k = 0; k < 2; k++) dh[k] = malloc(nh * sizeof(float)), dW[k] = malloc(nw * sizeof(float));
    double lb = run_f(dh[0], dW[0], q.h, q.W, q.p, s, 0, 2); /* OpenBLAS products */
    double l1 = run_f(dh[1], dW[1], q.h, q.W, q.p, s, 1, 1); /* AVX-512 tiles, 1 thread */
    double eb = fmax(fabs(lb - q.ld) / fabs(q.ld), fmax(rel(dh[0], q.dhd, nh), rel(dW[0], q.dWd, nw)));
    double el = fabs(l1 - q.ld) / fabs(q.ld), eh = rel(dh[1], q.dhd, nh), ew = rel(dW[1], q.dWd, nw);
    print_message("  N %d D %d I %d rb %d ic %d scale %.1f: vs double, loss %.1e dh %.1e dW %.1e (OpenBLAS path "
                  "%.1e)\n",
                  s->N, s->D, s->NI, s->rb, s->ic, s->scale, el, eh, ew, eb);
    assert_true(el < 1e-5 && eh < 1e-5 && ew < 1e-5);
    check_threads(&q, s, l1, dh[1], dW[1]);
    for (int k = 0; k < 2; k++) free(dh[k]), free(dW[k]);
    problem_free(&q);
}

static void test_ce512_matches(void **st) {
    (void)st;
    if (!crec__nn_ce512_ok(16)) {
        print_message("  this CPU has no AVX-512: the kernel is not used here\n");
        skip();
    }
    const shape cases[] = {
        {37, 16, 301, 37, 301, 1.5},    /* one block, one chunk, 19 panels (last of 13 items) */
        {300, 64, 1000, 256, 200, 1.0}, /* 2 blocks of 150 rows (2 slabs), chunks of 208 items (rounded) */
        {140, 48, 700, 200, 600, 1.5},  /* 3 single-vector tiles per row; chunks of 600 in dW ranges of 256 */
        {129, 80, 517, 64, 1024, 1.0},  /* 64 + 16 dims; 3 blocks of 43 rows; one chunk */
        {61, 128, 259, 61, 130, 0.9},   /* two 64-dim tiles; chunks of 144 */
        {45, 64, 333, 45, 333, 2.5},    /* logits of +-70: gaps to the row max past the clamp (87) */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) check_shape(&cases[k]);
}

static void test_ce512_ok(void **st) {
    (void)st;
    int prev = crec__nn_ce512;
    crec__nn_ce512 = 1;
    assert_false(crec__nn_ce512_ok(50)); /* widths that are not whole vectors take the OpenBLAS path */
    assert_false(crec__nn_ce512_ok(8));
    assert_false(crec__nn_ce512_ok(0));
    crec__nn_ce512 = 0;
    assert_false(crec__nn_ce512_ok(64));
    crec__nn_ce512 = prev;
    assert_int_equal(crec__nn_ce512_floats(17, 64), 32 * 64);
}

/* The AMX bf16 variant (crec__nn_ce_amx): logits from split bf16 (hi + lo) operands, bf16 probabilities, float
 * sums. Against the double kernel: the loss to 1e-5 relative, each gradient to 5e-3 of its largest entry (bf16's
 * precision); the same bits at 1, 2 and 3 threads; the loss alone equals the loss with gradients. Shapes that
 * reach the padding: rows not a multiple of 32, items not a multiple of 32, chunks, several row blocks, widths 32,
 * 64 and 96. */
static double maxabs_d(const double *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}
static double maxdiff(const float *f, const double *d, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(f[i] - d[i]));
    return m;
}
static void check_amx(const shape *s) {
    problem q;
    problem_make(&q, s);
    float *dh = malloc(q.nh * sizeof(float)), *dW = malloc(q.nw * sizeof(float));
    crec__nn_ce_amx = 1;
    double l1 = run_f(dh, dW, q.h, q.W, q.p, s, 1, 1);
    double el = fabs(l1 - q.ld) / fabs(q.ld), eh = maxdiff(dh, q.dhd, q.nh) / maxabs_d(q.dhd, q.nh),
           ew = maxdiff(dW, q.dWd, q.nw) / maxabs_d(q.dWd, q.nw);
    print_message("  AMX: N %d D %d I %d rb %d ic %d: vs double, loss %.1e dh %.1e dW %.1e (of the largest)\n",
                  s->N, s->D, s->NI, s->rb, s->ic, el, eh, ew);
    assert_true(el < 1e-5 && eh < 5e-3 && ew < 5e-3);
    check_threads(&q, s, l1, dh, dW);
    crec__nn_ce_amx = 0;
    crec__nn_ce_amx_free();
    free(dh), free(dW);
    problem_free(&q);
}

static void test_ce_amx_matches(void **st) {
    (void)st;
    if (!crec__nn_ce_amx_available(64)) {
        print_message("  no AMX here (the CPU lacks it or Linux does not grant the tile state): not used\n");
        skip();
    }
    const shape cases[] = {
        {37, 32, 301, 37, 301, 1.5},    /* one block, one chunk; rows and items padded */
        {300, 64, 1000, 256, 200, 1.0}, /* 2 blocks of 150 rows, chunks of 224 items (rounded to 32) */
        {129, 96, 517, 64, 1024, 1.0},  /* 3 blocks of 43 rows; 96 = three 32-dim steps */
        {45, 64, 333, 45, 333, 2.5},    /* logits of +-70 */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) check_amx(&cases[k]);
}

/* A loss head with bf16 set (a model's ce_precision=bf16) takes the AMX path for its call only: the same bits as
 * the kernel called with the switch on, the float bits with it off, and the caller's switch left as it was. */
static void test_ce_amx_head(void **st) {
    (void)st;
    if (!crec__nn_ce_amx_available(64)) skip();
    shape s = {300, 64, 1000, 0, 0, 1.0};
    size_t nh = (size_t)s.N * s.D, nw = (size_t)s.NI * s.D;
    float *h = malloc(nh * sizeof *h), *W = malloc(nw * sizeof *W), *dh = calloc(nh, 4), *dW = calloc(nw, 4);
    float *dh2 = malloc(nh * 4), *dW2 = malloc(nw * 4);
    int32_t *p = malloc((size_t)s.N * sizeof *p);
    for (size_t i = 0; i < nh; i++) h[i] = (float)(2 * crec__rng_uniform(&rng) - 1);
    for (size_t i = 0; i < nw; i++) W[i] = (float)(2 * crec__rng_uniform(&rng) - 1);
    for (int n = 0; n < s.N; n++) p[n] = (int32_t)crec__rng_below(&rng, (uint64_t)s.NI);
    for (int bf = 0; bf <= 1; bf++) {
        crec_nn_head hd;
        crec_nn_head_cfg c = {.loss = CREC_NN_LOSS_CE, .bf16 = bf};
        assert_int_equal(crec__nn_head_init(&hd, &c, s.NI, s.D, s.N, NULL), 0);
        memset(dh, 0, nh * 4), memset(dW, 0, nw * 4);
        double l = crec__nn_head_loss(&hd, dh, dW, h, W, p, s.N, 0.25f);
        assert_int_equal(crec__nn_ce_amx, 0); /* restored */
        s.rb = hd.ce_rb, s.ic = CREC_NN_CE_IC;
        crec__nn_ce_amx = bf;
        double l2 = run_f(dh2, dW2, h, W, p, &s, 1, omp_get_max_threads());
        crec__nn_ce_amx = 0;
        assert_true(l == l2);
        assert_memory_equal(dh, dh2, nh * 4);
        assert_memory_equal(dW, dW2, nw * 4);
        crec__nn_head_free(&hd);
    }
    free(h), free(W), free(dh), free(dW), free(dh2), free(dW2), free(p);
}

int main(void) {
    crec__rng_seed(&rng, 512);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ce512_ok),
        cmocka_unit_test(test_ce512_matches),
        cmocka_unit_test(test_ce_amx_matches),
        cmocka_unit_test(test_ce_amx_head),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
