/* test_ials_fast.c: the half-step's fast paths (issue 16, third round) against the path before them, on small
 * random problems: the AVX-512 four-entry kernels (the default where the CPU has AVX-512) against the AVX2
 * one-entry kernels (CREC_IALS_LEGACY), and the gathered row layout (CREC_IALS_GATHER: each sub-block's Y rows
 * copied once, then read sequentially) against reading them in place. For fp32 the claim is the same result to
 * float rounding (different summation order in the dot products, different sub-blocks in the Gram product), for
 * fp16 and mixed the same against their own legacy path; the row and scatter layouts both; one row longer than
 * the gather buffer (2 MiB) takes the in-place path, and blocks whose entries exceed it are split. Many CG steps
 * converge to the Cholesky solution with every flag. On a CPU without AVX-512 the flags select the same kernels
 * and the comparisons hold trivially. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <lapacke.h>
#include <math.h>

#include "core/util.h"
#include "crec/crec.h"
#include "models/ials.h"
#include "testutil.h"

typedef struct problem {
    int d, ld, ny, nr;
    float *Y, *G, *X0;
    int64_t *ptr, *tptr;
    int32_t *idx, *tidx;
    float *w, *t, *tw, *tt, *lam;
    crec_ials_rows rows, trows;
} problem;

/* nr rows over ny items: row r has about dens * ny random items (row 3: all ny, longer than the gather buffer
 * when ny * ld * 4 > 2 MiB), weights w, t as in weighting=hu; its transpose for the scatter layout. */
static void make(problem *p, int d, int ny, int nr, double dens, uint64_t seed) {
    memset(p, 0, sizeof *p);
    p->d = d, p->ld = (d + 15) & ~15, p->ny = ny, p->nr = nr;
    int ld = p->ld;
    crec_rng r;
    crec__rng_seed(&r, seed);
    p->Y = crec__aligned_alloc((size_t)ny * ld * sizeof *p->Y);
    p->G = crec__aligned_alloc((size_t)ld * ld * sizeof *p->G);
    p->X0 = crec__aligned_alloc((size_t)nr * ld * sizeof *p->X0);
    for (int k = 0; k < ny; k++)
        for (int j = 0; j < d; j++) p->Y[(size_t)k * ld + j] = (float)(crec__rng_normal(&r) * 0.1);
    for (int q = 0; q < nr; q++)
        for (int j = 0; j < d; j++) p->X0[(size_t)q * ld + j] = (float)(crec__rng_normal(&r) * 0.1);
    assert_int_equal(crec__ials_gram(p->Y, ny, ld, p->G, 2), 0);
    p->ptr = calloc((size_t)nr + 1, sizeof *p->ptr);
    size_t cap = (size_t)nr * ny;
    p->idx = malloc(cap * sizeof *p->idx);
    p->w = malloc(cap * sizeof *p->w), p->t = malloc(cap * sizeof *p->t), p->lam = malloc((size_t)nr * sizeof *p->lam);
    int64_t o = 0;
    for (int q = 0; q < nr; q++) {
        for (int k = 0; k < ny; k++)
            if (q == 3 || crec__rng_uniform(&r) < dens) {
                p->idx[o] = k;
                p->w[o] = (float)(0.5 + 1.5 * crec__rng_uniform(&r));
                p->t[o] = (float)(1.0 + 2.0 * crec__rng_uniform(&r));
                o++;
            }
        p->ptr[q + 1] = o;
        p->lam[q] = (float)(0.1 + 0.2 * crec__rng_uniform(&r));
    }
    p->rows = (crec_ials_rows){nr, ny, p->ptr, p->idx, p->w, p->t, p->lam};
    p->tptr = calloc((size_t)ny + 1, sizeof *p->tptr);
    p->tidx = malloc(((size_t)o + 1) * sizeof *p->tidx);
    p->tw = malloc(((size_t)o + 1) * sizeof *p->tw), p->tt = malloc(((size_t)o + 1) * sizeof *p->tt);
    for (int64_t q = 0; q < o; q++) p->tptr[p->idx[q] + 1]++;
    for (int k = 0; k < ny; k++) p->tptr[k + 1] += p->tptr[k];
    int64_t *fill = malloc(((size_t)ny + 1) * sizeof *fill);
    memcpy(fill, p->tptr, (size_t)ny * sizeof *fill);
    for (int q = 0; q < nr; q++)
        for (int64_t e = p->ptr[q]; e < p->ptr[q + 1]; e++) {
            int64_t f = fill[p->idx[e]]++;
            p->tidx[f] = q, p->tw[f] = p->w[e], p->tt[f] = p->t[e];
        }
    free(fill);
    p->trows = (crec_ials_rows){ny, nr, p->tptr, p->tidx, p->tw, p->tt, NULL};
}

static void unmake(problem *p) {
    free(p->Y), free(p->G), free(p->X0), free(p->ptr), free(p->tptr), free(p->idx), free(p->tidx);
    free(p->w), free(p->t), free(p->tw), free(p->tt), free(p->lam);
}

/* X = X0 after `calls` half-steps of `steps` CG steps with these flags. */
static float *solve(const problem *p, int flags, int scatter, int steps, int calls, int block) {
    size_t n = (size_t)p->nr * p->ld;
    float *X = crec__aligned_alloc(n * sizeof *X);
    memcpy(X, p->X0, n * sizeof *X);
    for (int c = 0; c < calls; c++)
        assert_int_equal(crec__ials_solve_side_prec(X, p->Y, p->ld, p->G, 0.3f, &p->rows, scatter ? &p->trows : NULL,
                                                    steps, scatter ? -block : block, 2, flags),
                         0);
    return X;
}

