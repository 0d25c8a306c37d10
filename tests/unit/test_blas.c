/* test_blas.c: sgemm through libcrec's link gives the exact product; the core-type decision table
 * (never a core the CPU cannot run, the environment's OPENBLAS_CORETYPE respected); and the re-exec itself:
 * this program runs itself as a child that re-executes with OPENBLAS_CORETYPE=Prescott and reports back
 * (same pid, argv, stdin and buffered output kept; OpenBLAS really switched kernels). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <math.h>
#include <sys/wait.h>

#include <cblas.h>

#include "core/blas_pick.h"
#include "crec/blas.h"
#include "testutil.h"

/* ---- sgemm correctness ---- */

/* C (m x n) = alpha * A (m x k, row stride lda) * B + beta * C, B stored k x n (ldb) or, when bt, n x k. */
static void naive(int m, int n, int k, double alpha, const float *a, int lda, const float *b, int ldb, int bt,
                  double beta, double *c) {
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int p = 0; p < k; p++) s += (double)a[i * lda + p] * (bt ? b[j * ldb + p] : b[p * ldb + j]);
            c[i * n + j] = alpha * s + beta * c[i * n + j];
        }
}

enum { M = 37, N = 29, K = 53 };

/* Small integers: every partial sum is exactly representable, so sgemm must match the naive product exactly. */
static void test_sgemm_exact_odd_shape(void **st) {
    static float a[M * (K + 3)], b[K * N], bt[N * (K + 5)], c[M * N];
    static double ref[M * N];
    for (int i = 0; i < M * (K + 3); i++) a[i] = (float)((i * 7 + 3) % 17 - 8);
    for (int i = 0; i < K * N; i++) b[i] = (float)((i * 5 + 1) % 13 - 6);
    for (int j = 0; j < N; j++)
        for (int p = 0; p < K + 5; p++) bt[j * (K + 5) + p] = p < K ? b[p * N + j] : 1000.0f; /* padding unused */
    /* row-major, lda padded: C = A B */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K + 3, b, N, 0.0f, c, N);
    memset(ref, 0, sizeof ref);
    naive(M, N, K, 1.0, a, K + 3, b, N, 0, 0.0, ref);
    for (int i = 0; i < M * N; i++)
        if ((double)c[i] != ref[i]) fail_msg("C[%d][%d] = %.1f, naive %.1f", i / N, i % N, c[i], ref[i]);
    /* B transposed with padded ldb, alpha 0.5, beta 2 on the previous C: C = 0.5 A B^T' + 2 C */
    for (int i = 0; i < M * N; i++) ref[i] = c[i];
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 0.5f, a, K + 3, bt, K + 5, 2.0f, c, N);
    naive(M, N, K, 0.5, a, K + 3, bt, K + 5, 1, 2.0, ref);
    for (int i = 0; i < M * N; i++)
        if ((double)c[i] != ref[i]) fail_msg("C[%d][%d] = %.1f, naive %.1f (trans)", i / N, i % N, c[i], ref[i]);
    assert_true(ref[0] != 0.0); /* the data are not trivially zero */
}

/* Random floats: relative to sum |a||b| each entry must be within a few float epsilons. */
static void test_sgemm_random_error(void **st) {
    static float a[M * K], b[K * N], c[M * N];
    static double ref[M * N];
    unsigned s = 12345;
    for (int i = 0; i < M * K; i++) s = s * 1664525u + 1013904223u, a[i] = (float)((s >> 8) / 16777216.0 * 2 - 1);
    for (int i = 0; i < K * N; i++) s = s * 1664525u + 1013904223u, b[i] = (float)((s >> 8) / 16777216.0 * 2 - 1);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, a, K, b, N, 0.0f, c, N);
    memset(ref, 0, sizeof ref);
    naive(M, N, K, 1.0, a, K, b, N, 0, 0.0, ref);
    double worst = 0;
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double mag = 0;
            for (int p = 0; p < K; p++) mag += fabs((double)a[i * K + p] * b[p * N + j]);
            double e = fabs(c[i * N + j] - ref[i * N + j]) / mag;
            if (e > worst) worst = e;
        }
    if (worst > 1e-6) fail_msg("max relative error %.3g > 1e-6", worst);
}

