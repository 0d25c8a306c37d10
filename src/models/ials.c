/* ials.c: implicit alternating least squares (iALS) with conjugate-gradient row solves.
 *
 * Loss (Rendle et al. 2022, "Revisiting the Performance of iALS on Item Recommendation Benchmarks"):
 *     sum_{(u,i) observed} (1 - <w_u, h_i>)^2 + alpha0 * sum_{all u,i} <w_u, h_i>^2
 *     + sum_u lam_u |w_u|^2 + sum_i lam_i |h_i|^2,   lam_u = reg * (|I_u| + alpha0 * |I|)^nu   (same for items)
 * The all-pairs term never visits the I x U zeros: for a user it is alpha0 * w^T (H^T H) w, so each row's
 * normal equations are (alpha0 G + sum_{i in I_u} h_i h_i^T + lam_u I) w_u = sum_{i in I_u} h_i with the
 * d x d Gram matrix G = H^T H computed once per half-step (the Gramian trick). weighting=hu gives Hu et
 * al.'s confidence loss instead: observed pairs weigh c = 1 + alpha * r_ui (r_ui = times (u,i) occurs in
 * the training rows), unobserved pairs alpha0 (alpha0 = 1 is Hu et al. exactly); then the row system has
 * weights (c - alpha0) on h h^T and c on h in the right-hand side.
 *
 * The one idea: rows are solved by a few CG steps warm-started from the previous factors, in blocks of rows
 * that run CG in lock-step, so the dense part of the matrix-vector product of a whole block (P G) is one
 * sgemm. The sparse part is memory-bound (each step reads a d-float row of the other side per entry), so a
 * block picks the cheaper of two layouts: per row, one fused pass over its entries (dot with h_i, then
 * axpy of h_i while it is in L1), or, when far fewer other-side rows touch the block than it has entries
 * (blocks of popular items), one pass over those rows, each read once and scattered into the block's rows
 * (kept in L2). OpenMP over contiguous runs of blocks; each thread writes only its own rows, and a row's
 * arithmetic depends only on the block boundaries, so a fixed seed and thread count give the same model.
 * Kernels are written with GCC vector extensions and compiled twice (AVX2+FMA and baseline), picked at run
 * time, since the library itself is built without -march; where the CPU has AVX-512 the sparse passes use
 * AVX-512 kernels that take four entries at a time (eight independent FMA chains for their dot products, one
 * load and store of the accumulator for their four axpys, applied in entry order): the same sums up to the
 * rounding of the dot products. Optionally (CREC_IALS_GATHER, ials.h) a block's Y rows are gathered once into
 * a contiguous buffer that the residual and the CG steps then read in order.
 * Scoring (fold_in=history, the default): the user's factors are solved exactly from the context's history, so
 * the latest events count and users never seen in training are served; a short history is solved in the
 * eigenbasis of H^T H as a diagonal plus a rank-|history| term (Woodbury, O(n^2 d); ials.h), a long one by a
 * dense Cholesky in double (d^3/3 flops); fold_in=new scores a trained user with its trained row (W_u H^T).
 * score_batch scores a block of users with one matrix product (rows W_u or folded-in vectors, against H or Ht),
 * the same numbers as user-by-user scoring up to the float rounding of the product. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <cpuid.h>
#include <immintrin.h>
#include <lapacke.h>

#include "core/binio.h"
#include "core/util.h"
#include "crec/dist.h"
#include "models/ials.h"
#include "models/ials_dist.h"
#include "models/implicit.h"
#include "models/registry.h"
#include "nn/nn.h"

/* OpenBLAS extensions (declared by OpenBLAS's cblas.h too, not by every cblas.h). */
extern void openblas_set_num_threads(int num_threads);
extern int openblas_get_num_threads(void);

#define PF 2 /* prefetch the Y row this many entries ahead in the row layout */
#define GATHER_BYTES ((int64_t)1 << 21) /* per-thread buffer of a gathered sub-block's Y rows */

/* ---------------------------------------------------------------------------------------------------------
 * Kernels. Every vector has n floats, n a multiple of 16, 32-byte aligned (rows are 64-byte aligned). */
typedef float v8f __attribute__((vector_size(32), may_alias));

#define AI static inline __attribute__((always_inline))

AI float dot_body(const float *a, const float *b, int n) {
    v8f s0 = {0}, s1 = {0};
    for (int j = 0; j < n; j += 16) {
        s0 += *(const v8f *)(a + j) * *(const v8f *)(b + j);
        s1 += *(const v8f *)(a + j + 8) * *(const v8f *)(b + j + 8);
    }
    s0 += s1;
    float s = 0;
    for (int j = 0; j < 8; j++) s += s0[j];
    return s;
}

AI void axpy_body(float c, const float *x, float *y, int n) {
    v8f cv = {c, c, c, c, c, c, c, c};
    for (int j = 0; j < n; j += 8) *(v8f *)(y + j) += cv * *(const v8f *)(x + j);
}

/* acc += sum_k (w_k <y_k, v> - t_k) y_k over the rows y_k = Y[idx[k]] (w, t NULL = 1; with_t 0: no t). */
AI void pass_body(const float *Y, int ld, const int32_t *idx, const float *w, const float *t, int64_t n,
                  const float *v, float *acc, int with_t) {
    for (int64_t k = 0; k < n; k++) {
        const float *y = Y + (size_t)idx[k] * ld;
        if (k + PF < n) {
            const char *nx = (const char *)(Y + (size_t)idx[k + PF] * ld);
            for (int b = 0; b < ld * 4; b += 64) __builtin_prefetch(nx + b);
        }
        float s = dot_body(y, v, ld);
        float c = (w ? w[k] : 1.0f) * s;
        if (with_t) c -= t ? t[k] : 1.0f;
        axpy_body(c, y, acc, ld);
    }
}

/* pass_body on rows stored one after the other (the block's gathered copy): y_k = Yc + k ld. */
AI void passc_body(const float *Yc, int ld, const float *w, const float *t, int64_t n, const float *v, float *acc,
                   int with_t) {
    for (int64_t k = 0; k < n; k++) {
        const float *y = Yc + (size_t)k * ld;
        float s = dot_body(y, v, ld);
        float c = (w ? w[k] : 1.0f) * s;
        if (with_t) c -= t ? t[k] : 1.0f;
        axpy_body(c, y, acc, ld);
    }
}

/* out[k] = Y[idx[k]] for k < n (rows of ld floats): the one random pass of a gathered block. */
AI void gather_body(const float *Y, int ld, const int32_t *idx, int64_t n, float *out) {
    for (int64_t k = 0; k < n; k++) {
        const float *y = Y + (size_t)idx[k] * ld;
        if (k + PF < n) {
            const char *nx = (const char *)(Y + (size_t)idx[k + PF] * ld);
            for (int b = 0; b < ld * 4; b += 64) __builtin_prefetch(nx + b);
        }
        float *o = out + (size_t)k * ld;
        for (int j = 0; j < ld; j += 8) *(v8f *)(o + j) = *(const v8f *)(y + j);
    }
}

/* Scatter layout (see block_sparse): for one other-side row y and its n entries (solved rows idx[k]):
 * Q[idx[k] - off] += (w_k <y, V[idx[k] - off]> - t_k) y  (t only when with_t). */
AI void scatter_body(const float *y, int ld, const int32_t *idx, const float *w, const float *t, int64_t n,
                     const float *V, float *Q, int32_t off, int with_t) {
    for (int64_t k = 0; k < n; k++) {
        size_t r = (size_t)(idx[k] - off) * ld;
        float c = (w ? w[k] : 1.0f) * dot_body(y, V + r, ld);
        if (with_t) c -= t ? t[k] : 1.0f;
        axpy_body(c, y, Q + r, ld);
    }
}

/* One CG update of a row given p and q = A p: returns the new r.r, or -1 when p.q <= 0 (stop). */
AI float update_body(float *x, float *r, float *p, const float *q, float rr, int n) {
    float pq = dot_body(p, q, n);
    if (!(pq > 0)) return -1.0f;
    float a = rr / pq;
    axpy_body(a, p, x, n);
    axpy_body(-a, q, r, n);
    float rrn = dot_body(r, r, n);
    float beta = rrn / rr;
    v8f bv = {beta, beta, beta, beta, beta, beta, beta, beta};
    for (int j = 0; j < n; j += 8) *(v8f *)(p + j) = *(const v8f *)(r + j) + bv * *(const v8f *)(p + j);
    return rrn;
}

AI void scores_body(const float *H, int32_t ni, int ld, const float *w, float *scores) {
    for (int32_t i = 0; i < ni; i++) scores[i] = dot_body(H + (size_t)i * ld, w, ld);
}

/* A[i][0..ld) += wt y_i y for i < d (rows of stride ld), b += t y: one history item of a fold-in. */
AI void rank1_body(float *A, float *b, const float *y, float wt, float t, int d, int ld) {
    for (int i = 0; i < d; i++) axpy_body(wt * y[i], y, A + (size_t)i * ld, ld);
    axpy_body(t, y, b, ld);
}

typedef double v4d __attribute__((vector_size(32), may_alias));

/* Solve A x = b, A symmetric positive definite (d x d, row stride ld % 16 == 0, 32-byte aligned, every entry
 * finite, columns d..ld zero). Right-looking Cholesky A = U^T U into the upper triangle (the lower one is
 * overwritten with junk), then two triangular solves; x overwrites b. Returns -1 if A is not PD. */