/* max |A - B| / max |B| over the rows' first d columns; the padding columns of A must be zero. */
static double rel_diff(const problem *p, const float *A, const float *B) {
    double e = 0, mx = 0;
    for (int q = 0; q < p->nr; q++) {
        for (int j = 0; j < p->d; j++) {
            size_t o = (size_t)q * p->ld + j;
            e = fmax(e, fabs((double)A[o] - B[o]));
            mx = fmax(mx, fabs((double)B[o]));
        }
        for (int j = p->d; j < p->ld; j++) assert_true(A[(size_t)q * p->ld + j] == 0);
    }
    return mx > 0 ? e / mx : e;
}

/* Every flag combination against the legacy path of its precision, 3 CG steps x 2 calls (as training). */
static void check_against_legacy(const problem *p, int block) {
    static const char *PN[] = {"fp32", "mixed", "fp16"};
    for (int prec = 0; prec < 3; prec++) {
        float *ref = solve(p, prec | CREC_IALS_LEGACY, 0, 3, 2, block);
        const int flags[] = {0, CREC_IALS_GATHER, CREC_IALS_GATHER | CREC_IALS_LEGACY};
        for (int f = 0; f < 3; f++) {
            float *X = solve(p, prec | flags[f], 0, 3, 2, block);
            double e = rel_diff(p, X, ref);
            print_message("d %d %s flags %d: max rel diff to legacy %.3g\n", p->d, PN[prec], flags[f], e);
            if (!(e < 2e-5)) fail_msg("d %d %s flags %d: %.3g from the legacy path", p->d, PN[prec], flags[f], e);
            free(X);
        }
        free(ref);
    }
    /* the scatter layout (fp32 rows): AVX-512 scatter against the legacy one */
    float *ref = solve(p, CREC_IALS_LEGACY, 1, 3, 2, 5), *X = solve(p, 0, 1, 3, 2, 5);
    double e = rel_diff(p, X, ref);
    print_message("d %d scatter layout: %.3g\n", p->d, e);
    if (!(e < 2e-5)) fail_msg("d %d scatter layout: %.3g from the legacy path", p->d, e);
    free(ref), free(X);
}

static void test_fast_paths_match_legacy(void **st) {
    (void)st;
    problem p;
    make(&p, 40, 300, 70, 0.2, 11); /* ld 48: the AVX-512 loops' 16-column tail */
    check_against_legacy(&p, 16);
    unmake(&p);
    make(&p, 64, 200, 50, 0.3, 12);
    check_against_legacy(&p, 0);
    unmake(&p);
}

/* A row longer than the 2 MiB buffer (11,000 entries x 48 floats) and a block whose entries exceed it: the
 * gathered layout splits the block into sub-blocks and solves the long row in place; still the legacy result. */
static void test_gather_splits(void **st) {
    (void)st;
    problem p;
    make(&p, 48, 11000, 24, 0.1, 13); /* row 3: 11,000 entries; the others ~1,100 each */
    for (int prec = 0; prec < 3; prec += 2) {
        float *ref = solve(&p, prec | CREC_IALS_LEGACY, 0, 3, 2, 0), *X = solve(&p, prec | CREC_IALS_GATHER, 0, 3, 2, 0);
        double e = rel_diff(&p, X, ref);
        print_message("long row, prec %d: %.3g\n", prec, e);
        if (!(e < 2e-5)) fail_msg("long row, prec %d: %.3g from the legacy path", prec, e);
        free(ref), free(X);
    }
    unmake(&p);
}

/* Many steps: every path reaches the Cholesky solution of each row's system. */
static void test_fast_paths_converge(void **st) {
    (void)st;
    problem p;
    make(&p, 40, 200, 40, 0.25, 14);
    int D = p.d, LD = p.ld;
    double *sol = malloc((size_t)p.nr * D * sizeof *sol), *a = malloc((size_t)D * D * sizeof *a);
    for (int q = 0; q < p.nr; q++) {
        double *b = sol + (size_t)q * D;
        for (int i = 0; i < D; i++) {
            b[i] = 0;
            for (int j = 0; j < D; j++) a[i * D + j] = 0.3 * (double)p.G[i * LD + j] + (i == j ? p.lam[q] : 0);
        }
        for (int64_t e = p.ptr[q]; e < p.ptr[q + 1]; e++) {
            const float *y = p.Y + (size_t)p.idx[e] * LD;
            for (int i = 0; i < D; i++) {
                b[i] += p.t[e] * (double)y[i];
                for (int j = 0; j < D; j++) a[i * D + j] += p.w[e] * (double)y[i] * y[j];
            }
        }
        assert_int_equal(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'L', D, 1, a, D, b, 1), 0);
    }
    const int flags[] = {0, CREC_IALS_GATHER, 2 | CREC_IALS_GATHER, 1 | CREC_IALS_GATHER};
    const double tol[] = {1e-4, 1e-4, 5e-3, 1e-4};
    for (int f = 0; f < 4; f++) {
        float *X = solve(&p, flags[f], 0, 8, 6, 16);
        double worst = 0;
        for (int q = 0; q < p.nr; q++) {
            double mx = 0, e = 0;
            for (int i = 0; i < D; i++) mx = fmax(mx, fabs(sol[(size_t)q * D + i]));
            for (int i = 0; i < D; i++) e = fmax(e, fabs(X[(size_t)q * LD + i] - sol[(size_t)q * D + i]));
            worst = fmax(worst, e / mx);
        }
        print_message("flags %d: max relative error against Cholesky %.3g\n", flags[f], worst);
        if (!(worst < tol[f])) fail_msg("flags %d: %.3g from the Cholesky solution", flags[f], worst);
        free(X);
    }
    free(sol), free(a);
    unmake(&p);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fast_paths_match_legacy),
        cmocka_unit_test(test_gather_splits),
        cmocka_unit_test(test_fast_paths_converge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
