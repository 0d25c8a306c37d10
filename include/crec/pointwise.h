/* pointwise.h: rating and click prediction metrics and their protocol (RMSE, MAE, AUC, GAUC, LogLoss).
 *
 * The one idea: a pointwise task scores single (user, item) pairs, not a ranked list. Rating: the model's
 * score at each held-out event against the event's value (explicit ratings). Click: held-out events are the
 * positives, items the user never touched (in any part of the split) are the negatives, `neg` drawn per
 * positive from an RNG seeded by (seed, user), and p = sigmoid(score); or, with value_labels, the held-out events
 * below the threshold are the negatives (a click log with explicit non-clicks: rating >= 4 clicked). The score is whatever the model's
 * score function returns for the user: a rating for a rating model, a logit for a click model. Results do not
 * depend on the thread count. */
#ifndef CREC_POINTWISE_H
#define CREC_POINTWISE_H

#include <stdio.h>
#include "crec/eval.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { CREC_TASK_RATING = 0, CREC_TASK_CLICK = 1 } crec_pointwise_task;

/* "rating" / "click" -> *t. Returns 0 or CREC_EINVAL. */
CREC_API int crec_pointwise_task_parse(const char *s, crec_pointwise_task *t);

typedef struct crec_pointwise_opts {
    crec_pointwise_task task;
    crec_eval_target target;  /* test (history = train + valid) or valid (history = train) */
    int neg;                  /* click: sampled negatives per positive (default 1) */
    int use_threshold;        /* click: 1 = positives are held-out events with value >= threshold, the others
                                 are left out; 0 = every held-out event is a positive */
    float threshold;
    int value_labels;         /* click, with use_threshold: held-out events below the threshold are the negatives
                                 (labels from the values, no sampled negatives; `neg` unused) */
    uint64_t seed;            /* click: negatives (default 42) */
    int n_threads;
    int32_t max_users;        /* 0 = all */
    int progress;             /* 1: progress bar on stderr */
} crec_pointwise_opts;

/* Fills *o: rating, test target, neg 1, no threshold, seed 42, every OpenMP thread, all users. */
CREC_API void crec_pointwise_opts_defaults(crec_pointwise_opts *o);

typedef struct crec_pointwise_result {
    crec_pointwise_task task;
    double rmse, mae;         /* rating; NaN for click */
    double auc, logloss;      /* click; NaN for rating (AUC NaN also when a class is empty) */
    double gauc;              /* click: per-user AUC averaged with weights = the user's scored pairs (impressions),
                                 over users with both classes; NaN when there is none */
    int64_t gauc_users;       /* click: users that entered GAUC */
    int64_t n_users;          /* users with at least one evaluated event */
    int64_t n_events;         /* held-out events scored (click: the positives) */
    int64_t n_negatives;      /* click: sampled negatives scored */
    int64_t n_positives;      /* click with value_labels: held-out events at or above the threshold */
    double seconds;
    char protocol[512];       /* one-line protocol description */
} crec_pointwise_result;

/* Evaluate m on split s (ds may be NULL: it only names users). r is always reset. Returns 0, CREC_EINVAL
 * (NULL arguments, neg < 1, shapes that disagree with the model, an item id out of range), CREC_EEMPTY (no
 * event to score; r->protocol still filled), CREC_ENOMEM, or the model's score error as it is. */
CREC_API int crec_eval_pointwise(const crec_model *m, const crec_dataset *ds, const crec_split *s,
                                 const crec_pointwise_opts *o, crec_pointwise_result *r);

/* {"protocol": {...}, "model": {...}, "metrics": {"RMSE": x, "MAE": y} | {"AUC": x, "LogLoss": y, "GAUC": g},
 * "users": n, "events": m, ...} with a trailing newline. o and m may be NULL. 0, CREC_EINVAL, CREC_ENOMEM
 * or CREC_EIO. */
CREC_API int crec_pointwise_result_write_json(const crec_pointwise_result *r, const crec_pointwise_opts *o,
                                              const crec_model *m, FILE *f);
/* The protocol line, then one row of metrics and counts. */
CREC_API void crec_pointwise_result_write_table(const crec_pointwise_result *r, FILE *f);

/* ---- the metrics on plain arrays (n >= 1; CREC_EINVAL / NaN otherwise) ---- */
/* Root mean squared and mean absolute error of pred against truth. */
CREC_API int crec_metric_rmse_mae(const float *pred, const float *truth, int64_t n, double *rmse, double *mae);
/* Area under the ROC curve: P(score of a random positive > score of a random negative), ties count 1/2, NaN
 * scores lowest. labels[j] != 0 marks a positive. NaN when there is no positive or no negative. */
CREC_API double crec_metric_auc(const float *scores, const uint8_t *labels, int64_t n);
/* Group AUC: sum_g n_g AUC_g / sum_g n_g over the groups g with both classes, group g being elements off[g] ..
 * off[g+1]-1 and n_g its size (impressions). *used (may be NULL) gets the number of such groups. NaN when none. */
CREC_API double crec_metric_gauc(const float *scores, const uint8_t *labels, const int64_t *off, int64_t n_groups,
                                 int64_t *used);
/* Mean -[y log p + (1 - y) log(1 - p)] with p = sigmoid(logit), computed from the logit (finite for any
 * finite logit, no clipping). */
CREC_API double crec_metric_logloss(const float *logits, const uint8_t *labels, int64_t n);

#ifdef __cplusplus
}
#endif
#endif