AI int chol_solve_body(double *A, int d, int ld, double *b) {
    for (int j = 0; j < d; j++) {
        double *Uj = A + (size_t)j * ld;
        if (!(Uj[j] > 0)) return -1;
        double u = sqrt(Uj[j]), inv = 1.0 / u;
        Uj[j] = u;
        for (int q = j + 1; q < d; q++) Uj[q] *= inv;
        for (int i = j + 1; i < d; i++) { /* row i (from column i & ~3 on) -= U[j][i] * row j */
            double c = Uj[i];
            v4d cv = {c, c, c, c};
            double *Ai = A + (size_t)i * ld;
            for (int q = i & ~3; q < ld; q += 4) *(v4d *)(Ai + q) -= cv * *(const v4d *)(Uj + q);
        }
    }
    for (int j = 0; j < d; j++) { /* U^T y = b */
        const double *Uj = A + (size_t)j * ld;
        double yj = b[j] / Uj[j];
        b[j] = yj;
        for (int q = j + 1; q < d; q++) b[q] -= Uj[q] * yj;
    }
    for (int j = d - 1; j >= 0; j--) { /* U x = y */
        const double *Uj = A + (size_t)j * ld;
        double v = b[j];
        for (int q = j + 1; q < d; q++) v -= Uj[q] * b[q];
        b[j] = v / Uj[j];
    }
    return 0;
}

typedef struct ials_kern {
    const char *name;
    float (*dot)(const float *a, const float *b, int n);
    void (*pass)(const float *Y, int ld, const int32_t *idx, const float *w, const float *t, int64_t n,
                 const float *v, float *acc, int with_t);
    float (*update)(float *x, float *r, float *p, const float *q, float rr, int n);
    void (*scores)(const float *H, int32_t ni, int ld, const float *w, float *scores);
    void (*rank1)(float *A, float *b, const float *y, float wt, float t, int d, int ld);
    int (*chol_solve)(double *A, int d, int ld, double *b);
    void (*scatter)(const float *y, int ld, const int32_t *idx, const float *w, const float *t, int64_t n,
                    const float *V, float *Q, int32_t off, int with_t);
    void (*passc)(const float *Yc, int ld, const float *w, const float *t, int64_t n, const float *v, float *acc,
                  int with_t);
    void (*gather)(const float *Y, int ld, const int32_t *idx, int64_t n, float *out);
} ials_kern;

#define IALS_KERNELS(SUF, ATTR)                                                                                  \
    ATTR static float dot_##SUF(const float *a, const float *b, int n) { return dot_body(a, b, n); }           \
    ATTR static void pass_##SUF(const float *Y, int ld, const int32_t *idx, const float *w, const float *t,     \
                                int64_t n, const float *v, float *acc, int with_t) {                            \
        pass_body(Y, ld, idx, w, t, n, v, acc, with_t);                                                          \
    }                                                                                                            \
    ATTR static float update_##SUF(float *x, float *r, float *p, const float *q, float rr, int n) {            \
        return update_body(x, r, p, q, rr, n);                                                                   \
    }                                                                                                            \
    ATTR static void scores_##SUF(const float *H, int32_t ni, int ld, const float *w, float *scores) {         \
        scores_body(H, ni, ld, w, scores);                                                                       \
    }                                                                                                            \
    ATTR static void rank1_##SUF(float *A, float *b, const float *y, float wt, float t, int d, int ld) {       \
        rank1_body(A, b, y, wt, t, d, ld);                                                                       \
    }                                                                                                            \
    ATTR static int chol_solve_##SUF(double *A, int d, int ld, double *b) { return chol_solve_body(A, d, ld, b); } \
    ATTR static void scatter_##SUF(const float *y, int ld, const int32_t *idx, const float *w, const float *t,  \
                                   int64_t n, const float *V, float *Q, int32_t off, int with_t) {              \
        scatter_body(y, ld, idx, w, t, n, V, Q, off, with_t);                                                    \
    }                                                                                                            \
    ATTR static void passc_##SUF(const float *Yc, int ld, const float *w, const float *t, int64_t n,            \
                                 const float *v, float *acc, int with_t) {                                      \
        passc_body(Yc, ld, w, t, n, v, acc, with_t);                                                             \
    }                                                                                                            \
    ATTR static void gather_##SUF(const float *Y, int ld, const int32_t *idx, int64_t n, float *out) {          \
        gather_body(Y, ld, idx, n, out);                                                                         \
    }                                                                                                            \
    static const ials_kern KERN_##SUF = {#SUF,         dot_##SUF,   pass_##SUF,       update_##SUF,            \
                                         scores_##SUF, rank1_##SUF, chol_solve_##SUF, scatter_##SUF,           \
                                         passc_##SUF,  gather_##SUF};

IALS_KERNELS(avx2, __attribute__((target("avx2,fma"))))
IALS_KERNELS(base, )

static const ials_kern *kern(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &KERN_avx2 : &KERN_base;
}

/* Half-precision sparse passes (precision=mixed|fp16). The sparse part is memory-bound: each entry reads one
 * factor row of the other side, so a half-step reads Y's rows (cg_steps + 1) x nnz times. A copy of Y in IEEE
 * fp16 (scaled by a power of two so that max |Y| maps to 2^14: no overflow, entries down to 2^-28 of the largest stay
 * normal) halves those bytes; the kernel widens 8 halves at a time (F16C) and does the arithmetic
 * in float, as the fp32 pass. Yh rows have the stride ld (halves), 32-byte aligned; yinv = 1 / scale. Only
 * built for AVX2 + FMA + F16C; without them precision falls back to fp32. */
#define F16 __attribute__((target("avx2,fma,f16c")))

F16 static inline __m256 ld_h8(const uint16_t *p) { return _mm256_cvtph_ps(_mm_load_si128((const __m128i *)p)); }

