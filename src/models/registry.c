/* registry.c: the table of model types. Adding a model = one file in src/models/ + one line here. */
#include "models/registry.h"

static const crec_model_type *const MODELS[] = {
    &crec__model_pop,
    &crec__model_random,
    &crec__model_itemknn,
    &crec__model_markov,
    &crec__model_fm,
    &crec__model_ease,
    &crec__model_ials,
    &crec__model_bprmf,
    &crec__model_cml,
    &crec__model_sasrec,
    &crec__model_bert4rec,
    &crec__model_gru4rec,
    &crec__model_hstu,
    &crec__model_genrec,
    &crec__model_din, &crec__model_dare,
    &crec__model_onlinemf,
};

int crec_model_type_count(void) { return (int)(sizeof MODELS / sizeof MODELS[0]); }

const crec_model_type *crec_model_type_at(int i) {
    return i >= 0 && i < crec_model_type_count() ? MODELS[i] : NULL;
}
