/* crs_internal.h: private parts of the conversational-recommendation module: the user-item-attribute model
 * (uiam.c) that cpr / tree / unicorn share, and the policies (policy.c). */
#ifndef CREC_CRS_INTERNAL_H
#define CREC_CRS_INTERNAL_H

#include <stdio.h>
#include "crec/crs.h"

/* EAR / SCPR's factorisation machine over users, items and attributes:
 *   item score      s(u, i | P) = u.v_i + sum_{p in P} v_i.p          (P: accepted attributes)
 *   attribute score s(u, a | P) = u.a   + sum_{p in P} a.p
 * trained by BPR on the training split: positives (u, i, P) with P a random non-empty subset of i's attributes,
 * negatives a random item and an attribute-aware one (an item that has P's first attribute, not the user's);
 * plus BPR on attributes (a held-out attribute of i above one i lacks). Parameters U | V | P in one block. */
typedef struct crec_crs_uiam {
    int32_t n_users, n_items, n_attrs, dim;
    float *w;          /* one block: U [n_users x dim], V [n_items x dim], A [n_attrs x dim] */
    float *U, *V, *A;  /* views into w */
    double train_s;    /* seconds spent training */
    int epochs;
    char split[32];
} crec_crs_uiam;

typedef struct crec_crs_uiam_opts {
    int dim, epochs;
    float lr, reg;
    int max_given;     /* attributes given with a positive: 1 .. max_given */
    int attr_loss;     /* 1: also the attribute-prediction BPR loss */
    uint64_t seed;
    int verbose;
} crec_crs_uiam_opts;

void crec__crs_uiam_defaults(crec_crs_uiam_opts *o);
/* Train on split->train. *out owns its memory (crec__crs_uiam_free). */
int crec__crs_uiam_train(const crec_crs_catalog *c, const crec_split *s, const crec_crs_uiam_opts *o,
                         crec_crs_uiam **out);
void crec__crs_uiam_free(crec_crs_uiam *m);
int crec__crs_uiam_save(const crec_crs_uiam *m, const char *path);
/* CREC_EINVAL when the sizes disagree with the catalogue. */
int crec__crs_uiam_load(const char *path, const crec_crs_catalog *c, crec_crs_uiam **out);

/* ---- policies ---- */
typedef struct crec_crs_policy_opts {
    const crec_crs_uiam *model;   /* NULL: items ranked by training popularity */
    const crec_split *split;      /* training split (popularity, user histories) */
    int exclude_seen;             /* 1: the user's known items (train; with seen_valid also valid) are ranked
                                   * after all others and left out of the statistics - never a target when
                                   * a split has no repeats, as the engine's full-ranking protocol does */
    int seen_valid;               /* evaluating test pairs: validation items are known history too */
    int hard_reject;              /* 1: items with a rejected attribute are ranked after all others and left
                                   * out of question statistics (the policy's own inference; the simulator
                                   * keeps them as candidates) */
    int rec_below;                /* maxent / cpr: recommend when at most this many (consistent) candidates */
    double mass;                  /* cpr: recommend when the top-k hold this share of the posterior */
    double beta;                  /* cpr: posterior temperature over item scores */
} crec_crs_policy_opts;

void crec__crs_policy_defaults(crec_crs_policy_opts *o);
/* Make policy `name` (greedy, maxent, cpr); *out->self freed by crec__crs_policy_free. */
int crec__crs_policy_new(const char *name, const crec_crs_catalog *c, const crec_crs_policy_opts *o,
                         crec_crs_policy *out);
void crec__crs_policy_free(crec_crs_policy *p);

/* What a policy sees of a turn, for learned policies built on top of cpr's reasoning (unicorn.c): the consistent
 * candidates' posterior softmax(beta * s(i)), the top attributes by entropy under it and the top items. */
#define CREC_CRS_SCAN_K 16
typedef struct crec_crs_scan {
    int32_t n_stat;          /* consistent candidates (hard_reject / exclude_seen applied) */
    double mass;             /* share of the posterior held by the top rec_k items */
    const float *q;          /* the query u + sum of accepted attribute vectors (model dim), or NULL */
    int n_attr;
    int32_t attr[CREC_CRS_SCAN_K];
    float attr_h[CREC_CRS_SCAN_K], attr_p[CREC_CRS_SCAN_K]; /* entropy (bits), posterior share having it */
    int n_item;
    int32_t item[CREC_CRS_REC_MAX];
    float item_w[CREC_CRS_REC_MAX]; /* posterior share */
} crec_crs_scan;
/* For a cpr policy p: fill *sc with the top ka (<= CREC_CRS_SCAN_K) attributes and the top rec_k items. */
int crec__crs_policy_scan(crec_crs_policy *p, const crec_crs_state *st, int ka, crec_crs_scan *sc);
/* A default recommendation of the policy (top rec_k by score, consistent first). */
void crec__crs_policy_recommend(crec_crs_policy *p, const crec_crs_state *st, crec_crs_action *a);

/* ---- tree: FacT-CRS-style forest of attribute decision trees (tree.c) ---- */
/* Builds n_trees trees (depth <= max_depth) on po->split's training targets; ranks with po->model (cpr's
 * scoring); asks while more than po->rec_below consistent candidates remain. */
int crec__crs_tree_policy(const crec_crs_catalog *c, const crec_crs_policy_opts *po, int n_trees, int max_depth,
                          uint64_t seed, crec_crs_policy *out);
void crec__crs_tree_policy_free(crec_crs_policy *pol);

/* ---- unicorn: a unified Q-network policy trained by double DQN in the simulator (unicorn.c) ---- */
typedef struct crec_crs_unicorn crec_crs_unicorn;
typedef struct crec_crs_unicorn_opts {
    int episodes, hidden, ka, batch, buffer, update_every, target_every, eval_every, n_heldout;
    float lr, gamma;
    uint64_t seed;
    int verbose;
} crec_crs_unicorn_opts;
void crec__crs_unicorn_defaults(crec_crs_unicorn_opts *o);
/* Train on episodes drawn from pairs[0 .. n - heldout) and keep the weights with the best SR@15 on the last
 * n_heldout pairs. po: the cpr options the state is built with (model required). */
int crec__crs_unicorn_train(const crec_crs_catalog *c, const crec_crs_policy_opts *po, const crec_crs_pair *pairs,
                            int64_t n_pairs, const crec_crs_sim_opts *so, const crec_crs_unicorn_opts *o,
                            crec_crs_unicorn **out);
void crec__crs_unicorn_free(crec_crs_unicorn *u);
int crec__crs_unicorn_save(const crec_crs_unicorn *u, const char *path);
int crec__crs_unicorn_load(const char *path, crec_crs_unicorn **out);
/* Seconds of training; episodes and the held-out SR@15 of the kept weights. */
double crec__crs_unicorn_info(const crec_crs_unicorn *u, int *episodes, float *heldout_sr);
/* The policy (borrows u; free with crec__crs_unicorn_policy_free). CREC_EINVAL when po->model is missing or of
 * another width. */
int crec__crs_unicorn_policy(crec_crs_unicorn *u, const crec_crs_catalog *c, const crec_crs_policy_opts *po,
                             crec_crs_policy *out);
void crec__crs_unicorn_policy_free(crec_crs_policy *pol);

#endif
