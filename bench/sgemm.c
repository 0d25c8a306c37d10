/* sgemm.c: which OpenBLAS kernel crec runs, why, and its single-precision GEMM rate.
 *
 * Calls crec_blas_setup like the crec program (so it may re-execute itself once with a better
 * OPENBLAS_CORETYPE), checks cblas_sgemm against a naive double-precision product at n=256, then times
 * n = 256, 512, 1024, 2048 (best of reps). Compare kernels with e.g. OPENBLAS_CORETYPE=Sandybridge
 * (the environment is respected) and CREC_BLAS_AUTO=0 (OpenBLAS's own detection). Then, on x86-64 with AVX-512, the
 * ceiling no kernel passes: 512-bit FMAs on 12 independent registers, nothing else, one loop per thread (and the
 * same for AVX-512 BF16's vdpbf16ps, 2 products per lane, and for AMX's bf16 tile product, where the CPU and the OS
 * provide them), as a ratio to the n = 1024 rate.
 * Results: docs/BLAS.md.
 *
 *   usage: bench_sgemm [reps]      (default 5) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "core/util.h"
#include "cpu_peak.h"
#include "crec/blas.h"

/* Max over entries of |C - ref| / sum_k |a_ik b_kj| (ref in double), for row-major n x n matrices. */
static double check(int n, const float *a, const float *b, const float *c) {
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            double s = 0, mag = 0;
            for (int k = 0; k < n; k++) {
                double t = (double)a[(size_t)i * n + k] * b[(size_t)k * n + j];
                s += t, mag += fabs(t);
            }
            double e = mag > 0 ? fabs(c[(size_t)i * n + j] - s) / mag : fabs(c[(size_t)i * n + j]);
            if (e > worst) worst = e;
        }
    return worst;
}

int main(int argc, char **argv) {
    crec_blas_setup(argc, argv);
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    if (reps < 1 || reps > 1000 || argc > 2) return bench_usage(argv[1], "usage: %s [reps 1..1000]\n", argv[0]);
    char why[256] = "";
    const char *choice = crec_blas_choice(why, sizeof why);
    const char *env = choice ? NULL : getenv("OPENBLAS_CORETYPE"); /* crec's own pick needs no variable */
    printf("kernel:  %s\n", crec_blas_corename());
    printf("config:  %s\n", crec_blas_config());
    printf("choice:  %s - %s\n", choice ? choice : "(unchanged)", why);
    printf("threads: %d\n", crec_blas_threads());

    /* correctness first: a kernel that is fast and wrong is not timed */
    int n = 256;
    size_t nn = (size_t)n * n;
    float *a = crec__aligned_alloc(nn * sizeof *a), *b = crec__aligned_alloc(nn * sizeof *b),
          *c = crec__aligned_alloc(nn * sizeof *c);
    if (!a || !b || !c) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    crec_rng r;
    crec__rng_seed(&r, 7);
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)(2 * crec__rng_uniform(&r) - 1);
        b[i] = (float)(2 * crec__rng_uniform(&r) - 1);
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double err = check(n, a, b, c);
    free(a), free(b), free(c);
    printf("check:   n=256 max relative error vs naive (double) %.2e %s\n", err, err < 1e-5 ? "ok" : "FAILED");
    if (!(err < 1e-5)) return 1;

    printf("%6s %10s %10s\n", "n", "GFLOP/s", "ms");
    static const int sizes[] = {256, 512, 1024, 2048};
    double g1024 = 0;
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        int m = sizes[k];
        double g = crec_blas_sgemm_gflops(m, reps);
        if (g < 0) {
            fprintf(stderr, "n=%d: %s\n", m, crec_strerror((int)g));
            return 1;
        }
        printf("%6d %10.1f %10.2f\n", m, g, 2.0 * m * m * m / (g * 1e9) * 1e3);
        if (m == 1024) g1024 = g;
    }
    int nt = crec_blas_threads();
    double f = bench_fma_ceiling(BENCH_CEIL_FMA, nt);
    if (f > 0) {
        printf("ceiling: 512-bit FMAs alone, %d threads: %.1f GFLOP/s; sgemm n=1024 reaches %.0f%% of it\n", nt, f,
               100 * g1024 / f);
        double h = bench_fma_ceiling(BENCH_CEIL_BF16, nt), x = bench_fma_ceiling(BENCH_CEIL_AMX, nt);
        if (h > 0)
            printf("ceiling: vdpbf16ps alone (bf16 products, float sums), %d threads: %.1f GFLOP/s = %.2fx the "
                   "FMAs\n",
                   nt, h, h / f);
        if (x > 0)
            printf("ceiling: AMX tdpbf16ps alone (bf16 tiles, float sums), %d threads: %.1f GFLOP/s = %.2fx the "
                   "FMAs\n",
                   nt, x, x / f);
    }
    printf("reproduce: %s%s%sOPENBLAS_NUM_THREADS=%d %s %d\n", env ? "OPENBLAS_CORETYPE=" : "", env ? env : "",
           env ? " " : "", crec_blas_threads(), argv[0], reps);
    return 0;
}
