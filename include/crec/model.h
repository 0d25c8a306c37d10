/* model.h: one interface for every recommender, a registry, hyper-parameters and checkpoints.
 *
 * A model type is a table of functions (redis command table style): train on a split's training matrix,
 * score every item for a context, save and load its state. A context is what a model conditions on:
 * a known user id and/or an item history (time ordered). Checkpoints (.crecm) carry magic, version,
 * model name, hyper-parameters, the split spec it was trained under, and a checksum. */
#ifndef CREC_MODEL_H
#define CREC_MODEL_H

#include <stdio.h>
#include "crec/rank.h"
#include "crec/split.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A hyper-parameter, declared once per model: name, type, accepted values, default, help. Values travel as
 * text (crec_config) and are checked strictly against the declaration when a model is created: trailing
 * garbage, out-of-range numbers, unknown enum words and unknown keys are errors that name the model, the
 * key, the value and what is accepted. Use the CREC_P_* macros below to declare them. */
typedef enum crec_param_kind {
    CREC_PARAM_INT = 1,
    CREC_PARAM_FLOAT,
    CREC_PARAM_BOOL,   /* 0 / 1 (also true / false, yes / no, on / off; stored as 0 / 1) */
    CREC_PARAM_ENUM,   /* one word of choices */
    CREC_PARAM_STRING  /* any text without control characters (a path, a list) */
} crec_param_kind;

typedef struct crec_param_def {
    const char *name;
    const char *def;     /* default value as text */
    const char *help;
    crec_param_kind kind;
    double lo, hi;       /* int / float: inclusive range */
    const char *choices; /* enum: the words, '|'-separated; int / float: extra words also accepted ("auto") */
} crec_param_def;

#define CREC_P_INT(name, def, lo, hi, help) {name, def, help, CREC_PARAM_INT, lo, hi, NULL}
#define CREC_P_INT_OR(name, def, lo, hi, words, help) {name, def, help, CREC_PARAM_INT, lo, hi, words}
#define CREC_P_FLOAT(name, def, lo, hi, help) {name, def, help, CREC_PARAM_FLOAT, lo, hi, NULL}
#define CREC_P_FLOAT_OR(name, def, lo, hi, words, help) {name, def, help, CREC_PARAM_FLOAT, lo, hi, words}
#define CREC_P_BOOL(name, def, help) {name, def, help, CREC_PARAM_BOOL, 0, 1, NULL}
#define CREC_P_ENUM(name, def, choices, help) {name, def, help, CREC_PARAM_ENUM, 0, 0, choices}
#define CREC_P_STR(name, def, help) {name, def, help, CREC_PARAM_STRING, 0, 0, NULL}
#define CREC_P_END {NULL, NULL, NULL, 0, 0, 0, NULL}

/* The kind's name: "int", "float", "bool", "enum", "string". */
CREC_API const char *crec_param_kind_name(crec_param_kind k);
/* Check text v against p. Returns 0, or CREC_EINVAL with "model 'M': parameter 'K' = 'V': <what is
 * accepted>" in err (model may be NULL). Writes the canonical text (bools as 0 / 1) to canon when not NULL. */
CREC_API int crec_param_check(const crec_param_def *p, const char *model, const char *v, char *canon, size_t canonn,
                              char *err, size_t errn);
/* What p accepts, in words ("integer in [1, 4096]", "one of pre, post"). */
CREC_API void crec_param_accepts(const crec_param_def *p, char *buf, size_t n);

#define CREC_MAX_PARAMS 48
typedef struct crec_config {
    int n;
    char key[CREC_MAX_PARAMS][32];
    char val[CREC_MAX_PARAMS][64];
} crec_config;

/* Set key=value (replaces). Returns CREC_EINVAL on malformed text or a full table. */
CREC_API int crec_config_set(crec_config *c, const char *key, const char *val);
CREC_API int crec_config_set_kv(crec_config *c, const char *kv); /* "key=value" */
CREC_API const char *crec_config_get(const crec_config *c, const char *key); /* NULL if unset */

