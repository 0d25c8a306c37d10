/* ce512.c: the fused full-catalogue softmax CE with AVX-512 register-tiled products (ce512.h).
 *
 * The algorithm, its blocking and its work units are those of crec__nn_softmax_ce_fused (loss.inc; read its comment
 * first): row blocks; per 128-row slab and 1024-item chunk the logits S = h W_c^T, their exponentials in place, and
 * T = E W_c folded into a running, rescaled accumulator (online softmax); then per 256-item range of a chunk the item
 * gradient E^T hs_c. Only the three products change. OpenBLAS, called once per slab and chunk, re-packs the item chunk
 * for each slab and the logits before each product that reads them, and zero-fills its output for beta = 0 (13% and
 * 3.4% of a CE epoch's samples, docs/RESULTS.md). Here:
 *   - the item table is transposed once per call into 16-item panels (WT, D x 16 floats each, in the scratch), so
 *     the logits tile (8 rows x 32 items, 16 zmm accumulators) reads one vector per panel and d and broadcasts h;
 *     the row max of each chunk is taken from the accumulators before they are stored (no max pass);
 *   - T = E W_c: tiles of 4 rows x 64 dims (16 accumulators), the items in blocks of 128 (32 KiB of W_c at D = 64,
 *     kept in L1); the block's partial sums go to a small [slab x D] buffer, the last block writes
 *     acc = acc * fa + T * fb directly;
 *   - dW += E^T hs_c: tiles of 4 items x 64 dims, the rows in blocks of 128 (their hs_c, 32 KiB, in L1), added into
 *     dW in place (no buffer, no fill); the logits of consecutive rows are a catalogue apart, so the tile prefetches
 *     each row's next 16 (measured: 13% less CPU time for the whole loss).
 * Every sum runs in a fixed order (over d, over items, over rows) on one thread, so the results are the same at any
 * thread count; they differ from the OpenBLAS path by rounding only (tests/unit/test_ce512.c).
 * At the end of the file, an opt-in variant with the products as AMX bf16 tiles (ce_amx; a model's
 * ce_precision=bf16): the same blocking, different arithmetic. */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "nn/ce512.h"
#include "nn/nn.h"

int crec__nn_ce512 = 1;

size_t crec__nn_ce512_floats(int32_t NI, int D) { return (size_t)((NI + 15) / 16) * 16 * (size_t)(D > 0 ? D : 0); }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(CREC_NN_NO_CLONES)
#include <immintrin.h>

#define CE_SLAB 128 /* rows per slab, as NN_CE_SLAB */
#define CE_BCH 256  /* items per item-gradient unit, as NN_CE_BCH */
#define CE_JB 128   /* items per block of the E W_c product */
#define CE_RB 128   /* rows per block of the item-gradient product */

#define T512 __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")))
#define TILE static inline __attribute__((always_inline, target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")))

int crec__nn_ce512_ok(int D) {
    return crec__nn_ce512 && D >= 16 && D % 16 == 0 && __builtin_cpu_supports("avx512f") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512dq");
}

static inline __mmask16 lanes(int n) { return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? 0 : (__mmask16)((1u << n) - 1); }

/* Panels p0..p1-1 of 16 items: WT[p][d][k] = W[16p + k][d], zero past the catalogue. */
static T512 void pack_panels(float *WT, const float *W, int NI, int D, int p0, int p1) {
    __m512i idx = _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                                     _mm512_set1_epi32(D));
    for (int p = p0; p < p1; p++) {
        float *o = WT + (size_t)p * D * 16;
        const float *w = W + (size_t)p * 16 * D;
        __mmask16 m = lanes(NI - p * 16);
        for (int d = 0; d < D; d++)
            _mm512_storeu_ps(o + (size_t)d * 16, _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx, w + d, 4));
    }
}

/* exp of 16 lanes: crec__nn_expf's range reduction and polynomial; NaN passes through. */
TILE __m512 exp16(__m512 x) {
    x = _mm512_max_ps(_mm512_set1_ps(-87.0f), x);
    x = _mm512_min_ps(_mm512_set1_ps(88.0f), x);
    __m512 k = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(12582912.0f));
    k = _mm512_sub_ps(k, _mm512_set1_ps(12582912.0f));
    __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(k, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_add_ps(_mm512_fmadd_ps(_mm512_mul_ps(p, r), r, r), _mm512_set1_ps(1.0f));
    __m512i ki = _mm512_cvtps_epi32(k); /* NaN: k is NaN and so is p */
    __m512 scale = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(ki, _mm512_set1_epi32(127)), 23));
    return _mm512_mul_ps(p, scale);
}

/* l[j] = exp(l[j] - m) for j < n; returns their sum (16 lane sums, then the lanes in a fixed order). */
static T512 float exp_sum(float *l, int n, float m) {
    __m512 vm = _mm512_set1_ps(m), z = _mm512_setzero_ps();
    for (int j = 0; j < n; j += 16) {
        __mmask16 k = lanes(n - j);
        __m512 e = exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, l + j), vm));
        _mm512_mask_storeu_ps(l + j, k, e);
        z = _mm512_mask_add_ps(z, k, z, e);
    }
    return _mm512_reduce_add_ps(z);
}

