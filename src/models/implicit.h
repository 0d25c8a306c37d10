/* implicit.h: shared machinery of the models trained by SGD on sampled implicit-feedback triples (bprmf, cml):
 * the distinct positive (user, item) pairs, a negative sampler, a validation NDCG@10 for early stopping, and a
 * dot product the compiler can vectorise.
 *
 * The one idea: a triple (u, i+, j-) is drawn by picking a positive pair uniformly and a negative uniformly among
 * the items that have training events and that u has not interacted with; items never seen in training are
 * never negatives (their position, if any, comes from side features and must not be pushed away from everyone). */
#ifndef CREC_MODELS_IMPLICIT_H
#define CREC_MODELS_IMPLICIT_H

#include "core/util.h"
#include "crec/model.h"

typedef struct crec_triples {
    int32_t n_users, n_items;
    int64_t n_pos;          /* distinct (user, item) pairs of the training matrix */
    int32_t *pos_user;      /* [n_pos] sorted by (user, item) */
    int32_t *pos_item;      /* [n_pos]; pos_item[uptr[u] .. uptr[u+1]) is u's sorted item set */
    int64_t *uptr;          /* [n_users + 1] */
    int32_t n_trained;      /* items with at least one training event */
    int32_t *trained;       /* [n_trained] their ids, ascending */
    uint8_t *item_trained;  /* [n_items] 1 when the item has a training event */
    uint8_t *user_trained;  /* [n_users] 1 when the user has a training event */
} crec_triples;

/* Build from a training matrix (rows may repeat items). Returns 0, CREC_ENOMEM or CREC_EEMPTY (no events);
 * on failure t is left zeroed. Free with crec__triples_free. */
int crec__triples_build(crec_triples *t, const crec_csr *train);
void crec__triples_free(crec_triples *t);

/* 1 when user u has item i among its training items (binary search). */
int crec__triples_has(const crec_triples *t, int32_t u, int32_t i);

/* A trained item u has not interacted with, uniform; after 32 rejected draws any trained item (only a user who
 * has almost every item gets there). */
int32_t crec__triples_negative(const crec_triples *t, crec_rng *r, int32_t u);

/* Validation NDCG@10 of model m (its state must be scorable) on up to max_users users of `valid` (an even stride
 * over the users that have validation events), history = the user's training row, the history excluded, full
 * ranking. When more than half of the validation events are on items without training events (a cold-items
 * split), candidates are restricted to those items, as `crec eval --candidates untrained` does. A model type with
 * a score_batch hook is scored in fixed blocks of users (one matrix product each; BLAS single-threaded meanwhile).
 * Deterministic for any thread count (per-user values summed in user order). Returns the mean NDCG@10 (>= 0),
 * or a negative CREC_E code; 0 when there is nothing to evaluate. */
double crec__valid_ndcg10(const crec_model *m, const crec_triples *t, const crec_csr *train, const crec_csr *valid,
                          int32_t max_users, int n_threads);

/* scores[n x ni] (row stride ni) = alpha * X[n x K] Y[ni x K]^T (row strides ldx, ldy): the scores of a block of
 * users against every item in one matrix product (the score_batch hooks of ials, bprmf and cml). The product is
 * cut into fixed tiles (128 rows by crec__nn_gemm, CREC_SCORE_COLS items here), each one BLAS call, shared among
 * OpenMP threads; the tiles never depend on the thread count, so with BLAS single-threaded
 * (crec__nn_blas_single, as crec_evaluate sets it) the bits do not either. Elements differ from a per-user dot
 * product only by float rounding (another summation order). */
#define CREC_SCORE_COLS 2048
void crec__scores_gemm(int n, int32_t ni, int K, float alpha, const float *X, int ldx, const float *Y, int ldy,
                       float *scores);

/* sum_k a[k] b[k]; `omp simd` lets -O2 vectorise the reduction (it would not reorder float sums otherwise). */
static inline float crec__dotf(const float *a, const float *b, int n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int k = 0; k < n; k++) s += a[k] * b[k];
    return s;
}

#endif
