/* blas.c: choose OpenBLAS's kernels from the CPU's real features, and report what runs.
 *
 * OpenBLAS (DYNAMIC_ARCH) picks its kernels once, in its load-time constructor, before main runs; the
 * only switch is the environment variable OPENBLAS_CORETYPE, read at that moment. Debian's 0.3.21 does
 * not recognise some current CPUs and falls back to old kernels (Prescott: 5-6x slower sgemm). So
 * crec_blas_setup compares what OpenBLAS detected with what the CPU can do, and when OpenBLAS is below
 * the CPU's tier (avx512 -> SkylakeX, avx2+fma -> Haswell) it sets OPENBLAS_CORETYPE and re-executes
 * the program once (execv /proc/self/exe: same argv, environment, open descriptors). It never names a
 * core whose instructions the CPU lacks (OpenBLAS 0.3.21 obeys OPENBLAS_CORETYPE=SkylakeX on an avx2-only
 * CPU and dies of SIGILL), and it never overrides an OPENBLAS_CORETYPE that the environment already set.
 * Measurements and reasons: docs/BLAS.md. */
#include "crec/blas.h"

#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <cblas.h>

#include "core/blas_pick.h"
#include "core/util.h"

/* OpenBLAS's own extensions; cblas.h from OpenBLAS declares them too (same prototypes), others may not. */
extern char *openblas_get_corename(void);
extern char *openblas_get_config(void);
extern int openblas_get_num_threads(void);

/* ---- the pure decision ---- */

/* Kernel tier of an OpenBLAS x86 core name: 3 = avx512 kernels, 2 = avx2+fma kernels, 1 = older kernels,
 * 0 = "Unknown" (OpenBLAS found nothing), -1 = a name this table does not know (a newer OpenBLAS: leave it). */
static int core_tier(const char *name) {
    static const char *const t3[] = {"SkylakeX", "Cooperlake", "SapphireRapids", NULL};
    /* Excavator: an avx2 core that OpenBLAS recognised by model; its kernels are kept rather than
     * second-guessed without a machine to measure on. */
    static const char *const t2[] = {"Haswell", "Zen", "Excavator", NULL};
    static const char *const t1[] = {"Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom",
                                     "Core2", "Penryn", "Dunnington", "Nehalem", "Athlon", "Opteron",
                                     "Opteron_SSE3", "Barcelona", "Nano", "Sandybridge", "Bobcat",
                                     "Bulldozer", "Piledriver", "Steamroller", NULL};
    if (!name || !*name || strcasecmp(name, "Unknown") == 0) return 0;
    for (int i = 0; t3[i]; i++)
        if (strcasecmp(name, t3[i]) == 0) return 3;
    for (int i = 0; t2[i]; i++)
        if (strcasecmp(name, t2[i]) == 0) return 2;
    for (int i = 0; t1[i]; i++)
        if (strcasecmp(name, t1[i]) == 0) return 1;
    return -1;
}

const char *crec__blas_pick(int has_avx512, int has_avx2_fma, const char *detected, const char *env_core,
                            char *why, size_t n) {
    const char *det = (detected && *detected) ? detected : "Unknown";
    if (env_core && *env_core) {
        crec__errf(why, n, "OPENBLAS_CORETYPE=%s set by the environment", env_core);
        return NULL;
    }
    int want;
    const char *core, *feat;
    if (has_avx512) {
        want = 3, core = "SkylakeX", feat = "avx512 (f, vl, bw, dq)";
    } else if (has_avx2_fma) {
        /* Haswell, not Zen, on AMD too: in OpenBLAS 0.3.21 both run the same sgemm kernel (identical
         * results, equal speed within noise on an EPYC, docs/BLAS.md), and Haswell is the name for both. */
        want = 2, core = "Haswell", feat = "avx2+fma";
    } else {
        crec__errf(why, n, "CPU has neither avx2+fma nor avx512: kept OpenBLAS's choice %s", det);
        return NULL;
    }
    int tier = core_tier(det);
    if (tier < 0) {
        crec__errf(why, n, "OpenBLAS runs %s, a core crec does not know: kept", det);
        return NULL;
    }
    if (tier >= want) {
        crec__errf(why, n, "OpenBLAS auto-detected %s, which already uses the CPU's %s", det, feat);
        return NULL;
    }
    crec__errf(why, n, "%s: CPU has %s; OpenBLAS auto-detected %s", core, feat, det);
    return core;
}

