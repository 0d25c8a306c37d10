/* ce_loss.c: the full-catalogue softmax cross-entropy (forward + both gradients) alone, at SASRec-on-Beauty shapes,
 * against the SGEMM peak measured in the same run: the blocked two-pass kernel (crec__nn_softmax_ce_loss, logits
 * of up to 1024 rows x the catalogue kept between five passes), the fused one (crec__nn_softmax_ce_fused) with its
 * products in OpenBLAS, and the same with its products as AVX-512 tiles (ce512.c; only where the CPU has AVX-512 and
 * D is a multiple of 16), in turn, as training runs them (BLAS one thread, the rows shared among OpenMP's threads). Prints wall and CPU
 * seconds per call, GFLOP/s (3 products of N x I x D, 2 flops each), the fraction of the peak, and the largest
 * difference between the two kernels' loss and gradients.
 *
 *   usage: bench_ce_loss [--rows 1460] [--items 12101] [--dim 64] [--reps 10] [--threads 2] [--only 1|2|3|4] [--ic C]
 * (1460 rows: a batch of 256 Beauty users' windows; 12,101 items: Beauty's catalogue; --ic: the fused kernel's item
 * chunk, default CREC_NN_CE_IC; --only k: time kernel k alone, 1 two-pass, 2 fused (OpenBLAS), 3 fused (AVX-512), 4 fused (AMX bf16, where the CPU and Linux provide AMX), for a profiler.) CPU time is
 * the process's: the figure to read on a shared machine, against one-thread SGEMM per CPU-second (cpu_peak.h),
 * also measured here. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "crec/blas.h"
#include "cpu_peak.h"
#include "nn/ce512.h"
#include "nn/nn.h"

static double cpu_now(void) { return bench_cpu_clock(CLOCK_PROCESS_CPUTIME_ID); }

int main(int argc, char **argv) {
    argc = bench_wait_policy(argc, argv); /* --wait passive|default|active (cpu_peak.h) */
    crec_blas_setup(argc, argv);
    int N = 1460, NI = 12101, D = 64, reps = 10, threads = 2, only = 0, fic = CREC_NN_CE_IC;
    for (int i = 1; i < argc; i++) {
        int *dst = !strcmp(argv[i], "--rows")      ? &N
                   : !strcmp(argv[i], "--items")   ? &NI
                   : !strcmp(argv[i], "--dim")     ? &D
                   : !strcmp(argv[i], "--reps")    ? &reps
                   : !strcmp(argv[i], "--threads") ? &threads
                   : !strcmp(argv[i], "--only")    ? &only
                   : !strcmp(argv[i], "--ic")      ? &fic
                                                   : NULL;
        if (!dst || i + 1 >= argc || (*dst = atoi(argv[++i])) < 1) {
            return bench_usage(argv[i],
                               "usage: %s [--rows N] [--items I] [--dim D] [--reps R] [--threads T] [--wait P] [--only "
                               "1|2|3|4] [--ic chunk] (all >= 1)\n",
                               argv[0]);
        }
    }
    crec_rng r;
    crec__rng_seed(&r, 7);
    float *h = crec__aligned_alloc((size_t)N * D * sizeof *h), *W = crec__aligned_alloc((size_t)NI * D * sizeof *W);
    float *dh[4], *dW[4], *scr[4];
    int32_t *pos = malloc((size_t)N * sizeof *pos);
    int rb, ic;
    size_t s0 = crec__nn_ce_blocks(NI, &rb, &ic), s1 = crec__nn_ce_fused_floats(NI, D, rb, fic);
    int amx = crec__nn_ce_amx_available(D);
    int nk = crec__nn_ce512_ok(D) ? 3 + amx : 2; /* the AVX-512 kernel where it runs, the AMX one where it does */
    for (int k = 0; k < 4; k++) {
        dh[k] = crec__aligned_alloc((size_t)N * D * sizeof(float));
        dW[k] = crec__aligned_alloc((size_t)NI * D * sizeof(float));
        scr[k] = crec__aligned_alloc((k ? s1 : s0) * sizeof(float));
        if (!dh[k] || !dW[k] || !scr[k]) return 1;
    }
    if (!h || !W || !pos) return 1;
    for (size_t i = 0; i < (size_t)N * D; i++) h[i] = (float)crec__rng_normal(&r);
    for (size_t i = 0; i < (size_t)NI * D; i++) W[i] = (float)(0.3 * crec__rng_normal(&r));
    for (int n = 0; n < N; n++) pos[n] = n % 97 == 5 ? -1 : (int32_t)crec__rng_below(&r, (uint64_t)NI);
    /* BLAS on one thread, then OpenMP's count (in the other order every kernel here ran on one thread) */
    crec_nn_threads th = crec__nn_threads_enter(threads);
    double flops = 3.0 * 2.0 * N * (double)NI * D, best[4] = {1e30, 1e30, 1e30, 1e30}, cpu[4] = {0, 0, 0, 0},
           loss[4] = {0, 0, 0, 0};
    const char *name[4] = {"two-pass (1024 rows x catalogue kept)", "fused, OpenBLAS products", "fused, AVX-512 tiles",
                           "fused, AMX bf16 tiles"};
    printf("bench_ce_loss: %d rows x %d items x width %d, %d threads, OMP_WAIT_POLICY=%s, blas %s; rb %d, ic %d, fused "
           "ic %d\n",
           N, NI, D, threads, bench_wait_name(), crec_blas_corename(), rb, ic, fic);
    for (int rep = 0; rep <= reps; rep++) /* rep 0 warms up; then the two kernels in turn */
        for (int k = 0; k < nk; k++) {
            if (only && only != k + 1) continue;
            crec__nn_ce512 = k >= 2;
            crec__nn_ce_amx = k == 3;
            memset(dh[k], 0, (size_t)N * D * sizeof(float));
            memset(dW[k], 0, (size_t)NI * D * sizeof(float));
            double t0 = crec__now(), c0 = cpu_now();
            loss[k] = k ? crec__nn_softmax_ce_fused(dh[k], dW[k], scr[k], h, W, pos, N, D, NI, rb, fic,
                                                    1.0f / N)
                        : crec__nn_softmax_ce_loss(dh[k], dW[k], scr[k], h, W, pos, N, D, NI, rb, ic, 1.0f / N);
            double t = crec__now() - t0, c = cpu_now() - c0;
            if (rep) best[k] = t < best[k] ? t : best[k], cpu[k] += c;
        }
    omp_set_num_threads(1); /* one-thread SGEMM per CPU-second: OpenBLAS's OpenMP build follows OpenMP's count */
    double cpeak = bench_cpu_sgemm(1024, 3);
    crec__nn_threads_leave(th);
    omp_set_num_threads(threads);
    double peak = crec_blas_sgemm_gflops(1024, 3);
    crec__nn_ce512 = 1, crec__nn_ce_amx = 0;
    double e[4] = {0, 0, 0, 0}, g = 0; /* e[k]: kernel k against the two-pass one */
    for (int k = 1; k < nk; k++) {
        for (size_t i = 0; i < (size_t)N * D; i++) e[k] = fmax(e[k], fabs(dh[0][i] - dh[k][i]));
        for (size_t i = 0; i < (size_t)NI * D; i++) e[k] = fmax(e[k], fabs(dW[0][i] - dW[k][i]));
    }
    for (size_t i = 0; i < (size_t)N * D; i++) g = fmax(g, fabs(dh[0][i]));
    for (size_t i = 0; i < (size_t)NI * D; i++) g = fmax(g, fabs(dW[0][i]));
    printf("SGEMM n=1024, same run: %.1f GFLOP/s (%d threads, wall), %.1f GFLOP per CPU-second (one thread)\n", peak,
           crec_blas_threads(), cpeak);
    double fc = bench_fma_ceiling(BENCH_CEIL_FMA, crec_blas_threads());
    if (fc > 0)
        printf("FMA ceiling, same run: %.1f GFLOP/s (%d threads issuing 512-bit FMAs alone); the SGEMM is %.0f%% of "
               "it\n",
               fc, crec_blas_threads(), 100 * peak / fc);
    for (int k = 0; k < nk; k++) {
        if (only && only != k + 1) continue;
        double cg = flops * reps / cpu[k] / 1e9;
        char ofc[48] = "";
        if (fc > 0) snprintf(ofc, sizeof ofc, " (%.0f%% of the FMA ceiling)", 100 * flops / best[k] / 1e9 / fc);
        printf("%-40s best %.2f ms, %.2f CPU-ms per call; %.1f GFLOP/s = %.0f%% of the wall peak%s; %.1f GFLOP "
               "per CPU-s = %.0f%% of the CPU peak\n",
               name[k], best[k] * 1e3, cpu[k] / reps * 1e3, flops / best[k] / 1e9, 100 * flops / best[k] / 1e9 / peak,
               ofc, cg, 100 * cg / cpeak);
    }
    if (only) return 0;
    for (int k = 1; k < nk; k++)
        printf("%s against two-pass: speed-up %.2fx (best wall), %.2fx (CPU); loss %.6f vs %.6f (relative difference "
               "%.1e); largest gradient difference %.1e (largest gradient %.1e)\n",
               name[k], best[0] / best[k], cpu[0] / cpu[k], loss[k], loss[0], fabs(loss[0] - loss[k]) / fabs(loss[0]),
               e[k], g);
    if (nk == 2) printf("(no AVX-512 kernel here: the CPU lacks AVX-512 or the width is not a multiple of 16)\n");
    printf("reproduce: ");
    for (int i = 0; i < argc; i++) printf("%s%s", i ? " " : "", argv[i]);
    printf("\n");
    for (int k = 0; k < 4; k++) free(dh[k]), free(dW[k]), free(scr[k]);
    free(h), free(W), free(pos);
    return 0;
}
