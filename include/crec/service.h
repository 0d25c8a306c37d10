/* service.h: the one recommendation service behind every front end (crec recommend, crec demo, the server's
 * routes): a request in, the top-k (item, score) list out, with the business rules applied in one place.
 *
 * The one idea: a front end only describes the request - who (a user the model knows, and/or a history of
 * events with times and types), how many, what must not come back (seen items unless keep_seen, explicit
 * exclusions, items without a must-have attribute or with a must-not-have one, items the catalog does not
 * allow) - and crec_service_recommend builds the model's context (crec_context with hist_ts, hist_type,
 * now), asks the model through crec_model_recommend, and says which source answered: the model, or the
 * popular fallback for a request the model cannot condition on (an unknown user without known events).
 *
 * Item ids: a request speaks in catalog ids 0..n_items-1 of a crec_service_catalog. For the CLI the catalog
 * is the model's own item space (no maps). The server's catalog is its store (ids = row ids), which holds
 * items the model never saw (only the fallback can return them) and lacks items deleted since training
 * (never returned): to_model / from_model map between the two spaces.
 *
 * Threads: the model and the catalog are read-only here; a request and a scratch belong to one thread at a
 * time. Both grow to fit and keep their memory between calls, so a server thread reuses one of each. */
#ifndef CREC_SERVICE_H
#define CREC_SERVICE_H

#include "crec/model.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Called once per catalog item that carries an attribute; returns 0 to go on, nonzero to stop. */
typedef int (*crec_service_item_fn)(void *arg, int32_t item);
/* An attribute source: call each(arg, item) for every catalog item carrying attribute attr (repeats are
 * harmless). Returns 0 or a negative CREC_E*. */
typedef int (*crec_service_attr_fn)(void *ctx, const char *attr, crec_service_item_fn each, void *arg);
/* A fallback source: fill scores[0..n) for every catalog item (higher first; an event count). Returns 0 or a
 * negative CREC_E*. */
typedef int (*crec_service_pop_fn)(void *ctx, float *scores, int32_t n);

/* The items a front end may show and how they map to the model. Every pointer may be NULL. */
typedef struct crec_service_catalog {
    int32_t n_items;                /* catalog ids are 0..n_items-1 */
    const int32_t *to_model;        /* [n_items] the model's id of a catalog item, -1 when the model does not
                                       know it; NULL (with from_model NULL): the catalog is the model's items */
    const int32_t *from_model;      /* [model->n_items] the catalog id of a model item, -1 when it is gone */
    const uint8_t *allowed;         /* [n_items] 0: never returned (hidden, deleted); NULL: every item */
    crec_service_attr_fn attrs;     /* for attribute filters; NULL: a filter is CREC_EUNSUPPORTED */
    void *attrs_ctx;
    crec_service_pop_fn popularity; /* the fallback; NULL: none (the model answers even an empty context) */
    void *pop_ctx;
    const uint8_t *model_excl;      /* optional, with from_model: [model->n_items] 1 where no request may get the
                                       model item (from_model -1, or its catalog item not allowed) - what the
                                       service would gather per request, kept by the catalog's owner with the view
                                       (a server: per view, not per request); NULL: gathered per request */
} crec_service_catalog;

/* The model's item space with the attributes of ds (may be NULL: no attribute filters) and no fallback:
 * what the CLI uses. ds must outlive the catalog; its attribute pairs are read as they are. */
CREC_API void crec_service_catalog_dataset(crec_service_catalog *c, const crec_model *m, const crec_dataset *ds);
/* The attribute source of a dataset (ctx = const crec_dataset *; catalog ids = dense item ids). */
CREC_API int crec_service_dataset_attrs(void *ctx, const char *attr, crec_service_item_fn each, void *arg);

#define CREC_SERVICE_MAX_ATTRS 16  /* must-have attributes of one request, and as many must-not-have */

/* A request, built with the functions below. Arrays are owned by the request and keep their capacity across
 * crec_service_request_reset; attribute names are NOT copied (they must live until the call returns). */
typedef struct crec_service_request {
    int32_t user;            /* the model's user id, or -1 (an anonymous session, a user the model does not know) */
    int32_t *hist;           /* catalog ids, oldest first */
    int64_t *hist_ts;        /* [n_hist] event times (seconds, or positions when the data has none) */
    uint8_t *hist_type;      /* [n_hist] event types (0 = the default interaction) */
    int32_t n_hist, hist_cap;
    int hist_has_ts;         /* 0 when some event came without a time: the model gets hist_ts = NULL */
    int64_t now;             /* request time for time-aware models (0 = the last history time) */
    int k;                   /* list length (default 10) */
    int keep_seen;           /* 0 (default): the history's items never come back */
    int32_t *exclude;        /* catalog ids that never come back */
    int32_t n_exclude, exclude_cap;
    const char *must[CREC_SERVICE_MAX_ATTRS];     /* every returned item carries all of these */
    const char *must_not[CREC_SERVICE_MAX_ATTRS]; /* ... and none of these */
    int n_must, n_must_not;
} crec_service_request;

/* An empty request: user -1, no history, k = 10, seen items excluded. */
CREC_API void crec_service_request_init(crec_service_request *rq);
/* Back to the state of init, keeping the arrays' memory. */
CREC_API void crec_service_request_reset(crec_service_request *rq);
CREC_API void crec_service_request_free(crec_service_request *rq);
/* Append one event to the history (events must come oldest first). 0 or CREC_ENOMEM. */
CREC_API int crec_service_request_add_event(crec_service_request *rq, int32_t item, int64_t ts, uint8_t type);
/* Append row `row` of a time-ordered user x item matrix (a split's train or valid part): items and times
 * (type 0). A matrix without times clears hist_has_ts. 0, CREC_ERANGE (no such row) or CREC_ENOMEM. */
