/* genrec.h: test hooks of the generative retrieval model (private API; genrec.c). */
#ifndef CREC_MODELS_GENREC_H
#define CREC_MODELS_GENREC_H
#include "crec/index.h"
#include "crec/model.h"

/* Exact scores of every item for history hist (scores[n_items]): the teacher-forced decoder over each item's code,
 * sum over levels of the token's log-probability renormalised over the prefix's valid children - what beam search
 * approximates (equal when the beam holds every prefix). 0, CREC_EINVAL (no known item in hist), CREC_ENOMEM. */
int crec__genrec_bruteforce(const crec_model *m, int32_t user, const int32_t *hist, int n, float *scores);
/* Finite-difference check of the whole model's backward (float; D 8, 1 encoder + 2 decoder blocks) on a small batch
 * of three users over the items of ix: 6 elements of every parameter tensor moved by +-0.01; *worst = max |analytic -
 * numeric| / max(|numeric|, 0.05). Dropout masks fixed by seed when dropout > 0. */
/* causal: bit 0 causal encoder, bit 1 item_emb, bit 2 multi-task with user tokens, bit 3 enc_tokens (one encoder
 * row per code token), bit 4 label smoothing ls = 0.1, bit 5 attribute fusion
 * on the last level (attr=1: 5 attribute rows, checked too; the index's last level must be one token per item), bit 6
 * cosine scores (cos=1, temp 0.5), bit 7 the auxiliary loss (aux = 0.7), bit 8 mem_in (decoder inputs + the memory
 * row the history ends at) */
int crec__genrec_gradcheck(const crec_index *ix, int causal, float dropout, uint64_t seed, double *worst,
                           int *checked);
/* Sets a loaded genrec model's beam width for later recommend calls (bench/genrec_beam.c: the width chosen on
 * validation without retraining). 0, or CREC_EINVAL (not a genrec model, beam < 1). */
int crec__genrec_set_beam(crec_model *m, int beam);
/* The training loss's token CE alone (float, as training computes it): S targets of L levels, level l with K[l]
 * tokens; h [S * L, D] the decoder's output rows (row s L + l predicts level l of target s), W [sum K, D] the token
 * table (level l's rows from sum_{j<l} K[j]), tgt [S * L] tokens within their level, label smoothing ls. *loss =
 * the summed CE; dh / dW (either may be NULL) receive its gradient (overwritten). 0, CREC_EINVAL, CREC_ENOMEM. */
int crec__genrec_ce(int L, const int32_t *K, int D, int S, const float *h, const float *W, const int32_t *tgt,
                    float ls, float *dh, float *dW, double *loss);
#endif
