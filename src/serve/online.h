/* online.h: `crec serve --online` - the learner that teaches the served model the events the server
 * acknowledges (online.c).
 *
 * The one idea: the writer thread only hands over what it committed; a learner thread of its own maps the events'
 * external ids to model ids (growing the bundle's id maps and the model's id space for new users and items) and
 * applies them with crec_model_update under the bundle's rwlock, one short mini-batch at a time, so readers
 * never see a half-updated model. On a schedule the learned state is checkpointed next to the model
 * (MODEL.online + MODEL.online.ids, each written to a temporary, fsync'd, renamed) and loaded back at start. */
#ifndef CREC_SERVE_ONLINE_H
#define CREC_SERVE_ONLINE_H

#include "serve/serve_internal.h"

typedef struct crec__online crec__online;

typedef struct crec__online_stats {
    unsigned long long applied, batches, failed, queued, syncs, sync_failures, evictions, staged_dropped;
    double lag_last, lag_max;        /* seconds from acknowledgement (commit) to applied */
    double batch_last_s, batch_max_s; /* seconds the learner held the write lock for one mini-batch */
    double sync_last_s;              /* seconds the last checkpoint took (write lock held) */
    double last_sync_unix;           /* 0: none yet */
    int64_t users, items;            /* the model's id space */
    int64_t rows, table_bytes;       /* rows of the online table (onlinemf), its heap bytes; -1 unknown */
    double sync_interval;
} crec__online_stats;

/* After the first bundle is loaded: check that the model can learn (CREC_EINVAL and a message naming the models
 * that can otherwise), load MODEL.online when present, start the learner thread. */
int crec__online_start(crec_server *s, char *err, size_t errn);
/* Apply what is queued, write a last checkpoint, join the thread, free. NULL online: no-op. */
void crec__online_stop(crec_server *s);
/* The write path (write_mu held): stage the events the store accepted; commit hands the staged ones to the
 * learner after the store committed them (their acknowledgement time is now); drop forgets them (the commit
 * failed). All no-ops without --online. */
void crec__online_stage(crec_server *s, const crec_store_event *ev, int64_t n);
void crec__online_commit(crec_server *s);
void crec__online_drop(crec_server *s);
/* Reloads: hold(1) applies what is queued, checkpoints and keeps the learner off until hold(0); attach loads
 * the checkpoint into a freshly loaded bundle (not yet served). */
void crec__online_hold(crec_server *s, int on);
int crec__online_attach(crec_server *s, crec__bundle *b, char *err, size_t errn);
/* 0 and *out filled with --online; -1 without. */
int crec__online_get_stats(crec_server *s, crec__online_stats *out);
#endif
