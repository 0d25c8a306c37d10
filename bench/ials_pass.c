/* ials_pass.c: one iALS sparse pass (acc += sum_k (<y_k, v> - 1) y_k over 144 rows y_k of a table, d = 256),
 * ns per entry in thread CPU time, for four kernels: "old" = the AVX2 one-entry-at-a-time kernel of
 * src/models/ials.c (CREC_IALS_LEGACY), "avx2-2x" two entries with four-accumulator dots, "avx512-2x", and
 * "avx512-4x" = the structure of the default AVX-512 kernel (four entries, eight FMA chains, one acc load/store
 * per four axpys, prefetch 4-7 ahead). Random rows of a table of NY rows (argument, default 26,744 = ML-20M's
 * items: 27 MB, beyond L2) or, with a small NY (e.g. 64), rows in L1/L2: the second shows the compute side.
 * Two rounds each; needs AVX-512 (exits otherwise). Results: docs/RESULTS.md (issue 16, third round).
 *   usage: bench_ials_pass [NY] */
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_peak.h"
typedef float v8f __attribute__((vector_size(32), may_alias));
typedef float v16f __attribute__((vector_size(64), may_alias));
#define AI static inline __attribute__((always_inline))
#define PF 2
AI float dot_body(const float *a, const float *b, int n) {
    v8f s0 = {0}, s1 = {0};
    for (int j = 0; j < n; j += 16) { s0 += *(const v8f *)(a + j) * *(const v8f *)(b + j); s1 += *(const v8f *)(a + j + 8) * *(const v8f *)(b + j + 8); }
    s0 += s1; float s = 0; for (int j = 0; j < 8; j++) s += s0[j]; return s;
}
AI void axpy_body(float c, const float *x, float *y, int n) {
    v8f cv = {c, c, c, c, c, c, c, c};
    for (int j = 0; j < n; j += 8) *(v8f *)(y + j) += cv * *(const v8f *)(x + j);
}
__attribute__((target("avx2,fma"))) static void pass_old(const float *Y, int ld, const int32_t *idx, int64_t n, const float *v, float *acc) {
    for (int64_t k = 0; k < n; k++) {
        const float *y = Y + (size_t)idx[k] * ld;
        if (k + PF < n) { const char *nx = (const char *)(Y + (size_t)idx[k + PF] * ld); for (int b = 0; b < ld * 4; b += 64) __builtin_prefetch(nx + b); }
        float c = dot_body(y, v, ld) - 1.0f;
        axpy_body(c, y, acc, ld);
    }
}
AI float dot4(const float *a, const float *b, int n) {
    v8f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (int j = 0; j < n; j += 32) {
        s0 += *(const v8f *)(a + j) * *(const v8f *)(b + j); s1 += *(const v8f *)(a + j + 8) * *(const v8f *)(b + j + 8);
        s2 += *(const v8f *)(a + j + 16) * *(const v8f *)(b + j + 16); s3 += *(const v8f *)(a + j + 24) * *(const v8f *)(b + j + 24);
    }
    s0 += s1; s2 += s3; s0 += s2; float s = 0; for (int j = 0; j < 8; j++) s += s0[j]; return s;
}
/* ld multiple of 32 assumed here */
__attribute__((target("avx2,fma"))) static void pass_new(const float *Y, int ld, const int32_t *idx, int64_t n, const float *v, float *acc) {
    int64_t k = 0;
    for (; k + 1 < n; k += 2) {
        const float *y0 = Y + (size_t)idx[k] * ld, *y1 = Y + (size_t)idx[k + 1] * ld;
        for (int q = 2; q < 4; q++) if (k + q < n) { const char *nx = (const char *)(Y + (size_t)idx[k + q] * ld); for (int b = 0; b < ld * 4; b += 64) __builtin_prefetch(nx + b); }
        float c0 = dot4(y0, v, ld) - 1.0f, c1 = dot4(y1, v, ld) - 1.0f;
        v8f a0 = {c0,c0,c0,c0,c0,c0,c0,c0}, a1 = {c1,c1,c1,c1,c1,c1,c1,c1};
        for (int j = 0; j < ld; j += 8) *(v8f *)(acc + j) = *(v8f *)(acc + j) + a0 * *(const v8f *)(y0 + j) + a1 * *(const v8f *)(y1 + j);
    }
    for (; k < n; k++) { const float *y = Y + (size_t)idx[k] * ld; axpy_body(dot4(y, v, ld) - 1.0f, y, acc, ld); }
}
__attribute__((target("avx512f,avx512vl,fma"))) static inline float dot16(const float *a, const float *b, int n) {
    __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    for (int j = 0; j < n; j += 64) {
        s0 = _mm512_fmadd_ps(_mm512_load_ps(a + j), _mm512_load_ps(b + j), s0);
        s1 = _mm512_fmadd_ps(_mm512_load_ps(a + j + 16), _mm512_load_ps(b + j + 16), s1);
        s2 = _mm512_fmadd_ps(_mm512_load_ps(a + j + 32), _mm512_load_ps(b + j + 32), s2);
        s3 = _mm512_fmadd_ps(_mm512_load_ps(a + j + 48), _mm512_load_ps(b + j + 48), s3);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}
__attribute__((target("avx512f,avx512vl,fma"))) static void pass_512(const float *Y, int ld, const int32_t *idx, int64_t n, const float *v, float *acc) {
    int64_t k = 0;
    for (; k + 1 < n; k += 2) {
        const float *y0 = Y + (size_t)idx[k] * ld, *y1 = Y + (size_t)idx[k + 1] * ld;
        for (int q = 2; q < 4; q++) if (k + q < n) { const char *nx = (const char *)(Y + (size_t)idx[k + q] * ld); for (int b = 0; b < ld * 4; b += 64) __builtin_prefetch(nx + b); }
        float c0 = dot16(y0, v, ld) - 1.0f, c1 = dot16(y1, v, ld) - 1.0f;
        __m512 a0 = _mm512_set1_ps(c0), a1 = _mm512_set1_ps(c1);
        for (int j = 0; j < ld; j += 16) _mm512_store_ps(acc + j, _mm512_fmadd_ps(a1, _mm512_load_ps(y1 + j), _mm512_fmadd_ps(a0, _mm512_load_ps(y0 + j), _mm512_load_ps(acc + j))));
    }
    for (; k < n; k++) { const float *y = Y + (size_t)idx[k] * ld; float c = dot16(y, v, ld) - 1.0f; __m512 a = _mm512_set1_ps(c); for (int j = 0; j < ld; j += 16) _mm512_store_ps(acc + j, _mm512_fmadd_ps(a, _mm512_load_ps(y + j), _mm512_load_ps(acc + j))); }
}
__attribute__((target("avx512f,avx512vl,fma"))) static void pass_5124(const float *Y, int ld, const int32_t *idx, int64_t n, const float *v, float *acc) {
    int64_t k = 0;
    for (; k + 3 < n; k += 4) {
        const float *y0 = Y + (size_t)idx[k] * ld, *y1 = Y + (size_t)idx[k + 1] * ld, *y2 = Y + (size_t)idx[k + 2] * ld, *y3 = Y + (size_t)idx[k + 3] * ld;
        for (int q = 4; q < 8; q++) if (k + q < n) { const char *nx = (const char *)(Y + (size_t)idx[k + q] * ld); for (int b = 0; b < ld * 4; b += 64) __builtin_prefetch(nx + b); }
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
        for (int j = 0; j < ld; j += 32) {
            __m512 va = _mm512_load_ps(v + j), vb = _mm512_load_ps(v + j + 16);
            s0 = _mm512_fmadd_ps(_mm512_load_ps(y0 + j), va, s0); t0 = _mm512_fmadd_ps(_mm512_load_ps(y0 + j + 16), vb, t0);
            s1 = _mm512_fmadd_ps(_mm512_load_ps(y1 + j), va, s1); t1 = _mm512_fmadd_ps(_mm512_load_ps(y1 + j + 16), vb, t1);
            s2 = _mm512_fmadd_ps(_mm512_load_ps(y2 + j), va, s2); t2 = _mm512_fmadd_ps(_mm512_load_ps(y2 + j + 16), vb, t2);
            s3 = _mm512_fmadd_ps(_mm512_load_ps(y3 + j), va, s3); t3 = _mm512_fmadd_ps(_mm512_load_ps(y3 + j + 16), vb, t3);
        }
        __m512 a0 = _mm512_set1_ps(_mm512_reduce_add_ps(_mm512_add_ps(s0, t0)) - 1.0f), a1 = _mm512_set1_ps(_mm512_reduce_add_ps(_mm512_add_ps(s1, t1)) - 1.0f);
        __m512 a2 = _mm512_set1_ps(_mm512_reduce_add_ps(_mm512_add_ps(s2, t2)) - 1.0f), a3 = _mm512_set1_ps(_mm512_reduce_add_ps(_mm512_add_ps(s3, t3)) - 1.0f);
        for (int j = 0; j < ld; j += 16) {
            __m512 x = _mm512_load_ps(acc + j);
            x = _mm512_fmadd_ps(a0, _mm512_load_ps(y0 + j), x); x = _mm512_fmadd_ps(a1, _mm512_load_ps(y1 + j), x);
            x = _mm512_fmadd_ps(a2, _mm512_load_ps(y2 + j), x); x = _mm512_fmadd_ps(a3, _mm512_load_ps(y3 + j), x);
            _mm512_store_ps(acc + j, x);
        }
    }
    for (; k < n; k++) { const float *y = Y + (size_t)idx[k] * ld; float c = dot16(y, v, ld) - 1.0f; __m512 a = _mm512_set1_ps(c); for (int j = 0; j < ld; j += 16) _mm512_store_ps(acc + j, _mm512_fmadd_ps(a, _mm512_load_ps(y + j), _mm512_load_ps(acc + j))); }
}
static double now(void) { struct timespec t; clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t); return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char **argv) {
    if (argc > 2 || (argc == 2 && atoi(argv[1]) < 1))
        return bench_usage(argv[1], "usage: %s [NY >= 1: rows of the factor table, default 26744]\n", argv[0]);
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx512f")) {
        fprintf(stderr, "bench_ials_pass: needs AVX-512\n");
        return 1;
    }
    int ld = 256, NY = argc > 1 ? atoi(argv[1]) : 26744, n = 144;
    float *Y = aligned_alloc(64, (size_t)NY * ld * 4), *v = aligned_alloc(64, ld * 4), *acc = aligned_alloc(64, ld * 4);
    for (size_t q = 0; q < (size_t)NY * ld; q++) Y[q] = (float)((q * 2654435761u) % 1000) * 1e-3f - 0.5f;
    for (int j = 0; j < ld; j++) v[j] = 0.01f * (j % 7), acc[j] = 0;
    int reps = 20000; int32_t *idx = malloc((size_t)reps * n * 4);
    srand(1); for (int64_t q = 0; q < (int64_t)reps * n; q++) idx[q] = rand() % NY;
    void (*f[4])(const float *, int, const int32_t *, int64_t, const float *, float *) = {pass_old, pass_new, pass_512, pass_5124};
    const char *nm[4] = {"old", "avx2-2x", "avx512-2x", "avx512-4x"};
    for (int round = 0; round < 2; round++)
    for (int i = 0; i < 4; i++) {
        double t = now();
        for (int r = 0; r < reps; r++) f[i](Y, ld, idx + (size_t)r * n, n, v, acc);
        t = now() - t;
        printf("NY %d %-10s %.1f ns/entry (acc %g)\n", NY, nm[i], t / ((double)reps * n) * 1e9, acc[3]);
    }
    free(Y), free(v), free(acc), free(idx);
    return 0;
}