typedef struct crec_context {
    int32_t user;            /* dense user id, or -1 for an anonymous session */
    const int32_t *hist;     /* items, oldest first */
    int32_t n_hist;
    const int64_t *hist_ts;  /* event times (seconds, or positions when the data has none); may be NULL */
    const uint8_t *hist_type;/* event types (0 = the default interaction); may be NULL */
    int64_t now;             /* request time for time-aware models (0 = the last history time) */
} crec_context;

/* One interaction as an online model learns it (crec_model_update). Ids are dense; an id at or past the
 * model's n_users / n_items is new and grows the id space (models with CREC_CAP_ONLINE). */
typedef struct crec_event {
    int32_t user, item;
    int64_t ts;
    float value;
    uint8_t type;
} crec_event;

/* Capability flags of a model type: what front ends and evaluation may rely on. */
enum {
    CREC_CAP_TIME = 1u << 0,     /* reads ctx->hist_ts (a time-aware model) */
    CREC_CAP_FEATURES = 1u << 1, /* uses item / user attributes of the dataset */
    CREC_CAP_LIST = 1u << 2,     /* decodes a ranked list (recommend hook) instead of scoring every item */
    CREC_CAP_ONLINE = 1u << 3,   /* learns from events while serving (update hook); growable id space */
    CREC_CAP_SEQUENCE = 1u << 4, /* the order of the history matters */
    CREC_CAP_BATCH = 1u << 5     /* scores blocks of contexts at once (score_batch hook) */
};

typedef struct crec_train_input {
    const crec_dataset *ds;  /* for item metadata; may be NULL */
    const crec_csr *train;   /* user x item, time ordered */
    const crec_csr *valid;   /* may be NULL; for early stopping only */
    int n_threads;
    uint64_t seed;
    int verbose;
} crec_train_input;


typedef struct crec_model crec_model;

typedef struct crec_model_type {
    const char *name;
    const char *summary;
    const crec_param_def *params;   /* NULL-name terminated */
    /* Train: fill m->state. Hyper-parameters via crec_model_param_*(m, ...). */
    int (*train)(crec_model *m, const crec_train_input *in);
    /* Score all items for ctx into scores[m->n_items]; higher is better. Thread-safe for reading. NULL for a
     * list-only model (recommend hook): crec_model_score then says CREC_EUNSUPPORTED and evaluation ranks the
     * model's list instead (listed items first, in order; the rest tie last). */
    int (*score)(const crec_model *m, const crec_context *ctx, float *scores);
    int (*save)(const crec_model *m, crec_buf *out);
    int (*load)(crec_model *m, crec_buf *in);
    void (*free_state)(crec_model *m);
    /* ---- optional hooks (NULL = not offered; the crec_model_* wrappers fall back where they can) ---- */
    unsigned caps;                  /* CREC_CAP_* */
    /* Rules between parameters that no single declaration can say (heads must divide dim): called by
     * crec_model_new on the resolved config (read it with crec_model_param_*); returns 0 or CREC_EINVAL with
     * a message in err that names the model and the keys. */
    int (*check)(const crec_model *m, char *err, size_t errn);
    /* Score n contexts at once into scores[n x n_items] (row c for ctx[c]); the same numbers as n calls of
     * score, faster (one matrix product for a block of users). */
    int (*score_batch)(const crec_model *m, const crec_context *ctx, int n, float *scores);
    /* A ranked list for models that decode rather than score: up to k items, best first, none with
     * exclude[i] != 0 (exclude may be NULL); scores_out (may be NULL) gets a descending score per item.
     * Returns how many (>= 0) or a negative CREC_E*. */
    int (*recommend)(const crec_model *m, const crec_context *ctx, const uint8_t *exclude, int k, int32_t *items,
                     float *scores_out);
    /* Learn from n new events while serving; ids past n_users / n_items grow the model (m->n_users /
     * m->n_items are updated by the model). Not thread-safe against score: the caller serialises. */
    int (*update)(crec_model *m, const crec_event *ev, int64_t n);
    /* The learned vector of user `user` (dense id), for similar users: *dim floats at *vec, owned by the model
     * and valid until it changes or is freed. Returns 1, 0 when the user has none (not trained), or a
     * negative CREC_E*. Offered by the matrix factorisation models whose score is a dot product (ials, bprmf). */
    int (*user_vector)(const crec_model *m, int32_t user, const float **vec, int *dim);
} crec_model_type;

