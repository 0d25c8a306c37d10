/* seqvalid.h: validation NDCG@10 for the sequential models, run once per epoch by the sequence trainer (seqtrain.c).
 * History = the user's training row, target = the `valid` row, full ranking over the catalog with the history
 * excluded and pessimistic ties (crec_rank_targets): exactly crec eval --target valid. The model supplies one
 * callback that turns a batch of histories into last states; one matrix product scores the batch against the
 * output table W [NI, D]; ranking runs one user per thread. Private to libcrec. */
#ifndef CREC_MODELS_SEQVALID_H
#define CREC_MODELS_SEQVALID_H

#include <stdint.h>

#include "crec/split.h"

/* Last states of k histories (hist[j], len[j] items, oldest first; ts[j] their event times, or ts NULL when the
 * data has none) into hl [k, D]; row q holds the state of history order[q] (a permutation of 0..k-1, for models
 * that reorder their batch). Time-aware models read the times, so validation scores as evaluation and serving do. */
typedef void (*crec_seqvalid_states)(void *ctx, const int32_t *const *hist, const int64_t *const *ts,
                                     const int32_t *len, int k, float *hl, int32_t *order);

typedef struct crec_seqvalid {
    int32_t n_users, *users; /* users with validation targets (an even stride of them with max_users) */
    int32_t NI, D, max_tgt;
    int nt, Bmax;
    float *S;      /* [Bmax, NI] scores */
    float *hl;     /* [Bmax, D] last states */
    double *ndcg;  /* [n_users] */
    uint8_t *excl; /* [nt, NI] all zero between users */
    int32_t *tgt;  /* [nt, max_tgt] */
    int64_t *ranks;
} crec_seqvalid;

/* Users of valid with targets (every stride-th when max_users > 0 is smaller), buffers for batches of Bmax (<= 1024)
 * users and nt ranking threads. 0 or CREC_ENOMEM. */
int crec__seqvalid_init(crec_seqvalid *v, const crec_csr *valid, int32_t max_users, int Bmax, int32_t NI, int D,
                        int nt);
void crec__seqvalid_free(crec_seqvalid *v);

/* Mean NDCG@10 over v's users. Histories longer than trunc (> 0) are cut to their last trunc items before the
 * callback; users without training items are scored by pop [NI]. */
double crec__seqvalid_run(crec_seqvalid *v, const crec_csr *train, const crec_csr *valid, int32_t trunc,
                          const float *W, const float *pop, crec_seqvalid_states states, void *ctx);

#endif
