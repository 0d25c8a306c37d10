/* events.h: `crec serve --events redis://...` and `--deltas redis://...` (events_redis.c).
 *
 * --events: the writer marks that its open group holds events (crec__events_stage); commit wakes the publisher
 * thread (drop: the commit failed). The publisher reads every event after the last one published from the store
 * (by store row id, crec_store_events_after) and XADDs them with the entry id "E-0", E the event's row id. --deltas: a thread reads row messages (crec/events.h) from a stream and writes
 * the rows into the served onlinemf model under the bundle's write lock. All no-ops without the options. */
#ifndef CREC_SERVE_EVENTS_H
#define CREC_SERVE_EVENTS_H

#include "serve/serve_internal.h"

typedef struct crec__events crec__events;

/* After the bundle is loaded: check the options and the model, start the threads. CREC_EINVAL /
 * CREC_EUNSUPPORTED with err set. */
int crec__events_start(crec_server *s, char *err, size_t errn);
/* After the writer and the daemon stopped: publish what is queued (when Redis answers), join, free. */
void crec__events_stop(crec_server *s);
void crec__events_stage(crec_server *s, const crec_store_event *ev, int64_t n);
void crec__events_commit(crec_server *s);
void crec__events_drop(crec_server *s);
/* Counters for /metrics and /v1/stats: 0 and *out filled when --events or --deltas is on, else -1. */
typedef struct crec__events_stats {
    unsigned long long published, already, failures, deltas_applied, rows_applied;
    unsigned long long last_event_id;
    int connected, deltas_connected;
} crec__events_stats;
int crec__events_get_stats(crec_server *s, crec__events_stats *out);
#endif