struct crec_model {
    const crec_model_type *type;
    void *state;
    int32_t n_users, n_items;
    crec_config cfg;
    char split[64];          /* canonical split spec it was trained under */
    char data_name[128];     /* dataset label */
    uint64_t seed;
    double train_seconds;
};

/* Registry. */
CREC_API const crec_model_type *crec_model_type_find(const char *name);
CREC_API int crec_model_type_count(void);
CREC_API const crec_model_type *crec_model_type_at(int i);

/* New untrained model of a type. cfg is checked against the type's declarations (unknown keys and values
 * that do not parse give CREC_EINVAL with a message in err naming the model, key, value and what is
 * accepted), then every declared parameter is resolved into m->cfg (the given value, else the default), so
 * a checkpoint records every value it was trained with and loads the same after a default changes. */
CREC_API int crec_model_new(const char *type, const crec_config *cfg, crec_model **out, char *err, size_t errn);
CREC_API int crec_model_train(crec_model *m, const crec_train_input *in);
CREC_API int crec_model_score(const crec_model *m, const crec_context *ctx, float *scores);
/* n contexts into scores[n x n_items]: the type's score_batch when it has one, else n calls of score. */
CREC_API int crec_model_score_batch(const crec_model *m, const crec_context *ctx, int n, float *scores);
/* Top-k list for ctx without items marked in exclude (may be NULL): the type's recommend hook for list
 * models, else score + crec_topk (scores_out gets the scores of the listed items; may be NULL). scratch
 * is n_items floats the caller owns (may be NULL for list models). Returns the count or a negative CREC_E*. */
CREC_API int crec_model_recommend(const crec_model *m, const crec_context *ctx, const uint8_t *exclude, int k,
                                  int32_t *items, float *scores_out, float *scratch);
/* Learn from new events (online models); CREC_EUNSUPPORTED when the type has no update hook. */
CREC_API int crec_model_update(crec_model *m, const crec_event *ev, int64_t n);
/* The learned vector of a user (the type's user_vector hook): 1 with *vec / *dim set, 0 when the user has none,
 * CREC_EUNSUPPORTED when the type has no such hook, CREC_ERANGE for a user outside the model. */
CREC_API int crec_model_user_vector(const crec_model *m, int32_t user, const float **vec, int *dim);
/* Does the type offer cap (CREC_CAP_*)? Hooks imply their flag (recommend -> LIST, update -> ONLINE,
 * score_batch -> BATCH). */
CREC_API int crec_model_has(const crec_model_type *t, unsigned cap);
CREC_API int crec_model_save(const crec_model *m, const char *path);
CREC_API int crec_model_load(const char *path, crec_model **out);
CREC_API void crec_model_free(crec_model *m);

/* Hyper-parameter of m: its configured value, else the type's default. Values were checked when the model was
 * created; a checkpoint written before a parameter existed gets that parameter's default. */
CREC_API int64_t crec_model_param_int(const crec_model *m, const char *key);
CREC_API double crec_model_param_double(const crec_model *m, const char *key);
CREC_API const char *crec_model_param_str(const crec_model *m, const char *key);


#ifdef __cplusplus
}
#endif
#endif
