/* registry.h: the model types compiled into libcrec (one extern per model file). */
#ifndef CREC_MODELS_REGISTRY_H
#define CREC_MODELS_REGISTRY_H
#include "crec/model.h"

extern const crec_model_type crec__model_pop;
extern const crec_model_type crec__model_random;
extern const crec_model_type crec__model_itemknn;
extern const crec_model_type crec__model_markov;
extern const crec_model_type crec__model_fm;
extern const crec_model_type crec__model_ease;
extern const crec_model_type crec__model_ials;
extern const crec_model_type crec__model_bprmf;
extern const crec_model_type crec__model_cml;
extern const crec_model_type crec__model_sasrec;
extern const crec_model_type crec__model_bert4rec;
extern const crec_model_type crec__model_gru4rec;
extern const crec_model_type crec__model_hstu;
extern const crec_model_type crec__model_genrec;
extern const crec_model_type crec__model_din, crec__model_dare;
extern const crec_model_type crec__model_onlinemf;
#endif