static void test_info(void **st) {
    assert_true(strlen(crec_blas_corename()) > 0);
    assert_non_null(strstr(crec_blas_config(), "OpenBLAS"));
    assert_true(crec_blas_threads() >= 1);
}

static void test_gflops_args(void **st) {
    assert_true(crec_blas_sgemm_gflops(0, 1) == CREC_EINVAL);
    assert_true(crec_blas_sgemm_gflops(64, 0) == CREC_EINVAL);
    assert_true(crec_blas_sgemm_gflops(16385, 1) == CREC_EINVAL);
    double g = crec_blas_sgemm_gflops(64, 2);
    if (!(g > 0.01 && g < 1e5)) fail_msg("sgemm_gflops(64, 2) = %g", g);
}

/* ---- the decision table ---- */

typedef struct {
    int avx512, avx2;
    const char *detected, *env, *pick, *why;
} pick_case;

static const pick_case CASES[] = {
    /* the environment wins, whatever the CPU or the detection */
    {1, 1, "Prescott", "Haswell", NULL, "OPENBLAS_CORETYPE=Haswell set by the environment"},
    {0, 0, "Prescott", "SkylakeX", NULL, "OPENBLAS_CORETYPE=SkylakeX set by the environment"},
    /* avx512 CPU: the case (Prescott), and avx2-tier detections are raised too */
    {1, 1, "Prescott", NULL, "SkylakeX", "SkylakeX: CPU has avx512 (f, vl, bw, dq); OpenBLAS auto-detected Prescott"},
    {1, 1, "Haswell", NULL, "SkylakeX", "SkylakeX: CPU has avx512 (f, vl, bw, dq); OpenBLAS auto-detected Haswell"},
    {1, 1, "Zen", "", "SkylakeX", "SkylakeX: CPU has avx512 (f, vl, bw, dq); OpenBLAS auto-detected Zen"},
    {1, 1, "SkylakeX", NULL, NULL, "OpenBLAS auto-detected SkylakeX, which already uses the CPU's avx512 (f, vl, bw, dq)"},
    {1, 1, "Cooperlake", NULL, NULL,
     "OpenBLAS auto-detected Cooperlake, which already uses the CPU's avx512 (f, vl, bw, dq)"},
    /* avx2+fma CPU */
    {0, 1, "Prescott", NULL, "Haswell", "Haswell: CPU has avx2+fma; OpenBLAS auto-detected Prescott"},
    {0, 1, "Sandybridge", NULL, "Haswell", "Haswell: CPU has avx2+fma; OpenBLAS auto-detected Sandybridge"},
    {0, 1, NULL, NULL, "Haswell", "Haswell: CPU has avx2+fma; OpenBLAS auto-detected Unknown"},
    {0, 1, "", NULL, "Haswell", "Haswell: CPU has avx2+fma; OpenBLAS auto-detected Unknown"},
    {0, 1, "Zen", NULL, NULL, "OpenBLAS auto-detected Zen, which already uses the CPU's avx2+fma"},
    {0, 1, "haswell", NULL, NULL, "OpenBLAS auto-detected haswell, which already uses the CPU's avx2+fma"},
    {0, 1, "SkylakeX", NULL, NULL, "OpenBLAS auto-detected SkylakeX, which already uses the CPU's avx2+fma"},
    {0, 1, "Zen7", NULL, NULL, "OpenBLAS runs Zen7, a core crec does not know: kept"},
    /* older CPU: OpenBLAS's choice stands */
    {0, 0, "Prescott", NULL, NULL, "CPU has neither avx2+fma nor avx512: kept OpenBLAS's choice Prescott"},
    {0, 0, NULL, NULL, NULL, "CPU has neither avx2+fma nor avx512: kept OpenBLAS's choice Unknown"},
};

static void test_pick_table(void **st) {
    for (size_t k = 0; k < sizeof CASES / sizeof CASES[0]; k++) {
        const pick_case *c = &CASES[k];
        char why[256] = "x";
        const char *got = crec__blas_pick(c->avx512, c->avx2, c->detected, c->env, why, sizeof why);
        if ((got == NULL) != (c->pick == NULL) || (got && strcmp(got, c->pick) != 0))
            fail_msg("case %zu (%s): picked %s, expected %s", k, c->detected ? c->detected : "NULL",
                     got ? got : "NULL", c->pick ? c->pick : "NULL");
        if (strcmp(why, c->why) != 0) fail_msg("case %zu: why \"%s\", expected \"%s\"", k, why, c->why);
    }
}

