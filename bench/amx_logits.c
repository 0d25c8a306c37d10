/* amx_logits.c: what AMX bf16 tiles would give the full-catalogue CE loss's logits product, before anyone builds
 * the kernel (issue 16's follow-up; docs/RESULTS.md, "Issue 16, closing round").
 *
 * The fused CE loss computes its logits per slab of 128 rows and chunk of 1,024 items, S = h W_c^T, into a buffer
 * that stays in L2 (src/nn/ce512.c). This times the same blocks both ways, over a whole catalogue, one thread:
 *   - float: cblas_sgemm per block (OpenBLAS, one thread), the reference;
 *   - AMX: h and W rounded to bf16 once (the item table packed in pairs of dimensions per 16-item panel, the
 *     layout tdpbf16ps reads), then per 32-row x 32-item block four 16 x 16 float tiles accumulated over D / 32
 *     steps and stored to the same buffer. The packing is timed apart.
 * Prints the CPU time per pass, GFLOP per CPU-second, the ratio, and the largest difference between the two
 * products relative to the largest logit (bf16 inputs: about 1e-2 expected). Skips (exit 0) where the CPU has no
 * AMX or Linux does not grant the tile state.
 *
 *   usage: bench_amx_logits [--rows 1460] [--items 12101] [--dim 64] [--reps 5]   (dim a multiple of 32) */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_peak.h"
#include "crec/blas.h"
#include "nn/nn.h"

#define SLAB 128
#define CHUNK 1024

#if defined(__x86_64__) && defined(__GNUC__)
static uint16_t to_bf16(float f) { /* round to nearest even, as vcvtneps2bf16 (no NaN here) */
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}

/* S[r][j] (ldS) = h[r] . W[c0 + j] for r < 128 (a whole number of 32-row groups), j < nc (whole 32-item pairs of
 * panels): hb rows of D bf16; WP: per 16-item panel, D / 2 rows of 16 (item) x 2 (dimension) bf16. */
__attribute__((target("amx-tile,amx-bf16"))) static void amx_block(float *S, int ldS, const uint16_t *hb, int nr,
                                                                    const uint16_t *WP, int p0, int nc, int D) {
    for (int r = 0; r < nr; r += 32)
        for (int q = 0; q < nc / 16; q += 2) {
            const uint16_t *b0 = WP + (size_t)(p0 + q) * D * 16, *b1 = b0 + (size_t)D * 16;
            _tile_zero(0);
            _tile_zero(1);
            _tile_zero(2);
            _tile_zero(3);
            for (int k = 0; k < D; k += 32) {
                _tile_loadd(4, hb + (size_t)r * D + k, D * 2);
                _tile_loadd(5, hb + (size_t)(r + 16) * D + k, D * 2);
                _tile_loadd(6, b0 + (size_t)k * 16, 64);
                _tile_loadd(7, b1 + (size_t)k * 16, 64);
                _tile_dpbf16ps(0, 4, 6);
                _tile_dpbf16ps(1, 4, 7);
                _tile_dpbf16ps(2, 5, 6);
                _tile_dpbf16ps(3, 5, 7);
            }
            float *s = S + (size_t)r * ldS + q * 16;
            _tile_stored(0, s, ldS * 4);
            _tile_stored(1, s + 16, ldS * 4);
            _tile_stored(2, s + (size_t)16 * ldS, ldS * 4);
            _tile_stored(3, s + (size_t)16 * ldS + 16, ldS * 4);
        }
}

__attribute__((target("amx-tile,amx-bf16"))) static void amx_config(void) {
    bench_amx_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    /* GCC 12's _tile_loadconfig tells the compiler it reads 8 bytes: without this barrier the rest of cfg may not
     * be stored yet (ldtilecfg then faults on the reserved bytes) */
    __asm__ volatile("" : : "m"(cfg) : "memory");
    _tile_loadconfig(&cfg);
}

__attribute__((target("amx-tile"))) static void amx_release(void) { _tile_release(); }
#endif

