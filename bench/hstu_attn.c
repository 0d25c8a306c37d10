/* hstu_attn.c: the HSTU attention kernels alone, one thread, CPU time: the per-pair reference (nn.h
 * crec__nn_hstu_attention_*: one libm log per pair for the time bucket, scalar dot products) against the tiled
 * kernels the model trains with (nn/hstu.h: buckets once per batch, BLAS products per query tile), at several tile
 * sizes, forward and backward, on one batch shaped like a training batch of ML-1M users 1-2999 at max_len 200
 * (128 sequences, lengths drawn from that set's training windows when the file is there, else uniform 4-200;
 * D 50, 1 head, both biases). Best of --reps repetitions by the thread's CPU clock, so the figures hold on a
 * shared machine. Also checks that the tiled output matches the reference (max relative difference).
 *
 *   usage: bench_hstu_attn [--data ratings.users-0001-2999.dat] [--reps 5] [--dim 50] [--tiles 32,48,64,96,128] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "cpu_peak.h"
#include "nn/hstu.h"
#include "nn/nn.h"

enum { B = 128, TMAX = 200 };

/* Training-window lengths min(n - 3, 200) of the users of a MovieLens ratings file (user::item::rating::time). */
static int read_lengths(const char *path, int *len, int cap) {
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    static int cnt[1 << 16];
    char line[256];
    while (fgets(line, sizeof line, f)) {
        int u = atoi(line);
        if (u > 0 && u < (1 << 16)) cnt[u]++;
    }
    fclose(f);
    int n = 0;
    for (int u = 0; u < (1 << 16) && n < cap; u++)
        if (cnt[u] >= 4) len[n++] = cnt[u] - 3 < TMAX ? cnt[u] - 3 : TMAX;
    return n;
}