/* ---- the mechanism ---- */

int crec__blas_reexec(char **argv, const char *core, const char *detected, char *why, size_t n) {
    if (!argv || !argv[0]) {
        crec__errf(why, n, "no argv: not re-executing");
        return CREC_EINVAL;
    }
    size_t len = core ? strlen(core) : 0;
    if (len == 0 || len > 31) {
        crec__errf(why, n, "bad core name: not re-executing");
        return CREC_EINVAL;
    }
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)core[i]) && core[i] != '_') {
            crec__errf(why, n, "bad core name: not re-executing");
            return CREC_EINVAL;
        }
    char guard[128];
    snprintf(guard, sizeof guard, "%s:%.63s", core, detected && *detected ? detected : "Unknown");
    if (setenv(CREC_BLAS_ENV_CORE, core, 1) != 0 || setenv(CREC_BLAS_ENV_GUARD, guard, 1) != 0) {
        unsetenv(CREC_BLAS_ENV_CORE);
        unsetenv(CREC_BLAS_ENV_GUARD);
        crec__errf(why, n, "setenv failed: not re-executing");
        return CREC_ENOMEM;
    }
    fflush(NULL); /* what the program printed so far must not be lost with this image's buffers */
    execv("/proc/self/exe", argv);
    int e = errno;
    unsetenv(CREC_BLAS_ENV_CORE);
    unsetenv(CREC_BLAS_ENV_GUARD);
    crec__errf(why, n, "re-exec with OPENBLAS_CORETYPE=%s failed: %s", core, strerror(e));
    return CREC_EIO;
}

/* ---- process state: analysed once; crec_blas_setup may then re-execute ---- */

static struct {
    pthread_once_t once;
    const char *want;   /* core to re-execute with (static string), NULL = none */
    const char *choice; /* what crec picked and OpenBLAS now runs under, NULL = changed nothing */
    char picked[32];    /* storage for choice after a re-exec */
    char detected[64];  /* OpenBLAS's own detection (before the re-exec when there was one) */
    char why[256];
} g_blas = {.once = PTHREAD_ONCE_INIT};

