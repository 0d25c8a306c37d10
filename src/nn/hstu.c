/* hstu.c: the kernels of the HSTU layer (Zhai et al. 2024, "Actions Speak Louder than Words"), compiled in float
 * and double from hstu.inc: an affine-free layer norm, the pointwise attention A = SiLU(Q K^T + rab_pos +
 * rab_time) / n under a causal mask (no softmax), and the gate U * LayerNorm(A V). The one idea: the attention
 * weights are not normalised over keys, so each query's row is independent of the others' and the bias
 * gradients are plain sums of d(logit) over the pairs that use each bias. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "nn/nn.h"

int crec__nn_hstu_bucket(int64_t tq, int64_t tk) {
    uint64_t dt = tq >= tk ? (uint64_t)tq - (uint64_t)tk : (uint64_t)tk - (uint64_t)tq; /* exact, no overflow */
    if (dt <= 1) return 0;
    int b = (int)floor(log((double)dt) / 0.301);
    return b < 0 ? 0 : b > CREC_NN_HSTU_BUCKETS - 1 ? CREC_NN_HSTU_BUCKETS - 1 : b;
}

#include "nn/real.h"
#include "nn/hstu.inc"

#define NN_DOUBLE
#include "nn/real.h"
#include "nn/hstu.inc"
