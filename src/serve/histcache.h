/* histcache.h: users' recent histories held in memory for the recommendation path (crec serve
 * --history-cache MB), so that a recommendation does not read the user's events from the store each time.
 *
 * The one idea: the store stays the system of record and the cache only ever holds what the store held at
 * some moment no older than the last acknowledged write that touched the user. An entry is filled by a reader
 * on its first miss, from the store, and is dropped - never patched - by whoever commits a write that touches
 * the user (the writer thread after its group's COMMIT and before any of the group is acknowledged; inline
 * writes right after theirs), or all at once by a generation bump (item deletion, reload, a failed commit,
 * any write route it cannot attribute to users). A reader that read the store before such a drop cannot put
 * its copy in afterwards: it takes a ticket (the global generation and its shard's generation) BEFORE the
 * store read, and the put is refused when either moved meanwhile.
 *
 * Shape: 64 shards, each a mutex, a chained hash of entries keyed by the user's external id and a FIFO for
 * eviction; a reader holds its shard's mutex only to copy an entry out (or to put one in); writers hold it
 * only to unlink. Memory is bounded by max_bytes (entries' arrays, names and headers counted); a user with
 * more than CREC__HIST_MAX_EVENTS events is not cached (read from the store every time). An entry keeps every
 * event of the user (items as store row ids, times, event types as indexes into the cache's own table of type
 * names), so seen-item exclusion and history_length are exactly the store's.
 *
 * Other processes writing the same store are not seen: the server turns the cache off for PostgreSQL (the
 * store several servers share); with SQLite, run --history-cache 0 when another process writes the file, or
 * reload (POST /v1/admin/reload, SIGHUP) after it did. */
#ifndef CREC_SERVE_HISTCACHE_H
#define CREC_SERVE_HISTCACHE_H

#include <stddef.h>
#include <stdint.h>

#define CREC__HIST_MAX_EVENTS 512  /* users with more events than this are not cached */
#define CREC__HIST_MAX_TYPES 256   /* the store's limit on event types */

typedef struct crec__hist crec__hist;

/* One user's events, oldest first: the unit copied in and out of the cache. */
typedef struct crec__hist_buf {
    int32_t sid[CREC__HIST_MAX_EVENTS];   /* store row id of the item; -1 past int32 (never in a view) */
    int64_t ts[CREC__HIST_MAX_EVENTS];
    uint8_t type[CREC__HIST_MAX_EVENTS];  /* index into the cache's type names (crec__hist_type_name) */
    int32_t n;
} crec__hist_buf;

/* Taken before the store read of a miss; crec__hist_put refuses the copy when a write intervened. */
typedef struct crec__hist_ticket {
    uint64_t gen, sgen;
    uint64_t hash;
} crec__hist_ticket;

typedef struct crec__hist_stats {
    uint64_t hits, misses, puts, refused, evicted, invalidated, clears;
    int64_t entries, bytes, max_bytes;
} crec__hist_stats;

/* max_bytes 0: no cache (*out = NULL, every call below is a no-op / a miss). 0 or CREC_ENOMEM. */
int crec__hist_open(size_t max_bytes, crec__hist **out);
void crec__hist_close(crec__hist *h); /* NULL-safe */
/* 1 and the user's events in *out on a hit; 0 on a miss, with *tk filled for crec__hist_put. */
int crec__hist_get(crec__hist *h, const char *user, size_t len, crec__hist_ticket *tk, crec__hist_buf *out);
/* Keep ev as user's history unless a write touched the user (or everything) since tk was taken. */
void crec__hist_put(crec__hist *h, const crec__hist_ticket *tk, const char *user, size_t len,
                    const crec__hist_buf *ev);
/* Drop user's entry (after a committed write touching the user, before it is acknowledged). */
void crec__hist_invalidate(crec__hist *h, const char *user, size_t len);
/* Drop every entry (a write the caller cannot attribute to users, a reload, a failed commit). */
void crec__hist_clear(crec__hist *h);
/* The index of an event type name in the cache's table (added on first sight; type may be NULL =
 * "interaction"), or -1 when the table is full. Names never move: crec__hist_type_name stays valid. */
int crec__hist_type(crec__hist *h, const char *type);
const char *crec__hist_type_name(const crec__hist *h, int idx);
int crec__hist_n_types(const crec__hist *h);
void crec__hist_stats_get(crec__hist *h, crec__hist_stats *st);
#endif