/* Logits of NR rows x NP panels: E[r][j] = h_r . W[j], the lanes < nv stored; vmax[r] takes their max. */
TILE void logit_tile(const int NR, const int NP, const float *h, int ldh, const float *wt, int D, float *E, int ldE,
                     int nv, __m512 *vmax) {
    __m512 acc[8][2];
#pragma GCC unroll 8
    for (int r = 0; r < NR; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    const float *wt1 = wt + (size_t)D * 16;
#pragma GCC unroll 2
    for (int d = 0; d < D; d++) {
        __m512 b0 = _mm512_loadu_ps(wt + (size_t)d * 16), b1 = NP > 1 ? _mm512_loadu_ps(wt1 + (size_t)d * 16) : b0;
#pragma GCC unroll 8
        for (int r = 0; r < NR; r++) {
            __m512 a = _mm512_set1_ps(h[(size_t)r * ldh + d]);
            acc[r][0] = _mm512_fmadd_ps(a, b0, acc[r][0]);
            if (NP > 1) acc[r][1] = _mm512_fmadd_ps(a, b1, acc[r][1]);
        }
    }
    __mmask16 m0 = lanes(nv), m1 = lanes(nv - 16);
#pragma GCC unroll 8
    for (int r = 0; r < NR; r++) {
        _mm512_mask_storeu_ps(E + (size_t)r * ldE, m0, acc[r][0]);
        vmax[r] = _mm512_mask_max_ps(vmax[r], m0, vmax[r], acc[r][0]);
        if (NP > 1) {
            _mm512_mask_storeu_ps(E + (size_t)r * ldE + 16, m1, acc[r][1]);
            vmax[r] = _mm512_mask_max_ps(vmax[r], m1, vmax[r], acc[r][1]);
        }
    }
}

/* E[i][0..nc) = h_i . W[c0 + j] for the ns (<= CE_SLAB) rows of a slab; rowmax[i] = their max. Tiles of 8 rows
 * sweep the chunk's panels left to right, so each of a tile's 8 rows of E is written as one sequential stream that
 * the hardware prefetcher follows (sweeping every row tile per panel pair instead wrote 128 interleaved streams,
 * ~48 KB apart: a store miss per tile row; measured in docs/RESULTS.md). The chunk's panels come from L2. */
static T512 void logits(float *E, int ldE, float *rowmax, const float *h, int ldh, int ns, const float *WT, int c0,
                        int nc, int D) {
    __m512 vmax[CE_SLAB];
    for (int i = 0; i < ns; i++) vmax[i] = _mm512_set1_ps(-FLT_MAX);
    for (int r = 0; r < ns; r += 8) {
        int nr = ns - r < 8 ? ns - r : 8;
        for (int q = 0; q * 16 < nc; q += 2) {
            int nv = nc - q * 16, two = nv > 16;
            const float *wt = WT + (size_t)(c0 / 16 + q) * D * 16;
            float *e = E + q * 16;
#define LT(a, b) logit_tile(a, b, h + (size_t)r * ldh, ldh, wt, D, e + (size_t)r * ldE, ldE, nv, vmax + r)
#define LTR(b)                                                                                                         \
    switch (nr) {                                                                                                      \
    case 8: LT(8, b); break;                                                                                           \
    case 7: LT(7, b); break;                                                                                           \
    case 6: LT(6, b); break;                                                                                           \
    case 5: LT(5, b); break;                                                                                           \
    case 4: LT(4, b); break;                                                                                           \
    case 3: LT(3, b); break;                                                                                           \
    case 2: LT(2, b); break;                                                                                           \
    default: LT(1, b); break;                                                                                          \
    }
            if (two) {
                LTR(2)
            } else {
                LTR(1)
            }
#undef LTR
#undef LT
        }
    }
    for (int i = 0; i < ns; i++) rowmax[i] = _mm512_reduce_max_ps(vmax[i]);
}

/* NR rows x 16 NV dims of sum_{j0 <= j < j1} E[r][j] W[j]: started from 0 (first) or T, then stored to T, or
 * (last) folded into A: A = A fa + sum fb. Pointers A, T, Wc at the tile's first dim; rows of A and T stride D. */
TILE void ew_tile(const int NR, const int NV, const float *E, int ldE, const float *Wc, int D, int j0, int j1,
                  float *T, float *A, const float *fa, const float *fb, int first, int last) {
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++)
            acc[r][v] = first ? _mm512_setzero_ps() : _mm512_loadu_ps(T + (size_t)r * D + 16 * v);
#pragma GCC unroll 2
    for (int j = j0; j < j1; j++) {
        const float *w = Wc + (size_t)j * D;
        __m512 wv[4];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) wv[v] = _mm512_loadu_ps(w + 16 * v);
#pragma GCC unroll 4
        for (int r = 0; r < NR; r++) {
            __m512 e = _mm512_set1_ps(E[(size_t)r * ldE + j]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] = _mm512_fmadd_ps(e, wv[v], acc[r][v]);
        }
    }
#pragma GCC unroll 4
    for (int r = 0; r < NR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) {
            if (last) {
                float *a = A + (size_t)r * D + 16 * v;
                _mm512_storeu_ps(a, _mm512_fmadd_ps(acc[r][v], _mm512_set1_ps(fb[r]),
                                                    _mm512_mul_ps(_mm512_loadu_ps(a), _mm512_set1_ps(fa[r]))));
            } else
                _mm512_storeu_ps(T + (size_t)r * D + 16 * v, acc[r][v]);
        }
}