F16 static float dot_h(const uint16_t *yh, const float *v, int n) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    for (int j = 0; j < n; j += 16) {
        s0 = _mm256_fmadd_ps(ld_h8(yh + j), _mm256_load_ps(v + j), s0);
        s1 = _mm256_fmadd_ps(ld_h8(yh + j + 8), _mm256_load_ps(v + j + 8), s1);
    }
    s0 = _mm256_add_ps(s0, s1);
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s0), _mm256_extractf128_ps(s0, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

/* pass_body on the fp16 copy: acc += sum_k (w_k <y_k, v> - t_k) y_k with y_k = yinv * Yh[idx[k]]. */
F16 static void pass_h(const uint16_t *Yh, int ld, const int32_t *idx, const float *w, const float *t, int64_t n,
                       const float *v, float *acc, int with_t, float yinv) {
    for (int64_t k = 0; k < n; k++) {
        const uint16_t *y = Yh + (size_t)idx[k] * ld;
        if (k + PF < n) {
            const char *nx = (const char *)(Yh + (size_t)idx[k + PF] * ld);
            for (int b = 0; b < ld * 2; b += 64) __builtin_prefetch(nx + b);
        }
        float c = (w ? w[k] : 1.0f) * yinv * dot_h(y, v, ld);
        if (with_t) c -= t ? t[k] : 1.0f;
        __m256 cv = _mm256_set1_ps(c * yinv);
        for (int j = 0; j < ld; j += 8)
            _mm256_store_ps(acc + j, _mm256_fmadd_ps(cv, ld_h8(y + j), _mm256_load_ps(acc + j)));
    }
}

/* pass_h on the block's gathered fp16 rows (y_k = yinv * Yc[k ld ..]). */
F16 static void pass_hc(const uint16_t *Yc, int ld, const float *w, const float *t, int64_t n, const float *v,
                        float *acc, int with_t, float yinv) {
    for (int64_t k = 0; k < n; k++) {
        const uint16_t *y = Yc + (size_t)k * ld;
        float c = (w ? w[k] : 1.0f) * yinv * dot_h(y, v, ld);
        if (with_t) c -= t ? t[k] : 1.0f;
        __m256 cv = _mm256_set1_ps(c * yinv);
        for (int j = 0; j < ld; j += 8)
            _mm256_store_ps(acc + j, _mm256_fmadd_ps(cv, ld_h8(y + j), _mm256_load_ps(acc + j)));
    }
}

/* out[k] = Yh[idx[k]] for k < n (rows of ld halves). */
F16 static void gather_h(const uint16_t *Yh, int ld, const int32_t *idx, int64_t n, uint16_t *out) {
    for (int64_t k = 0; k < n; k++) {
        const uint16_t *y = Yh + (size_t)idx[k] * ld;
        if (k + PF < n) {
            const char *nx = (const char *)(Yh + (size_t)idx[k + PF] * ld);
            for (int b = 0; b < ld * 2; b += 64) __builtin_prefetch(nx + b);
        }
        uint16_t *o = out + (size_t)k * ld;
        for (int j = 0; j < ld; j += 16) _mm256_store_si256((__m256i *)(o + j), _mm256_load_si256((const __m256i *)(y + j)));
    }
}

/* The AVX-512 sparse passes (the default where the CPU has AVX-512F; flag CREC_IALS_LEGACY or a CPU without it
 * selects the kernels above). Four entries at a time: their four dot products run as eight independent FMA
 * chains (two per row), then one load and store of acc serves the four axpys, which are applied in entry order
 * (acc = fma(c3, y3, fma(c2, y2, fma(c1, y1, fma(c0, y0, acc))))); the rows four and more ahead are
 * prefetched. One template for fp32 rows and for the fp16 copy (widened 16 at a time), and for rows read
 * through idx (random) or stored one after the other (idx NULL: the gathered block): the same arithmetic in
 * the same order either way, so gathering does not change a result. ys scales the stored rows (1 for fp32). */
#define F512 __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,fma,f16c")))

F512 static inline __m512 ld16_f(const float *p) { return _mm512_load_ps(p); }
F512 static inline __m512 ld16_h(const uint16_t *p) { return _mm512_cvtph_ps(_mm256_load_si256((const __m256i *)p)); }

#define PASS512(NAME, T, LD16)                                                                                   \
    F512 static void NAME(const T *Y, int ld, const int32_t *idx, const float *w, const float *t, int64_t n,    \
                          const float *v, float *acc, int with_t, float ys) {                                    \
        int64_t k = 0;                                                                                           \
        for (; k + 3 < n; k += 4) {                                                                              \
            const T *y[4];                                                                                       \
            for (int q = 0; q < 4; q++) y[q] = Y + (size_t)(idx ? idx[k + q] : k + q) * ld;                      \
            if (idx)                                                                                             \
                for (int64_t q = k + 4; q < k + 8 && q < n; q++) {                                               \
                    const char *nx = (const char *)(Y + (size_t)idx[q] * ld);                                    \
                    for (int b = 0; b < ld * (int)sizeof(T); b += 64) __builtin_prefetch(nx + b);                \
                }                                                                                                \
            __m512 s[4], u[4], a[4];                                                                             \
            for (int q = 0; q < 4; q++) s[q] = u[q] = _mm512_setzero_ps();                                       \
            int j = 0;                                                                                           \
            for (; j + 32 <= ld; j += 32) {                                                                      \
                __m512 va = _mm512_load_ps(v + j), vb = _mm512_load_ps(v + j + 16);                              \
                for (int q = 0; q < 4; q++) {                                                                    \
                    s[q] = _mm512_fmadd_ps(LD16(y[q] + j), va, s[q]);                                            \
                    u[q] = _mm512_fmadd_ps(LD16(y[q] + j + 16), vb, u[q]);                                       \
                }                                                                                                \
            }                                                                                                    \
            if (j < ld) {                                                                                        \
                __m512 va = _mm512_load_ps(v + j);                                                               \
                for (int q = 0; q < 4; q++) s[q] = _mm512_fmadd_ps(LD16(y[q] + j), va, s[q]);                    \
            }                                                                                                    \
            for (int q = 0; q < 4; q++) {                                                                        \
                float c = (w ? w[k + q] : 1.0f) * ys * _mm512_reduce_add_ps(_mm512_add_ps(s[q], u[q]));          \
                if (with_t) c -= t ? t[k + q] : 1.0f;                                                            \
                a[q] = _mm512_set1_ps(c * ys);                                                                   \
            }                                                                                                    \
            for (j = 0; j < ld; j += 16) {                                                                       \
                __m512 x = _mm512_load_ps(acc + j);                                                              \
                for (int q = 0; q < 4; q++) x = _mm512_fmadd_ps(a[q], LD16(y[q] + j), x);                       \
                _mm512_store_ps(acc + j, x);                                                                     \
            }                                                                                                    \
        }                                                                                                        \
        for (; k < n; k++) {                                                                                     \
            const T *y = Y + (size_t)(idx ? idx[k] : k) * ld;                                                   \
            __m512 s0 = _mm512_setzero_ps(), u0 = s0;                                                            \
            int j = 0;                                                                                           \
            for (; j + 32 <= ld; j += 32) {                                                                      \
                s0 = _mm512_fmadd_ps(LD16(y + j), _mm512_load_ps(v + j), s0);                                   \
                u0 = _mm512_fmadd_ps(LD16(y + j + 16), _mm512_load_ps(v + j + 16), u0);                          \
            }                                                                                                    \
            if (j < ld) s0 = _mm512_fmadd_ps(LD16(y + j), _mm512_load_ps(v + j), s0);                            \
            float c = (w ? w[k] : 1.0f) * ys * _mm512_reduce_add_ps(_mm512_add_ps(s0, u0));                      \
            if (with_t) c -= t ? t[k] : 1.0f;                                                                    \
            __m512 a0 = _mm512_set1_ps(c * ys);                                                                  \
            for (j = 0; j < ld; j += 16)                                                                         \
                _mm512_store_ps(acc + j, _mm512_fmadd_ps(a0, LD16(y + j), _mm512_load_ps(acc + j)));             \
        }                                                                                                        \
    }

PASS512(pass512_f, float, ld16_f)
PASS512(pass512_h, uint16_t, ld16_h)

/* scatter_body with AVX-512, four entries at a time: Q[idx[k] - off] += (w_k <y, V[idx[k] - off]> - t_k) y. The
 * entries of one call are distinct rows, so each Q row gets the same single update as from scatter_body. */
F512 static void scatter512(const float *y, int ld, const int32_t *idx, const float *w, const float *t, int64_t n,
                            const float *V, float *Q, int32_t off, int with_t) {
    int64_t k = 0;
    for (; k + 3 < n; k += 4) {
        const float *vr[4];
        float *qr[4];
        for (int q = 0; q < 4; q++) vr[q] = V + (size_t)(idx[k + q] - off) * ld, qr[q] = Q + (size_t)(idx[k + q] - off) * ld;
        __m512 s[4], u[4];
        for (int q = 0; q < 4; q++) s[q] = u[q] = _mm512_setzero_ps();
        int j = 0;
        for (; j + 32 <= ld; j += 32) {
            __m512 ya = _mm512_load_ps(y + j), yb = _mm512_load_ps(y + j + 16);
            for (int q = 0; q < 4; q++) {
                s[q] = _mm512_fmadd_ps(_mm512_load_ps(vr[q] + j), ya, s[q]);
                u[q] = _mm512_fmadd_ps(_mm512_load_ps(vr[q] + j + 16), yb, u[q]);
            }
        }
        if (j < ld) {
            __m512 ya = _mm512_load_ps(y + j);
            for (int q = 0; q < 4; q++) s[q] = _mm512_fmadd_ps(_mm512_load_ps(vr[q] + j), ya, s[q]);
        }
        __m512 a[4];
        for (int q = 0; q < 4; q++) {
            float c = (w ? w[k + q] : 1.0f) * _mm512_reduce_add_ps(_mm512_add_ps(s[q], u[q]));
            if (with_t) c -= t ? t[k + q] : 1.0f;
            a[q] = _mm512_set1_ps(c);
        }
        for (j = 0; j < ld; j += 16) {
            __m512 yj = _mm512_load_ps(y + j);
            for (int q = 0; q < 4; q++) _mm512_store_ps(qr[q] + j, _mm512_fmadd_ps(a[q], yj, _mm512_load_ps(qr[q] + j)));
        }
    }
    for (; k < n; k++) {
        const float *vr = V + (size_t)(idx[k] - off) * ld;
        float *qr = Q + (size_t)(idx[k] - off) * ld;
        __m512 s0 = _mm512_setzero_ps(), u0 = s0;
        int j = 0;
        for (; j + 32 <= ld; j += 32) {
            s0 = _mm512_fmadd_ps(_mm512_load_ps(vr + j), _mm512_load_ps(y + j), s0);
            u0 = _mm512_fmadd_ps(_mm512_load_ps(vr + j + 16), _mm512_load_ps(y + j + 16), u0);
        }
        if (j < ld) s0 = _mm512_fmadd_ps(_mm512_load_ps(vr + j), _mm512_load_ps(y + j), s0);
        float c = (w ? w[k] : 1.0f) * _mm512_reduce_add_ps(_mm512_add_ps(s0, u0));
        if (with_t) c -= t ? t[k] : 1.0f;
        __m512 a0 = _mm512_set1_ps(c);
        for (j = 0; j < ld; j += 16) _mm512_store_ps(qr + j, _mm512_fmadd_ps(a0, _mm512_load_ps(y + j), _mm512_load_ps(qr + j)));
    }
}

static int have_512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
}

/* Yh[r] = fp16(scale * Y[r]) for rows [lo, hi) (round to nearest even). */
F16 static void to_half(const float *Y, int ld, int64_t lo, int64_t hi, float scale, uint16_t *Yh) {
    __m256 sv = _mm256_set1_ps(scale);
    for (size_t q = (size_t)lo * ld; q < (size_t)hi * ld; q += 8)
        _mm_store_si128((__m128i *)(Yh + q),
                        _mm256_cvtps_ph(_mm256_mul_ps(_mm256_load_ps(Y + q), sv), _MM_FROUND_TO_NEAREST_INT));
}

static int have_f16(void) {
    unsigned a = 0, b = 0, c = 0, d = 0; /* F16C: CPUID leaf 1, ECX bit 29 (not every compiler's cpu_supports knows it) */
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 29))) return 0;
    return kern() == &KERN_avx2;
}

static int round16(int d) { return (d + 15) & ~15; }

/* Run OpenBLAS single-threaded while our OpenMP threads each call it (restored by blas_end). */
static int blas_begin(int nth) {
    int prev = openblas_get_num_threads();
    if (nth > 1 && prev != 1) openblas_set_num_threads(1);
    return prev;
}
static void blas_end(int nth, int prev) {
    if (nth > 1 && prev != 1) openblas_set_num_threads(prev);
}

static int threads_of(int n) { return n > 0 ? n : omp_get_max_threads(); }

/* ---------------------------------------------------------------------------------------------------------
 * Data: deduplicated rows of both sides, their weights and ridges. */

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

void crec__ials_data_free(crec_ials_data *d) {
    free(d->uptr), free(d->iptr), free(d->uidx), free(d->iidx);
    free(d->uw), free(d->ut), free(d->iw), free(d->it);
    free(d->ulam), free(d->ilam);
    memset(d, 0, sizeof *d);
}

