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

/* The same check through the cosine head (cos=1: final states and item rows L2-normalised, scores / temp) with
 * the label-smoothing term ls (0 = off), pre-LN, GELU. 0 or CREC_ENOMEM. */
int crec__sasrec_cos_gradcheck(float temp, double ls, float dropout, uint64_t seed, double *worst, int *checked);

/* The same check with attribute fusion (attr=1: item rows E[i] + the mean of their attributes' rows, 5 attribute
 * rows, some items without any), through the cosine head (temperature 0.5) when cos, else the dot product. 0 or
 * CREC_ENOMEM. */
int crec__sasrec_attr_gradcheck(int cos, float dropout, uint64_t seed, double *worst, int *checked);

/* The cosine head alone, as training runs it: h [N, D] and the item table E [I, D] normalised, logits
 * hn . wn / temp, mean full-softmax CE over the rows with tgt >= 0 plus the label-smoothing term ls (0 = off),
 * divided by N; *loss, and its gradients in dh [N, D] and dE [I, D] (overwritten). For a double-precision
 * reference in tests/unit/test_sasrec_cos.c. 0 or CREC_ENOMEM. */
int crec__sasrec_cos_head(const float *h, const float *E, const int32_t *tgt, int N, int D, int32_t I, float temp,
                          double ls, double *loss, float *dh, float *dE);

#endif
