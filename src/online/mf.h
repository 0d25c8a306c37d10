/* mf.h: the per-event kernel of the online factorisation model (crec_omf, crec/online.h), exposed for its
 * finite-difference test. Shapes: D factors; an item row is D + 1 numbers (vector, then the bias); n negatives. */
#ifndef CREC_ONLINE_MF_H
#define CREC_ONLINE_MF_H

/* Loss of one event (u, i+) against negatives j_1..j_n and its gradients, in double:
 *   p[D] user vector, qi[D + 1] the positive's row, qj[n x (D + 1)] the negatives' rows;
 *   loss: CREC_OMF_BPR or CREC_OMF_SOFTMAX (crec/online.h); corr: added to every negative's logit (softmax only).
 * Writes (overwrites) gp[D], gqi[D + 1], gqj[n x (D + 1)]; any of them may be NULL when not wanted. Returns the loss. */
double crec__omf_event_grad(int loss, int D, int n, double corr, const double *p, const double *qi, const double *qj,
                            double *gp, double *gqi, double *gqj);

/* crec_omf_load refusing (CREC_EFORMAT, before allocating) a payload whose largest user / item id is not below
 * max_users / max_items: for loaders that know the id space (a checkpoint's header). */
#include "crec/online.h"
int crec__omf_load_bounded(crec_buf *in, int32_t max_users, int32_t max_items, crec_omf **out);

#endif
