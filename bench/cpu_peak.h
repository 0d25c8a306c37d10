/* cpu_peak.h: the SGEMM rate per CPU-second, for benchmarks on a shared machine.
 *
 * On a machine other processes share, wall-clock GFLOP/s (crec_blas_sgemm_gflops) fall with the load, and a
 * fraction of a peak timed a minute apart reads whatever the load was then. CPU time does not: a thread is charged
 * only while it runs. bench_cpu_sgemm times one single-threaded cblas_sgemm of n x n by the calling thread's CPU
 * clock (best of reps after one warm-up): GFLOP per CPU-second, the reference that a training step's GFLOP per
 * CPU-second (its process CPU time) is compared with. Header-only: each bench that includes it gets a copy. */
#ifndef CREC_BENCH_CPU_PEAK_H
#define CREC_BENCH_CPU_PEAK_H
#include <cblas.h>
#include <stdlib.h>
#include <time.h>

#include "core/util.h"

static double bench_cpu_clock(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* GFLOP per CPU-second of one-thread sgemm at n x n (BLAS must run one thread: crec__nn_blas_single). */
static double bench_cpu_sgemm(int n, int reps) {
    size_t nn = (size_t)n * n;
    float *a = crec__aligned_alloc(nn * sizeof *a), *b = crec__aligned_alloc(nn * sizeof *b),
          *c = crec__aligned_alloc(nn * sizeof *c);
    double best = 1e30;
    if (a && b && c) {
        for (size_t i = 0; i < nn; i++) a[i] = (float)(i % 7) * 0.1f - 0.3f, b[i] = (float)(i % 5) * 0.1f - 0.2f;
        for (int r = 0; r <= reps; r++) {
            double t0 = bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1, a, n, b, n, 0, c, n);
            double t = bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID) - t0;
            if (r && t < best) best = t;
        }
    }
    free(a), free(b), free(c);
    return best < 1e30 ? 2.0 * n * (double)n * n / best / 1e9 : 0;
}
#endif