/* A[i] = A[i] fa[i] + fb[i] sum_{j < nc} E[i][j] Wc[j] for ns rows (T: [ns x D] partial sums). */
static T512 void ew(float *A, const float *fa, const float *fb, const float *E, int ldE, int ns, const float *Wc,
                    int nc, int D, float *T) {
    for (int j0 = 0; j0 < nc; j0 += CE_JB) {
        int j1 = nc - j0 < CE_JB ? nc : j0 + CE_JB, first = j0 == 0, last = j1 == nc;
        for (int d0 = 0; d0 < D; d0 += 64) {
            int nv4 = D - d0 >= 64;
            for (int r = 0; r < ns; r += 4) {
                int nr = ns - r < 4 ? ns - r : 4;
#define EWT(a, b)                                                                                                      \
    ew_tile(a, b, E + (size_t)r * ldE, ldE, Wc + d0, D, j0, j1, T + (size_t)r * D + d0, A + (size_t)r * D + d0,        \
            fa + r, fb + r, first, last)
                if (nv4) {
                    if (nr == 4) EWT(4, 4);
                    else if (nr == 3) EWT(3, 4);
                    else if (nr == 2) EWT(2, 4);
                    else EWT(1, 4);
                } else
                    for (int v = 0; v < (D - d0) / 16; v++) {
                        int dd = d0 + 16 * v;
#undef EWT
#define EWT(a, b)                                                                                                      \
    ew_tile(a, b, E + (size_t)r * ldE, ldE, Wc + dd, D, j0, j1, T + (size_t)r * D + dd, A + (size_t)r * D + dd,        \
            fa + r, fb + r, first, last)
                        if (nr == 4) EWT(4, 1);
                        else if (nr == 3) EWT(3, 1);
                        else if (nr == 2) EWT(2, 1);
                        else EWT(1, 1);
                    }
#undef EWT
            }
        }
    }
}

/* dW[t] += sum_{r0 <= r < r1} E[r][t] hs[r] for NT items x 16 NV dims (dW, hs at the tile's first dim). pf: also
 * prefetch each row's next 16 logits (the rows are a whole row of logits apart: no hardware prefetcher follows). */
TILE void dw_tile(const int NT, const int NV, float *dW, int D, const float *E, int ldE, const float *hs, int r0,
                  int r1, int pf) {
    __m512 acc[4][4];
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[t][v] = _mm512_loadu_ps(dW + (size_t)t * D + 16 * v);
#pragma GCC unroll 2
    for (int r = r0; r < r1; r++) {
        const float *x = hs + (size_t)r * D, *e = E + (size_t)r * ldE;
        if (pf) _mm_prefetch((const char *)(e + 16), _MM_HINT_T0);
        __m512 xv[4];
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) xv[v] = _mm512_loadu_ps(x + 16 * v);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            __m512 b = _mm512_set1_ps(e[t]);
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[t][v] = _mm512_fmadd_ps(b, xv[v], acc[t][v]);
        }
    }
#pragma GCC unroll 4
    for (int t = 0; t < NT; t++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) _mm512_storeu_ps(dW + (size_t)t * D + 16 * v, acc[t][v]);
}

/* dW[t] += sum_{r < nr} E[r][t] hs[r] for the ni items of a range (E at the range's first column). */
static T512 void dw(float *dW, const float *E, int ldE, const float *hs, int nr, int ni, int D) {
    for (int r0 = 0; r0 < nr; r0 += CE_RB) {
        int r1 = nr - r0 < CE_RB ? nr : r0 + CE_RB;
        for (int d0 = 0; d0 < D; d0 += 64) {
            int nv4 = D - d0 >= 64;
            for (int t = 0; t < ni; t += 4) {
                int nt = ni - t < 4 ? ni - t : 4;
                if (nv4) {
#define DWT(a, b) dw_tile(a, b, dW + (size_t)t * D + d0, D, E + t, ldE, hs + d0, r0, r1, t % 16 == 0 && d0 == 0)
                    if (nt == 4) DWT(4, 4);
                    else if (nt == 3) DWT(3, 4);
                    else if (nt == 2) DWT(2, 4);
                    else DWT(1, 4);
#undef DWT
                } else
                    for (int v = 0; v < (D - d0) / 16; v++) {
                        int dd = d0 + 16 * v;
#define DWT(a, b) dw_tile(a, b, dW + (size_t)t * D + dd, D, E + t, ldE, hs + dd, r0, r1, t % 16 == 0 && dd == 0)
                        if (nt == 4) DWT(4, 1);
                        else if (nt == 3) DWT(3, 1);
                        else if (nt == 2) DWT(2, 1);
                        else DWT(1, 1);
#undef DWT
                    }
            }
        }
    }
}

/* A slab's rows once all chunks are in: each row's loss (log-sum-exp minus its target's logit), dh (block rows,
 * or NULL) += the running sum over Z minus the target's item row, and rM = the log-sum-exp (for the item gradient). */
static inline void finish_rows(int s0, int ns, const int32_t *pb, float *rM, const float *rZ, float *rl,
                               const float *acc, float *dh, const float *W, int D, float gscale) {
    for (int r = s0; r < s0 + ns; r++) {
        int32_t p = pb[r];
        float lse = rM[r] + logf(rZ[r]);
        rl[r] = p >= 0 ? lse - rl[r] : 0;
        if (dh && p >= 0) {
            float a = gscale / rZ[r], *g = dh + (size_t)r * D;
            const float *A = acc + (size_t)r * D, *wp = W + (size_t)p * D;
            for (int d = 0; d < D; d++) g[d] += a * A[d] - gscale * wp[d];
        }
        rM[r] = lse;
    }
}

/* dW[target] -= gscale h for the block's rows whose target lies in [i0, i1) (the -1 of p - y). */
static inline void target_rows(float *dW, const float *hb, const int32_t *pb, int nr, int i0, int i1, int D,
                               float gscale) {
    for (int r = 0; r < nr; r++)
        if (pb[r] >= i0 && pb[r] < i1) {
            float *o = dW + (size_t)pb[r] * D;
            const float *x = hb + (size_t)r * D;
            for (int d = 0; d < D; d++) o[d] += -gscale * x[d];
        }
}

static double ce_amx(float *dh, float *dW, float *scratch, const float *h, const float *W, const int32_t *pos, int N,
                     int D, int NI, int rb, int ic, float gscale); /* below */

