/* itemvec.h: item vectors from a trained model (private API; itemvec.c). */
#ifndef CREC_MODELS_ITEMVEC_H
#define CREC_MODELS_ITEMVEC_H
#include "crec/model.h"
/* *out [n_items * dim] (the caller frees) = m's item table: sasrec / bert4rec item embeddings, ials item factors.
 * CREC_EUNSUPPORTED for other types, CREC_ESTATE untrained, CREC_ENOMEM. */
int crec__model_item_vectors(const crec_model *m, float **out, int *dim);
#endif
