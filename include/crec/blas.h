/* blas.h: choose and report OpenBLAS's kernels.
 *
 * Debian's OpenBLAS 0.3.21 does not recognise some current CPUs and falls back to slow generic kernels.
 * OpenBLAS reads OPENBLAS_CORETYPE once, when the library loads, so a program must choose before that:
 * crec_blas_setup re-executes the program once with a core type picked from the CPU's features, unless
 * the environment already sets one (which is then respected). */
#ifndef CREC_BLAS_H
#define CREC_BLAS_H

#include "crec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Call first thing in main. May not return (execv). Set CREC_BLAS_AUTO=0 to disable. */
CREC_API void crec_blas_setup(int argc, char **argv);
/* The core type OpenBLAS runs ("Haswell", "SkylakeX", ...), and the configuration string. */
CREC_API const char *crec_blas_corename(void);
CREC_API const char *crec_blas_config(void);
/* What crec_blas_setup picked ("SkylakeX" ...), or NULL if it changed nothing, and why, into buf. */
CREC_API const char *crec_blas_choice(char *why, size_t n);
CREC_API int crec_blas_threads(void);
/* Measured single-precision GEMM rate (GFLOP/s) for n x n (best of reps). */
CREC_API double crec_blas_sgemm_gflops(int n, int reps);

#ifdef __cplusplus
}
#endif
#endif