int crec__ials_data_build(const crec_csr *x, const crec_ials_params *p, crec_ials_data *out) {
    memset(out, 0, sizeof *out);
    int32_t nu = x->n_rows, ni = x->n_cols;
    int64_t nnz = crec_csr_nnz(x);
    crec_ials_data *d = out;
    d->uptr = malloc(((size_t)nu + 1) * sizeof *d->uptr);
    d->iptr = calloc((size_t)ni + 1, sizeof *d->iptr);
    d->uidx = malloc(((size_t)nnz + 1) * sizeof *d->uidx);
    float *cnt = malloc(((size_t)nnz + 1) * sizeof *cnt); /* r_ui per unique entry */
    d->ulam = malloc(((size_t)nu + 1) * sizeof *d->ulam);
    d->ilam = malloc(((size_t)ni + 1) * sizeof *d->ilam);
    if (!d->uptr || !d->iptr || !d->uidx || !cnt || !d->ulam || !d->ilam) goto nomem;
    /* users: sort (when not sorted already) and merge repeats, counting them */
    int64_t o = 0;
    d->uptr[0] = 0;
    for (int32_t u = 0; u < nu; u++) {
        int64_t a = x->ptr[u], b = x->ptr[u + 1], n = b - a;
        int32_t *row = d->uidx + o;
        memcpy(row, x->idx + a, (size_t)n * sizeof *row);
        int sorted = 1;
        for (int64_t k = 1; k < n && sorted; k++) sorted = row[k - 1] < row[k];
        if (!sorted) qsort(row, (size_t)n, sizeof *row, cmp_i32);
        int64_t m = 0;
        for (int64_t k = 0; k < n; k++) {
            if (m > 0 && row[m - 1] == row[k]) {
                cnt[o + m - 1] += 1.0f;
                continue;
            }
            row[m] = row[k];
            cnt[o + m] = 1.0f;
            m++;
        }
        o += m;
        d->uptr[u + 1] = o;
    }
    int64_t nz = o;
    /* items: the transpose, each row ascending by user */
    d->iidx = malloc(((size_t)nz + 1) * sizeof *d->iidx);
    if (!d->iidx) goto nomem;
    for (int64_t k = 0; k < nz; k++) d->iptr[d->uidx[k] + 1]++;
    for (int32_t i = 0; i < ni; i++) d->iptr[i + 1] += d->iptr[i];
    int64_t *fill = malloc(((size_t)ni + 1) * sizeof *fill);
    int64_t *perm = p->hu ? malloc(((size_t)nz + 1) * sizeof *perm) : NULL;
    if (!fill || (p->hu && !perm)) {
        free(fill), free(perm);
        goto nomem;
    }
    memcpy(fill, d->iptr, (size_t)ni * sizeof *fill);
    for (int32_t u = 0; u < nu; u++)
        for (int64_t k = d->uptr[u]; k < d->uptr[u + 1]; k++) {
            int64_t q = fill[d->uidx[k]]++;
            d->iidx[q] = u;
            if (perm) perm[q] = k;
        }
    free(fill);
    if (p->hu) { /* w = c - alpha0 on h h^T, t = c in the right-hand side, c = 1 + alpha r */
        d->uw = malloc(((size_t)nz + 1) * sizeof *d->uw);
        d->ut = malloc(((size_t)nz + 1) * sizeof *d->ut);
        d->iw = malloc(((size_t)nz + 1) * sizeof *d->iw);
        d->it = malloc(((size_t)nz + 1) * sizeof *d->it);
        if (!d->uw || !d->ut || !d->iw || !d->it) {
            free(perm);
            goto nomem;
        }
        for (int64_t k = 0; k < nz; k++) {
            float c = (float)(1.0 + p->alpha * cnt[k]);
            d->ut[k] = c;
            d->uw[k] = c - (float)p->alpha0;
        }
        for (int64_t q = 0; q < nz; q++) d->iw[q] = d->uw[perm[q]], d->it[q] = d->ut[perm[q]];
        free(perm);
    }
    free(cnt);
    cnt = NULL;
    for (int32_t u = 0; u < nu; u++)
        d->ulam[u] = (float)(p->reg * pow((double)(d->uptr[u + 1] - d->uptr[u]) + p->alpha0 * ni, p->nu));
    for (int32_t i = 0; i < ni; i++)
        d->ilam[i] = (float)(p->reg * pow((double)(d->iptr[i + 1] - d->iptr[i]) + p->alpha0 * nu, p->nu));
    d->users = (crec_ials_rows){nu, ni, d->uptr, d->uidx, d->uw, d->ut, d->ulam};
    d->items = (crec_ials_rows){ni, nu, d->iptr, d->iidx, d->iw, d->it, d->ilam};
    return 0;
nomem:
    free(cnt);
    crec__ials_data_free(d);
    return CREC_ENOMEM;
}

/* ---------------------------------------------------------------------------------------------------------
 * State. */

void crec__ials_state_free(crec_ials_state *s) {
    free(s->block);
    free(s->gram_h);
    free(s->Ht);
    free(s->geig);
    memset(s, 0, sizeof *s);
}

/* Allocate W, H (zeroed) and gram_h. */
static int state_alloc(crec_ials_state *s, int32_t n_users, int32_t n_items, const crec_ials_params *p) {
    memset(s, 0, sizeof *s);
    s->n_users = n_users, s->n_items = n_items;
    s->d = p->factors, s->ld = round16(p->factors);
    s->p = *p;
    size_t rows = (size_t)n_users + (size_t)n_items;
    /* 4 KiB pages on purpose: transparent huge pages for W, H and the fp16 copy measured 15-25% slower per
     * iteration on this (virtualised, shared) machine (RESULTS.md, issue 16 fifth round) */
    s->block = crec__aligned_alloc((rows * (size_t)s->ld + 16) * sizeof(float));
    s->gram_h = crec__aligned_alloc((size_t)s->ld * s->ld * sizeof(float));
    if (!s->block || !s->gram_h) {
        crec__ials_state_free(s);
        return CREC_ENOMEM;
    }
    s->W = s->block;
    s->H = s->block + (size_t)n_users * s->ld;
    return 0;
}

int crec__ials_state_init(crec_ials_state *s, int32_t n_users, int32_t n_items, const crec_ials_params *p,
                          uint64_t seed) {
    int rc = state_alloc(s, n_users, n_items, p);
    if (rc) return rc;
    size_t rows = (size_t)n_users + (size_t)n_items;
    float sd = (float)(p->init_std > 0 ? p->init_std : 0.1 / sqrt((double)p->factors));
    int64_t nblk = (int64_t)((rows + 255) / 256);
    /* W and H are one array of rows; block b of 256 rows draws from its own stream seed + b */
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < nblk; b++) {
        crec_rng r;
        crec__rng_seed(&r, seed + (uint64_t)b);
        size_t r1 = (size_t)(b + 1) * 256 < rows ? (size_t)(b + 1) * 256 : rows;
        for (size_t row = (size_t)b * 256; row < r1; row++)
            for (int j = 0; j < s->d; j++) s->block[row * s->ld + j] = sd * (float)crec__rng_normal(&r);
    }
    return 0;
}

/* ---------------------------------------------------------------------------------------------------------
 * Gram matrix and the lock-step CG half-step. */

int crec__ials_gram(const float *Y, int32_t n, int ld, float *G, int n_threads) {
    int nth = threads_of(n_threads);
    if (n < 4096) nth = 1; /* not worth the threads */
    size_t ll = (size_t)ld * ld;
    float *part = nth > 1 ? crec__aligned_alloc((size_t)nth * ll * sizeof *part) : NULL;
    if (nth > 1 && !part) return CREC_ENOMEM;
    if (nth == 1) {
        cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, ld, n, 1.0f, Y, ld, 0.0f, G, ld);
    } else {
        int prev = blas_begin(nth);
#pragma omp parallel num_threads(nth)
        {
            int t = omp_get_thread_num(), T = omp_get_num_threads();
            int64_t lo = (int64_t)n * t / T, hi = (int64_t)n * (t + 1) / T;
            if (hi > lo)
                cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, ld, (int)(hi - lo), 1.0f, Y + (size_t)lo * ld, ld,
                            0.0f, part + (size_t)t * ll, ld);
        }
        blas_end(nth, prev);
        /* fixed summation order: deterministic for a thread count */
        for (int i = 0; i < ld; i++)
            for (int j = i; j < ld; j++) {
                float acc = 0;
                for (int t = 0; t < nth; t++)
                    if ((int64_t)n * (t + 1) / nth > (int64_t)n * t / nth) acc += part[(size_t)t * ll + (size_t)i * ld + j];
                G[(size_t)i * ld + j] = acc;
            }
        free(part);
    }
    for (int i = 0; i < ld; i++)
        for (int j = 0; j < i; j++) G[(size_t)i * ld + j] = G[(size_t)j * ld + i];
    return 0;
}

/* Per-thread scratch of the half-step: the block's CG vectors and, for the scatter layout, the other-side rows
 * that touch the block (spans) and a cursor per other-side row. */
typedef struct cg_scratch {
    float *Q, *R, *P, *rr, *rr0;
    int32_t *su, *sl; /* span: other row, length */
    int64_t *so;      /* span: offset into trows->idx */
    int64_t *cur;     /* per other row: first entry not yet consumed by this thread's blocks */
    void *gb;         /* the gathered Y rows of a sub-block (GATHER_BYTES) */
    int k512;         /* the row layout's passes: 1 the AVX-512 kernels, 0 the AVX2 / baseline ones */
} cg_scratch;

/* Spans of block [lo, hi): the other rows u with entries there (consumed from cur[u], which moves forward:
 * blocks of one thread are visited in increasing order). Returns the number of spans; *nent gets entries. */
static int64_t block_spans(const crec_ials_rows *trows, int32_t hi, cg_scratch *c, int64_t *nent) {
    int64_t ns = 0, ne = 0;
    const int32_t *idx = trows->idx;
    for (int32_t u = 0; u < trows->n_rows; u++) {
        int64_t q = c->cur[u], e = trows->ptr[u + 1];
        if (q >= e || idx[q] >= hi) continue;
        int64_t s0 = q;
        while (q < e && idx[q] < hi) q++;
        c->su[ns] = u, c->so[ns] = s0, c->sl[ns] = (int32_t)(q - s0);
        ns++, ne += q - s0;
        c->cur[u] = q;
    }
    *nent = ne;
    return ns;
}

