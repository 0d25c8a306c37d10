/* fm.h: the second-order factorization machine (Rendle 2010) behind the `fm` model: its parameter block,
 * the feature index it carries, and the one-example kernels (shared by training, scoring and the tests).
 *
 * The one idea: an example (u, i) is a sparse vector x over one-hot user ids, one-hot item ids, user
 * features and item attributes; y(x) = w0 + sum_j w_j x_j + sum_{j<l} <v_j, v_l> x_j x_l, computed in
 * O(k n) as 0.5 sum_f [(sum_j v_jf x_j)^2 - sum_j v_jf^2 x_j^2]. The user half and the item half of x
 * are disjoint, so a user's score for every item is a constant plus item_c[i] + <s_u, item_s[i]>, with the
 * item half precomputed once (crec__fm_refresh): scoring the catalog is one (items x k) mat-vec. */
#ifndef CREC_MODELS_FM_H
#define CREC_MODELS_FM_H

#include "crec/model.h"

#define CREC_FM_MAX_K 512

enum { CREC_FM_RATING = 0, CREC_FM_CLICK = 1 };

/* Feature ids: users [0, nu), items [nu, nu + ni), user features [nu + ni, + nuf), item attributes after. */
typedef struct crec_fm {
    int32_t n_users, n_items, n_ufeat, n_ifeat, n_feat;
    int k;
    int task;                 /* CREC_FM_RATING or CREC_FM_CLICK (what the loss was) */
    /* parameters, one block of n_params floats: w0 [1], w [n_feat], v [n_feat * k] (row j = feature j) */
    float *params;
    size_t n_params;
    float *w0, *w, *v;        /* pointers into params */
    /* side features: user u's are (uf_idx[p], uf_val[p]), p in [uf_ptr[u], uf_ptr[u+1]); idx are feature ids;
     * the value of a feature in a field (name prefix before ':') with c features on that row is 1/sqrt(c) */
    int64_t *uf_ptr, *if_ptr; /* [n_users + 1], [n_items + 1] */
    int32_t *uf_idx, *if_idx;
    float *uf_val, *if_val;
    int max_active;           /* most non-zeros of one example: 2 + longest user row + longest item row */
    /* derived from the above by crec__fm_refresh (not saved): the item half of every example */
    float *item_s;            /* [n_items * k] sum_j v_j x_j over item i's one-hot and attributes */
    float *item_c;            /* [n_items] its linear terms + its own pairwise interactions */
} crec_fm;

/* Allocate a zeroed parameter block and empty feature rows for the given shape (f is overwritten).
 * Returns 0, CREC_EINVAL (bad shape) or CREC_ENOMEM (f then holds nothing to free). */
int crec__fm_alloc(crec_fm *f, int32_t n_users, int32_t n_items, int32_t n_ufeat, int32_t n_ifeat, int k);
void crec__fm_free(crec_fm *f);
/* Recompute item_s / item_c from the parameters (after training, loading, or a hand edit). 0 or CREC_ENOMEM. */
int crec__fm_refresh(crec_fm *f);

/* The non-zeros of example (u, i) into idx/x (room for f->max_active): user u (when u >= 0), its features,
 * item i, its attributes. Returns the count. */
int crec__fm_example(const crec_fm *f, int32_t u, int32_t i, int32_t *idx, float *x);
/* y(x) accumulated in double; q[k] out: q_f = sum_j v_jf x_j (the backward pass needs it). */
double crec__fm_forward(const crec_fm *f, const int32_t *idx, const float *x, int n, double *q);
/* Gradients of a loss with dL/dy = dy w.r.t. the example's parameters: dw0 [1], dw [n], dv [n * k] (row a is
 * feature idx[a]): dw_j = dy x_j, dv_jf = dy x_j (q_f - v_jf x_j). */
void crec__fm_backward(const crec_fm *f, const int32_t *idx, const float *x, int n, const double *q, double dy,
                       double *dw0, double *dw, double *dv);
/* One SGD step on the example, fused and in float (the training kernel): y, the loss against t, then
 * theta -= lr (dL/dtheta + reg theta) for v, reg_bias for w, w0 unregularised, with the gradients of
 * crec__fm_backward (the test checks the two agree). q: scratch of 2k floats. Returns the loss before the step. */
double crec__fm_sgd_step(crec_fm *f, const int32_t *idx, const float *x, int n, double t, float lr, float reg,
                         float reg_bias, float *q);
/* Loss of prediction y against target t and dL/dy: rating 0.5 (y - t)^2; click the logistic loss
 * log(1 + e^y) - t y (t in {0, 1}, y a logit). */
double crec__fm_loss(int task, double y, double t, double *dy);

#endif
