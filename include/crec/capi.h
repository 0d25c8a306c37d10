/* capi.h: a flat C API over libcrec for foreign-function callers (Python's ctypes, the `crec` package in
 * python/), with no struct to mirror and no callback to register.
 *
 * The one idea: a caller holds opaque handles (crec_dataset *, crec_split *, crec_model *, crec_store *,
 * crec_capi_events *) and passes plain ints, doubles, NUL-terminated strings and arrays it owns; options
 * travel as parallel key / value string arrays checked strictly (an unknown key or a bad value is
 * CREC_EINVAL with a message naming the key). Every function returns 0 or a negative CREC_E* code and, on
 * failure, leaves a message for crec_capi_errmsg(); small descriptions come back as JSON text the caller
 * frees with crec_capi_free, large arrays as pointers into the handle (valid while it lives) or written into
 * the caller's buffers. A dataset handed out by this API is never changed afterwards (filters are options of
 * its constructors), so pointers into its log stay valid until it is freed.
 *
 * Threads: the message is per thread; a handle is used from one thread at a time (a model and a dataset may
 * be read from several). */
#ifndef CREC_CAPI_H
#define CREC_CAPI_H

#include "crec/dataset.h"
#include "crec/model.h"
#include "crec/split.h"
#include "crec/store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The message of this thread's last failed call ("" when none); valid until its next call. Never NULL. */
CREC_API const char *crec_capi_errmsg(void);
/* Free a string or buffer this API returned (JSON text). NULL is harmless. */
CREC_API void crec_capi_free(void *p);
/* The version of this flat API (bumped when a signature changes): 1. */
CREC_API int crec_capi_version(void);

/* ---- datasets (the handles are crec_dataset *, freed with crec_capi_dataset_free) ---- */

/* The embedded synthetic dataset. Options (all optional): users, items, topics, attrs, min_len, max_len, seed
 * (integers), alpha, p_seq, p_taste, p_repeat (numbers); the defaults of `crec data synth`. */
CREC_API int crec_capi_dataset_synth(const char *const *keys, const char *const *vals, int n, crec_dataset **out);
/* A dataset file as `crec train --data` opens it: a .crecds, else a text dataset whose format is guessed.
 * Options: format (auto, movielens, sequences, pairs, csv), items (attribute file: JSON or TSV), skip_bad
 * (0/1), min_rating (number: keep values >= it, made implicit), dedup (0/1), kcore (integer >= 1), user_col,
 * item_col, time_col, value_col (CSV columns), delim (one character or "tab"), no_header (0/1): those of
 * `crec data import`. A parse error's message is the loader's "file:line: reason". */
CREC_API int crec_capi_dataset_load(const char *path, const char *const *keys, const char *const *vals, int n,
                                    crec_dataset **out);
/* A dataset from n events given as external ids (users[e], items[e]: NUL-terminated), times (ts may be NULL:
 * positions 0..n-1, file order) and values (may be NULL: 1). name labels it (may be NULL). Options: the
 * filters of load (min_rating, dedup, kcore). */
CREC_API int crec_capi_dataset_from_events(const char *const *users, const char *const *items, const int64_t *ts,
                                           const float *values, int64_t n, const char *name,
                                           const char *const *keys, const char *const *vals, int nopt,
                                           crec_dataset **out);
CREC_API int crec_capi_dataset_save(const crec_dataset *ds, const char *path);
CREC_API void crec_capi_dataset_free(crec_dataset *ds);
/* Sizes: users, items, events (as int64). */
CREC_API int64_t crec_capi_dataset_size(const crec_dataset *ds, int what); /* 0 users, 1 items, 2 events, 3 attrs */
CREC_API const char *crec_capi_dataset_name(const crec_dataset *ds);
/* `crec data info --json` as JSON text (*json: caller frees with crec_capi_free). */
CREC_API int crec_capi_dataset_info(const crec_dataset *ds, char **json);
/* The log, in load order: pointers into ds (read-only, valid while ds lives; n = events). */
CREC_API int crec_capi_dataset_log(const crec_dataset *ds, const int32_t **user, const int32_t **item,
                                   const int64_t **ts, const float **value, const uint8_t **type);
