/* attention.c: multi-head self-attention (causal or bidirectional, key padding) over packed variable-length
 * sequences, compiled in float and double from attention.inc. No work is spent on padding: a batch is the
 * concatenation of its sequences, and each (sequence, head) is one T_b x T_b problem. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "nn/nn.h"

int64_t crec__nn_attention_offsets(int64_t *att_off, const int32_t *seq_off, int B, int H) {
    att_off[0] = 0;
    for (int b = 0; b < B; b++) {
        int64_t T = seq_off[b + 1] - seq_off[b];
        att_off[b + 1] = att_off[b] + (int64_t)H * T * T;
    }
    return att_off[B];
}

#include "nn/real.h"
#include "nn/attention.inc"

#define NN_DOUBLE
#include "nn/real.h"
#include "nn/attention.inc"