/* Whatever OpenBLAS detected, an avx2-only CPU never gets SkylakeX and an old CPU never gets anything. */
static void test_pick_never_beyond_cpu(void **st) {
    const char *names[] = {"Unknown", "Prescott", "Core2", "Nehalem", "Sandybridge", "Haswell", "Zen", "Excavator",
                           "SkylakeX", "Cooperlake", "Bulldozer", "Steamroller", "Atom", NULL};
    for (int i = 0; names[i]; i++) {
        const char *p = crec__blas_pick(0, 1, names[i], NULL, NULL, 0);
        if (p && strcmp(p, "Haswell") != 0) fail_msg("avx2 CPU, detected %s: picked %s", names[i], p);
        assert_null(crec__blas_pick(0, 0, names[i], NULL, NULL, 0));
    }
}

static void test_pick_small_buffer(void **st) {
    char why[8];
    memset(why, 'z', sizeof why);
    assert_string_equal(crec__blas_pick(0, 1, "Prescott", NULL, why, sizeof why), "Haswell");
    assert_string_equal(why, "Haswell");     /* 7 characters and the NUL */
    assert_null(crec__blas_pick(0, 1, "Zen", NULL, why, 1));
    assert_string_equal(why, "");
}

/* ---- the process's own state ---- */

#if defined(__x86_64__) || defined(__i386__)
static int cpu_avx512(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq");
}