/* External id of dense user / item i (NULL when out of range; owned by ds). */
CREC_API const char *crec_capi_dataset_user_name(const crec_dataset *ds, int32_t i);
CREC_API const char *crec_capi_dataset_item_name(const crec_dataset *ds, int32_t i);
/* Title of item i (NULL when it has none). */
CREC_API const char *crec_capi_dataset_item_title(const crec_dataset *ds, int32_t i);
/* The distinct attribute ids of item i, in first-seen order, into out[cap]; returns how many the item has
 * (more than cap: call again with a larger out) or CREC_EINVAL. */
CREC_API int crec_capi_dataset_item_attrs(const crec_dataset *ds, int32_t i, int32_t *out, int cap);
/* Name of attribute id a (NULL out of range; owned by ds). */
CREC_API const char *crec_capi_dataset_attr_name(const crec_dataset *ds, int32_t a);
/* Dense ids of n external ids into out[n] (-1 for an unknown one). which: 0 users, 1 items. Returns the
 * number of unknown ids (>= 0) or a negative CREC_E*. */
CREC_API int64_t crec_capi_dataset_ids(const crec_dataset *ds, int which, const char *const *names, int64_t n,
                                       int32_t *out);

/* ---- splits (crec_split *, freed with crec_capi_split_free) ---- */

/* The split of ds for spec ("loo", "temporal:0.2:0.1", "random:0.2:0.1:7", "cold-items:...", "cold-users:..."). */
CREC_API int crec_capi_split_make(const crec_dataset *ds, const char *spec, crec_split **out);
CREC_API void crec_capi_split_free(crec_split *s);
/* The canonical spec text into buf (n bytes). */
CREC_API int crec_capi_split_spec(const crec_split *s, char *buf, size_t n);
/* Part which (0 train, 1 valid, 2 test) as CSR: pointers into s (valid while it lives); ptr has rows + 1
 * entries, idx / ts / val have ptr[rows] entries. */
CREC_API int crec_capi_split_part(const crec_split *s, int which, int32_t *rows, int32_t *cols, const int64_t **ptr,
                                  const int32_t **idx, const int64_t **ts, const float **val);

/* ---- models (crec_model *, freed with crec_capi_model_free) ---- */

CREC_API int crec_capi_model_type_count(void);
/* Type t: name, summary (static strings), capability flags (CREC_CAP_*), number of parameters. */
CREC_API int crec_capi_model_type(int t, const char **name, const char **summary, unsigned *caps, int *n_params);
/* Parameter p of type t: name, kind ("int", "float", "bool", "enum", "string"), default, range (int / float),
 * choices ('|'-separated words: enum values, or extra words a number accepts; NULL when none), help. */
CREC_API int crec_capi_model_param(int t, int p, const char **name, const char **kind, const char **def, double *lo,
                                   double *hi, const char **choices, const char **help);
/* Train `type` on the training part of split `spec` of ds with hyper-parameters keys[i] = vals[i], as
 * `crec train` does (same seed, same model). threads <= 0: all cores. verbose: progress on stderr. A bad
 * parameter is CREC_EINVAL with the library's message (model, key, value, what is accepted). */
CREC_API int crec_capi_train(const crec_dataset *ds, const char *type, const char *const *keys,
                             const char *const *vals, int n, const char *spec, uint64_t seed, int threads, int verbose,
                             crec_model **out);
CREC_API int crec_capi_model_save(const crec_model *m, const char *path);
CREC_API int crec_capi_model_load(const char *path, crec_model **out);
CREC_API void crec_capi_model_free(crec_model *m);
/* {"type", "users", "items", "split", "data", "seed", "train_seconds", "params": {key: value text}} */
CREC_API int crec_capi_model_describe(const crec_model *m, char **json);
/* Evaluate m on the split it was trained under, rebuilt from ds (which must be the dataset it was trained on):
 * the JSON of `crec eval --json` (*json: caller frees). Options: k ("5,10,20"), target (test / valid),
 * filter_seen (0/1), sampled (N), seed, max_users, threads, candidates (all / untrained), per_user (a TSV
 * path, as --per-user). */