double crec__nn_softmax_ce_fused512(float *dh, float *dW, float *scratch, const float *h, const float *W,
                                   const int32_t *pos, int N, int D, int NI, int rb, int ic, float gscale) {
    if (N <= 0 || NI <= 0) return 0;
    if (crec__nn_ce_amx_ok(D)) return ce_amx(dh, dW, scratch, h, W, pos, N, D, NI, rb, ic, gscale);
    if (ic > NI || ic <= 0) ic = NI;
    if (rb <= 0) rb = 1;
    /* The transposed table sits at the end of the scratch that crec__nn_ce_fused_floats sized for this ic; the
     * chunks are then rounded up to whole panels (fewer chunks: the layout below fits in front of it). */
    float *WT = scratch + (crec__nn_ce_fused_floats(NI, D, rb, ic) - crec__nn_ce512_floats(NI, D));
    if (ic < NI) ic = (ic + 15) / 16 * 16 < NI ? (ic + 15) / 16 * 16 : NI;
    int nch = (NI + ic - 1) / ic, nsub = (ic + CE_BCH - 1) / CE_BCH, npan = (NI + 15) / 16;
    float *E = scratch, *cm = E + (size_t)rb * NI, *rM = cm + (size_t)rb * nch, *rZ = rM + rb, *rl = rZ + rb;
    float *acc = rl + rb, *tmp = acc + (size_t)rb * D, *hs = tmp + (size_t)rb * D;
    int nblk = (N + rb - 1) / rb, rbe = (N + nblk - 1) / nblk;
    double loss = 0;
    for (int r0 = 0; r0 < N; r0 += rbe) {
        /* slabs of at most CE_SLAB rows, as many as a multiple of the threads and of even size (a row's
         * arithmetic does not depend on its slab: the same bits for any split) */
        int nr = N - r0 < rbe ? N - r0 : rbe, nslab = (nr + CE_SLAB - 1) / CE_SLAB, nth = omp_get_max_threads();
        if (nth > 1 && nslab % nth && (nslab / nth + 1) * nth * 32 <= nr) nslab = (nslab / nth + 1) * nth;
        int ssz = (nr + nslab - 1) / nslab;
        const float *hb = h + (size_t)r0 * D;
        const int32_t *pb = pos + r0;
#pragma omp parallel
        {
            if (r0 == 0) {
#pragma omp for schedule(static)
                for (int p = 0; p < npan; p++) pack_panels(WT, W, NI, D, p, p + 1);
            }
#pragma omp for schedule(static)
            for (int sl = 0; sl < nslab; sl++) {
                int s0 = sl * ssz, ns = nr - s0 < ssz ? nr - s0 : ssz; /* > 0: slabs average >= 32 rows */
                float fa[CE_SLAB], fb[CE_SLAB], mrow[CE_SLAB];
                for (int i = s0; i < s0 + ns; i++) rM[i] = -FLT_MAX, rZ[i] = 0, rl[i] = 0;
                if (dh) memset(acc + (size_t)s0 * D, 0, (size_t)ns * D * sizeof *acc);
                for (int c = 0; c < nch; c++) {
                    int c0 = c * ic, nc = NI - c0 < ic ? NI - c0 : ic;
                    float *Ec = E + (size_t)s0 * NI + c0;
                    logits(Ec, NI, mrow, hb + (size_t)s0 * D, D, ns, WT, c0, nc, D);
                    for (int i = 0; i < ns; i++) {
                        float *l = Ec + (size_t)i * NI;
                        int r = s0 + i;
                        int32_t p = pb[r];
                        if (p >= c0 && p < c0 + nc) rl[r] = l[p - c0];
                        float m = mrow[i], z = exp_sum(l, nc, m);
                        cm[(size_t)r * nch + c] = m;
                        float Mn = rM[r] > m ? rM[r] : m;
                        fa[i] = crec__nn_expf(rM[r] - Mn), fb[i] = crec__nn_expf(m - Mn);
                        rZ[r] = rZ[r] * fa[i] + z * fb[i];
                        rM[r] = Mn;
                    }
                    if (dh) ew(acc + (size_t)s0 * D, fa, fb, Ec, NI, ns, W + (size_t)c0 * D, nc, D, tmp + (size_t)s0 * D);
                }
                finish_rows(s0, ns, pb, rM, rZ, rl, acc, dh ? dh + (size_t)r0 * D : NULL, W, D, gscale);
            }
            if (dW) {
#pragma omp for schedule(static)
                for (int c = 0; c < nch; c++) {
                    float *o = hs + (size_t)c * rb * D;
                    for (int r = 0; r < nr; r++) {
                        float f = pb[r] >= 0 ? crec__nn_expf(cm[(size_t)r * nch + c] - rM[r]) * gscale : 0;
                        const float *x = hb + (size_t)r * D;
                        for (int d = 0; d < D; d++) o[(size_t)r * D + d] = f * x[d];
                    }
                }
#pragma omp for schedule(static)
                for (int t = 0; t < nch * nsub; t++) {
                    int c = t / nsub, c0 = c * ic, c1 = NI - c0 < ic ? NI : c0 + ic;
                    int i0 = c0 + (t % nsub) * CE_BCH, i1 = i0 + CE_BCH < c1 ? i0 + CE_BCH : c1;
                    if (i0 >= i1) continue;
                    dw(dW + (size_t)i0 * D, E + i0, NI, hs + (size_t)c * rb * D, nr, i1 - i0, D);
                    target_rows(dW, hb, pb, nr, i0, i1, D, gscale);
                }
            }
        }
        for (int r = 0; r < nr; r++) loss += rl[r];
    }
    return loss;
}


