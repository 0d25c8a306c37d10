/* serve_internal.h: the private parts of the server shared by its files: the server struct, the
 * reference-counted model bundle, per-thread state, popularity counters, metrics and the reply type.
 *
 * Threads: MHD runs handlers on its pool threads. Each pool thread lazily opens its own store connection
 * and scratch arrays (struct crec__tls, freed by a pthread key destructor when the thread ends). Shared
 * mutable state is small: the current bundle pointer (mutex; readers take a reference), the popularity
 * counters (rwlock), and _Atomic metric counters. */
#ifndef CREC_SERVE_INTERNAL_H
#define CREC_SERVE_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "crec/crec.h"
#include "crec/serve.h"
#include "crec/store.h"
#include "serve/request.h"

/* ---- the model bundle: a model and the id maps of the dataset it was trained on ---- */
typedef struct crec__bundle {
    atomic_int refs;          /* one for the server's current pointer + one per request holding it */
    crec_model *model;
    crec_dataset *ds;         /* dense ids <-> external ids of users and items (the model's id space) */
    uint64_t version;         /* 1, 2, ... per successful load */
    char model_path[1024];
    char data_desc[1100];     /* "file D.crecds" or "store snapshot" */
    double loaded_unix;
} crec__bundle;

/* ---- metrics ---- */
#define CREC__N_BUCKETS 12
extern const double crec__bucket_le[CREC__N_BUCKETS]; /* seconds; +Inf is implicit */
typedef struct crec__route_metrics {
    atomic_ullong by_class[6];             /* responses by status class: [2] = 2xx ... [5] = 5xx */
    atomic_ullong bucket[CREC__N_BUCKETS + 1];
    atomic_ullong sum_us;
} crec__route_metrics;
typedef struct crec__metrics {
    crec__route_metrics route[CREC__R_COUNT];
    atomic_ullong events_ingested, event_batches, reloads, reload_failures, auth_failures, body_rejected;
} crec__metrics;
void crec__metrics_observe(crec__metrics *m, crec__route r, int status, double seconds);
/* Prometheus text exposition (version 0.0.4) of m and the server's gauges; malloc'd, caller frees. */
char *crec__metrics_render(crec_server *s);

/* ---- popularity: events per store item, kept in memory, bumped on ingest ---- */
typedef struct crec__pop {
    pthread_rwlock_t lock;
    int64_t *count;           /* count[sid] */
    int64_t n, cap;
} crec__pop;

/* ---- catalog: the store's items in memory (catalog.c) ---- */
typedef struct crec__cat_entry {
    char *id, *title;         /* title may be NULL */
    char **attrs;
    int n_attrs;
    uint8_t visible, live;    /* live = 0: no such row (deleted, or a gap) */
} crec__cat_entry;
typedef struct crec__catalog {
    pthread_rwlock_t lock;    /* readers hold it while they use entries */
    crec__cat_entry *e;       /* e[sid], sid in [1, n) */
    int64_t n, cap;
    crec_idmap ids;           /* external id -> dense; dense_sid[dense] = its current row id */
    int64_t *dense_sid;
    int64_t dcap;
} crec__catalog;
/* (Re)load every item from the store; the old contents stay until the new ones are complete. */
int crec__catalog_load(crec__catalog *c, crec_store *st);
void crec__catalog_clear(crec__catalog *c);  /* frees the contents (not the lock) */
/* Add or replace the item it (it->sid set), after the store committed it. */
int crec__catalog_put(crec__catalog *c, const crec_store_item *it);
void crec__catalog_remove(crec__catalog *c, int64_t sid);
/* With the read lock held: the live entry of sid or NULL; the row id of an external id or -1. */
const crec__cat_entry *crec__catalog_get(const crec__catalog *c, int64_t sid);
int64_t crec__catalog_sid(const crec__catalog *c, const char *id, size_t len);

/* ---- the server ---- */
struct crec_server {
    struct MHD_Daemon *daemon;
    crec_serve_opts opts;     /* strings below are owned copies */
    char *db_path, *model_path, *data_path, *host;
    int port;
    crec_store *store;        /* the main thread's connection (startup, reloads from the signal thread) */
    pthread_mutex_t store_mu; /* guards `store` */
    pthread_key_t tls_key;
    pthread_mutex_t bundle_mu;
    crec__bundle *bundle;     /* current; swapped under bundle_mu */
    atomic_ullong next_version;
    pthread_mutex_t reload_mu; /* one reload at a time */
    pthread_mutex_t write_mu;  /* one write transaction at a time from this process */
    crec__pop pop;
    crec__catalog cat;
    char **keys;              /* API keys */
    int n_keys;
    crec__metrics metrics;
    double started;           /* crec__now() at start */
    double started_unix;
};