int main(int argc, char **argv) {
    crec_blas_setup(argc, argv);
    int N = 1460, NI = 12101, D = 64, reps = 5;
    for (int i = 1; i < argc; i++) {
        int *dst = !strcmp(argv[i], "--rows")    ? &N
                   : !strcmp(argv[i], "--items") ? &NI
                   : !strcmp(argv[i], "--dim")   ? &D
                   : !strcmp(argv[i], "--reps")  ? &reps
                                                 : NULL;
        if (!dst || i + 1 >= argc || (*dst = atoi(argv[++i])) < 1 || D % 32)
            return bench_usage(argv[i], "usage: %s [--rows N] [--items I] [--dim D: a multiple of 32] [--reps R]\n",
                               argv[0]);
    }
#if defined(__x86_64__) && defined(__GNUC__)
    if (!bench_amx_ok()) {
        printf("skipping: no AMX here (the CPU lacks amx-bf16, or Linux did not grant the tile state)\n");
        return 0;
    }
    int prev = crec__nn_blas_single();
    /* rows and items padded to whole 32-row groups and 32-item panel pairs (zeros) */
    int Np = (N + 31) / 32 * 32, NIp = (NI + 31) / 32 * 32;
    float *h = calloc((size_t)Np * D, 4), *W = calloc((size_t)NIp * D, 4);
    float *Sf = crec__aligned_alloc((size_t)SLAB * CHUNK * 4), *Sa = crec__aligned_alloc((size_t)SLAB * CHUNK * 4);
    uint16_t *hb = crec__aligned_alloc((size_t)Np * D * 2), *WP = crec__aligned_alloc((size_t)NIp * D * 2);
    if (!h || !W || !Sf || !Sa || !hb || !WP) return 1;
    crec_rng rng;
    crec__rng_seed(&rng, 3);
    for (size_t i = 0; i < (size_t)N * D; i++) h[i] = (float)(2 * crec__rng_uniform(&rng) - 1);
    for (size_t i = 0; i < (size_t)NI * D; i++) W[i] = (float)(0.5 * (2 * crec__rng_uniform(&rng) - 1));
    double t0 = bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID);
    for (size_t i = 0; i < (size_t)Np * D; i++) hb[i] = to_bf16(h[i]);
    for (int p = 0; p < NIp / 16; p++) /* WP[p][k2][i][2] = W[16p + i][2 k2 .. 2 k2 + 1] */
        for (int k2 = 0; k2 < D / 2; k2++)
            for (int i = 0; i < 16; i++)
                for (int e = 0; e < 2; e++)
                    WP[(size_t)p * D * 16 + (size_t)k2 * 32 + i * 2 + e] = to_bf16(W[(size_t)(16 * p + i) * D + 2 * k2 + e]);
    double tpack = bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID) - t0;
    amx_config();
    double best[2] = {1e30, 1e30}, err = 0, big = 0;
    for (int rep = 0; rep <= reps; rep++)
        for (int m = 0; m < 2; m++) {
            double s0 = bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID);
            for (int r0 = 0; r0 < Np; r0 += SLAB)
                for (int c0 = 0; c0 < NIp; c0 += CHUNK) {
                    int nr = Np - r0 < SLAB ? Np - r0 : SLAB, nc = NIp - c0 < CHUNK ? NIp - c0 : CHUNK;
                    if (m == 0)
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, nr, nc, D, 1.0f, h + (size_t)r0 * D, D,
                                    W + (size_t)c0 * D, D, 0.0f, Sf, CHUNK);
                    else
                        amx_block(Sa, CHUNK, hb + (size_t)r0 * D, nr, WP, c0 / 16, nc, D);
                    if (m == 1 && rep == 0) /* the last pass of each: same block in both buffers */
                        for (int i = 0; i < nr; i++)
                            for (int j = 0; j < nc; j++) {
                                float f = 0;
                                for (int d = 0; d < D; d++) f += h[(size_t)(r0 + i) * D + d] * W[(size_t)(c0 + j) * D + d];
                                err = fmax(err, fabs(f - Sa[(size_t)i * CHUNK + j]));
                                big = fmax(big, fabs(f));
                            }
                }
            double s = bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID) - s0;
            if (rep && s < best[m]) best[m] = s;
        }
    amx_release();
    crec__nn_blas_restore(prev);
    double fl = 2.0 * N * (double)NI * D;
    printf("bench_amx_logits: %d rows x %d items x width %d, blocks of %d rows x %d items, one thread; load average "
           "%.2f\n",
           N, NI, D, SLAB, CHUNK, bench_loadavg());
    printf("float, cblas_sgemm per block     %8.2f CPU-ms per pass, %6.1f GFLOP per CPU-s\n", best[0] * 1e3,
           fl / best[0] / 1e9);
    printf("AMX bf16 tiles                   %8.2f CPU-ms per pass, %6.1f GFLOP per CPU-s = %.2fx the float product\n",
           best[1] * 1e3, fl / best[1] / 1e9, best[0] / best[1]);
    printf("packing h and W to bf16 (once)   %8.2f CPU-ms\n", tpack * 1e3);
    printf("largest |AMX - float| / largest |logit|: %.1e (bf16 inputs, float sums)\n", err / big);
    printf("reproduce: ");
    for (int i = 0; i < argc; i++) printf("%s%s", i ? " " : "", argv[i]);
    printf("\n");
    free(h), free(W), free(Sf), free(Sa), free(hb), free(WP);
    return 0;
#else
    printf("skipping: AMX is x86-64 only\n");
    return 0;
#endif
}