/* ---- AMX bf16 tiles (opt-in: crec__nn_ce_amx) ----
 * The same algorithm with the three products as AMX tile products on bf16 copies, float sums: the logits from h
 * and W split into bf16 hi + lo parts (hi hi + hi lo + lo hi: about 16 bits, the loss to ~1e-7 of the float
 * kernel's; hi hi alone left the loss 4e-4 off and test NDCG@10 ~2% lower, docs/RESULTS.md); the probabilities kept
 * in bf16 (the normaliser and the running max from the float exponentials); E W and the item gradient from those.
 * Rows in groups of 32 and items in pairs of 16-item panels (zero padding).
 * Layouts (B operands in the pair order tdpbf16ps reads):
 *   WP  per 16-item panel, D / 2 rows of 16 items x 2 dims          (logits: S = h W^T; WL its lo parts)
 *   WV  per item pair, D dims x 2 items                             (E W)
 *   Eb  the row block's probabilities, bf16 rows of NIp items       (A of E W; B of the item gradient, interleaved
 *       by row pairs per 32-row x 16-item tile as the pass reads them)
 *   hsT per chunk, D rows of the block's scaled hidden states        (A of dW^T = hs^T E) */
_Thread_local int crec__nn_ce_amx = 0;

#define TAMX __attribute__((target("avx2,fma,avx512f,avx512vl,avx512bw,avx512dq,avx512bf16,amx-tile,amx-bf16")))

typedef struct {
    unsigned char palette, start, reserved[14];
    unsigned short colsb[16];
    unsigned char rows[16];
} __attribute__((packed)) amx_tilecfg;

#include <sys/syscall.h>
#include <unistd.h>

static int amx_ready(void) {
    static int ok = -1;
    if (ok < 0)
        ok = __builtin_cpu_supports("amx-tile") && __builtin_cpu_supports("amx-bf16") &&
             __builtin_cpu_supports("avx512bf16") &&
             syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
    return ok;
}

int crec__nn_ce_amx_available(int D) { return D >= 32 && D % 32 == 0 && crec__nn_ce512_ok(D) && amx_ready(); }
int crec__nn_ce_amx_ok(int D) { return crec__nn_ce_amx && crec__nn_ce_amx_available(D); }

static TAMX void amx_config(void) {
    amx_tilecfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    __asm__ volatile("" : : "m"(cfg) : "memory"); /* GCC 12's _tile_loadconfig claims to read 8 bytes only */
    _tile_loadconfig(&cfg);
}

static TAMX void amx_release(void) { _tile_release(); }

/* one float to bf16, round to nearest even (no NaN here) */
static inline uint16_t bf16_1(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (uint16_t)((u + 0x7FFF + ((u >> 16) & 1)) >> 16);
}
static inline float bf16_f(uint16_t b) {
    uint32_t u = (uint32_t)b << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}
/* x = hi + lo to about 16 bits: hi = bf16(x), lo = bf16(x - hi); n a multiple of 16 */
static TAMX void to_bf16_split(uint16_t *hi, uint16_t *lo, const float *x, int n) {
    for (int i = 0; i < n; i += 16) {
        __m512 v = _mm512_loadu_ps(x + i);
        __m256i h = (__m256i)_mm512_cvtneps_pbh(v);
        __m512 hf = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
        _mm256_storeu_si256((__m256i *)(hi + i), h);
        _mm256_storeu_si256((__m256i *)(lo + i), (__m256i)_mm512_cvtneps_pbh(_mm512_sub_ps(v, hf)));
    }
}

/* The tile plan of all three products: accumulators 0-3 = (A 4, A 5) x (B 6, B 7), operands loaded into 4-7. */
#define AMX_ZERO4()                                                                                                    \
    do {                                                                                                               \
        _tile_zero(0);                                                                                                 \
        _tile_zero(1);                                                                                                 \
        _tile_zero(2);                                                                                                 \
        _tile_zero(3);                                                                                                 \
    } while (0)
#define AMX_DP4()                                                                                                      \
    do {                                                                                                               \
        _tile_dpbf16ps(0, 4, 6);                                                                                       \
        _tile_dpbf16ps(1, 4, 7);                                                                                       \
        _tile_dpbf16ps(2, 5, 6);                                                                                       \
        _tile_dpbf16ps(3, 5, 7);                                                                                       \
    } while (0)

/* S[r][j] (ld ldS) = h[r] . W[c0 + j], r < nr (multiple of 32), j < ncp (multiple of 32), panels from p0 */
static TAMX __attribute__((noinline)) void amx_logits(float *S, int ldS, const uint16_t *hb, const uint16_t *hl,
                                                         int nr, const uint16_t *WP, const uint16_t *WL, int p0,
                                                         int ncp, int D) {
    for (int r = 0; r < nr; r += 32)
        for (int q = 0; q < ncp / 16; q += 2) {
            size_t o0 = (size_t)(p0 + q) * D * 16, o1 = o0 + (size_t)D * 16;
            AMX_ZERO4();
            for (int k = 0; k < D; k += 32) { /* hi hi + hi lo + lo hi */
                _tile_loadd(4, hb + (size_t)r * D + k, D * 2);
                _tile_loadd(5, hb + (size_t)(r + 16) * D + k, D * 2);
                _tile_loadd(6, WP + o0 + (size_t)k * 16, 64);
                _tile_loadd(7, WP + o1 + (size_t)k * 16, 64);
                AMX_DP4();
                _tile_loadd(6, WL + o0 + (size_t)k * 16, 64);
                _tile_loadd(7, WL + o1 + (size_t)k * 16, 64);
                AMX_DP4();
                _tile_loadd(4, hl + (size_t)r * D + k, D * 2);
                _tile_loadd(5, hl + (size_t)(r + 16) * D + k, D * 2);
                _tile_loadd(6, WP + o0 + (size_t)k * 16, 64);
                _tile_loadd(7, WP + o1 + (size_t)k * 16, 64);
                AMX_DP4();
            }
            float *s = S + (size_t)r * ldS + q * 16;
            _tile_stored(0, s, ldS * 4);
            _tile_stored(1, s + 16, ldS * 4);
            _tile_stored(2, s + (size_t)16 * ldS, ldS * 4);
            _tile_stored(3, s + (size_t)16 * ldS + 16, ldS * 4);
        }
}