int main(int argc, char **argv) {
    const char *data = "../shared/data/ml-1m/ratings.users-0001-2999.dat", *tiles = "32,48,64,96,128";
    int reps = 5, D = 50;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--reps") && i + 1 < argc)
            reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--dim") && i + 1 < argc)
            D = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--tiles") && i + 1 < argc)
            tiles = argv[++i];
        else
            return bench_usage(argv[i],
                               "usage: %s [--data ratings.users-0001-2999.dat] [--reps 5] [--dim 50] [--tiles "
                               "32,48,64]\nCPU seconds of the HSTU attention, per-pair reference vs tiled kernels, "
                               "one thread\n",
                               argv[0]);
    }
    if (reps < 1 || D < 1) return 2;
    int prev = crec__nn_blas_single();
    crec_rng r;
    crec__rng_seed(&r, 1);
    static int all[70000];
    int nu = read_lengths(data, all, 70000), len[B];
    for (int b = 0; b < B; b++) len[b] = nu ? all[crec__rng_below(&r, (uint64_t)nu)] : 4 + (int)crec__rng_below(&r, 197);
    int32_t seq_off[B + 1] = {0};
    int64_t att_off[B + 1];
    for (int b = 0; b < B; b++) seq_off[b + 1] = seq_off[b] + len[b];
    crec__nn_attention_offsets(att_off, seq_off, B, 1);
    size_t N = (size_t)seq_off[B], A = (size_t)att_off[B];
    double pairs = 0;
    for (int b = 0; b < B; b++) pairs += (double)len[b] * (len[b] + 1) / 2;
    float *uvqk = crec__aligned_alloc(N * 4 * D * sizeof(float)), *dout = crec__aligned_alloc(N * D * sizeof(float));
    float *y = crec__aligned_alloc(N * D * sizeof(float)), *y0 = crec__aligned_alloc(N * D * sizeof(float));
    float *att = crec__aligned_alloc(A * sizeof(float)), *aw = crec__aligned_alloc(A * sizeof(float));
    float *dS = crec__aligned_alloc(A * sizeof(float)), *g = crec__aligned_alloc(N * 4 * D * sizeof(float));
    float *bsum = crec__aligned_alloc(crec__nn_hstu_bias_scratch(B, 1, TMAX) * sizeof(float));
    float pos[2 * TMAX - 1], tsw[CREC_NN_HSTU_BUCKETS], dpos[2 * TMAX - 1], dts[CREC_NN_HSTU_BUCKETS];
    int64_t *tk = malloc(N * sizeof *tk), *tq = malloc(N * sizeof *tq);
    uint8_t *bkt = malloc(A + 1);
    if (!uvqk || !dout || !y || !y0 || !att || !aw || !dS || !g || !bsum || !tk || !tq || !bkt) return 1;
    for (size_t i = 0; i < N * 4 * D; i++) uvqk[i] = (float)(0.5 * crec__rng_normal(&r));
    for (size_t i = 0; i < N * D; i++) dout[i] = (float)crec__rng_normal(&r);
    for (int i = 0; i < 2 * TMAX - 1; i++) pos[i] = (float)(0.02 * crec__rng_normal(&r));
    for (int i = 0; i < CREC_NN_HSTU_BUCKETS; i++) tsw[i] = (float)(0.02 * crec__rng_normal(&r));
    for (int b = 0; b < B; b++) {
        int64_t t = 978300000;
        for (int n = seq_off[b]; n < seq_off[b + 1]; n++)
            tk[n] = (t += crec__rng_uniform(&r) < 0.5 ? 0 : (int64_t)exp2(crec__rng_uniform(&r) * 22));
        for (int n = seq_off[b]; n < seq_off[b + 1]; n++) tq[n] = n + 1 < seq_off[b + 1] ? tk[n + 1] : tk[n];
    }
    printf("bench_hstu_attn: %d sequences, %zu rows, %.0f causal pairs (lengths from %s), D %d, 1 head, one "
           "thread, best of %d by CPU clock\n",
           B, N, pairs, nu ? data : "uniform 4-200", D, reps);
    double fl = 2 * 2 * D * pairs; /* Q K^T and A V over the causal pairs; backward 2x */
    double best_f = 1e30, best_b = 1e30;
    for (int k = 0; k < reps; k++) {
        double c0 = bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID);
        crec__nn_hstu_attention_forward(y0, att, uvqk, pos, tsw, tk, tq, seq_off, att_off, B, D, 1, TMAX, 1);
        double c1 = bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID);
        crec__nn_hstu_attention_backward(g, dpos, dts, dS, dout, uvqk, att, tk, tq, seq_off, att_off, B, D, 1, TMAX, 1);
        double c2 = bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID);
        best_f = fmin(best_f, c1 - c0), best_b = fmin(best_b, c2 - c1);
    }
    double cpeak = bench_cpu_sgemm(1024, 3);
    printf("reference (per pair):  forward %.1f ms, backward %.1f ms, total %.1f ms (%.1f GFLOP per CPU-s)\n",
           best_f * 1e3, best_b * 1e3, (best_f + best_b) * 1e3, 3 * fl / 1e9 / (best_f + best_b));
    double ref = best_f + best_b;
    best_f = 1e30;
    for (int k = 0; k < reps; k++) {
        double c0 = bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID);
        crec__nn_hstu_buckets(bkt, tk, tq, seq_off, att_off, B, 1);
        best_f = fmin(best_f, bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID) - c0);
    }
    double tb = best_f;
    printf("time buckets of the batch (once per batch, all layers): %.1f ms\n", tb * 1e3);
    const char *p = tiles;
    while (*p) {
        int tile = atoi(p);
        crec__nn_hstu_tile = tile;
        best_f = best_b = 1e30;
        for (int k = 0; k < reps; k++) {
            double c0 = bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID);
            crec__nn_hstu_attn_forward(y, att, aw, uvqk, pos, tsw, bkt, seq_off, att_off, B, D, 1, TMAX, 1);
            double c1 = bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID);
            crec__nn_hstu_attn_backward(g, dpos, dts, dS, bsum, dout, uvqk, att, aw, bkt, seq_off, att_off, B, D, 1,
                                        TMAX, 1);
            double c2 = bench_cpu_clock(CLOCK_THREAD_CPUTIME_ID);
            best_f = fmin(best_f, c1 - c0), best_b = fmin(best_b, c2 - c1);
        }
        double w = 0, s = 0;
        for (size_t i = 0; i < N * D; i++) w = fmax(w, fabs((double)y[i] - y0[i])), s = fmax(s, fabs((double)y0[i]));
        printf("tiled, %3d-row tiles:  forward %.1f ms, backward %.1f ms, total %.1f ms (%.1f GFLOP per CPU-s, %.0f%% "
               "of one-thread SGEMM %.1f); %.1fx the reference; output max rel. diff %.1e\n",
               tile, best_f * 1e3, best_b * 1e3, (best_f + best_b) * 1e3, 3 * fl / 1e9 / (best_f + best_b),
               100 * 3 * fl / 1e9 / (best_f + best_b) / cpeak, cpeak, ref / (best_f + best_b), w / s);
        while (*p && *p != ',') p++;
        if (*p == ',') p++;
    }
    crec__nn_hstu_tile = CREC_NN_HSTU_TILE;
    crec__nn_blas_restore(prev);
    free(uvqk), free(dout), free(y), free(y0), free(att), free(aw), free(dS), free(g), free(bsum), free(tk), free(tq),
        free(bkt);
    return 0;
}
