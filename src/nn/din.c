/* din.c: the target-attention kernels of DIN / DARE (din.h), compiled in float and double from din.inc. The one
 * idea: one example's whole path (activation unit or dot product, pooling, output MLP) is one forward and one
 * backward over plain arrays, so the double instance checks every gradient by finite differences. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "nn/din.h"

int crec__din_arch_layout(crec_din_arch *a) {
    if (a->da < 1 || a->dr < 1 || a->nl < 0 || a->nl > CREC_DIN_MAX_LAYERS) return CREC_EINVAL;
    if (a->att == CREC_DIN_ATT_MLP && a->A < 1) return CREC_EINVAL;
    size_t o = 0;
    int A = a->att == CREC_DIN_ATT_MLP ? a->A : 0;
    a->aw = o, o += (size_t)A * 4 * a->da;
    a->ab = o, o += (size_t)A;
    a->ap = o, o += A ? 1 : 0;
    a->aw2 = o, o += (size_t)A;
    a->ab2 = o, o += A ? 1 : 0;
    int in = 3 * a->dr, maxw = in;
    for (int l = 0; l <= a->nl; l++) {
        int out = l < a->nl ? a->hid[l] : 1;
        if (out < 1) return CREC_EINVAL;
        a->mw[l] = o, o += (size_t)out * in;
        a->mb[l] = o, o += (size_t)out;
        if (l < a->nl) a->mp[l] = o, o += 1;
        if (out > maxw) maxw = out;
        in = out;
    }
    a->n = o;
    /* workspace: per layer pre and post activations, the input z, the pooled u, gradients of two widths, the
     * activation unit's qt, C, dqt, dC; per history item s, w, dw and A pre-activations */
    size_t hsum = 0;
    for (int l = 0; l < a->nl; l++) hsum += 2 * (size_t)a->hid[l];
    a->ws_fixed = hsum + 3 * (size_t)a->dr + (size_t)a->dr + 2 * (size_t)maxw + 2 * (size_t)A * (a->da + 1) + 4;
    a->ws_per_h = 3 + (size_t)A;
    return 0;
}

#include "nn/real.h"
#include "nn/din.inc"

#define NN_DOUBLE
#include "nn/real.h"
#include "nn/din.inc"