/* The sparse part of A v for the block rows [lo, lo + B): acc += sum (w <y, v> - t) y (t when with_t).
 * Row layout: each row reads its entries' Y rows. Scatter layout: each other row u touching the block is
 * read once and scattered into the rows it touches (V, Q hold the block rows only). */
static void block_sparse(const ials_kern *k, const float *Y, const uint16_t *Yh, float yinv, int ld,
                         const crec_ials_rows *rows, const crec_ials_rows *trows, int32_t lo, int B, const float *V,
                         float *Q, int with_t, const cg_scratch *c, int64_t ns, const float *rr, const void *gb) {
    if (ns >= 0) {
        for (int64_t q = 0; q < ns; q++) {
            int64_t o = c->so[q];
            (c->k512 ? scatter512 : k->scatter)(Y + (size_t)c->su[q] * ld, ld, trows->idx + o, trows->w ? trows->w + o : NULL,
                       trows->t ? trows->t + o : NULL, c->sl[q], V, Q, lo, with_t);
        }
        return;
    }
    int64_t base = rows->ptr[lo];
    for (int b = 0; b < B; b++) {
        if (rr && rr[b] == 0) continue; /* converged row: p = 0 */
        int64_t a = rows->ptr[lo + b], n = rows->ptr[lo + b + 1] - a;
        const float *rw = rows->w ? rows->w + a : NULL, *rt = rows->t ? rows->t + a : NULL;
        if (c->k512 && Yh)
            pass512_h(gb ? (const uint16_t *)gb + (size_t)(a - base) * ld : Yh, ld, gb ? NULL : rows->idx + a, rw, rt,
                      n, V + (size_t)b * ld, Q + (size_t)b * ld, with_t, yinv);
        else if (c->k512)
            pass512_f(gb ? (const float *)gb + (size_t)(a - base) * ld : Y, ld, gb ? NULL : rows->idx + a, rw, rt, n,
                      V + (size_t)b * ld, Q + (size_t)b * ld, with_t, 1.0f);
        else if (gb && Yh)
            pass_hc((const uint16_t *)gb + (size_t)(a - base) * ld, ld, rows->w ? rows->w + a : NULL,
                    rows->t ? rows->t + a : NULL, n, V + (size_t)b * ld, Q + (size_t)b * ld, with_t, yinv);
        else if (gb)
            k->passc((const float *)gb + (size_t)(a - base) * ld, ld, rows->w ? rows->w + a : NULL,
                     rows->t ? rows->t + a : NULL, n, V + (size_t)b * ld, Q + (size_t)b * ld, with_t);
        else if (Yh)
            pass_h(Yh, ld, rows->idx + a, rows->w ? rows->w + a : NULL, rows->t ? rows->t + a : NULL, n,
                   V + (size_t)b * ld, Q + (size_t)b * ld, with_t, yinv);
        else
            k->pass(Y, ld, rows->idx + a, rows->w ? rows->w + a : NULL, rows->t ? rows->t + a : NULL, n,
                    V + (size_t)b * ld, Q + (size_t)b * ld, with_t);
    }
}

/* cg_steps lock-step CG steps on rows [lo, lo + B) of X, warm-started from X. ns < 0: row layout. The row
 * layout's passes read Y, or its fp16 copy: Yh_res for the residual, Yh for the CG steps (NULL: Y). */
static void solve_block(const ials_kern *k, float *X, const float *Y, const uint16_t *Yh_res, const uint16_t *Yh,
                        float yinv, int ld, const float *G, float gscale, const crec_ials_rows *rows,
                        const crec_ials_rows *trows, int32_t lo, int B, int cg_steps, cg_scratch *c, int64_t ns,
                        int gather) {
    float *Xb = X + (size_t)lo * ld, *Q = c->Q, *R = c->R, *P = c->P, *rr = c->rr, *rr0 = c->rr0;
    /* gather: the block's Y rows (as the CG steps read them: fp32 or the fp16 copy) copied once, in entry order,
     * so that the residual (when it reads the same copy) and the CG steps read them sequentially */
    const void *gb = NULL;
    if (gather && ns < 0) {
        int64_t a = rows->ptr[lo], n = rows->ptr[lo + B] - a;
        if (Yh) gather_h(Yh, ld, rows->idx + a, n, (uint16_t *)c->gb);
        else k->gather(Y, ld, rows->idx + a, n, (float *)c->gb);
        gb = c->gb;
    }
    /* r = b - A x */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, ld, ld, gscale, Xb, ld, G, ld, 0.0f, Q, ld);
    block_sparse(k, Y, Yh_res, yinv, ld, rows, trows, lo, B, Xb, Q, 1, c, ns, NULL, Yh_res == Yh ? gb : NULL);
    for (int b = 0; b < B; b++) {
        float *x = Xb + (size_t)b * ld, *q = Q + (size_t)b * ld, *r = R + (size_t)b * ld, *p = P + (size_t)b * ld;
        float lam = rows->lam[lo + b];
        for (int j = 0; j < ld; j++) r[j] = -(q[j] + lam * x[j]), p[j] = r[j];
        rr[b] = rr0[b] = k->dot(r, r, ld);
        if (!(rr[b] > 0)) memset(p, 0, (size_t)ld * sizeof *p), rr[b] = 0;
    }
    for (int step = 0; step < cg_steps; step++) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, ld, ld, gscale, P, ld, G, ld, 0.0f, Q, ld);
        block_sparse(k, Y, Yh, yinv, ld, rows, trows, lo, B, P, Q, 0, c, ns, rr, gb);
        for (int b = 0; b < B; b++) {
            if (rr[b] == 0) continue; /* converged: p = 0 */
            float *x = Xb + (size_t)b * ld, *q = Q + (size_t)b * ld, *r = R + (size_t)b * ld, *p = P + (size_t)b * ld;
            float lam = rows->lam[lo + b];
            for (int j = 0; j < ld; j++) q[j] += lam * p[j];
            float rn = k->update(x, r, p, q, rr[b], ld);
            if (!(rn > 1e-12f * rr0[b])) { /* converged, or p.q <= 0 (rounding): stop this row */
                memset(p, 0, (size_t)ld * sizeof *p);
                rn = 0;
            }
            rr[b] = rn;
        }
    }
}

/* First entry of the sorted idx[0..n) that is >= v. */
static int64_t lower_bound(const int32_t *idx, int64_t n, int32_t v) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = (lo + hi) / 2;
        if (idx[mid] < v) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

int crec__ials_solve_side(float *X, const float *Y, int ld, const float *G, float gscale, const crec_ials_rows *rows,
                          const crec_ials_rows *trows, int cg_steps, int block_rows, int n_threads) {
    return crec__ials_solve_side_prec(X, Y, ld, G, gscale, rows, trows, cg_steps, block_rows, n_threads, 0);
}

/* The fp16 copy of Y (rows x ld) into *out (caller frees), scaled by a power of two so max |Y| < 2^14; *yinv =
 * 1 / scale. 0 or CREC_ENOMEM. */
static int half_copy(const float *Y, int32_t rows, int ld, int nth, uint16_t **out, float *yinv) {
    uint16_t *Yh = crec__aligned_alloc(((size_t)rows * ld + 16) * sizeof *Yh);
    if (!Yh) return CREC_ENOMEM;
    float mx = 0;
#pragma omp parallel for num_threads(nth) schedule(static) reduction(max : mx)
    for (int64_t q = 0; q < (int64_t)rows * ld; q++) mx = fmaxf(mx, fabsf(Y[q]));
    int e = 0;
    if (mx > 0 && isfinite(mx)) (void)frexpf(mx, &e); /* mx = f 2^e, f in [0.5, 1) */
    float scale = mx > 0 && isfinite(mx) ? ldexpf(1.0f, 14 - e) : 1.0f;
#pragma omp parallel num_threads(nth)
    {
        int t = omp_get_thread_num(), T = omp_get_num_threads();
        to_half(Y, ld, (int64_t)rows * t / T, (int64_t)rows * (t + 1) / T, scale, Yh);
    }
    *out = Yh, *yinv = 1.0f / scale;
    return 0;
}

