/* kernels.c: the row-wise kernels of the neural core (embedding, linear, layer norm, dropout, residual,
 * activations, GRU cell), compiled twice from kernels.inc: in float (crec__nn_<op>, for training) and in double
 * (crec__nn_<op>_d, for the finite-difference checks). Matrix products go to BLAS; see nn.h for shapes. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "nn/kernels.h"
#include "nn/nn.h"

/* OpenBLAS's own thread controls (its cblas.h declares them too, with the same prototypes). */
extern int openblas_get_num_threads(void);
extern void openblas_set_num_threads(int num_threads);

size_t crec__nn_par_min = CREC_NN_PAR_MIN;

int crec__nn_blas_single(void) {
    int prev = openblas_get_num_threads();
    if (prev != 1) openblas_set_num_threads(1);
    return prev;
}

void crec__nn_blas_restore(int prev) {
    if (prev > 1 && openblas_get_num_threads() != prev) openblas_set_num_threads(prev);
}

crec_nn_threads crec__nn_threads_enter(int nt) {
    crec_nn_threads t = {.omp = omp_get_max_threads()};
    t.blas = crec__nn_blas_single(); /* first: OpenBLAS's OpenMP build sets OpenMP's count with its own */
    omp_set_num_threads(nt > 0 ? nt : t.omp);
    return t;
}

void crec__nn_threads_leave(crec_nn_threads t) {
    omp_set_num_threads(t.omp);
    crec__nn_blas_restore(t.blas);
}

/* Cosine rows (nn.h). */
void crec__nn_cos_rows(float *out, float *nrm, const float *x, int64_t n, int D, float scale) {
    for (int64_t i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * D;
        double q = 0;
        for (int d = 0; d < D; d++) q += (double)xi[d] * xi[d];
        double r = fmax(sqrt(q), 1e-6);
        nrm[i] = (float)r;
        float k = (float)(scale / r);
        for (int d = 0; d < D; d++) out[(size_t)i * D + d] = xi[d] * k;
    }
}

void crec__nn_cos_rows_back(float *dx, float *dy, const float *y, const float *nrm, int64_t n, int D, float scale,
                            int clear) {
    for (int64_t i = 0; i < n; i++) {
        float *g = dy + (size_t)i * D;
        const float *yi = y + (size_t)i * D;
        double c = 0;
        int any = 0;
        for (int d = 0; d < D; d++) c += (double)yi[d] * g[d], any |= g[d] != 0;
        if (!any) continue;
        c /= (double)scale * scale; /* c y = yh (yh . dy) */
        float k = scale / nrm[i];
        for (int d = 0; d < D; d++) dx[(size_t)i * D + d] += k * (g[d] - (float)c * yi[d]);
        if (clear) memset(g, 0, (size_t)D * sizeof *g);
    }
}

#include "nn/real.h"
#include "nn/kernels.inc"

#define NN_DOUBLE
#include "nn/real.h"
#include "nn/kernels.inc"