/* T[r][d] = sum_{j < ncp} Eb[r][j] W[c0 + j][d] for r < nr (multiple of 32); Eb at the chunk's first item (ld ldE
 * bf16), WV at the chunk's first item pair */
static TAMX __attribute__((noinline)) void amx_ew(float *T, const uint16_t *Eb, int ldE, int nr, const uint16_t *WV, int ncp, int D) {
    for (int r = 0; r < nr; r += 32)
        for (int d0 = 0; d0 < D; d0 += 32) {
            AMX_ZERO4();
            for (int k = 0; k < ncp; k += 32) {
                _tile_loadd(4, Eb + (size_t)r * ldE + k, ldE * 2);
                _tile_loadd(5, Eb + (size_t)(r + 16) * ldE + k, ldE * 2);
                const uint16_t *b = WV + ((size_t)(k / 2) * D + d0) * 2;
                _tile_loadd(6, b, D * 4);
                _tile_loadd(7, b + 32, D * 4);
                AMX_DP4();
            }
            float *t = T + (size_t)r * D + d0;
            _tile_stored(0, t, D * 4);
            _tile_stored(1, t + 16, D * 4);
            _tile_stored(2, t + (size_t)16 * D, D * 4);
            _tile_stored(3, t + (size_t)16 * D + 16, D * 4);
        }
}

/* dW[i0 + i][d] += sum_{r < nrp} E[r][i0 + i] hs[r][d] for i < ni: B tiles interleaved from Eb by row pairs into
 * Bb (nrp / 32 x nip / 16 tiles of 16 x 32 bf16), A from hsT (D rows of nrp) */
static TAMX __attribute__((noinline)) void amx_dw(float *dW, int D, const uint16_t *Eb, int ldE, int i0, int ni, const uint16_t *hsT, int nrp,
                        uint16_t *Bb) {
    int nip = (ni + 31) / 32 * 32, ng = nip / 16;
    const __m512i idx = _mm512_set_epi16(47, 15, 46, 14, 45, 13, 44, 12, 43, 11, 42, 10, 41, 9, 40, 8, 39, 7, 38, 6,
                                         37, 5, 36, 4, 35, 3, 34, 2, 33, 1, 32, 0);
    for (int kk = 0; kk < nrp / 32; kk++)
        for (int g = 0; g < ng; g++) {
            uint16_t *o = Bb + ((size_t)kk * ng + g) * 512;
            for (int p = 0; p < 16; p++) {
                const uint16_t *e0 = Eb + (size_t)(32 * kk + 2 * p) * ldE + i0 + 16 * g;
                __m512i a = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)e0));
                __m512i b = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(e0 + ldE)));
                _mm512_storeu_si512(o + p * 32, _mm512_permutex2var_epi16(a, idx, b));
            }
        }
    float ct[16 * 16] __attribute__((aligned(64)));
    for (int d0 = 0; d0 < D; d0 += 32)
        for (int g = 0; g < ng; g += 2) {
            AMX_ZERO4();
            for (int kk = 0; kk < nrp / 32; kk++) {
                _tile_loadd(4, hsT + (size_t)d0 * nrp + 32 * kk, nrp * 2);
                _tile_loadd(5, hsT + (size_t)(d0 + 16) * nrp + 32 * kk, nrp * 2);
                _tile_loadd(6, Bb + ((size_t)kk * ng + g) * 512, 64);
                _tile_loadd(7, Bb + ((size_t)kk * ng + g + 1) * 512, 64);
                AMX_DP4();
            }
#define AMX_DW_ADD(tile, dd, gg)                                                                                       \
    do {                                                                                                               \
        _tile_stored(tile, ct, 64);                                                                                    \
        for (int i = 0; i < 16 && 16 * (gg) + i < ni; i++) {                                                           \
            float *w = dW + (size_t)(i0 + 16 * (gg) + i) * D + (dd);                                                   \
            for (int x = 0; x < 16; x++) w[x] += ct[x * 16 + i];                                                       \
        }                                                                                                              \
    } while (0)
            AMX_DW_ADD(0, d0, g);
            AMX_DW_ADD(1, d0, g + 1);
            AMX_DW_ADD(2, d0 + 16, g);
            AMX_DW_ADD(3, d0 + 16, g + 1);
#undef AMX_DW_ADD
        }
}

/* The kernel's buffers, per calling thread (concurrent trainings do not share them): grown on demand, kept
 * between calls, freed by crec__nn_ce_amx_free (a loss head's free does it). */
#define AMX_NBUF 12
static _Thread_local void *amx_buf[AMX_NBUF];
static _Thread_local size_t amx_cap[AMX_NBUF];

void crec__nn_ce_amx_free(void) {
    for (int i = 0; i < AMX_NBUF; i++) free(amx_buf[i]), amx_buf[i] = NULL, amx_cap[i] = 0;
}

static void *amx_grow(void **p, size_t *cap, size_t bytes) {
    if (bytes > *cap) {
        free(*p);
        *p = crec__aligned_alloc(bytes);
        *cap = *p ? bytes : 0;
    }
    return *p;
}

/* A region of the caller's scratch (laid out for the float kernel, crec__nn_ce_fused_floats) when bytes fit in it,
 * else the thread's buffer k. */
static void *amx_place(void *region, size_t region_bytes, size_t bytes, int k) {
    return bytes <= region_bytes ? region : amx_grow(&amx_buf[k], &amx_cap[k], bytes);
}

