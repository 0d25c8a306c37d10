/* serve.h: the HTTP recommendation server (libmicrohttpd, internal thread pool, JSON via jansson).
 *
 * The one idea: the store is the system of record and the model is a read-only, reference-counted snapshot
 * that can be swapped under load. Every request reads the user's events from the store (so an event counts
 * the moment it is acknowledged), scores with whatever model is current when it starts, and holds a
 * reference to that model until it answers, so a reload never fails an in-flight request.
 * Routes, limits and error shapes are documented in docs/SERVING.md and served at GET /openapi.json. */
#ifndef CREC_SERVE_H
#define CREC_SERVE_H

#include <stddef.h>
#include "crec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct crec_serve_opts {
    const char *db_path;       /* the store (created and migrated when needed) */
    const char *model_path;    /* a .crecm checkpoint */
    const char *data_path;     /* the dataset the model was trained on (.crecds), or NULL: the store's snapshot,
                                  which must then have exactly the model's users and items */
    const char *host;          /* numeric address or name to bind; default 127.0.0.1 */
    int port;                  /* 0: any free port (crec_server_port tells which) */
    int threads;               /* worker threads (MHD thread pool); default 2 */
    const char *api_keys;      /* comma-separated keys (e.g. from CREC_API_KEYS), or NULL */
    const char *api_key_file;  /* one key per line ('#' comments), or NULL */
    int require_key_for_reads; /* 1: reads need a key too (healthz, the dashboard page and openapi.json stay open) */
    int allow_open_writes;     /* 1: allow a non-loopback bind with no key (writes open to anyone) */
    size_t max_body;           /* largest request body in bytes (default 1 MiB); larger gets 413 */
    int sync_normal;           /* store durability: 0 = synchronous=FULL (default), 1 = NORMAL */
    int access_log;            /* 1: one line per request on stderr (route, status, milliseconds) */
    const char *crs_model_path; /* a user-item-attribute model (crec crs train): enables /v1/conversations; needs
                                  the dataset's item attributes (--data or the store's snapshot) */
    const char *crs_names_path; /* attribute display names for conversations: TSV id<TAB>name (or a 'name' column) */
    int conns_per_client;      /* most open connections from one client address (default 128 of the 1,000; behind
                                  a reverse proxy every client shares its address: raise it there) */
    const char *fallback;      /* the fallback chain, "model[,BACKUP.crecm...][,popular]" (default "model,popular"):
                                  backup models (trained on the served model's dataset) complete a short list,
                                  then the store's popularity; without "popular" a list can come back shorter */
    double request_timeout;    /* seconds a request's headers and body may take to arrive, however slowly they
                                  dribble, counted from the connection's opening or its previous answer (default 30);
                                  then the connection is closed */
    int online;                /* 1: acknowledged events teach the model while it serves (needs a model with the
                                  update hook, CREC_CAP_ONLINE); learned state is checkpointed to MODEL.online */
    double online_sync;        /* seconds between checkpoints of the learned state (default 10) */
    const char *events_url;    /* redis://HOST:PORT/STREAM: every acknowledged event is also XADDed there (after
                                  COMMIT, by a publisher thread; docs/SERVING.md), or NULL */
    const char *deltas_url;    /* redis://HOST:PORT/STREAM: apply the row messages of crec stream train to the served
                                  onlinemf model while serving, or NULL */
    int history_cache_mb;      /* MiB of users' histories held in memory for recommendations (default 64; 0 = off,
                                  every request reads the store; always off for PostgreSQL, which other processes
                                  write): filled on a user's first request, dropped by every write touching the user
                                  before it is acknowledged, all dropped on reload (src/serve/histcache.h) */
} crec_serve_opts;

CREC_API void crec_serve_opts_defaults(crec_serve_opts *o);

typedef struct crec_server crec_server;

/* Open the store, load the model and its id maps, bind and start the worker threads. On failure *out is NULL
 * and err says why: CREC_EINVAL (bad options, no key on a public bind), CREC_ENOTFOUND (model or data file
 * missing), CREC_ESTATE (model and data do not match), CREC_ENET (cannot bind), or the store's error. */
CREC_API int crec_server_start(const crec_serve_opts *o, crec_server **out, char *err, size_t errn);
/* The bound TCP port (the chosen one when opts.port was 0). */
CREC_API int crec_server_port(const crec_server *s);
/* Load a model (model_path NULL: the current path again; data_path NULL: the configured dataset, else the
 * store's snapshot) and swap it in atomically; requests already running finish with the old one. */
CREC_API int crec_server_reload(crec_server *s, const char *model_path, const char *data_path, char *err, size_t errn);
/* Stop accepting, finish running requests, close everything. NULL is a no-op. */
CREC_API void crec_server_stop(crec_server *s);

#ifdef __cplusplus
}
#endif
#endif
