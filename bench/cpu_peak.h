/* cpu_peak.h: the SGEMM rate per CPU-second, for benchmarks on a shared machine.
 *
 * On a machine other processes share, wall-clock GFLOP/s (crec_blas_sgemm_gflops) fall with the load, and a
 * fraction of a peak timed a minute apart reads whatever the load was then. CPU time does not: a thread is charged
 * only while it runs. bench_cpu_sgemm times one single-threaded cblas_sgemm of n x n by the calling thread's CPU
 * clock (best of reps after one warm-up): GFLOP per CPU-second, the reference that a training step's GFLOP per
 * CPU-second (its process CPU time) is compared with. Header-only: each bench that includes it gets a copy. Also what
 * the benches share: the load average, a timed training call, the OpenMP wait policy, the FMA ceiling, the usage
 * message. */
#ifndef CREC_BENCH_CPU_PEAK_H
#define CREC_BENCH_CPU_PEAK_H
#include <cblas.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"
#include "crec/crec.h"

static inline double bench_cpu_clock(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* GFLOP per CPU-second of one-thread sgemm at n x n (BLAS must run one thread: crec__nn_blas_single). */
static inline double bench_cpu_sgemm(int n, int reps) {
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
/* The usage message for a command line that stopped at argument arg: on stdout, returning 0, where arg asks for it
 * (--help, -h); else on stderr, returning 2 (a usage error). `return bench_usage(argv[i], "usage: %s ...\n", argv[0]);` */
static inline int bench_usage(const char *arg, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int bench_usage(const char *arg, const char *fmt, ...) {
    int help = arg && (!strcmp(arg, "--help") || !strcmp(arg, "-h"));
    va_list ap;
    va_start(ap, fmt);
    vfprintf(help ? stdout : stderr, fmt, ap);
    va_end(ap);
    return help ? 0 : 2;
}

/* OpenMP's wait policy for the run, which the epoch benches share. A training step opens a handful of parallel
 * regions; how idle threads wait between them matters on 2 cores. "--wait passive" (the default, kept when
 * OMP_WAIT_POLICY is unset): threads sleep at once - what a shared machine needs, where spinning barriers crawl;
 * "--wait default": libgomp's own policy (spin a while, then sleep), which is what `crec train` gets - the figure for
 * a quiet machine; "--wait active": spin. An OMP_WAIT_POLICY in the environment is kept unless --wait names one.
 * The runtime reads the variable when it loads, so a change re-executes the program once. Returns argc with
 * "--wait X" taken out of argv; exits 2 on an unknown policy. */
static inline int bench_wait_policy(int argc, char **argv) {
    const char *want = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--wait")) want = argv[i + 1];
    if (want && strcmp(want, "passive") && strcmp(want, "active") && strcmp(want, "default")) {
        fprintf(stderr, "%s: --wait %s: expected passive, active or default\n", argv[0], want);
        exit(2);
    }
    const char *cur = getenv("OMP_WAIT_POLICY");
    if (!want && !cur) want = "passive";
    if (want && !strcmp(want, "default") ? cur != NULL : want && (!cur || strcmp(cur, want))) {
        if (!strcmp(want, "default"))
            unsetenv("OMP_WAIT_POLICY");
        else
            setenv("OMP_WAIT_POLICY", want, 1);
        execv("/proc/self/exe", argv);
    }
    int j = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--wait") && i + 1 < argc) {
            i++;
            continue;
        }
        argv[j++] = argv[i];
    }
    argv[j] = NULL;
    return j;
}

/* The wait policy in force, for the benches' first lines. */
static inline const char *bench_wait_name(void) {
    const char *w = getenv("OMP_WAIT_POLICY");
    return w ? w : "default (libgomp: spin, then sleep)";
}

/* The 1-minute load average (-1 when unknown): printed beside every figure timed on a shared machine. */
static inline double bench_loadavg(void) {
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

/* Trains a new model `name` with cfg on s->train (and s->valid when valid): wall and process CPU seconds of the
 * training call. The model, or NULL (the error printed). */
static inline crec_model *bench_train_timed(const char *name, const crec_config *cfg, const crec_split *s, int threads,
                                            int valid, int verbose, double *secs, double *cpu) {
    crec_model *m;
    char err[256];
    if (crec_model_new(name, cfg, &m, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return NULL;
    }
    crec_train_input in = {
        .train = &s->train, .valid = valid ? &s->valid : NULL, .n_threads = threads, .seed = 42, .verbose = verbose};
    double t0 = crec__now(), c0 = bench_cpu_clock(CLOCK_PROCESS_CPUTIME_ID);
    int rc = crec_model_train(m, &in);
    *secs = crec__now() - t0;
    *cpu = bench_cpu_clock(CLOCK_PROCESS_CPUTIME_ID) - c0;
    if (rc) {
        fprintf(stderr, "train: %s\n", crec_strerror(rc));
        crec_model_free(m);
        return NULL;
    }
    return m;
}

/* Loads path in format fmt and makes its leave-one-out split: 0, or 1 with the error printed. */
static inline int bench_load_loo(const char *path, crec_format fmt, crec_dataset **ds, crec_split *s) {
    *ds = crec_dataset_new();
    crec_load_opts lo;
    memset(&lo, 0, sizeof lo);
    if (!*ds || crec_load(*ds, fmt, path, &lo)) {
        fprintf(stderr, "load: %s\n", *ds ? lo.err : "out of memory");
        return 1;
    }
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    if (crec_split_make(*ds, &sp, s)) {
        fprintf(stderr, "split: cannot make the leave-one-out split of %s\n", path);
        return 1;
    }
    return 0;
}

enum { BENCH_CEIL_FMA, BENCH_CEIL_BF16, BENCH_CEIL_AMX };
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <sys/syscall.h>
#define BENCH_FMA_CHAINS 12 /* > latency (4) x ports (2): the loop is bound by issue alone */

/* n rounds of BENCH_FMA_CHAINS independent chains of 512-bit FMAs (bf16: vdpbf16ps); returns their sum. */
__attribute__((target("avx512f,fma"))) static inline float bench_fma_loop(long n, float x0) {
    __m512 a[BENCH_FMA_CHAINS], x = _mm512_set1_ps(x0), y = _mm512_set1_ps(0.5f);
    for (int i = 0; i < BENCH_FMA_CHAINS; i++) a[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < BENCH_FMA_CHAINS; i++) a[i] = _mm512_fmadd_ps(x, y, a[i]);
        __asm__ volatile("" : "+v"(x)); /* x is not a constant: the FMAs stay */
    }
    __m512 s = a[0];
    for (int i = 1; i < BENCH_FMA_CHAINS; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512f,avx512bf16"))) static inline float bench_bf16_loop(long n, float x0) {
    __m512 a[BENCH_FMA_CHAINS];
    __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(x0), _mm512_set1_ps(x0)), y = x;
    for (int i = 0; i < BENCH_FMA_CHAINS; i++) a[i] = _mm512_set1_ps((float)i);
    for (long k = 0; k < n; k++) {
#pragma GCC unroll 12
        for (int i = 0; i < BENCH_FMA_CHAINS; i++) a[i] = _mm512_dpbf16_ps(a[i], x, y);
        __asm__ volatile("" : "+v"(x));
    }
    __m512 s = a[0];
    for (int i = 1; i < BENCH_FMA_CHAINS; i++) s = _mm512_add_ps(s, a[i]);
    return _mm512_reduce_add_ps(s);
}

/* AMX: n rounds of 4 tile products (tdpbf16ps, 16 x 16 floats += 16 x 32 bf16 by 32 x 16 bf16, into 4 independent
 * accumulator tiles), on zero tiles. The thread configures its own tiles and releases them. */
typedef struct {
    unsigned char palette, start, reserved[14];
    unsigned short colsb[16];
    unsigned char rows[16];
} __attribute__((packed)) bench_amx_cfg;

__attribute__((target("amx-tile,amx-bf16"))) static inline float bench_amx_loop(long n) {
    static __thread char zero[1024] __attribute__((aligned(64)));
    float out[256] __attribute__((aligned(64)));
    bench_amx_cfg cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.palette = 1;
    for (int t = 0; t < 8; t++) cfg.colsb[t] = 64, cfg.rows[t] = 16;
    /* GCC 12's _tile_loadconfig tells the compiler it reads 8 bytes: without this barrier the rest of cfg may not
     * be stored yet (ldtilecfg then faults on the reserved bytes) */
    __asm__ volatile("" : : "m"(cfg) : "memory");
    _tile_loadconfig(&cfg);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, zero, 64);
    _tile_loadd(5, zero, 64);
    _tile_loadd(6, zero, 64);
    _tile_loadd(7, zero, 64);
    for (long k = 0; k < n; k++) {
        _tile_dpbf16ps(0, 4, 6);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 5, 6);
        _tile_dpbf16ps(3, 5, 7);
    }
    _tile_stored(0, out, 64);
    _tile_release();
    return out[0];
}