static TAMX double ce_amx(float *dh, float *dW, float *scratch, const float *h, const float *W, const int32_t *pos,
                          int N, int D, int NI, int rb, int ic, float gscale) {
    if (ic > NI || ic <= 0) ic = NI;
    if (rb <= 0) rb = 1;
    /* the caller's scratch: E [rb x NI], cm [rb x nchs], rM, rZ, rl [rb], acc, tmp [rb x D], hs [nchs x rb x D] */
    int nchs = (NI + ic - 1) / ic;
    float *cm = scratch + (size_t)rb * NI, *rM = cm + (size_t)rb * nchs, *rZ = rM + rb, *rl = rZ + rb, *acc = rl + rb;
    float *hs = acc + 2 * (size_t)rb * D;
    int NIp = (NI + 31) / 32 * 32, icp = ic < NI ? (ic + 31) / 32 * 32 : NIp, nth = omp_get_max_threads();
    if (icp > NIp) icp = NIp;
    int nch = (NI + icp - 1) / icp, nsub = (icp + CE_BCH - 1) / CE_BCH, rbp = (rb + 31) / 32 * 32;
    void **buf = amx_buf;
    size_t *cap = amx_cap;
    uint16_t *WP = amx_grow(&buf[0], &cap[0], (size_t)NIp * D * 2), *WV = amx_grow(&buf[1], &cap[1], (size_t)NIp * D * 2);
    uint16_t *WL = amx_grow(&buf[11], &cap[11], (size_t)NIp * D * 2), *hl = amx_grow(&buf[8], &cap[8], (size_t)rbp * D * 2);
    uint16_t *hb = amx_grow(&buf[2], &cap[2], (size_t)rbp * D * 2);
    /* the probabilities in the float kernel's logits region, the scaled hidden states in its hs region (they fit
     * but for tiny blocks) */
    uint16_t *Eb = amx_place(scratch, (size_t)rb * NI * 4, (size_t)rbp * NIp * 2, 3);
    uint16_t *hsT = amx_place(hs, (size_t)nchs * rb * D * 4, (size_t)nch * D * rbp * 2, 4);
    float *Sf = amx_grow(&buf[5], &cap[5], (size_t)nth * CE_SLAB * icp * 4);
    float *Tt = amx_grow(&buf[6], &cap[6], (size_t)nth * CE_SLAB * D * 4);
    uint16_t *Bb = amx_grow(&buf[7], &cap[7], (size_t)nth * rbp * CE_BCH * 2);
    float *hT = amx_grow(&buf[9], &cap[9], (size_t)rbp * D * 4), *fs = amx_grow(&buf[10], &cap[10], (size_t)nth * rbp * 4);
    if (!WP || !WV || !WL || !hl || !hb || !Eb || !hsT || !Sf || !Tt || !Bb || !hT || !fs) return NAN;
#pragma omp parallel for schedule(static)
    for (int p = 0; p < NIp / 16; p++) /* WP[p][k2][i][e] = W[16p + i][2 k2 + e], hi and lo parts */
        for (int k2 = 0; k2 < D / 2; k2++)
            for (int i = 0; i < 16; i++)
                for (int e = 0; e < 2; e++) {
                    float w = 16 * p + i < NI ? W[(size_t)(16 * p + i) * D + 2 * k2 + e] : 0;
                    uint16_t hi = bf16_1(w);
                    WP[(size_t)p * D * 16 + (size_t)k2 * 32 + i * 2 + e] = hi;
                    WL[(size_t)p * D * 16 + (size_t)k2 * 32 + i * 2 + e] = bf16_1(w - bf16_f(hi));
                }
#pragma omp parallel for schedule(static)
    for (int p = 0; p < NIp / 2; p++) /* WV[p][d][e] = W[2p + e][d] */
        for (int d = 0; d < D; d++)
            for (int e = 0; e < 2; e++)
                WV[((size_t)p * D + d) * 2 + e] = 2 * p + e < NI ? bf16_1(W[(size_t)(2 * p + e) * D + d]) : 0;
    int nblk = (N + rb - 1) / rb, rbe = (N + nblk - 1) / nblk;
    double loss = 0;
    for (int r0 = 0; r0 < N; r0 += rbe) {
        int nr = N - r0 < rbe ? N - r0 : rbe, nrp = (nr + 31) / 32 * 32;
        int nslab = (nrp + CE_SLAB - 1) / CE_SLAB;
        if (nth > 1 && nslab % nth && (nslab / nth + 1) * nth * 32 <= nrp) nslab = (nslab / nth + 1) * nth;
        int ssz = ((nrp + nslab - 1) / nslab + 31) / 32 * 32;
        nslab = (nrp + ssz - 1) / ssz;
        const float *hbk = h + (size_t)r0 * D;
        const int32_t *pb = pos + r0;
#pragma omp parallel for schedule(static)
        for (int r = 0; r < nr; r++) to_bf16_split(hb + (size_t)r * D, hl + (size_t)r * D, hbk + (size_t)r * D, D);
        memset(hb + (size_t)nr * D, 0, (size_t)(nrp - nr) * D * 2);
        memset(hl + (size_t)nr * D, 0, (size_t)(nrp - nr) * D * 2);
#pragma omp parallel
        {
            amx_config();
            int tid = omp_get_thread_num();
            float *S = Sf + (size_t)tid * CE_SLAB * icp, *T = Tt + (size_t)tid * CE_SLAB * D;
#pragma omp for schedule(static)
            for (int sl = 0; sl < nslab; sl++) {
                int s0 = sl * ssz, nsp = nrp - s0 < ssz ? nrp - s0 : ssz, ns = nr - s0 < nsp ? nr - s0 : nsp;
                float fa[CE_SLAB], fb[CE_SLAB];
                for (int i = s0; i < s0 + ns; i++) rM[i] = -FLT_MAX, rZ[i] = 0, rl[i] = 0;
                if (dh) memset(acc + (size_t)s0 * D, 0, (size_t)ns * D * sizeof *acc);
                for (int c = 0; c < nch; c++) {
                    int c0 = c * icp, nc = NI - c0 < icp ? NI - c0 : icp, ncp = (nc + 31) / 32 * 32;
                    amx_logits(S, icp, hb + (size_t)s0 * D, hl + (size_t)s0 * D, nsp, WP, WL, c0 / 16, ncp, D);
                    for (int i = 0; i < nsp; i++) {
                        uint16_t *eb = Eb + (size_t)(s0 + i) * NIp + c0;
                        if (i >= ns) {
                            memset(eb, 0, (size_t)ncp * 2);
                            continue;
                        }
                        float *l = S + (size_t)i * icp;
                        int r = s0 + i;
                        int32_t p = pb[r];
                        if (p >= c0 && p < c0 + nc) rl[r] = l[p - c0];
                        __m512 vm = _mm512_set1_ps(-FLT_MAX);
                        for (int j = 0; j < nc; j += 16)
                            vm = _mm512_mask_max_ps(vm, lanes(nc - j), vm, _mm512_maskz_loadu_ps(lanes(nc - j), l + j));
                        float m = _mm512_reduce_max_ps(vm);
                        __m512 z = _mm512_setzero_ps(), vmm = _mm512_set1_ps(m);
                        for (int j = 0; j < ncp; j += 16) {
                            __mmask16 k = lanes(nc - j);
                            __m512 e = _mm512_maskz_mov_ps(k, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, l + j), vmm)));
                            z = _mm512_add_ps(z, e);
                            _mm256_storeu_si256((__m256i *)(eb + j), (__m256i)_mm512_cvtneps_pbh(e));
                        }
                        float zs = _mm512_reduce_add_ps(z);
                        cm[(size_t)r * nch + c] = m;
                        float Mn = rM[r] > m ? rM[r] : m;
                        fa[i] = crec__nn_expf(rM[r] - Mn), fb[i] = crec__nn_expf(m - Mn);
                        rZ[r] = rZ[r] * fa[i] + zs * fb[i];
                        rM[r] = Mn;
                    }
                    if (dh) {
                        amx_ew(T, Eb + (size_t)s0 * NIp + c0, NIp, nsp, WV + (size_t)c0 * D, ncp, D);
                        for (int i = 0; i < ns; i++) {
                            float *a = acc + (size_t)(s0 + i) * D;
                            const float *t = T + (size_t)i * D;
                            for (int d = 0; d < D; d++) a[d] = a[d] * fa[i] + t[d] * fb[i];
                        }
                    }
                }
                finish_rows(s0, ns, pb, rM, rZ, rl, acc, dh ? dh + (size_t)r0 * D : NULL, W, D, gscale);
            }
            if (dW) {
#pragma omp for schedule(static)
                for (int d = 0; d < D; d++) /* hT[d][r] = h[r][d], zero past the block's rows */
                    for (int r = 0; r < nrp; r++) hT[(size_t)d * nrp + r] = r < nr ? hbk[(size_t)r * D + d] : 0;
#pragma omp for schedule(static)
                for (int c = 0; c < nch; c++) {
                    uint16_t *o = hsT + (size_t)c * D * nrp;
                    float *f = fs + (size_t)tid * rbp; /* the rows' factors for chunk c */
                    for (int r = 0; r < nrp; r++)
                        f[r] = r < nr && pb[r] >= 0 ? crec__nn_expf(cm[(size_t)r * nch + c] - rM[r]) * gscale : 0;
                    for (int d = 0; d < D; d++)
                        for (int r = 0; r < nrp; r += 16)
                            _mm256_storeu_si256((__m256i *)(o + (size_t)d * nrp + r),
                                                (__m256i)_mm512_cvtneps_pbh(_mm512_mul_ps(
                                                    _mm512_loadu_ps(hT + (size_t)d * nrp + r), _mm512_loadu_ps(f + r))));
                }
#pragma omp for schedule(static)
                for (int t = 0; t < nch * nsub; t++) {
                    int c = t / nsub, c0 = c * icp, c1 = NI - c0 < icp ? NI : c0 + icp;
                    int i0 = c0 + (t % nsub) * CE_BCH, i1 = i0 + CE_BCH < c1 ? i0 + CE_BCH : c1;
                    if (i0 >= i1) continue;
                    amx_dw(dW, D, Eb, NIp, i0, i1 - i0, hsT + (size_t)c * D * nrp, nrp, Bb + (size_t)tid * rbp * CE_BCH);
                    target_rows(dW, hbk, pb, nr, i0, i1, D, gscale);
                }
            }
            amx_release();
        }
        for (int r = 0; r < nr; r++) loss += rl[r];
    }
    return loss;
}

#else /* no AVX-512 kernels on this target */
_Thread_local int crec__nn_ce_amx = 0;
void crec__nn_ce_amx_free(void) {}
int crec__nn_ce_amx_available(int D) {
    (void)D;
    return 0;
}
int crec__nn_ce_amx_ok(int D) {
    (void)D;
    return 0;
}
int crec__nn_ce512_ok(int D) {
    (void)D;
    return 0;
}
double crec__nn_softmax_ce_fused512(float *dh, float *dW, float *scratch, const float *h, const float *W,
                                   const int32_t *pos, int N, int D, int NI, int rb, int ic, float gscale) {
    (void)dh, (void)dW, (void)scratch, (void)h, (void)W, (void)pos, (void)N, (void)D, (void)NI, (void)rb, (void)ic;
    (void)gscale;
    return 0;
}
#endif
