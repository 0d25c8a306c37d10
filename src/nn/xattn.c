/* xattn.c: cross-attention (decoder queries over encoder memory) and single-query attention against a KV cache,
 * compiled in float and double from xattn.inc (xattn.h for shapes). Used by the generative retrieval model
 * (src/models/genrec.c): training runs the packed kernels, decoding runs attend_one per beam and layer. */
#include <float.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "nn/nn.h"
#include "nn/xattn.h"

int64_t crec__nn_xattn_offsets(int64_t *att_off, const int32_t *q_off, const int32_t *k_len, int S, int H) {
    att_off[0] = 0;
    for (int s = 0; s < S; s++) att_off[s + 1] = att_off[s] + (int64_t)H * (q_off[s + 1] - q_off[s]) * k_len[s];
    return att_off[S];
}

#include "nn/real.h"
#include "nn/xattn.inc"

#define NN_DOUBLE
#include "nn/real.h"
#include "nn/xattn.inc"
