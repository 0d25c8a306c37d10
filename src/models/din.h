/* din.h: the din / dare models' entry points for tests (src/models/din.c). */
#ifndef CREC_MODELS_DIN_H
#define CREC_MODELS_DIN_H
#include <stdint.h>

/* Scores of every item for a history (the model's state m->state): the blocked matrix-product path used by the
 * score hook, and the per-item reference through the example kernel. 0 or CREC_ENOMEM. */
int crec__din_score_items(const void *state, const int32_t *hist, int32_t n_hist, float *scores);
int crec__din_score_items_ref(const void *state, const int32_t *hist, int32_t n_hist, float *scores);
#endif