int crec__ials_solve_side_prec(float *X, const float *Y, int ld, const float *G, float gscale,
                               const crec_ials_rows *rows, const crec_ials_rows *trows, int cg_steps, int block_rows,
                               int n_threads, int prec) {
    const ials_kern *k = kern();
    int nth = threads_of(n_threads);
    int32_t n = rows->n_rows;
    uint16_t *Yh = NULL;
    float yinv = 1.0f;
    int gather = (prec & CREC_IALS_GATHER) != 0, k512 = !(prec & CREC_IALS_LEGACY) && have_512();
    prec &= CREC_IALS_PREC;
    if (prec != 1 && prec != 2) prec = 0;
    if (prec && !have_f16()) prec = 0; /* no F16C: the fp32 passes */
    if (prec && half_copy(Y, rows->n_cols, ld, nth, &Yh, &yinv)) return CREC_ENOMEM;
    int64_t rowb = (int64_t)ld * (prec ? 2 : 4), gcap = GATHER_BYTES;
    if (gcap < rowb) gather = 0;
    /* block rows: the block's P and Q (2 x R x ld floats) take ~256 KiB, half of a core's L2 here */
    int R = 32768 / ld;
    if (R < 16) R = 16;
    if (R > 512) R = 512;
    if (block_rows != 0) R = block_rows > 0 ? block_rows : -block_rows;
    int force_scatter = block_rows < 0;
    int64_t nblk = ((int64_t)n + R - 1) / R;
    if (nth > nblk) nth = (int)(nblk > 0 ? nblk : 1);
    /* each thread takes a contiguous run of blocks (its cursors only move forward), balanced by cost:
     * entries (sparse work) + R * ld / 8 per block (the block's Gram sgemm) */
    int64_t *bound = malloc(((size_t)nth + 1) * sizeof *bound);
    if (!bound) {
        free(Yh);
        return CREC_ENOMEM;
    }
    double total = (double)rows->ptr[n] + (double)nblk * R * ld / 8.0, acc = 0;
    bound[0] = 0;
    for (int t = 1; t <= nth; t++) {
        int64_t b = bound[t - 1];
        while (b < nblk && acc < total * t / nth) {
            int64_t hi = (b + 1) * R < n ? (b + 1) * R : n;
            acc += (double)(rows->ptr[hi] - rows->ptr[b * R]) + (double)R * ld / 8.0;
            b++;
        }
        bound[t] = t == nth ? nblk : b;
    }
    int failed = 0;
    int prev = blas_begin(nth);
#pragma omp parallel num_threads(nth)
    {
        int t = omp_get_thread_num();
        cg_scratch c = {0};
        size_t bl = (size_t)R * ld;
        c.Q = crec__aligned_alloc((3 * bl + 16) * sizeof(float));
        c.rr = malloc((size_t)2 * R * sizeof(float));
        int64_t no = trows ? trows->n_rows : 0;
        if (trows) {
            c.su = malloc(((size_t)no + 1) * sizeof *c.su);
            c.sl = malloc(((size_t)no + 1) * sizeof *c.sl);
            c.so = malloc(((size_t)no + 1) * sizeof *c.so);
            c.cur = malloc(((size_t)no + 1) * sizeof *c.cur);
        }
        if (gather) c.gb = crec__aligned_alloc((size_t)gcap + 64);
        int ok = c.Q && c.rr && (!trows || (c.su && c.sl && c.so && c.cur)) && (!gather || c.gb);
        if (!ok) {
#pragma omp atomic write
            failed = 1;
        } else {
            c.R = c.Q + bl, c.P = c.R + bl, c.rr0 = c.rr + R, c.k512 = k512;
            int32_t first = (int32_t)(bound[t] * R);
            for (int64_t u = 0; u < no; u++) {
                int64_t a = trows->ptr[u], len = trows->ptr[u + 1] - a;
                c.cur[u] = a + lower_bound(trows->idx + a, len, first);
            }
            for (int64_t b = bound[t]; b < bound[t + 1]; b++) {
                int32_t lo = (int32_t)(b * R);
                int B = n - lo < R ? n - lo : R;
                int64_t ns = -1, nent = 0;
                if (trows) {
                    ns = block_spans(trows, lo + B, &c, &nent);
                    /* scatter only when it reads far fewer Y rows than the row layout would: per entry it
                     * touches two L2 rows (p, q) where the row layout touches one Y row and L1 (measured in
                     * docs/RESULTS.md: a block of popular items qualifies, a block of users does not) */
                    if (ns * 4 > nent && !force_scatter) ns = -1;
                }
                if (ns >= 0 || !gather) {
                    solve_block(k, X, Y, prec == 2 ? Yh : NULL, Yh, yinv, ld, G, gscale, rows, trows, lo, B,
                                cg_steps, &c, ns, 0);
                    continue;
                }
                /* gathered row layout: sub-blocks whose entries' rows fit the buffer, and runs of rows too long
                 * for it (solved as before) */
                for (int32_t s0 = lo; s0 < lo + B;) {
                    int32_t s1 = s0;
                    int fits = (rows->ptr[s0 + 1] - rows->ptr[s0]) * rowb <= gcap;
                    if (fits)
                        while (s1 < lo + B && (rows->ptr[s1 + 1] - rows->ptr[s0]) * rowb <= gcap) s1++;
                    else
                        while (s1 < lo + B && (rows->ptr[s1 + 1] - rows->ptr[s1]) * rowb > gcap) s1++;
                    solve_block(k, X, Y, prec == 2 ? Yh : NULL, Yh, yinv, ld, G, gscale, rows, trows, s0,
                                (int)(s1 - s0), cg_steps, &c, -1, fits);
                    s0 = s1;
                }
            }
        }
        free(c.Q), free(c.rr), free(c.su), free(c.sl), free(c.so), free(c.cur), free(c.gb);
    }
    blas_end(nth, prev);
    free(bound), free(Yh);
    return failed ? CREC_ENOMEM : 0;
}

int crec__ials_iterate(crec_ials_state *s, const crec_ials_data *dat, int n_threads) {
    int ld = s->ld;
    float *G = crec__aligned_alloc((size_t)ld * ld * sizeof *G);
    if (!G) return CREC_ENOMEM;
    float gs = (float)s->p.alpha0;
    int rc = crec__ials_gram(s->H, s->n_items, ld, G, n_threads);
    if (!rc)
        rc = crec__ials_solve_side_prec(s->W, s->H, ld, G, gs, &dat->users, &dat->items, s->p.cg_steps, 0, n_threads,
                                        s->p.prec);
    if (!rc) rc = crec__ials_gram(s->W, s->n_users, ld, G, n_threads);
    if (!rc)
        rc = crec__ials_solve_side_prec(s->H, s->W, ld, G, gs, &dat->items, &dat->users, s->p.cg_steps, 0, n_threads,
                                        s->p.prec);
    if (!rc) rc = crec__ials_gram(s->H, s->n_items, ld, s->gram_h, n_threads);
    free(G);
    return rc;
}

/* ---------------------------------------------------------------------------------------------------------
 * Fold-in and scores. */

int crec__ials_fold_in(const crec_ials_state *s, const int32_t *hist, int32_t n_hist, float *w) {
    const ials_kern *k = kern();
    int d = s->d, ld = s->ld;
    const crec_ials_params *p = &s->p;
    int32_t *h = malloc(((size_t)n_hist + 1) * sizeof *h);
    float *Af = crec__aligned_alloc(((size_t)d * ld + ld) * sizeof *Af), *bf = Af + (size_t)d * ld;
    double *A = crec__aligned_alloc(((size_t)d * ld + ld) * sizeof *A), *bv = A + (size_t)d * ld;
    int rc = 0;
    if (!h || !Af || !A) {
        rc = CREC_ENOMEM;
        goto done;
    }
    if (n_hist > 0) memcpy(h, hist, (size_t)n_hist * sizeof *h); /* an empty history may come as NULL */
    qsort(h, (size_t)n_hist, sizeof *h, cmp_i32);
    /* A = sum_k wt_k y_k y_k^T, b = sum_k t_k y_k over the distinct items (float, AVX2 rank-1 updates) */
    int32_t n_distinct = 0;
    for (int32_t q = 0; q < n_hist;) {
        int32_t e = q;
        while (e < n_hist && h[e] == h[q]) e++;
        double c = p->hu ? 1.0 + p->alpha * (e - q) : 0;
        float wt = (float)(p->hu ? c - p->alpha0 : 1.0), t = (float)(p->hu ? c : 1.0);
        const float *y = s->H + (size_t)h[q] * ld;
        k->rank1(Af, bf, y, wt, t, d, ld);
        n_distinct++;
        q = e;
    }
    double lam = p->reg * pow((double)n_distinct + p->alpha0 * s->n_items, p->nu);
    for (int i = 0; i < d; i++) {
        for (int j = 0; j < d; j++) A[(size_t)i * ld + j] = (double)Af[(size_t)i * ld + j] + p->alpha0 * s->gram_h[(size_t)i * ld + j];
        A[(size_t)i * ld + i] += lam;
        bv[i] = bf[i];
    }
    if (k->chol_solve(A, d, ld, bv)) {
        rc = CREC_ERANGE;
        goto done;
    }
    for (int j = 0; j < ld; j++) w[j] = j < d ? (float)bv[j] : 0.0f;
done:
    free(h), free(Af), free(A);
    return rc;
}

void crec__ials_scores(const crec_ials_state *s, const float *w, float *scores) {
    kern()->scores(s->H, s->n_items, s->ld, w, scores);
}

int crec__ials_prepare(crec_ials_state *s) {
    free(s->Ht), free(s->geig);
    s->Ht = NULL, s->geig = NULL;
    int d = s->d, ld = s->ld;
    double *A = malloc((size_t)d * d * sizeof *A), *e = malloc((size_t)d * sizeof *e);
    float *Qt = crec__aligned_alloc((size_t)ld * ld * sizeof *Qt);
    float *Ht = crec__aligned_alloc(((size_t)s->n_items * ld + 16) * sizeof *Ht);
    if (!A || !e || !Qt || !Ht) {
        free(A), free(e), free(Qt), free(Ht);
        return CREC_ENOMEM;
    }
    for (int i = 0; i < d; i++)
        for (int j = 0; j < d; j++) A[(size_t)i * d + j] = s->gram_h[(size_t)i * ld + j];
    /* BLAS on one thread: LAPACK's inner products and the blocked product below then give the same bits at any
     * thread count */
    int prev = crec__nn_blas_single();
    /* A symmetric: in column-major order it is the same matrix, and eigenvector j comes back as row j of A */
    lapack_int info = LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'L', d, A, d, e);
    if (info == 0) {
        for (int j = 0; j < d; j++)
            for (int i = 0; i < d; i++) Qt[(size_t)j * ld + i] = (float)A[(size_t)j * d + i];
        /* Ht = H Q: row i of Ht holds the coordinates of H_i along the eigenvectors (rows of Qt) */
        crec__nn_gemm(0, 1, s->n_items, ld, ld, 1.0f, s->H, ld, Qt, ld, 0.0f, Ht, ld);
    }
    crec__nn_blas_restore(prev);
    free(A), free(Qt);
    if (info != 0) {
        crec__log("ials: LAPACK dsyevd failed (info %d): every fold-in takes the dense solve", (int)info);
        free(e), free(Ht);
        return 0;
    }
    s->Ht = Ht, s->geig = e;
    return 0;
}

