/* crs.h: conversational recommendation in the multi-round setting of SCPR / UNICORN: a simulated user with
 * one target item answers attribute questions and judges recommendation lists; policies decide each turn
 * whether to ask an attribute or recommend, and what.
 *
 * The one idea: the simulator owns the truth (the target, the candidate set, the turn counter) and a policy
 * sees only the conversation state - what the user stated, accepted, rejected, and which recommended items
 * were rejected. The rules and metrics are UNICORN's evaluation code (see crec_crs_episode). */
#ifndef CREC_CRS_H
#define CREC_CRS_H

#include <stdio.h>
#include "crec/dataset.h"
#include "crec/split.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Load a conversational-recommendation folder (see crec_load_crs in dataset.h). coarse = 1: item attributes are
 * the coarse categories of the features (fea_large.json or feature_coarse.tsv: the 33-attribute LastFM). */
CREC_API int crec_crs_load(crec_dataset *ds, const char *path, int coarse, crec_load_opts *o);

/* ---- the catalogue: items and attributes in both directions ---- */
typedef struct crec_crs_catalog {
    int32_t n_users, n_items, n_attrs;
    int64_t *ia_ptr; /* item -> attributes: ia_idx[ia_ptr[i] .. ia_ptr[i+1]), sorted */
    int32_t *ia_idx;
    int64_t *ai_ptr; /* attribute -> items: ai_idx[ai_ptr[a] .. ai_ptr[a+1]), sorted */
    int32_t *ai_idx;
    const crec_dataset *ds; /* borrowed: names */
} crec_crs_catalog;

/* Build from ds (its attribute CSR is built when missing; ds must outlive the catalogue). CREC_EEMPTY when no
 * item has an attribute. */
CREC_API int crec_crs_catalog_init(crec_crs_catalog *c, crec_dataset *ds);
CREC_API void crec_crs_catalog_free(crec_crs_catalog *c);
/* 1 when item i has attribute a (binary search). */
CREC_API int crec_crs_item_has(const crec_crs_catalog *c, int32_t i, int32_t a);

/* ---- test pairs ---- */
typedef struct crec_crs_pair { int32_t user, item; } crec_crs_pair;
/* The (user, item) pairs of one part of a split (0 train, 1 valid, 2 test) whose item has at least one
 * attribute; *n_skipped counts the pairs dropped for having none. With max_pairs > 0 and fewer than all, a
 * seeded sample without replacement (in a seeded order); otherwise all pairs in split order. *out is malloc'd. */
CREC_API int crec_crs_pairs(const crec_crs_catalog *c, const crec_split *s, int part, int64_t max_pairs, uint64_t seed,
                            crec_crs_pair **out, int64_t *n_out, int64_t *n_skipped);

/* ---- the conversation ---- */
#define CREC_CRS_REC_MAX 64

typedef enum { CREC_CRS_ASK = 0, CREC_CRS_REC = 1 } crec_crs_kind;

typedef struct crec_crs_action {
    crec_crs_kind kind;
    int32_t attr;                      /* ASK: the attribute asked */
    int32_t items[CREC_CRS_REC_MAX];   /* REC: the list, best first */
    int n_items;
} crec_crs_action;

/* Outcome of a turn, for histories: */
enum { CREC_CRS_H_ASK_ACC = 1, CREC_CRS_H_ASK_REJ = 2, CREC_CRS_H_REC_FAIL = 3, CREC_CRS_H_REC_OK = 4 };

/* What a policy sees. Arrays sized by the catalogue; owned by the simulator. */
typedef struct crec_crs_state {
    const crec_crs_catalog *cat;
    int32_t user;         /* the user (train history may be used by the policy) */
    int turn;             /* system turns taken so far (0 before the first action) */
    int last_turn;        /* the system may act on turns 1 .. last_turn (= max_turns - 1) */
    int rec_k;            /* items per recommendation */
    int32_t *acc;         /* accepted attributes, first the one stated at the start */
    int n_acc;
    int32_t *rej;         /* rejected attributes */
    int n_rej;
    uint8_t *asked;       /* [n_attrs] 1 when stated, asked or otherwise settled: never ask again */
    int32_t *cand;        /* candidate items: every accepted attribute, not yet rejected as a recommendation */
    int32_t n_cand;
    uint8_t *in_cand;     /* [n_items] 1 when a candidate */
    int32_t *rej_items;   /* recommended and rejected items */
    int32_t n_rej_items;
    uint8_t history[64];  /* outcome of turn t (1-based) in history[t], CREC_CRS_H_* */
} crec_crs_state;

/* A policy: act must fill a valid action (an attribute not yet asked, or 1..rec_k distinct candidate items;
 * the simulator refuses anything else with CREC_EINVAL). begin / observe may be NULL. */
typedef struct crec_crs_policy {
    const char *name;
    void *self;
    int (*begin)(void *self, const crec_crs_state *st);
    int (*act)(void *self, const crec_crs_state *st, crec_crs_action *a);
    /* after the simulator applied a: outcome is a CREC_CRS_H_* code; rank is the target's 1-based rank in a
     * successful list. */
    void (*observe)(void *self, const crec_crs_state *st, const crec_crs_action *a, int outcome);
} crec_crs_policy;

typedef struct crec_crs_sim_opts {
    int max_turns;   /* conversation turns counted as UNICORN does: the user's opening statement is turn 1... */
    int rec_k;       /* items per recommendation (10) */
    uint64_t seed;   /* the opening attribute of pair k is drawn from an RNG seeded (seed, k) */
} crec_crs_sim_opts;
CREC_API void crec_crs_sim_defaults(crec_crs_sim_opts *o);

