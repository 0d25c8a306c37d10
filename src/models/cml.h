/* cml.h: the kernels of Collaborative Metric Learning (models/cml.c), exposed for the gradient checks of
 * tests/unit/test_cml.c. Each kernel exists in float (training) and double (tests), instantiated from one macro
 * body, so the checked code is the trained code.
 *
 * Shapes: D embedding width; F number of features of an item. */
#ifndef CREC_MODELS_CML_H
#define CREC_MODELS_CML_H

#include "crec/model.h"

/* Loss of one triple (u, i+, j-) weighted by w: w * [margin + |u - vi|^2 - |u - vj|^2]_+, returned.
 * When the hinge is active its gradient is ADDED to du[D], dvi[D], dvj[D]; otherwise they are untouched. */
float crec__cml_triple_f(const float *u, const float *vi, const float *vj, int D, float margin, float w, float *du,
                         float *dvi, float *dvj);
double crec__cml_triple_d(const double *u, const double *vi, const double *vj, int D, double margin, double w,
                          double *du, double *dvi, double *dvj);

/* Item position v[D] = keep * e[D] + (1/F) sum_k W[feats[k] * D ..] (the mean of its feature embeddings; 0 when
 * F == 0). keep is 1, or 0 when the free embedding is dropped. */
void crec__cml_pos_f(float *v, const float *e, int keep, const float *W, const int32_t *feats, int F, int D);
void crec__cml_pos_d(double *v, const double *e, int keep, const double *W, const int32_t *feats, int F, int D);

/* Backward of crec__cml_pos: de[D] += scale * keep * dv, dW[feats[k] * D ..] += scale * dv / F. With scale = 1
 * this accumulates gradients; training calls it with scale = -lr on the parameters themselves (an SGD step). */
void crec__cml_pos_backward_f(const float *dv, int keep, const int32_t *feats, int F, int D, float scale, float *de,
                              float *dW);
void crec__cml_pos_backward_d(const double *dv, int keep, const int32_t *feats, int F, int D, double scale,
                              double *de, double *dW);

/* The trained model's user points U[n_users x D] and final item positions V[n_items x D] (read only; valid
 * while m lives). Returns 0, or CREC_EINVAL when m is not a trained cml model. */
int crec__cml_points(const crec_model *m, const float **U, const float **V, int32_t *D);

#endif
