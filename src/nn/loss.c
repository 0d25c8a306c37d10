/* loss.c: the training losses of the neural core, compiled in float and double from loss.inc: BCE and gBCE with
 * sampled negatives, sampled softmax with shared negatives and log-Q correction, and full softmax cross-entropy
 * over the whole catalog in bounded memory (row blocks x item chunks, online logsumexp). */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "nn/nn.h"

#define NN_PAR_MIN 16384

double crec__nn_gbce_beta(int K, int NI, double t) {
    if (NI <= 1 || K <= 0) return 1.0;
    double alpha = (double)K / (NI - 1);
    return alpha * (t * (1 - 1 / alpha) + 1 / alpha);
}

#include "nn/real.h"
#include "nn/loss.inc"

#define NN_DOUBLE
#include "nn/real.h"
#include "nn/loss.inc"
