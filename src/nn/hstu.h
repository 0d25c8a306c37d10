/* hstu.h: the tiled HSTU attention (hstu.c, float and double from hstu.inc) that the model trains with; nn.h's
 * crec__nn_hstu_attention_* stay as the plain per-pair reference (the oracle of tests/unit/test_hstu.c).
 *
 * Per (sequence, head) the attention runs in query tiles of crec__nn_hstu_tile rows: tile rows r0..r1-1 read keys
 * 0..r1-1 only (the causal mask skips the tiles above the diagonal), as BLAS products Z = Q K^T, Y = A V and, in
 * the backward, dA = dY V^T, dV += A^T dY, dQ += dZ K, dK += dZ^T Q; between them one vectorised pass per row
 * adds the biases and takes the SiLU (one exp per pair). The time buckets of a batch are computed once
 * (crec__nn_hstu_buckets, an integer log: no libm per pair) and read by every layer, forward and backward. */
#ifndef CREC_NN_HSTU_H
#define CREC_NN_HSTU_H

#include "nn/nn.h"

/* Query rows per tile (default 64; a global so that bench_hstu_attn can time others in one run). */
#define CREC_NN_HSTU_TILE 64
extern int crec__nn_hstu_tile;

/* crec__nn_hstu_bucket without libm: the bucket of |dt| from a table of the formula's thresholds (the first dt of
 * each bucket, found by bisection on the formula itself); equal to crec__nn_hstu_bucket for every pair of int64. */
int crec__nn_hstu_bucket_fast(int64_t tq, int64_t tk);

/* bkt[att_off[b] / H + t * T_b + t2] = bucket(tq[o + t], tk[o + t2]) for every sequence b (rows o = seq_off[b] ..,
 * length T_b) and t2 <= t (the upper triangle is not written). bkt holds att_off[B] / H bytes. */
void crec__nn_hstu_buckets(uint8_t *bkt, const int64_t *tk, const int64_t *tq, const int32_t *seq_off,
                           const int64_t *att_off, int B, int H);

/* Floats of the bias-gradient scratch crec__nn_hstu_attn_backward wants: one slice per (sequence, head). */
static inline size_t crec__nn_hstu_bias_scratch(int B, int H, int Tmax) {
    return (size_t)B * (size_t)H * (size_t)(Tmax + CREC_NN_HSTU_BUCKETS);
}

#define CREC__NN_HSTU_TILED(R, NN)                                                                                    \
    /* As nn.h's hstu_attention_forward (same shapes, biases, normaliser), with the buckets read from bkt (NULL      \
     * when ts_w is), and two caches in att's layout: att the logits z, aw the weights a = SiLU(z) / n; each is      \
     * written on and below the diagonal, and as zeros above it within the diagonal tiles (the rest is not         \
     * written). */                                                                                                 \
    void NN(hstu_attn_forward)(R * out, R * att, R * aw, const R *uvqk, const R *pos_w, const R *ts_w,               \
                               const uint8_t *bkt, const int32_t *seq_off, const int64_t *att_off, int B, int D,    \
                               int H, int Tmax, int norm_len);                                                      \
    /* As nn.h's hstu_attention_backward: adds into duvqk (v, q, k columns), dpos_w, dts_w (either may be NULL);    \
     * dS (att's size) is scratch, and so is bsum (crec__nn_hstu_bias_scratch floats, needed when a bias gradient   \
     * is): each (sequence, head) sums its bias gradients there, then they are added in a fixed order, so the      \
     * result does not depend on the thread count. */                                                             \
    void NN(hstu_attn_backward)(R * duvqk, R * dpos_w, R * dts_w, R * dS, R * bsum, const R *dout, const R *uvqk,    \
                                const R *att, const R *aw, const uint8_t *bkt, const int32_t *seq_off,              \
                                const int64_t *att_off, int B, int D, int H, int Tmax, int norm_len);
CREC__NN_HSTU_TILED(float, CREC__NN_F)
CREC__NN_HSTU_TILED(double, CREC__NN_D)

/* The layer's element-wise backward passes in write mode (=, not +=), so that the model need not zero its gradient
 * activations every step (the nn.h kernels add; these fuse what the layer chains between its products).
 *  - hstu_gate_norm_backward, per row n: dg = dropout'(dgd) (keep(i) = crec__nn_hash32(seed folded, i) >=
 *    crec__nn_drop_thr(p), i = i0 + n D + d, as nn.h's dropout_backward_at: i0 is row 0's element index in the
 *    whole tensor, so a shard of rows draws the whole tensor's masks; p = 0: dg = dgd); duvqk's U columns = dg * an,
 *    its V, Q, K columns = 0 (the attention's backward adds into them); dao = the affine-free layer norm's
 *    backward of dan = dg * u (an = its output, rstd its 1 / std).
 *  - hstu_silu_backward_inplace: d[i] *= SiLU'(pre[i]).
 *  - hstu_norm_backward_set: dinp = dres + rstd (g - mean(g) - y mean(g y)) (dres may be NULL: 0). */
#define CREC__NN_HSTU_ELEM(R, NN)                                                                                     \
    void NN(hstu_gate_norm_backward)(R * duvqk, R * dao, const R *dgd, const R *uvqk, const R *an, const R *rstd,   \
                                     int N, int D, R p, uint64_t seed, size_t i0);                                 \
    void NN(hstu_silu_backward_inplace)(R * d, const R *pre, size_t n);                                             \
    void NN(hstu_norm_backward_set)(R * dinp, const R *dres, const R *dout, const R *out, const R *rstd, int N,     \
                                    int D);
CREC__NN_HSTU_ELEM(float, CREC__NN_F)
CREC__NN_HSTU_ELEM(double, CREC__NN_D)

#endif