/* The fast fold-in (ials.h) for n distinct items it[k] with weights wt (on y y^T, all >= 0) and t (right-hand
 * side), ridge lam, in double: x = v - S Z^T (I + Z S Z^T)^-1 Z v with S = diag(1 / (alpha0 e + lam)),
 * rows z_k = sqrt(wt_k) y_k, v = S b, b = sum_k t_k y_k. Into x[ld] (eigenbasis). Returns 0, 1 when S is too
 * ill-conditioned (the caller takes the dense solve), or CREC_ENOMEM. */
static int fold_in_lowrank(const crec_ials_state *s, const int32_t *it, const float *wt, const float *t, int n,
                           double lam, float *x) {
    int d = s->d, ld = s->ld, ldk = round16(n > 0 ? n : 1);
    double alpha0 = s->p.alpha0, mmax = 0, mmin = INFINITY;
    for (int j = 0; j < d; j++) {
        double mj = alpha0 * s->geig[j] + lam;
        mmax = fmax(mmax, mj), mmin = fmin(mmin, mj);
    }
    if (!(mmin > 1e-7 * mmax)) return 1;
    double *Y = malloc(((size_t)n * d + 3 * (size_t)d + (size_t)n) * sizeof *Y);
    double *K = crec__aligned_alloc(((size_t)n * ldk + ldk) * sizeof *K);
    if (!Y || !K) {
        free(Y), free(K);
        return CREC_ENOMEM;
    }
    double *S = Y + (size_t)n * d, *v = S + d, *acc = v + d, *sq = acc + d, *g = K + (size_t)n * ldk;
    for (int j = 0; j < d; j++) S[j] = 1.0 / (alpha0 * s->geig[j] + lam), v[j] = 0;
    for (int k = 0; k < n; k++) {
        const float *h = s->Ht + (size_t)it[k] * ld;
        double *y = Y + (size_t)k * d;
        for (int j = 0; j < d; j++) y[j] = h[j], v[j] += (double)t[k] * h[j];
        sq[k] = sqrt((double)wt[k]);
    }
    for (int j = 0; j < d; j++) v[j] *= S[j];
    /* K = I + Z S Z^T (lower triangle mirrored), g = Z v */
    for (int k = 0; k < n; k++) {
        const double *yk = Y + (size_t)k * d;
        double r = 0;
#pragma omp simd reduction(+ : r)
        for (int j = 0; j < d; j++) r += yk[j] * v[j];
        g[k] = sq[k] * r;
        for (int l = 0; l <= k; l++) {
            const double *yl = Y + (size_t)l * d;
            double q = 0;
#pragma omp simd reduction(+ : q)
            for (int j = 0; j < d; j++) q += yk[j] * S[j] * yl[j];
            q *= sq[k] * sq[l];
            K[(size_t)k * ldk + l] = K[(size_t)l * ldk + k] = q + (k == l);
        }
    }
    int rc = 0;
    if (n > 0 && kern()->chol_solve(K, n, ldk, g)) {
        rc = 1; /* I + Z S Z^T is positive definite in exact arithmetic: rounding, take the dense solve */
    } else {
        for (int j = 0; j < d; j++) acc[j] = 0;
        for (int k = 0; k < n; k++) {
            const double *yk = Y + (size_t)k * d;
            double c = g[k] * sq[k];
            for (int j = 0; j < d; j++) acc[j] += c * yk[j];
        }
        for (int j = 0; j < ld; j++) x[j] = j < d ? (float)(v[j] - S[j] * acc[j]) : 0.0f;
    }
    free(Y), free(K);
    return rc;
}

int crec__ials_fold_in_basis(const crec_ials_state *s, const int32_t *hist, int32_t n_hist, float *v) {
    const crec_ials_params *p = &s->p;
    if (s->Ht && n_hist >= 0) {
        int32_t *h = malloc(((size_t)n_hist + 1) * sizeof *h);
        float *wt = malloc(((size_t)n_hist + 1) * 2 * sizeof *wt), *t = wt ? wt + n_hist + 1 : NULL;
        if (!h || !wt) {
            free(h), free(wt);
            return CREC_ENOMEM;
        }
        if (n_hist > 0) memcpy(h, hist, (size_t)n_hist * sizeof *h);
        qsort(h, (size_t)n_hist, sizeof *h, cmp_i32);
        /* distinct items and their weights, as crec__ials_fold_in forms them */
        int32_t n = 0;
        int ok = 1;
        for (int32_t q = 0; q < n_hist;) {
            int32_t e = q;
            while (e < n_hist && h[e] == h[q]) e++;
            double c = p->hu ? 1.0 + p->alpha * (e - q) : 0;
            wt[n] = (float)(p->hu ? c - p->alpha0 : 1.0), t[n] = (float)(p->hu ? c : 1.0);
            ok = ok && wt[n] >= 0;
            h[n++] = h[q];
            q = e;
        }
        int rc = 1;
        if (ok && 3 * (int64_t)n <= s->d) {
            double lam = p->reg * pow((double)n + p->alpha0 * s->n_items, p->nu);
            rc = fold_in_lowrank(s, h, wt, t, (int)n, lam, v);
        }
        free(h), free(wt);
        if (rc <= 0) return rc < 0 ? rc : 1;
    }
    int rc = crec__ials_fold_in(s, hist, n_hist, v);
    return rc < 0 ? rc : 0;
}

/* ---------------------------------------------------------------------------------------------------------
 * The model type. */

static const crec_param_def IALS_PARAMS[] = {
    CREC_P_INT("factors", "64", 1, 4096, "latent dimension d"),
    CREC_P_INT("iters", "15", 0, 100000, "ALS iterations (each solves all users, then all items)"),
    CREC_P_FLOAT("reg", "0.01", 0, 1e12, "ridge lambda, per row scaled by (|I_u| + alpha0 * |I|)^nu"),
    CREC_P_FLOAT("alpha0", "0.1", 0, 1e12, "weight of every (user, item) pair in the all-pairs term (unobserved weight)"),
    CREC_P_FLOAT("nu", "1", 0, 10, "exponent of the frequency scaling of reg (0: plain reg)"),
    CREC_P_INT("cg_steps", "3", 1, 1000, "conjugate-gradient steps per row and half-step, warm-started"),
    CREC_P_FLOAT("init_std", "0", 0, 100, "std of the initial factors (0: 0.1 / sqrt(factors))"),
    CREC_P_ENUM("weighting", "rendle", "rendle|hu",
                "rendle: (1 - <w,h>)^2 on observed pairs; hu: confidence 1 + alpha * count"),
    CREC_P_FLOAT("alpha", "10", 0, 1e12, "confidence scale (weighting=hu only)"),
    CREC_P_ENUM("precision", "fp32", "fp32|mixed|fp16",
                "factor rows read by the CG's sparse passes: fp32 (exact), mixed (an fp16 copy for the CG steps, "
                "fp32 for the residual: the same fixed point), fp16 (fp16 for both)"),
    CREC_P_ENUM("fold_in", "history", "history|new",
                "history: score with factors solved from the context's history (sees events after training); "
                "new: trained factors for known users"),
    CREC_P_END,
};

/* Strict number parse of a hyper-parameter: CREC_EINVAL on junk. */
static int num_param(const crec_model *m, const char *key, double *out) {
    const char *s = crec_model_param_str(m, key);
    char *end;
    *out = strtod(s, &end);
    if (end == s || *end || !isfinite(*out)) return CREC_EINVAL;
    return 0;
}

static int read_params(const crec_model *m, crec_ials_params *p) {
    double f, it, cg;
    int rc = num_param(m, "factors", &f);
    if (!rc) rc = num_param(m, "iters", &it);
    if (!rc) rc = num_param(m, "cg_steps", &cg);
    if (!rc) rc = num_param(m, "reg", &p->reg);
    if (!rc) rc = num_param(m, "alpha0", &p->alpha0);
    if (!rc) rc = num_param(m, "nu", &p->nu);
    if (!rc) rc = num_param(m, "init_std", &p->init_std);
    if (!rc) rc = num_param(m, "alpha", &p->alpha);
    if (rc) return rc;
    const char *wt = crec_model_param_str(m, "weighting");
    const char *fi = crec_model_param_str(m, "fold_in");
    if (strcmp(fi, "history") != 0 && strcmp(fi, "new") != 0) return CREC_EINVAL;
    const char *pr = crec_model_param_str(m, "precision");
    if (strcmp(pr, "fp32") == 0) p->prec = 0;
    else if (strcmp(pr, "mixed") == 0) p->prec = 1;
    else if (strcmp(pr, "fp16") == 0) p->prec = 2;
    else return CREC_EINVAL;
    if (strcmp(wt, "rendle") == 0) p->hu = 0;
    else if (strcmp(wt, "hu") == 0) p->hu = 1;
    else return CREC_EINVAL;
    if (f < 1 || f > 4096 || f != floor(f) || it < 0 || it > 100000 || it != floor(it) || cg < 1 || cg > 1000 ||
        cg != floor(cg) || p->reg < 0 || p->alpha0 < 0 || p->nu < 0 || p->init_std < 0 || p->alpha < 0)
        return CREC_EINVAL;
    if (p->reg == 0 && p->alpha0 == 0) return CREC_EINVAL; /* rows without items would be singular */
    p->factors = (int)f, p->iters = (int)it, p->cg_steps = (int)cg;
    return 0;
}

