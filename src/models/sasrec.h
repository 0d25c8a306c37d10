/* sasrec.h: what sasrec.c exposes besides its model type (crec__model_sasrec, in registry.h): a whole-model
 * gradient check for tests/unit/test_sasrec.c. */
#ifndef CREC_MODELS_SASREC_H
#define CREC_MODELS_SASREC_H

#include <stdint.h>

/* Finite-difference check of SASRec's complete backward pass, in float, on a tiny random model (D 8, 2 blocks,
 * 2 heads, FFN 12, max_len 6, 13 items; pre-LN when pre, else post-LN; activation act = crec_nn_act; dropout
 * probability `dropout` at every site, with one fixed set of masks) and a packed batch of three histories,
 * loss = mean full-softmax CE. For every parameter tensor, 12
 * random elements are moved by +-0.01 and the loss's difference quotient is compared with the analytic gradient.
 * *worst = max |analytic - numeric| / max(|numeric|, 0.05), *checked = elements checked. 0 or CREC_ENOMEM. */
int crec__sasrec_gradcheck(int pre, int act, float dropout, uint64_t seed, double *worst, int *checked);

#endif
