/* rank.h: the ranking layer below models and evaluation: top-k selection, pessimistic ranks of targets, and
 * the ranking metrics computed from them. Models (their validation for early stopping), evaluation and the
 * recommendation service all use it; it depends on nothing but common.h. */
#ifndef CREC_RANK_H
#define CREC_RANK_H

#include "crec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Top-k of scores[0..n) skipping items with exclude[i] != 0 (exclude may be NULL). Ties go to the lower id.
 * Writes up to k ids to out (best first) and returns how many. */
CREC_API int crec_topk(const float *scores, int32_t n, const uint8_t *exclude, int k, int32_t *out);

/* The rank of a target the exclusion mask removed: never within any cutoff (a miss). */
#define CREC_RANK_MISS INT64_MAX

/* Pessimistic 1-based ranks of the targets among candidates. A candidate is an item j with
 * exclude[j] == 0 (exclude may be NULL). The mask is the caller's rule and must not depend on the
 * targets: an excluded target is no candidate and gets CREC_RANK_MISS (with seen items filtered, a
 * target that repeats a history item is a miss). For the others rank(t) = 1 + #{non-target candidates
 * with score >= s_t} + #{candidate targets with score > s_t}. NaN scores rank last.
 * ranks[n_targets] out. Returns 0, CREC_EINVAL or CREC_ENOMEM. */
CREC_API int crec_rank_targets(const float *scores, int32_t n_items, const uint8_t *exclude,
                               const int32_t *targets, int32_t n_targets, int64_t *ranks);

typedef struct crec_metrics_at {
    double hr, ndcg, mrr, recall, precision, map;
} crec_metrics_at;
/* Metrics at cutoff k of one user from the ranks of its n_targets relevant items. */
CREC_API void crec_metrics_from_ranks(const int64_t *ranks, int32_t n_targets, int k, crec_metrics_at *out);

#ifdef __cplusplus
}
#endif
#endif