static int cpu_avx2_fma(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

/* crec_blas_setup was not called in this process, so nothing was changed; the reason must agree with the
 * environment (OPENBLAS_CORETYPE respected) or with the decision table for this CPU. */
static void test_choice_matches_env(void **st) {
    char why[256] = "";
    const char *choice = crec_blas_choice(why, sizeof why);
    const char *guard = getenv(CREC_BLAS_ENV_GUARD), *off = getenv(CREC_BLAS_ENV_AUTO);
    if (guard || (off && strcmp(off, "0") == 0)) {
        assert_true(strlen(why) > 0);
        skip(); /* a parent crec re-executed into this test, or the choice is disabled */
    }
    assert_null(choice);
#if defined(__x86_64__) || defined(__i386__)
    const char *env = getenv(CREC_BLAS_ENV_CORE);
    if (env && *env) {
        char exp[256];
        snprintf(exp, sizeof exp, "OPENBLAS_CORETYPE=%s set by the environment", env);
        assert_string_equal(why, exp);
        return;
    }
    if (!strstr(crec_blas_config(), "DYNAMIC_ARCH")) skip();
    char exp[256];
    const char *p = crec__blas_pick(cpu_avx512(), cpu_avx2_fma(), crec_blas_corename(), NULL, exp, sizeof exp);
    if (p) strncat(exp, " (crec_blas_setup was not called)", sizeof exp - strlen(exp) - 1);
    assert_string_equal(why, exp);
#else
    assert_non_null(strstr(why, "not x86"));
#endif
}

/* Without argv, setup never re-executes (this call returns) and nothing is reported as changed. */
static void test_setup_without_argv(void **st) {
    crec_blas_setup(0, NULL);
    char why[256] = "";
    const char *choice = crec_blas_choice(why, sizeof why);
    if (!getenv(CREC_BLAS_ENV_GUARD)) assert_null(choice);
    assert_true(strlen(why) > 0);
}

static void test_reexec_bad_args(void **st) {
    char why[128];
    char *argv0[] = {NULL};
    char *argv1[] = {"x", NULL};
    assert_int_equal(crec__blas_reexec(NULL, "Haswell", "Zen", why, sizeof why), CREC_EINVAL);
    assert_int_equal(crec__blas_reexec(argv0, "Haswell", "Zen", why, sizeof why), CREC_EINVAL);
    assert_int_equal(crec__blas_reexec(argv1, "Has well", "Zen", why, sizeof why), CREC_EINVAL);
    assert_int_equal(crec__blas_reexec(argv1, "", "Zen", why, sizeof why), CREC_EINVAL);
    assert_string_equal(why, "bad core name: not re-executing");
}

/* Child mode: stage 1 prints (buffered) and re-executes with Prescott; stage 2 reports what it sees. */
static int blas_child(int argc, char **argv) {
    if (!getenv(CREC_BLAS_ENV_GUARD)) {
        printf("stage1 pid=%d\n", (int)getpid()); /* stdout is a pipe: this stays in the buffer until exec */
        char why[200];
        int rc = crec__blas_reexec(argv, "Prescott", "Zen", why, sizeof why);
        printf("reexec failed: %d %s\n", rc, why);
        return 3;
    }
    char line[64] = "";
    if (!fgets(line, sizeof line, stdin)) strcpy(line, "(none)\n");
    line[strcspn(line, "\n")] = 0;
    char why[256] = "";
    const char *choice = crec_blas_choice(why, sizeof why);
    printf("stage2 pid=%d argc=%d arg=[%s] stdin=[%s] core=[%s] choice=[%s] why=[%s]\n", (int)getpid(), argc,
           argc > 2 ? argv[2] : "", line, crec_blas_corename(), choice ? choice : "NULL", why);
    return 0;
}

static void test_reexec_child(void **st) {
#if !defined(__x86_64__) && !defined(__i386__)
    skip();
#else
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("sse3") || access("/proc/self/exe", X_OK) != 0) skip();
    /* the child's environment: ours without the three variables the choice depends on */
    extern char **environ;
    size_t ne = 0;
    while (environ[ne]) ne++;
    char **env = calloc(ne + 1, sizeof *env);
    assert_non_null(env);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(environ[i], CREC_BLAS_ENV_AUTO "=", strlen(CREC_BLAS_ENV_AUTO) + 1) != 0 &&
            strncmp(environ[i], CREC_BLAS_ENV_GUARD "=", strlen(CREC_BLAS_ENV_GUARD) + 1) != 0 &&
            strncmp(environ[i], CREC_BLAS_ENV_CORE "=", strlen(CREC_BLAS_ENV_CORE) + 1) != 0)
            env[k++] = environ[i];
    int in[2], out[2];
    assert_int_equal(pipe(in), 0);
    assert_int_equal(pipe(out), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(in[0], 0), dup2(out[1], 1);
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        char *args[] = {"test_blas", "--blas-child", "two words", NULL};
        execve("/proc/self/exe", args, env);
        _exit(127);
    }
    free(env);
    close(in[0]), close(out[1]);
    assert_int_equal(write(in[1], "hello\n", 6), 6);
    close(in[1]);
    char buf[2048];
    size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 && (r = read(out[0], buf + len, sizeof buf - 1 - len)) > 0) len += (size_t)r;
    buf[len] = 0;
    close(out[0]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) fail_msg("child status %d, output:\n%s", status, buf);
    int p1 = -1, p2 = -2;
    const char *s1 = strstr(buf, "stage1 pid="), *s2 = strstr(buf, "stage2 pid=");
    if (!s1 || !s2) fail_msg("output:\n%s", buf);
    p1 = atoi(s1 + 11), p2 = atoi(s2 + 11);
    assert_int_equal(p1, (int)pid); /* the buffered line was flushed before exec, */
    assert_int_equal(p2, (int)pid); /* and exec kept the process */
    if (!strstr(buf, "argc=3 arg=[two words] stdin=[hello]")) fail_msg("argv or stdin lost:\n%s", buf);
    if (!strstr(buf, "choice=[Prescott] why=[Prescott picked by a parent crec process (OpenBLAS auto-detected Zen)"))
        fail_msg("choice not reported:\n%s", buf);
    if (strstr(crec_blas_config(), "DYNAMIC_ARCH") && !strstr(buf, "core=[Prescott]"))
        fail_msg("OpenBLAS did not switch kernels:\n%s", buf);
#endif
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "--blas-child") == 0) return blas_child(argc, argv);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sgemm_exact_odd_shape),
        cmocka_unit_test(test_sgemm_random_error),
        cmocka_unit_test(test_info),
        cmocka_unit_test(test_gflops_args),
        cmocka_unit_test(test_pick_table),
        cmocka_unit_test(test_pick_never_beyond_cpu),
        cmocka_unit_test(test_pick_small_buffer),
        cmocka_unit_test(test_choice_matches_env),
        cmocka_unit_test(test_setup_without_argv),
        cmocka_unit_test(test_reexec_bad_args),
        cmocka_unit_test(test_reexec_child),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