static int ials_train(crec_model *m, const crec_train_input *in) {
    crec_ials_params p;
    int rc = read_params(m, &p);
    if (rc) return rc;
    crec_ials_state *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    crec_ials_data dat;
    rc = crec__ials_data_build(in->train, &p, &dat);
    if (rc) {
        free(s);
        return rc;
    }
    rc = crec__ials_state_init(s, m->n_users, m->n_items, &p, in->seed);
    if (!rc) rc = crec__ials_gram(s->H, s->n_items, s->ld, s->gram_h, in->n_threads);
    /* data-parallel (crec/dist.h): each rank solves its rows of each half-step (ials_dist.c) */
    crec_ials_part part = {0};
    int P = crec_dist_size();
    if (!rc && P > 1 && (rc = crec__ials_part_build(&dat, s->ld, P, crec_dist_rank(), &part)) == CREC_EINVAL &&
        crec_dist_rank() == 0)
        crec__log("ials: %d ranks but %d users and %d items: every rank needs rows of both (fewer ranks)", P,
                  (int)m->n_users, (int)m->n_items);
    crec_progress pg;
    crec__progress_start(&pg, "ials", p.iters, in->verbose);
    for (int it = 0; !rc && it < p.iters; it++) {
        crec_dist_stats c0, c1;
        crec_dist_stats_get(&c0);
        double t0 = crec__now();
        rc = P > 1 ? crec__ials_iterate_dist(s, &dat, &part, in->n_threads) : crec__ials_iterate(s, &dat, in->n_threads);
        crec__progress_update(&pg, it + 1);
        crec_dist_stats_get(&c1);
        if (P > 1 && in->verbose)
            crec__log("ials iter %d  dist %d ranks: %.2fs, %.3f MB exchanged by this rank, %.2fs in collectives", it + 1,
                      P, crec__now() - t0, (double)(c1.bytes - c0.bytes) / 1e6, c1.seconds - c0.seconds);
    }
    crec__progress_end(&pg);
    crec__ials_part_free(&part);
    crec__ials_data_free(&dat);
    if (!rc) rc = crec__ials_prepare(s);
    if (rc) {
        crec__ials_state_free(s);
        free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

/* The vector ctx is scored with, into v[ld]: 0 = against H (a trained row, or the dense fold-in), 1 = against Ht
 * (the fast fold-in), or a negative CREC_E*. */
static int ctx_vector(const crec_ials_state *s, const crec_context *ctx, int fold_new, float *v) {
    int trained = ctx->user >= 0 && ctx->user < s->n_users;
    if (trained && (ctx->n_hist <= 0 || fold_new)) {
        memcpy(v, s->W + (size_t)ctx->user * s->ld, (size_t)s->ld * sizeof *v);
        return 0;
    }
    return crec__ials_fold_in_basis(s, ctx->hist, ctx->n_hist, v);
}

static int fold_new_of(const crec_model *m) { return strcmp(crec_model_param_str(m, "fold_in"), "new") == 0; }

static int ials_score(const crec_model *m, const crec_context *ctx, float *scores) {
    const crec_ials_state *s = m->state;
    float *w = crec__aligned_alloc((size_t)s->ld * sizeof *w);
    if (!w) return CREC_ENOMEM;
    int rc = ctx_vector(s, ctx, fold_new_of(m), w);
    if (rc >= 0) kern()->scores(rc == 1 ? s->Ht : s->H, s->n_items, s->ld, w, scores);
    free(w);
    return rc < 0 ? rc : 0;
}

/* The block's vectors (one per context: a trained row or a fold-in, in parallel), then one product per basis:
 * the rows against Ht (fast fold-ins) first, then those against H (trained rows, dense fold-ins), each group in
 * context order; the score rows are then put back in context order (in place, following the permutation's
 * cycles with one spare row). */
static int ials_score_batch(const crec_model *m, const crec_context *ctx, int n, float *scores) {
    const crec_ials_state *s = m->state;
    int ld = s->ld, fold_new = fold_new_of(m);
    int32_t ni = s->n_items;
    float *X = crec__aligned_alloc(((size_t)n * ld + 16) * sizeof *X);
    float *Xp = crec__aligned_alloc(((size_t)n * ld + 16) * sizeof *Xp);
    int *basis = malloc(((size_t)n + 1) * 2 * sizeof *basis), *inv = basis ? basis + n + 1 : NULL;
    char *done = calloc((size_t)n + 1, 1);
    if (!X || !Xp || !basis || !done) {
        free(X), free(Xp), free(basis), free(done);
        return CREC_ENOMEM;
    }
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < n; c++) basis[c] = ctx_vector(s, &ctx[c], fold_new, X + (size_t)c * ld);
    int rc = 0, n1 = 0;
    for (int c = 0; c < n && !rc; c++)
        if (basis[c] < 0) rc = basis[c]; /* the first failing context, whatever the thread count */
    float *tmp = NULL;
    if (!rc) {
        /* inv[c] = the row where context c is scored */
        for (int c = 0; c < n; c++) n1 += basis[c] == 1;
        for (int c = 0, k1 = 0, k0 = n1; c < n; c++) inv[c] = basis[c] == 1 ? k1++ : k0++;
        for (int c = 0; c < n; c++) memcpy(Xp + (size_t)inv[c] * ld, X + (size_t)c * ld, (size_t)ld * sizeof *Xp);
        crec__scores_gemm(n1, ni, s->d, 1.0f, Xp, ld, s->Ht, ld, scores);
        crec__scores_gemm(n - n1, ni, s->d, 1.0f, Xp + (size_t)n1 * ld, ld, s->H, ld, scores + (size_t)n1 * ni);
        for (int c = 0; c < n && !rc; c++) { /* row c must receive row inv[c] */
            if (done[c] || inv[c] == c) continue;
            if (!tmp && !(tmp = malloc((size_t)ni * sizeof *tmp))) {
                rc = CREC_ENOMEM;
                break;
            }
            memcpy(tmp, scores + (size_t)c * ni, (size_t)ni * sizeof *tmp);
            int j = c;
            while (inv[j] != c) {
                memcpy(scores + (size_t)j * ni, scores + (size_t)inv[j] * ni, (size_t)ni * sizeof *tmp);
                done[j] = 1;
                j = inv[j];
            }
            memcpy(scores + (size_t)j * ni, tmp, (size_t)ni * sizeof *tmp);
            done[j] = 1;
        }
    }
    free(tmp), free(X), free(Xp), free(basis), free(done);
    return rc;
}

static int ials_save(const crec_model *m, crec_buf *out) {
    const crec_ials_state *s = m->state;
    const crec_ials_params *p = &s->p;
    double f[4] = {p->reg, p->alpha0, p->nu, p->alpha};
    int rc = crec__put_u32(out, (uint32_t)s->d);
    if (!rc) rc = crec__put_u32(out, (uint32_t)p->hu);
    if (!rc) rc = crec_buf_write(out, f, sizeof f);
    if (!rc) rc = crec_buf_write(out, s->block, ((size_t)s->n_users + s->n_items) * s->ld * sizeof(float));
    return rc;
}

static int ials_load(crec_model *m, crec_buf *in) {
    uint32_t d, hu;
    double f[4];
    int rc = crec__get_u32(in, &d);
    if (!rc) rc = crec__get_u32(in, &hu);
    if (!rc) rc = crec_buf_read(in, f, sizeof f);
    if (rc) return rc;
    if (d < 1 || d > 4096 || hu > 1 || m->n_users < 0 || m->n_items < 0) return CREC_EFORMAT;
    crec_ials_params p = {.factors = (int)d, .hu = (int)hu, .reg = f[0], .alpha0 = f[1], .nu = f[2], .alpha = f[3]};
    size_t need = ((size_t)m->n_users + m->n_items) * round16((int)d) * sizeof(float);
    if (in->len - in->pos < need) return CREC_EFORMAT;
    crec_ials_state *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    rc = state_alloc(s, m->n_users, m->n_items, &p);
    if (!rc) rc = crec_buf_read(in, s->block, need);
    if (!rc) rc = crec__ials_gram(s->H, s->n_items, s->ld, s->gram_h, 1);
    if (!rc) rc = crec__ials_prepare(s);
    if (rc) {
        crec__ials_state_free(s);
        free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

static void ials_free(crec_model *m) {
    crec_ials_state *s = m->state;
    if (s) crec__ials_state_free(s);
    free(s);
    m->state = NULL;
}

/* A user or item with no events would have a singular system when neither term regularises it. */
static int ials_check(const crec_model *m, char *err, size_t errn) {
    if (crec_model_param_double(m, "reg") == 0 && crec_model_param_double(m, "alpha0") == 0) {
        crec__errf(err, errn, "model 'ials': 'reg' and 'alpha0' cannot both be 0 (rows without events are singular)");
        return CREC_EINVAL;
    }
    return 0;
}

/* A trained user's row of W (every user of the training matrix has one; the caller skips a zero row). */
static int ials_user_vector(const crec_model *m, int32_t user, const float **vec, int *dim) {
    const crec_ials_state *s = m->state;
    if (user >= s->n_users) return 0;
    *vec = s->W + (size_t)user * s->ld;
    *dim = s->d;
    return 1;
}

const crec_model_type crec__model_ials = {
    .name = "ials",
    .summary = "implicit ALS (Rendle et al. 2022 loss, Gramian trick, CG row solves); folds in new users",
    .params = IALS_PARAMS,
    .train = ials_train,
    .score = ials_score,
    .score_batch = ials_score_batch,
    .save = ials_save,
    .load = ials_load,
    .free_state = ials_free,
    .check = ials_check,
    .user_vector = ials_user_vector,
};
