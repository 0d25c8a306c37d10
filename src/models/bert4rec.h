/* bert4rec.h: what bert4rec.c exposes besides its model type (crec__model_bert4rec, in registry.h): a whole-model
 * gradient check for tests/unit/test_bert4rec.c. */
#ifndef CREC_MODELS_BERT4REC_H
#define CREC_MODELS_BERT4REC_H

#include <stdint.h>

/* Finite-difference check of BERT4Rec's complete backward pass (bidirectional attention, the [mask] token's
 * embedding row), in float, on a tiny random model (D 8, 2 blocks, 2 heads, FFN 12, max_len 6, 13 items; pre-LN
 * when pre, else post-LN; activation act = crec_nn_act; dropout probability `dropout` at every site with one fixed
 * set of masks) and a packed batch of three Cloze windows (one with only its last item masked, one longer than
 * max_len), loss = mean full-softmax CE over the masked positions. For every parameter tensor 12 random elements
 * are moved by +-0.01 and the loss's difference quotient is compared with the analytic gradient.
 * *worst = max |analytic - numeric| / max(|numeric|, 0.05), *checked = elements checked. 0 or CREC_ENOMEM. */
int crec__bert4rec_gradcheck(int pre, int act, float dropout, uint64_t seed, double *worst, int *checked);

#endif
