/* gru4rec.h: what gru4rec.c exposes besides its model type (crec__model_gru4rec, in registry.h): a whole-model
 * gradient check for tests/unit/test_gru4rec.c. (The GRU layer over packed sequences it runs on is the neural
 * core's: nn.h crec__nn_gru_forward / crec__nn_gru_backward.) */
#ifndef CREC_MODELS_GRU4REC_H
#define CREC_MODELS_GRU4REC_H

#include <stdint.h>

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
