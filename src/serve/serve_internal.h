/* serve_internal.h: the private parts of the server shared by its files: the server struct, the
 * reference-counted model bundle, per-thread state, popularity counters, the catalog and metrics.
 *
 * Layering, top down (each file includes only what is below it): server.c (libmicrohttpd) -> routes.h (the
 * handlers of the route table) -> serve_internal.h (this: server state) -> reply.h (requests, replies) ->
 * request.h (pure parsing and the route table's data). The recommendation rules are not here at all: the
 * handlers call the library's service (crec/service.h).
 *
 * Threads: MHD runs handlers on its pool threads. Each pool thread lazily opens its own store connection
 * and keeps the service's request, scratch and its view of the catalog (struct crec__tls, freed by a pthread
 * key destructor when the thread ends). Shared mutable state is small: the current bundle pointer (mutex;
 * readers take a reference), the catalog (rwlock + a generation counter the views compare), the popularity
 * counters (rwlock), and _Atomic metric counters. */
#ifndef CREC_SERVE_INTERNAL_H
#define CREC_SERVE_INTERNAL_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>

#include "crec/crec.h"
#include "crec/serve.h"
#include "crec/store.h"
#include "serve/histcache.h"
#include "serve/reply.h"
#include "serve/request.h"

/* ---- the model bundle: a model and the id maps of the dataset it was trained on ---- */
typedef struct crec__bundle {
    atomic_int refs;          /* one for the server's current pointer + one per request holding it */
    pthread_rwlock_t mu;      /* --online: readers (crec__rec_begin..end) share it; the learner (online.c) writes
                                 model and id maps under it, one mini-batch at a time (writer-preferring) */
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
    crec__route_metrics route[CREC__R_COUNT]; /* per line of the route table; rendered per label */
    atomic_ullong events_ingested, event_batches, reloads, reload_failures, auth_failures, body_rejected;
    atomic_ullong write_groups, write_requests;  /* group commits and the write requests they acknowledged */
    atomic_ullong requests_timed_out; /* connections closed: a request not fully received within its budget */
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
    char *frag;               /* the answer's JSON of the entry up to its score: {"id":..,"visible":..,"score": */
    size_t frag_len;
} crec__cat_entry;
typedef struct crec__catalog {
    pthread_rwlock_t lock;    /* readers hold it while they use entries */
    crec__cat_entry *e;       /* e[sid], sid in [1, n) */
    int64_t n, cap;
    crec_idmap ids;           /* external id -> dense; dense_sid[dense] = its current row id */
    int64_t *dense_sid;
    int64_t dcap;
    atomic_ullong gen;        /* bumped by every change (under the write lock): cached views compare it */
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

/* ---- the writer thread (writer.c): write requests, queued and group-committed ---- */
typedef struct crec__wjob {
    struct crec__wjob *next;
    struct MHD_Connection *conn; /* suspended while queued */
    crec__req q;
    crec__reply r;               /* filled by the writer before it resumes conn */
    atomic_int done;
} crec__wjob;

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
    /* writer.c */
    pthread_t wq_thread;
    pthread_mutex_t wq_mu;
    pthread_cond_t wq_cv;
    crec__wjob *wq_head, *wq_tail;
    int wq_running, wq_stop;
    int wq_test_delay_ms;     /* CREC_SERVE_TEST_WRITE_DELAY_MS (tests) */
    struct crec__conv *conv;  /* conversations (conv.c), NULL without --crs-model */
    struct crec__online *online; /* --online: the learner (online.c, serve/online.h); NULL without */
    struct crec__events *events; /* --events / --deltas: Redis Streams (events_redis.c, serve/events.h); NULL without */
    struct crec__deadlines *deadlines; /* each request's receive budget (deadline.c, serve/deadline.h) */
    crec_model *backup[CREC_SERVICE_MAX_CHAIN]; /* --fallback: the backup models after the served one (reccall.c) */
    int n_backup;
    int no_popular;           /* --fallback without "popular": no popular fallback */
    struct crec__series *series; /* GET /v1/metrics/series (series.c, serve/series.h) */
    crec__hist *hist;         /* users' histories in memory (histcache.h); NULL: --history-cache 0 or PostgreSQL */
};

/* Per-thread state of a pool thread: its store connection, the service's request and scratch, and the
 * catalog as the service sees it (crec_service_catalog over store row ids), rebuilt when the bundle or the
 * catalog changed since the last request of this thread. */
typedef struct crec__tls {
    crec_server *srv;
    crec_store *store;
    crec_service_request rq;
    crec_service_scratch sc;
    uint64_t view_version;    /* bundle version and catalog generation the view below was built for */
    unsigned long long view_gen;
    int32_t view_n;           /* catalog ids 0..view_n-1 (store row ids) */
    int32_t *to_model;        /* [view_n] model id of a row, -1 */
    int32_t *from_model;      /* [model n_items] row of a model item, -1 */
    uint8_t *allowed;         /* [view_n] live and visible */
    int64_t view_cap, from_cap;
    uint8_t *model_excl;      /* [model n_items] from_model -1 or not allowed (reccall.c, per view) */
    int64_t mexcl_cap;
    uint64_t mexcl_version;   /* the view (view_version, view_gen) model_excl was built for */
    unsigned long long mexcl_gen;
} crec__tls;
/* The calling thread's state (opening its store connection on first use), or NULL on failure. */
crec__tls *crec__tls_get(crec_server *s);
/* Bring t's catalog view up to date with bundle b and the server's catalog. 0 or CREC_ENOMEM / CREC_ERANGE. */
int crec__tls_view(crec__tls *t, const crec__bundle *b);
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
void crec__pop_sub(crec__pop *p, const int64_t *sids, int64_t n); /* one event fewer per entry */
void crec__pop_zero(crec__pop *p, int64_t sid);
int crec__pop_reload(crec__pop *p, crec_store *st);

/* The writer thread (writer.c). submit suspends j->conn and queues j: 0, or -1 when the writer is not
 * running (the caller answers inline). stop drains the queue first. */
int crec__writer_start(crec_server *s);
void crec__writer_stop(crec_server *s);
int crec__writer_submit(crec_server *s, crec__wjob *j);
/* After a committed write of route q (answered r), before it is acknowledged: drop the cached histories
 * (histcache.h) it touched, named by the handler in r->hist_users (freed here) where the route stages them
 * (writer.c; the writer thread and inline writes call it). */
void crec__hist_after_write(crec_server *s, const crec__req *q, crec__reply *r);

/* The server's state without (with_http 0) or with (1) its HTTP daemon: crec_server_start is open(o, 1). A state
 * opened without the daemon serves the calling thread; free that thread's crec__tls before crec_server_stop. */
int crec__server_open(const crec_serve_opts *o, int with_http, crec_server **out, char *err, size_t errn);

/* Conversations (conv.c): load the --crs-model over the current bundle's dataset; close frees (NULL-safe). */
int crec__conv_open(crec_server *s, const char *crs_model_path, const char *names_path, char *err, size_t errn);
void crec__conv_close(crec_server *s);

/* Keys (auth.c). */
int crec__auth_load(crec_server *s, const char *keys, const char *file, char *err, size_t errn);
void crec__auth_free(crec_server *s);
/* 1 when key[0..n) is one of the server's keys (compared in constant time). */
int crec__auth_key_ok(const crec_server *s, const char *key, size_t n);
/* 0: allowed; 401 no key given; 403 wrong key. */
int crec__auth_check(const crec_server *s, struct MHD_Connection *c);
#endif
