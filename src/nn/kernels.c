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

#include "nn/real.h"
#include "nn/kernels.inc"

#define NN_DOUBLE
#include "nn/real.h"
#include "nn/kernels.inc"
