/* gru4rec.h: what gru4rec.c exposes besides its model type (crec__model_gru4rec, in registry.h): a GRU layer over
 * packed sequences, reusable by other sequence models, and a whole-model gradient check for
 * tests/unit/test_gru4rec.c.
 *
 * Packed sequences, time-major (PyTorch's PackedSequence): a batch's B sequences are sorted by length, longest
 * first, so that the sequences still running at step t are always the first bs[t] of them. The rows of step t are
 * off[t] .. off[t] + bs[t] - 1, row off[t] + b holding sequence b's position t; N = off[T] = the sum of the lengths,
 * and no row is padding. Shape letters as in nn.h (N rows, B sequences, T steps, C input width, H hidden width). */
#ifndef CREC_MODELS_GRU4REC_H
#define CREC_MODELS_GRU4REC_H

#include <stdint.h>

typedef struct crec_gru_pack {
    int B, T, N;
    const int32_t *bs;  /* [T] sequences active at step t, non-increasing, bs[0] = B */
    const int32_t *off; /* [T + 1] first row of step t; off[T] = N */
} crec_gru_pack;

/* One GRU layer (gates r | z | n, the cell of nn.h) over packed sequences:
 *   gx[N,3H] = x[N,C] wih[3H,C]^T + bih[3H]               (one matrix product for every position)
 *   for t = 0 .. T-1 (the rows of step t only):
 *     hprev[rows t] = h[rows t-1][0 .. bs[t]) (h0[0 .. bs[0]) at t = 0, zeros when h0 is NULL)
 *     gh[rows t]    = hprev[rows t] whh[3H,H]^T + bhh[3H]  (one product per step, bs[t] rows)
 *     h[rows t], cache[rows t] = gru_cell(gx, gh, hprev)
 * h[N,H] are the states, gx, gh, cache [N,3H] and hprev[N,H] are kept for backward. h0[B,H] in sorted order. */
void crec__gru_forward(float *h, float *cache, float *gx, float *gh, float *hprev, const float *x, const float *h0,
                       const float *wih, const float *bih, const float *whh, const float *bhh, const crec_gru_pack *pk,
                       int C, int H);

/* Backward of crec__gru_forward. dh[N,H] holds dloss/dh from outside the layer on entry; the recurrent
 * contributions are added into it as the steps go backward (it ends as the total gradient w.r.t. h). dgx, dgh
 * [N,3H] are scratch (overwritten). Adds into dx[N,C] (may be NULL), dh0[B,H] (may be NULL), dwih[3H,C],
 * dbih[3H], dwhh[3H,H], dbhh[3H]. Deterministic: every sum runs in a fixed order at any thread count. */
void crec__gru_backward(float *dx, float *dh0, float *dwih, float *dbih, float *dwhh, float *dbhh, float *dh,
                        float *dgx, float *dgh, const float *x, const float *cache, const float *gh, const float *hprev,
                        const float *wih, const float *whh, const crec_gru_pack *pk, int C, int H);

/* Finite-difference check of GRU4Rec's complete backward pass, in float, on a tiny random model (hidden 8,
 * `layers` GRU layers, embedding width 8 tied to the output table when tied, else 6 with a separate output table,
 * max_len 6, 13 items), dropout probability `dropout` on the embeddings and every layer's output with one fixed set
 * of masks, a packed batch of three histories of different lengths; loss 0 = mean full-softmax CE, 1 = BPR-max
 * (5 fixed shared negatives, some equal to targets), 2 = sampled softmax with log-Q, 3 = BCE with 5 random
 * negatives per row. For every parameter tensor,
 * 12 random elements are moved by +-0.01 and the loss's difference quotient is compared with the analytic
 * gradient. *worst = max |analytic - numeric| / max(|numeric|, 0.05), *checked = elements checked.
 * 0 or CREC_ENOMEM. */
int crec__gru4rec_gradcheck(int layers, int tied, int loss, float dropout, uint64_t seed, double *worst, int *checked);

#endif