CREC_API int crec_capi_evaluate(const crec_model *m, const crec_dataset *ds, const char *const *keys,
                                const char *const *vals, int n, char **json);
/* Top-k through the recommendation service, as `crec recommend` does: for dense user `user` (>= 0; history =
 * all their events in ds, with times and types) or for a history of n_hist dense items, oldest first (user
 * = -1; hist_ts may be NULL: positions). ds may be NULL for a history without filters. Seen items are
 * excluded unless keep_seen; exclude[n_exclude] are never returned; must / must_not are attribute names
 * (need ds). Writes up to k items and scores (descending) into the caller's items[k], scores[k]; *n_out gets
 * the count. */
CREC_API int crec_capi_recommend(const crec_model *m, const crec_dataset *ds, int32_t user, const int32_t *hist,
                                 const int64_t *hist_ts, int32_t n_hist, const int32_t *exclude, int32_t n_exclude,
                                 const char *const *must, int n_must, const char *const *must_not, int n_must_not,
                                 int k, int keep_seen, int32_t *items, float *scores, int32_t *n_out);
/* The model's score of every item (out[m items]) for the same context as recommend (nothing excluded). */
CREC_API int crec_capi_score(const crec_model *m, const crec_dataset *ds, int32_t user, const int32_t *hist,
                             const int64_t *hist_ts, int32_t n_hist, float *out);
/* Scores of n users at once into out[n x m items] (one matrix product for models that batch). */
CREC_API int crec_capi_score_users(const crec_model *m, const crec_dataset *ds, const int32_t *users, int32_t n,
                                   float *out);

/* ---- the SQLite store (crec_store *, closed with crec_capi_store_close) ---- */

/* Open (create unless readonly) the store at path; migrations as crec_store_open. */
CREC_API int crec_capi_store_open(const char *path, int readonly, crec_store **out);
CREC_API void crec_capi_store_close(crec_store *s);
/* Import every user, item and event of ds in one transaction; *json (may be NULL) gets
 * {"users_added", "items_added", "events_added", "attrs_added", "seconds"}. */
CREC_API int crec_capi_store_import(crec_store *s, const crec_dataset *ds, char **json);
/* Append n events in one transaction (types may be NULL or hold NULLs: "interaction"; values NULL: 1;
 * ts NULL: 0). An unknown item writes nothing: CREC_ENOTFOUND, *bad = its index. */
CREC_API int crec_capi_store_add_events(crec_store *s, const char *const *users, const char *const *items,
                                        const char *const *types, const float *values, const int64_t *ts, int64_t n,
                                        int64_t *bad);
/* Create or replace an item (title, text may be NULL; attrs[n_attrs]). */
CREC_API int crec_capi_store_put_item(crec_store *s, const char *id, const char *title, const char *text,
                                      const char *const *attrs, int n_attrs, int visible);
/* {"users", "items", "hidden_items", "events", "event_types", "attributes", "min_ts", "max_ts"} */
CREC_API int crec_capi_store_stats(crec_store *s, char **json);
/* A snapshot of the store as a dataset (store row order: crec_store_snapshot). */
CREC_API int crec_capi_store_snapshot(crec_store *s, crec_dataset **out);

/* A user's events read from a store, oldest first: crec_capi_events *, freed with crec_capi_events_free. */
typedef struct crec_capi_events crec_capi_events;
/* The user's events (the newest `last` when last > 0); CREC_ENOTFOUND for an unknown user. */
CREC_API int crec_capi_store_user_events(crec_store *s, const char *user, int64_t last, crec_capi_events **out);
CREC_API int64_t crec_capi_events_count(const crec_capi_events *e);
/* Arrays of the events (pointers into e): time, value, the item's store row id. */
CREC_API int crec_capi_events_arrays(const crec_capi_events *e, const int64_t **ts, const float **value,
                                     const int64_t **item_sid);
/* External item id / event type of event i (owned by e; NULL out of range). */
CREC_API const char *crec_capi_events_item(const crec_capi_events *e, int64_t i);
CREC_API const char *crec_capi_events_type(const crec_capi_events *e, int64_t i);
CREC_API void crec_capi_events_free(crec_capi_events *e);

#ifdef __cplusplus
}
#endif
#endif