#if defined(__x86_64__) || defined(__i386__)
static void cpu_features(int *avx512, int *avx2_fma) {
    __builtin_cpu_init();
    /* GCC's and clang's checks include the OS's support (XCR0), so a kernel that disabled the state reads as 0 */
    *avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
              __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
    *avx2_fma = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

static void analyse(void) {
    const char *cur = crec_blas_corename();
    const char *off = getenv(CREC_BLAS_ENV_AUTO);
    if (off && strcmp(off, "0") == 0) {
        crec__errf(g_blas.why, sizeof g_blas.why, "CREC_BLAS_AUTO=0: OpenBLAS's choice %s kept", cur);
        return;
    }
#if !defined(__x86_64__) && !defined(__i386__)
    crec__errf(g_blas.why, sizeof g_blas.why, "not x86: OpenBLAS's choice %s kept", cur);
    return;
#else
    int a512, a2;
    cpu_features(&a512, &a2);
    const char *env_core = getenv(CREC_BLAS_ENV_CORE);
    const char *guard = getenv(CREC_BLAS_ENV_GUARD);
    const char *colon = guard ? strchr(guard, ':') : NULL;
    if (colon && env_core && (size_t)(colon - guard) == strlen(env_core) &&
        strncmp(guard, env_core, (size_t)(colon - guard)) == 0 && strlen(env_core) < sizeof g_blas.picked) {
        /* we are the re-executed image (or its child): rebuild the reason from the detection before it */
        snprintf(g_blas.detected, sizeof g_blas.detected, "%s", colon + 1);
        snprintf(g_blas.picked, sizeof g_blas.picked, "%s", env_core);
        g_blas.choice = g_blas.picked;
        char why[200];
        const char *again = crec__blas_pick(a512, a2, g_blas.detected, NULL, why, sizeof why);
        if (!again || strcasecmp(again, env_core) != 0) /* not what this CPU would pick: just say so */
            snprintf(why, sizeof why, "%s picked by a parent crec process (OpenBLAS auto-detected %s)", env_core,
                     g_blas.detected);
        if (strcasecmp(cur, env_core) == 0)
            crec__errf(g_blas.why, sizeof g_blas.why, "%s", why);
        else
            crec__errf(g_blas.why, sizeof g_blas.why, "%s; but OpenBLAS runs %s", why, cur);
        return;
    }
    snprintf(g_blas.detected, sizeof g_blas.detected, "%s", cur);
    g_blas.want = crec__blas_pick(a512, a2, cur, env_core, g_blas.why, sizeof g_blas.why);
    if (g_blas.want && guard && *guard) { /* never a second re-exec, whatever happened to the environment */
        crec__errf(g_blas.why, sizeof g_blas.why, "already re-executed once (%s=%s): %s kept", CREC_BLAS_ENV_GUARD,
                   guard, cur);
        g_blas.want = NULL;
    }
    if (g_blas.want && !strstr(crec_blas_config(), "DYNAMIC_ARCH")) {
        crec__errf(g_blas.why, sizeof g_blas.why, "OpenBLAS built without DYNAMIC_ARCH: %s kept (%s would suit)",
                   cur, g_blas.want);
        g_blas.want = NULL;
    }
#endif
}

void crec_blas_setup(int argc, char **argv) {
    pthread_once(&g_blas.once, analyse);
    if (!g_blas.want) return;
    const char *want = g_blas.want;
    g_blas.want = NULL; /* one attempt per process */
    if (argc < 1 || !argv || !argv[0]) {
        crec__errf(g_blas.why, sizeof g_blas.why, "%s would suit, but no argv to re-execute with: %s kept", want,
                   g_blas.detected);
        return;
    }
    char why[200];
    crec__blas_reexec(argv, want, g_blas.detected, why, sizeof why); /* returns only on failure */
    crec__errf(g_blas.why, sizeof g_blas.why, "%s; %s kept", why, g_blas.detected);
}

const char *crec_blas_choice(char *why, size_t n) {
    pthread_once(&g_blas.once, analyse);
    if (g_blas.want) /* analysed, but crec_blas_setup did not act on it */
        crec__errf(why, n, "%s (crec_blas_setup was not called)", g_blas.why);
    else
        crec__errf(why, n, "%s", g_blas.why);
    return g_blas.choice;
}

const char *crec_blas_corename(void) {
    const char *s = openblas_get_corename();
    return s ? s : "";
}

const char *crec_blas_config(void) {
    const char *s = openblas_get_config();
    return s ? s : "";
}

int crec_blas_threads(void) { return openblas_get_num_threads(); }

/* Returns GFLOP/s (> 0), or CREC_EINVAL (n outside 1..16384, reps < 1) / CREC_ENOMEM as a negative double.
 * The matrices (3 n*n floats, 64-byte aligned) are allocated and freed here. */
double crec_blas_sgemm_gflops(int n, int reps) {
    if (n < 1 || n > 16384 || reps < 1) return CREC_EINVAL;
    size_t nn = (size_t)n * (size_t)n;
    float *a = crec__aligned_alloc(nn * sizeof *a);
    float *b = crec__aligned_alloc(nn * sizeof *b);
    float *c = crec__aligned_alloc(nn * sizeof *c);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return CREC_ENOMEM;
    }
    crec_rng r;
    crec__rng_seed(&r, 42);
    for (size_t i = 0; i < nn; i++) {
        a[i] = (float)(2.0 * crec__rng_uniform(&r) - 1.0);
        b[i] = (float)(2.0 * crec__rng_uniform(&r) - 1.0);
    }
    /* warm-up: page faults, OpenBLAS's buffers and thread start-up are not timed */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    double best = 0;
    for (int k = 0; k < reps; k++) {
        double t0 = crec__now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        double dt = crec__now() - t0;
        if (k == 0 || dt < best) best = dt;
    }
    free(a), free(b), free(c);
    if (best <= 0) best = 1e-9;
    return 2.0 * (double)n * (double)n * (double)n / best * 1e-9;
}
