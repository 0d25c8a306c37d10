/* eval.h: ranking metrics and the evaluation protocol.
 *
 * Default protocol: full ranking over the whole catalog, the user's history items excluded, ties ranked
 * pessimistically (a relevant item tied with an irrelevant one ranks after it, so a constant scorer gets
 * no credit). Sampled-negative ranking only when asked (sampled > 0), and then every report says so. */
#ifndef CREC_EVAL_H
#define CREC_EVAL_H

#include <stdio.h>
#include "crec/model.h"
#include "crec/rank.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CREC_EVAL_MAX_K 8

typedef enum { CREC_EVAL_TEST = 0, CREC_EVAL_VALID = 1 } crec_eval_target;

typedef struct crec_eval_opts {
    int ks[CREC_EVAL_MAX_K];
    int n_ks;
    int filter_seen;          /* default 1: exclude every history item, a repeated target too (a miss);
                               * 0: exclude nothing (repeat-aware evaluation) */
    int sampled;              /* 0 = full ranking; N = rank targets among N sampled negatives */
    uint64_t seed;            /* for sampled negatives */
    crec_eval_target target;  /* test: history = train + valid; valid: history = train */
    int n_threads;
    int32_t max_users;        /* 0 = all */
    FILE *per_user;           /* if set: TSV per user (user, n_targets, metrics at each K) */
    int progress;             /* 1: progress bar on stderr */
    /* Candidate restriction (cold-start protocols): NULL = every item; else only items with candidates[i] != 0
     * are ranked (targets always are). Not combinable with sampled. candidates_desc names it in the protocol. */
    const uint8_t *candidates;
    const char *candidates_desc;
} crec_eval_opts;

CREC_API void crec_eval_opts_defaults(crec_eval_opts *o);

typedef struct crec_eval_result {
    int n_ks;
    int ks[CREC_EVAL_MAX_K];
    crec_metrics_at at[CREC_EVAL_MAX_K];   /* means over evaluated users */
    /* beyond accuracy, over the top-K lists at each K */
    double coverage[CREC_EVAL_MAX_K];      /* distinct recommended items / catalog */
    double gini[CREC_EVAL_MAX_K];          /* Gini of recommendation counts over the catalog */
    double novelty[CREC_EVAL_MAX_K];       /* mean -log2(p(item)), p from training popularity */
    double ild[CREC_EVAL_MAX_K];           /* mean pairwise Jaccard distance of attributes (NaN: none) */
    double mean_pop[CREC_EVAL_MAX_K];      /* mean training count of recommended items */
    int64_t n_users;                       /* users evaluated */
    int64_t n_users_masked;                /* users with a target the mask removed (counted as a miss) */
    int64_t n_targets_masked;              /* such targets */
    int32_t n_items;
    double seconds;
    char protocol[512];                    /* one-line protocol description */
} crec_eval_result;

/* Evaluate m on split s of ds. Users with no target are skipped. */
CREC_API int crec_evaluate(const crec_model *m, const crec_dataset *ds, const crec_split *s,
                           const crec_eval_opts *o, crec_eval_result *r);
/* Write r as JSON ({"protocol": {...}, "metrics": {"HR@10": x, ...}, "users": n, ...}) / as a table. */
CREC_API int crec_eval_result_write_json(const crec_eval_result *r, const crec_eval_opts *o, const crec_model *m,
                                         FILE *f);
CREC_API void crec_eval_result_write_table(const crec_eval_result *r, const crec_eval_opts *o, FILE *f);

/* Paired comparison of two per-user metric columns (same users, same order). */
typedef struct crec_paired_test {
    int64_t n;
    double mean_a, mean_b, mean_diff;
    double ci_lo, ci_hi;      /* 95% bootstrap CI of mean(b - a) */
    double t, p_value;        /* paired t-test, two-sided */
} crec_paired_test;
CREC_API int crec_paired_compare(const double *a, const double *b, int64_t n, int n_boot, uint64_t seed,
                                 crec_paired_test *out);

#ifdef __cplusplus
}
#endif
#endif
