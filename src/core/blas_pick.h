/* blas_pick.h: private parts of blas.c, exposed so tests can check them without a CPU of each kind.
 *
 * crec__blas_pick is the pure decision: from the CPU's features, the core OpenBLAS detected and the
 * environment's OPENBLAS_CORETYPE, which core type (if any) crec should ask OpenBLAS for. It never
 * names a core whose instructions the CPU lacks. crec__blas_reexec is the mechanism: set the
 * environment and execv("/proc/self/exe"). */
#ifndef CREC_BLAS_PICK_H
#define CREC_BLAS_PICK_H

#include <stddef.h>

/* Environment variables: ours, and the one OpenBLAS reads when it loads. */
#define CREC_BLAS_ENV_AUTO "CREC_BLAS_AUTO"     /* "0" disables the automatic choice */
#define CREC_BLAS_ENV_GUARD "CREC_BLAS_REEXEC"  /* "<picked>:<detected>", set just before the re-exec */
#define CREC_BLAS_ENV_CORE "OPENBLAS_CORETYPE"

/* Decide. has_avx512: the CPU (and OS) support avx512f+vl+bw+dq; has_avx2_fma: avx2 and fma.
 * detected: openblas_get_corename() before any change (NULL or "" = unknown). env_core: the environment's
 * OPENBLAS_CORETYPE (NULL or "" = unset). Returns a static core name ("SkylakeX", "Haswell") when OpenBLAS
 * should be re-loaded with it, or NULL when nothing should change. In both cases a one-line reason is
 * written into why (n bytes, always NUL-terminated when n > 0; why may be NULL when n is 0). */
const char *crec__blas_pick(int has_avx512, int has_avx2_fma, const char *detected, const char *env_core,
                            char *why, size_t n);

/* Set OPENBLAS_CORETYPE=core and CREC_BLAS_REEXEC=core:detected, flush stdio and execv("/proc/self/exe",
 * argv). argv stays owned by the caller. Returns only on failure: the two variables are removed again, a
 * reason is written into why and CREC_EINVAL (argv NULL or empty, bad core) or CREC_EIO (exec failed) is
 * returned. Open file descriptors, stdin included, pass to the new image unchanged. */
int crec__blas_reexec(char **argv, const char *core, const char *detected, char *why, size_t n);

#endif