/* The CPU has AMX bf16 and Linux grants this process the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM). */
static inline int bench_amx_ok(void) {
    if (!__builtin_cpu_supports("amx-tile") || !__builtin_cpu_supports("amx-bf16")) return 0;
    return syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XFEATURE_XTILEDATA */) == 0;
}

/* GFLOP/s of the loop on nt threads at once (a 512-bit FMA: 32 flop; a vdpbf16ps: 64; a tdpbf16ps: 16 x 16 x 32 x
 * 2), best of 3 rounds of about 0.1 s each. */
static inline double bench_fma_ceiling_x86(int kind, int nt) {
    const long n = kind == BENCH_CEIL_AMX ? 2000000 : 20000000;
    double best = 1e30;
    volatile float sink = 0;
    for (int round = 0; round < 3; round++) {
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
#pragma omp parallel num_threads(nt)
        {
            float v = kind == BENCH_CEIL_AMX    ? bench_amx_loop(n)
                      : kind == BENCH_CEIL_BF16 ? bench_bf16_loop(n, 1.0001f)
                                                : bench_fma_loop(n, 1.0001f);
#pragma omp atomic
            sink += v;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double t = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        if (t < best) best = t;
    }
    (void)sink;
    double per = kind == BENCH_CEIL_AMX ? 4.0 * 16 * 16 * 32 * 2 : BENCH_FMA_CHAINS * (kind == BENCH_CEIL_BF16 ? 64.0 : 32.0);
    return (double)n * per * nt / best / 1e9;
}
#endif

/* The rate no float kernel passes: nt threads issuing nothing but 512-bit FMAs on independent registers
 * (BENCH_CEIL_FMA); the same for AVX-512 BF16's vdpbf16ps (BENCH_CEIL_BF16) and for AMX's bf16 tile product
 * (BENCH_CEIL_AMX), which a bf16 kernel would be measured against. GFLOP/s; 0 where the CPU (or, for AMX, the OS)
 * does not provide the instructions. An SGEMM's fraction of the FMA ceiling says how close the BLAS comes to the
 * machine; a kernel's fraction of the SGEMM says how close it comes to the BLAS. */
static inline double bench_fma_ceiling(int kind, int nt) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (__builtin_cpu_supports("avx512f") && (kind != BENCH_CEIL_BF16 || __builtin_cpu_supports("avx512bf16")) &&
        (kind != BENCH_CEIL_AMX || bench_amx_ok()))
        return bench_fma_ceiling_x86(kind, nt);
#endif
    (void)kind, (void)nt;
    return 0;
}

#endif