/* Per-thread state of a pool thread. */
typedef struct crec__tls {
    crec_server *srv;
    crec_store *store;
    float *scores;            /* [cap] */
    uint8_t *excl;            /* [cap] */
    int32_t *top;             /* [cap] */
    int64_t cap;
    int32_t *hist;            /* model item ids of the history */
    int64_t hist_cap;
    int64_t *hist_sid;        /* store ids of the history */
    int64_t sid_cap;
} crec__tls;
/* The calling thread's state (opening its store connection on first use), or NULL on failure. */
crec__tls *crec__tls_get(crec_server *s);
/* Grow the scratch arrays to hold n entries. 0 or CREC_ENOMEM. */
int crec__tls_reserve(crec__tls *t, int64_t n);
void crec__tls_free(void *p);

/* Model ids of an external item / user id: -1 when the model does not know it (a snapshot may hold more rows
 * than the model was trained on: only the first n_items / n_users are its id space). */
static inline int32_t crec__bundle_item(const crec__bundle *b, const char *s, size_t n) {
    int32_t i = crec_idmap_get(&b->ds->items, s, n);
    return i < b->model->n_items ? i : -1;
}
static inline int32_t crec__bundle_user(const crec__bundle *b, const char *s, size_t n) {
    int32_t u = crec_idmap_get(&b->ds->users, s, n);
    return u < b->model->n_users ? u : -1;
}

/* Bundles. acquire returns the current bundle with a reference (never NULL once started); release drops it. */
crec__bundle *crec__bundle_acquire(crec_server *s);
void crec__bundle_release(crec__bundle *b);
/* Build a bundle: load the model, take the id maps from data_path or (NULL) a snapshot of store, check that
 * they match. err gets the reason. */
int crec__bundle_load(crec_server *s, crec_store *store, const char *model_path, const char *data_path,
                      crec__bundle **out, char *err, size_t errn);

int crec__pop_init(crec__pop *p, crec_store *st);
void crec__pop_free(crec__pop *p);
void crec__pop_add(crec__pop *p, const int64_t *sids, int64_t n);
void crec__pop_zero(crec__pop *p, int64_t sid);
int crec__pop_reload(crec__pop *p, crec_store *st);

/* A reply: JSON, or a static/owned byte body with a content type. */
typedef struct crec__reply {
    int status;
    json_t *json;             /* owned; serialized compactly */
    const void *data;         /* static data (not freed) ... */
    char *owned;              /* ... or owned text (freed) */
    size_t len;
    const char *ctype;
    const char *allow;        /* Allow header for 405 */
    int retry_after;          /* seconds, for 503 */
} crec__reply;
/* Error reply {"error": {"code", "message"}}; returns r for chaining. */
crec__reply *crec__reply_err(crec__reply *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
crec__reply *crec__reply_reqerr(crec__reply *r, const crec__reqerr *e);
/* Map a store error to a reply: ENOTFOUND 404 (what names the thing), ESTATE 503, else 500. */
crec__reply *crec__reply_store_err(crec__reply *r, int rc, const char *what, const char *id);

/* A parsed request handed to the route handlers. */
typedef struct crec__req {
    struct MHD_Connection *conn;
    const char *method;
    crec__match m;
    const char *body;         /* NUL-terminated, may be NULL */
    size_t body_len;
} crec__req;
/* Query argument (percent-decoded) or NULL. */
const char *crec__query(const crec__req *q, const char *name);

/* Route handlers (routes.c, web.c). */
void crec__handle(crec_server *s, crec__req *q, crec__reply *r);
void crec__handle_web(crec_server *s, crec__req *q, crec__reply *r);
void crec__handle_openapi(crec_server *s, crec__req *q, crec__reply *r);

/* Keys (auth.c). */
int crec__auth_load(crec_server *s, const char *keys, const char *file, char *err, size_t errn);
void crec__auth_free(crec_server *s);
/* 0: allowed; 401 no key given; 403 wrong key. */
int crec__auth_check(const crec_server *s, struct MHD_Connection *c);
#endif
