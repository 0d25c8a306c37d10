/* model.h: one interface for every recommender, a registry, hyper-parameters and checkpoints.
 *
 * A model type is a table of functions (redis command table style): train on a split's training matrix,
 * score every item for a context, save and load its state. A context is what a model conditions on:
 * a known user id and/or an item history (time ordered). Checkpoints (.crecm) carry magic, version,
 * model name, hyper-parameters, the split spec it was trained under, and a checksum. */
#ifndef CREC_MODEL_H
#define CREC_MODEL_H

#include <stdio.h>
#include "crec/split.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct crec_param_def {
    const char *name;
    const char *def;     /* default value as text */
    const char *help;
} crec_param_def;

#define CREC_MAX_PARAMS 32
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
    const int64_t *hist_ts;  /* may be NULL */
} crec_context;

typedef struct crec_train_input {
    const crec_dataset *ds;  /* for item metadata; may be NULL */
    const crec_csr *train;   /* user x item, time ordered */
    const crec_csr *valid;   /* may be NULL; for early stopping only */
    int n_threads;
    uint64_t seed;
    int verbose;
} crec_train_input;

/* A growable byte buffer for checkpoint payloads. */
typedef struct crec_buf { uint8_t *data; size_t len, cap, pos; } crec_buf;
CREC_API int crec_buf_write(crec_buf *b, const void *p, size_t n);
CREC_API int crec_buf_read(crec_buf *b, void *p, size_t n); /* CREC_EFORMAT when short */
CREC_API void crec_buf_free(crec_buf *b);

typedef struct crec_model crec_model;

typedef struct crec_model_type {
    const char *name;
    const char *summary;
    const crec_param_def *params;   /* NULL-name terminated */
    /* Train: fill m->state. Hyper-parameters via crec_model_param_*(m, ...). */
    int (*train)(crec_model *m, const crec_train_input *in);
    /* Score all items for ctx into scores[m->n_items]; higher is better. Thread-safe for reading. */
    int (*score)(const crec_model *m, const crec_context *ctx, float *scores);
    int (*save)(const crec_model *m, crec_buf *out);
    int (*load)(crec_model *m, crec_buf *in);
    void (*free_state)(crec_model *m);
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

/* New untrained model of a type (cfg copied; unknown keys give CREC_EINVAL with a message in err). */
CREC_API int crec_model_new(const char *type, const crec_config *cfg, crec_model **out, char *err, size_t errn);
CREC_API int crec_model_train(crec_model *m, const crec_train_input *in);
CREC_API int crec_model_score(const crec_model *m, const crec_context *ctx, float *scores);
CREC_API int crec_model_save(const crec_model *m, const char *path);
CREC_API int crec_model_load(const char *path, crec_model **out);
CREC_API void crec_model_free(crec_model *m);

/* Hyper-parameter of m: its configured value, else the type's default. */
CREC_API int64_t crec_model_param_int(const crec_model *m, const char *key);
CREC_API double crec_model_param_double(const crec_model *m, const char *key);
CREC_API const char *crec_model_param_str(const crec_model *m, const char *key);

/* Top-k of scores[0..n) skipping items with exclude[i] != 0 (exclude may be NULL). Ties go to the lower id.
 * Writes up to k ids to out (best first) and returns how many. */
CREC_API int crec_topk(const float *scores, int32_t n, const uint8_t *exclude, int k, int32_t *out);

#ifdef __cplusplus
}
#endif
#endif
