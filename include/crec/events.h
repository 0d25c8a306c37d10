/* events.h: the event path through Redis Streams (issue 17): the server publishes acknowledged events to a
 * stream, online trainers consume it in a consumer group, and servers pick up the trainers' table rows.
 *
 * The one idea: every message carries something stable, so whoever receives it twice can tell. An event entry's
 * stream id is "E-0", E the store's row id of the event: the publisher can republish from the store after an
 * outage and Redis itself refuses an entry it already holds (XADD with an id not above the stream's top); the
 * trainer skips an event id it already applied. A row message carries absolute row values (vector and optimizer
 * state) keyed by external id, never increments: applying one twice, or an older one after a newer one from the
 * same trainer, leaves rows as the last one applied says (last-writer-wins per row).
 *
 * Row message ("rows" field of a delta stream entry, or a file), little-endian:
 *   magic "CRECRM\0\1", u32 dim, u32 state_dim, u32 optim,
 *   u64 n_removed, n_removed x (u8 kind, str name),
 *   u64 n_rows,    n_rows x (u8 kind, str name, i64 touch, dim floats vector, state_dim floats state)
 * where kind is 1 (user) or 2 (item) - the onlinemf table's key spaces - and str is u32 length + bytes. */
#ifndef CREC_EVENTS_H
#define CREC_EVENTS_H

#include "crec/common.h"
#include "crec/online.h"

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this build can talk to Redis (hiredis found at configure time), else 0: every Redis call then returns
 * CREC_EUNSUPPORTED and says "built without Redis support". */
CREC_API int crec_events_have_redis(void);

/* redis://HOST[:PORT]/STREAM (port default 6379; HOST a name, an IPv4 address or [IPv6]; STREAM 1..200 bytes of
 * [A-Za-z0-9_.:{}-]). 0, or CREC_EINVAL with err naming what is wrong. */
typedef struct crec_redis_url {
    char host[256];
    int port;
    char stream[256];
} crec_redis_url;
CREC_API int crec_redis_url_parse(const char *url, crec_redis_url *out, char *err, size_t errn);

/* Stream entry ids "MS-SEQ": parse (0 or CREC_EPARSE) and format the event entry id of store event id e ("e-0"). */
CREC_API int crec_redis_id_parse(const char *s, size_t n, uint64_t *ms, uint64_t *seq);
CREC_API void crec_redis_event_id(uint64_t event_id, char *buf, size_t n);

/* Row messages. crec_rowmsg_from_export turns an onlinemf table export (crec_online_table_export, full or delta,
 * read from in->pos) into a row message appended to out, naming each row through name(ctx, kind, dense id) (NULL:
 * the row is skipped; keys of other kinds are skipped). *n_rows (may be NULL) gets the rows written.
 * crec_rowmsg_foreach walks a message: on_row gets each row (vec and state aligned copies, valid during the call),
 * on_removed each removed name (may be NULL). A callback's non-zero return stops the walk and is returned.
 * CREC_EFORMAT on a corrupt or truncated message. */
typedef const char *(*crec_rowmsg_name_fn)(void *ctx, int kind, int32_t dense);
CREC_API int crec_rowmsg_from_export(crec_buf *in, crec_rowmsg_name_fn name, void *ctx, crec_buf *out,
                                     uint64_t *n_rows);
typedef struct crec_rowmsg_row {
    int kind;             /* 1 user, 2 item */
    const char *name;     /* external id, NUL-terminated, valid during the call */
    int64_t touch;
    const float *vec;     /* dim floats */
    const float *state;   /* state_dim floats (NULL when 0) */
} crec_rowmsg_row;
typedef struct crec_rowmsg_head {
    int dim, state_dim, optim;
    uint64_t n_removed, n_rows;
} crec_rowmsg_head;
CREC_API int crec_rowmsg_foreach(const void *msg, size_t len, crec_rowmsg_head *head,
                                 int (*on_row)(void *ctx, const crec_rowmsg_row *r),
                                 int (*on_removed)(void *ctx, int kind, const char *name), void *ctx);

/* ---- the online trainer: crec stream train (src/events/train.c) ----
 * Consumes the event stream with XREADGROUP in group `group` as `consumer` (its own pending entries first, then
 * new ones), applies each event to an onlinemf model (crec_omf_learn, mini-batches of `batch`), skips event ids it
 * already applied, and every `every` events or `every_s` seconds publishes the rows touched since the last time
 * (a row message: XADD to deltas_url's stream and / or a file in out_dir/deltas), saves its state
 * (out_dir/CONSUMER.state: model, ids, the event ids applied since the last acknowledged publication, counters;
 * written to a temporary, fsync'd, renamed) and only then XACKs the entries it applied. Killed at any point and
 * restarted with the same out_dir and consumer, it resumes: nothing is lost, and nothing counts twice in its state. */
typedef struct crec_events_train_opts {
    const char *events_url;   /* redis://HOST:PORT/STREAM (required) */
    const char *group, *consumer;
    const char *deltas_url;   /* redis://HOST:PORT/STREAM for row messages, or NULL */
    const char *out_dir;      /* state and (write_files) delta files (required) */
    int write_files;          /* 1: also out_dir/deltas/CONSUMER-SEQ.rows */
    const char *init_model;   /* an onlinemf .crecm to start from (NULL: an empty model from cfg) */
    const char *init_data;    /* the dataset init_model was trained on (its ids), with init_model */
    const crec_config *cfg;   /* onlinemf hyper-parameters without init_model (NULL: defaults) */
    int64_t every;            /* publish every N applied events (default 1000) */
    double every_s;           /* ... or every S seconds when something is unpublished (default 1) */
    int batch;                /* events per mini-batch (default 64) */
    int read_count;           /* entries per XREADGROUP (default 512) */
    int64_t max_events;       /* stop after applying this many in this run (0: no limit) */
    double idle_exit_s;       /* stop after this long without new entries (0: never; SIGINT / SIGTERM stop) */
    int progress;             /* one line per publication on stderr */
    volatile int *stop;       /* set non-zero to stop (publishes first); may be NULL */
} crec_events_train_opts;
CREC_API void crec_events_train_opts_default(crec_events_train_opts *o);
typedef struct crec_events_train_result {
    uint64_t applied_run, skipped_run, published_run, acked_run; /* this run */
    uint64_t applied_total, id_sum;   /* durable state: events applied (each once), the sum of their event ids */
    uint64_t publications, rows_published, bytes_published;     /* durable state: all runs */
    double seconds, max_lag_s;        /* this run; lag: entry read -> acknowledged */
} crec_events_train_result;
CREC_API int crec_events_train(const crec_events_train_opts *o, crec_events_train_result *res, char *err, size_t errn);

#ifdef __cplusplus
}
#endif
#endif