CREC_API int crec_service_request_add_row(crec_service_request *rq, const crec_csr *m, int32_t row);
/* Append every event of dense user `user` in ds, in time order (ties in load order), with times and types.
 * 0, CREC_ERANGE (no such user) or CREC_ENOMEM. */
CREC_API int crec_service_request_add_user(crec_service_request *rq, const crec_dataset *ds, int32_t user);
/* Never return catalog item `item`. 0 or CREC_ENOMEM. */
CREC_API int crec_service_request_exclude(crec_service_request *rq, int32_t item);
/* Keep only items that carry attr (must = 1) / that do not carry it (must = 0). attr is not copied.
 * 0, or CREC_ERANGE past CREC_SERVICE_MAX_ATTRS filters. */
CREC_API int crec_service_request_filter(crec_service_request *rq, const char *attr, int must);

/* Per-call scratch, owned by the caller (one per thread); zero it with init, grows to fit, free releases it.
 * The result of a call points into it until the next call. */
typedef struct crec_service_scratch {
    float *mscores;          /* [model n_items] the model's scores (crec_model_recommend's scratch) */
    uint8_t *mexcl;          /* [model n_items] exclusions in the model's ids */
    int64_t mcap;
    float *cscores;          /* [catalog n] fallback scores */
    uint8_t *cexcl, *mark;   /* [catalog n] exclusions in catalog ids; attribute marks */
    int64_t ccap;
    int32_t *mhist;          /* the history in the model's ids, with its times and types */
    int64_t *mts;
    uint8_t *mtype;
    int64_t hcap;
    int32_t *top, *items;    /* [k] model ids, then catalog ids of the answer */
    float *top_scores, *scores;
    int64_t kcap;
} crec_service_scratch;

CREC_API void crec_service_scratch_init(crec_service_scratch *sc);
CREC_API void crec_service_scratch_free(crec_service_scratch *sc);

typedef enum crec_service_source {
    CREC_SERVICE_MODEL = 1,        /* the model, for a user it knows (with their history) */
    CREC_SERVICE_MODEL_HISTORY,    /* the model, from the history alone (anonymous or unknown user) */
    CREC_SERVICE_POPULAR           /* the popular fallback: no known user and no event the model knows */
} crec_service_source;

/* "model", "model:history", "popular". */
CREC_API const char *crec_service_source_name(crec_service_source s);

typedef struct crec_service_result {
    int32_t n;                     /* items in the list (<= k; fewer when fewer items are allowed or have
                                      evidence: a score of exactly 0 from a never-negative scorer) */
    const int32_t *items;          /* [n] catalog ids, best first (in the scratch) */
    const float *scores;           /* [n] their scores, descending (within each part of a chain: main model,
                                      each backup, popular); always finite */
    crec_service_source source;    /* popular also when the model had no item with evidence (see below) */
    int32_t n_fallback;            /* the last n_fallback items come from the popular fallback */
    int32_t n_hist_model;          /* history events the model knows (the context it was given) */
    int32_t n_backup;              /* crec_service_recommend_chain: items from the backup models (after the main
                                      model's, before the popular ones); 0 otherwise */
} crec_service_result;

/* The top-k for rq. Rules, in order: an item is never returned when the catalog does not allow it, when it
 * lacks a must-have or carries a must-not-have attribute, when rq excludes it, when it is in the history
 * (unless keep_seen), or when its score is not a finite number, or when the model has no evidence for it
 * (a score of exactly 0 in a list without negative scores). The model answers when it knows the user
 * or at least one history item (its context: the user, the known history items with their times and types,
 * now); otherwise the catalog's popularity does, when it has one (items with a count of 0 are left out).
 * A model list shorter than k is completed from the popularity (n_fallback says how many; source popular
 * when all of them). cat NULL: the model's items, no filters,
 * no fallback. Returns 0 and fills *out, or CREC_EINVAL (bad arguments, maps without a model-sized
 * from_model), CREC_ERANGE (a user or catalog id out of range), CREC_EUNSUPPORTED (a filter with no attribute
 * source), CREC_ENOMEM, or the model's / a source's error; *out is then empty. */
CREC_API int crec_service_recommend(const crec_model *m, const crec_service_catalog *cat,
                                    const crec_service_request *rq, crec_service_scratch *sc,
                                    crec_service_result *out);

/* A fallback chain: models[0] answers as in crec_service_recommend; when its list (with evidence) is shorter
 * than k, models[1], models[2], ... complete it in turn under the same rules and the same context (each never
 * repeats what is listed; n_backup counts their items), then the catalog's popularity (n_fallback). Every
 * model must share models[0]'s id space (same n_users and n_items: trained on the same dataset), else
 * CREC_EINVAL. A request that goes to the popular fallback directly (no user, no known history) skips the
 * backups: they know no more. n_models 1 is crec_service_recommend. */
#define CREC_SERVICE_MAX_CHAIN 8
CREC_API int crec_service_recommend_chain(const crec_model *const *models, int n_models,
                                          const crec_service_catalog *cat, const crec_service_request *rq,
                                          crec_service_scratch *sc, crec_service_result *out);

#ifdef __cplusplus
}
#endif
#endif
