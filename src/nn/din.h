/* din.h: the target-attention kernels of DIN (Zhou et al. 2018, "Deep Interest Network") and DARE (Feng et al.
 * 2024, "Long-Sequence Recommendation Models Need Decoupled Embeddings"), float and double (din.inc via real.h).
 *
 * One example: a target item with attention embedding q[da] and representation embedding tr[dr], a history of
 * H items with attention embeddings K[H,da] and representation embeddings V[H,dr] (a shared table: the same rows
 * in both, da = dr; decoupled: two tables). Then
 *   score  s_j = MLP_att([q, k_j, q - k_j, q * k_j])   (att = MLP: DIN's activation unit, one PReLU hidden layer
 *                                                       of A units, then a linear unit)
 *          s_j = q . k_j / sqrt(da)                     (att = DOT: DARE / TWIN, the authors' scaled dot product)
 *   weight w = s (DIN: no normalisation) or softmax_j(s) (the DARE authors' code, both attentions)
 *   pooled u = sum_j w_j v_j                            (u = 0 when H = 0)
 *   logit  = MLP([u, tr, u * tr])                       (hidden layers with PReLU, then one linear output)
 * The activation unit's first layer is computed as qt + C k_j, qt = (W_q + W_d) q + b and C = W_k - W_d +
 * W_p diag(q) (W_q | W_k | W_d | W_p the column blocks of [q, k, q-k, q*k]): the same numbers as the concatenation,
 * A*da multiply-adds per history item instead of 4 A*da. */
#ifndef CREC_NN_DIN_H
#define CREC_NN_DIN_H

#include <stddef.h>

#include "nn/nn.h"

enum { CREC_DIN_ATT_MLP = 0, CREC_DIN_ATT_DOT = 1 };
#define CREC_DIN_MAX_LAYERS 4

/* Architecture and the layout of its parameter vector (one flat block; offsets in reals). */
typedef struct crec_din_arch {
    int da, dr;                /* attention / representation widths */
    int att, softmax, A;       /* CREC_DIN_ATT_*, weights normalised by softmax, activation unit hidden width */
    int nl, hid[CREC_DIN_MAX_LAYERS]; /* hidden layers of the output MLP and their widths */
    size_t aw, ab, ap, aw2, ab2;      /* activation unit: W[A,4da], b[A], PReLU slope[1], w2[A], b2[1] */
    size_t mw[CREC_DIN_MAX_LAYERS + 1], mb[CREC_DIN_MAX_LAYERS + 1], mp[CREC_DIN_MAX_LAYERS];
    size_t n;                  /* reals in the MLP block */
    size_t ws_fixed, ws_per_h; /* workspace: ws_fixed + ws_per_h * H reals for a history of H */
} crec_din_arch;

/* Fills the offsets of a (its da, dr, att, softmax, A, nl, hid set). 0 or CREC_EINVAL (a width < 1). */
int crec__din_arch_layout(crec_din_arch *a);
/* Workspace reals for a history of H items. */
static inline size_t crec__din_ws(const crec_din_arch *a, int H) { return a->ws_fixed + a->ws_per_h * (size_t)H; }

#define CREC__NN_DIN_KERNELS(R, NN)                                                                                   \
    /* The logit of one example (shapes above); P the MLP block (a->n reals); ws the workspace (its caches, read by    \
     * backward). */                                                                                                   \
    R NN(din_forward)(const crec_din_arch *a, const R *P, const R *q, const R *tr, const R *K, const R *V, int H,      \
                      R *ws);                                                                                          \
    /* Adds dlogit * d(logit)/d(.) into G (a->n reals), dq[da], dtr[dr], dK[H,da], dV[H,dr], after din_forward with    \
     * the same arguments and ws. */                                                                                   \
    void NN(din_backward)(const crec_din_arch *a, const R *P, R *G, const R *q, const R *tr, const R *K,              \
                          const R *V, int H, R *ws, R dlogit, R *dq, R *dtr, R *dK, R *dV);
CREC__NN_DIN_KERNELS(float, CREC__NN_F)
CREC__NN_DIN_KERNELS(double, CREC__NN_D)

#endif