typedef struct crec_crs_result {
    int success;     /* 1 when the target was recommended */
    int turns;       /* system turn of the success (1-based), or max_turns on failure */
    int rank;        /* 1-based rank of the target in the successful list, 0 on failure */
    int n_asks, n_acc, n_recs;
} crec_crs_result;

/* The simulator's working memory (one per thread). */
typedef struct crec_crs_sim crec_crs_sim;
CREC_API crec_crs_sim *crec_crs_sim_new(const crec_crs_catalog *c, const crec_crs_sim_opts *o);
CREC_API void crec_crs_sim_free(crec_crs_sim *s);

/* One conversation about pair p (pair_index seeds the opening attribute). The rules, as UNICORN's evaluation:
 * the user opens by stating one attribute of the target drawn uniformly at random (accepted; candidates = the
 * items with it); then on each system turn t = 1, 2, ... the policy asks one attribute (accepted iff the target
 * has it; accepted narrows the candidates to the items with it; either way it is never asked again) or
 * recommends up to rec_k candidates (success iff the target is among them; otherwise they leave the
 * candidates). The user quits when the turn counter, started at 1 by the opening statement, reaches
 * max_turns: the system acts on at most max_turns - 1 turns, and a failure counts max_turns turns.
 * Fills *r. With a transcript stream, one line per turn. */
CREC_API int crec_crs_episode(crec_crs_sim *s, crec_crs_policy *pol, crec_crs_pair p, int64_t pair_index,
                              crec_crs_result *r, FILE *transcript);

/* State of the current (or last) episode, for policies that train inside the simulator. */
CREC_API const crec_crs_state *crec_crs_sim_state(const crec_crs_sim *s);

/* ---- conversations with a person (crec chat): the same state, answers from outside ---- */
#define CREC_CRS_EXTRA_ATTRS 64 /* attributes a person may state beyond one per turn */
/* Start for user (or -1: anonymous) with the attributes the person stated (candidates: the items with all of
 * them; every item when none). */
CREC_API int crec_crs_sim_start(crec_crs_sim *s, int32_t user, const int32_t *acc, int n_acc);
/* The person accepted (1) or rejected (0) attribute attr (asked or volunteered); nothing when already settled.
 * CREC_ERANGE when too many attributes were settled. */
CREC_API int crec_crs_sim_answer(crec_crs_sim *s, int32_t attr, int accepted);
/* The person turned down these recommended items: they leave the candidates. */
CREC_API int crec_crs_sim_reject_items(crec_crs_sim *s, const int32_t *items, int n);
/* Count one system turn with its outcome (CREC_CRS_H_*). */
CREC_API void crec_crs_sim_end_turn(crec_crs_sim *s, int outcome);

/* ---- metrics ---- */
typedef struct crec_crs_metrics {
    int64_t n;
    double sr5, sr10, sr15;  /* success by turn 5 / 10 / 15 */
    double at;               /* average turns, failures counted as max_turns */
    double hdcg;             /* mean of 1/log2(t+2) + (1/log2(t+1) - 1/log2(t+2)) / log2(r+1) over successes */
    double asks, recs;       /* average questions / recommendations per conversation */
} crec_crs_metrics;
/* hDCG of one success at turn t (1-based) with the target at rank r (1-based); 0 for t <= 0. */
CREC_API double crec_crs_hdcg(int t, int r);
CREC_API void crec_crs_metrics_compute(const crec_crs_result *r, int64_t n, crec_crs_metrics *m);

/* ---- a person's words (words.c): shared by crec chat and the HTTP conversations ---- */
typedef struct crec_crs_names {
    char **disp;  /* [n] display name of each attribute (owned) */
    char **norm;  /* [n] " normalised name " for matching (owned) */
    int32_t n;
} crec_crs_names;
/* Display names of the first n_attrs attributes of ds: from path (a TSV "id<TAB>...<TAB>name" whose header names
 * a "name" column, or "id<TAB>name" without header; NULL: none), else the attribute's external id. 0, CREC_EIO,
 * CREC_EPARSE (err: "path:line: ...") or CREC_ENOMEM. */
CREC_API int crec_crs_names_init(crec_crs_names *nm, const crec_dataset *ds, int32_t n_attrs, const char *path,
                                 char *err, size_t errn);
CREC_API void crec_crs_names_free(crec_crs_names *nm);
/* Attributes named in utt (case, punctuation and plurals ignored; longest names first; a matched span is not
 * matched again): found[k], neg[k] = 1 when preceded by not / no / without / less / hate. Returns their count. */
CREC_API int crec_crs_find_attrs(const crec_crs_names *nm, const char *utt, int32_t *found, int *neg, int max);
/* Lower case, non-alphanumerics to one space, a plural 's' dropped from words of 4+ letters (not "ss"), framed
 * by spaces: " nail polish ". NULL on ENOMEM; caller frees. */
CREC_API char *crec_crs_normalise(const char *s);
/* 1 when utt holds one of words (a NULL-terminated list) as a whole word. */
CREC_API int crec_crs_has_word(const char *utt, const char *const *words);
CREC_API extern const char *const crec_crs_yes[]; /* yes, y, yeah, ... */
CREC_API extern const char *const crec_crs_no[];  /* no, n, nope, ... */

#ifdef __cplusplus
}
#endif
#endif
