/* kernels.h: pieces of the row-wise kernels (kernels.inc) for callers that split one batch into row ranges and run
 * each range on one thread (the sharded step of seqenc.c): dropout at an element offset (the mask of element i0 + i
 * of the whole tensor), and the two halves of the LayerNorm and linear backward - the per-row input gradient,
 * which a range computes alone, and the parameter gradients, sums over every row of the batch in row order that
 * run once the whole batch's output gradients are known. Each whole kernel in nn.h is exactly its halves called
 * in turn (the same bits). Float and double, as nn.h. */
#ifndef CREC_NN_KERNELS_H
#define CREC_NN_KERNELS_H
#include "nn/nn.h"

#define CREC__NN_ROW_KERNELS(R, NN)                                                                                    \
    /* out[i] = keep(seed, i0 + i) ? inp[i] / (1 - p) : 0 for i < n: elements [i0, i0 + n) of a tensor whose mask      \
     * dropout_forward(seed) draws; out may alias inp (then it is the gradient's mask applied in place). */            \
    void NN(dropout_forward_at)(R * out, const R *inp, size_t n, R p, uint64_t seed, size_t i0);                       \
    /* dinp[i] += keep(seed, i0 + i) ? dout[i] / (1 - p) : 0 for i < n. */                                             \
    void NN(dropout_backward_at)(R * dinp, const R *dout, size_t n, R p, uint64_t seed, size_t i0);                    \
    /* the input half of layernorm_backward: dinp[N,D] += (rows independent). */                                       \
    void NN(layernorm_backward_dx)(R * dinp, const R *dout, const R *inp, const R *w, const R *mean, const R *rstd,    \
                                   int N, int D);                                                                      \
    /* the parameter half: dw[D] += sum_n dout xhat, db[D] += sum_n dout, rows in order. */                            \
    void NN(layernorm_backward_wb)(R * dw, R * db, const R *dout, const R *inp, const R *mean, const R *rstd, int N,   \
                                   int D);                                                                             \
    /* the parameter half of linear_backward: dw[O,C] += dout^T inp (one product), db[O] += sum_n dout (may be         \
     * NULL), rows in order. */                                                                                        \
    void NN(linear_backward_w)(R * dw, R * db, const R *dout, const R *inp, int N, int C, int O);

/* crec__nn_adamw (nn.h) that also zeroes g[0..n) as it reads it (optim.c): a training loop whose every step
 * ends with it needs no memset of its gradient block before the next step. */
void crec__nn_adamw_zero(float *p, float *g, float *m, float *v, size_t n, float lr, float b1, float b2, float eps,
                         float wd, int64_t t);

CREC__NN_ROW_KERNELS(float, CREC__NN_F)
CREC__NN_ROW_KERNELS(double, CREC__NN_D)

#endif
