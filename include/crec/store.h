/* store.h: the store behind the server (SQLite, or PostgreSQL for a postgresql:// URL): users, items (title, text, attributes, visible flag),
 * user features and events, with a versioned schema migrated on open.
 *
 * The one idea: the store is the system of record and a crec_dataset is a snapshot of it. `crec db import`
 * fills a store from any dataset in one transaction; crec_store_snapshot turns the store back into a
 * crec_dataset (ids dense in store row order) so every model trains from it unchanged. Writes run in one
 * transaction each and return only after COMMIT: a caller that acknowledges after crec_store_add_events
 * returned 0 never acknowledges an event that a crash can lose (WAL, synchronous=FULL by default).
 *
 * A crec_store is one SQLite connection: use it from one thread at a time (open one per thread; SQLite's WAL
 * lets readers run beside the one writer, and writers wait up to busy_timeout_ms for each other).
 * PostgreSQL (path = "postgresql://..." or "postgres://...", a libpq URL): the same functions, schema steps and
 * guarantees over one libpq connection per crec_store; several processes share the database, write
 * transactions are serialized by an advisory lock (busy_timeout_ms = lock_timeout), acknowledged = committed
 * (synchronous_commit=on; sync_normal sets it off). See docs/SERVING.md. */
#ifndef CREC_STORE_H
#define CREC_STORE_H

#include "crec/dataset.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Schema version written to PRAGMA user_version; older stores are migrated step by step on open. */
#define CREC_STORE_SCHEMA_VERSION 5
/* Longest external id (user, item, event type, attribute) the store accepts, in bytes. */
#define CREC_STORE_MAX_ID 256

typedef struct crec_store crec_store;

typedef struct crec_store_opts {
    int readonly;         /* 1: open read-only (no migration; an old schema gives CREC_EVERSION) */
    int sync_normal;      /* 0: synchronous=FULL (a commit survives power loss); 1: NORMAL (survives a crash
                             of the process, may lose the last commits on power loss; faster) */
    int busy_timeout_ms;  /* how long a writer waits for another; 0 = 5000 */
    int no_create;        /* 1: a missing file is CREC_ENOTFOUND instead of a new store */
} crec_store_opts;

/* Open (creating when absent) the store at path - a SQLite file, or a PostgreSQL URL (the database must exist;
 * the store's tables are made in it, in the schema search_path names) - and migrate it to
 * CREC_STORE_SCHEMA_VERSION. o may be NULL (defaults). On failure *out is NULL, err holds the reason, and the
 * code is CREC_EFORMAT (not a SQLite file, or a SQLite file / PostgreSQL schema of another application),
 * CREC_EVERSION (written by a newer crec), CREC_ENOTFOUND (no_create and no file / no store in the database),
 * CREC_EUNSUPPORTED (a URL, and crec built without libpq) or CREC_EIO (e.g. cannot connect). The caller closes
 * *out with crec_store_close. */
CREC_API int crec_store_open(const char *path, const crec_store_opts *o, crec_store **out, char *err, size_t errn);

/* Group commit. Between group_begin (BEGIN IMMEDIATE) and group_commit (COMMIT: one fsync for all of them)
 * every write function runs as a savepoint: a write that fails undoes only itself, and one that returned 0 is
 * durable only once group_commit returned 0 (on failure the whole group is rolled back). The server's writer
 * thread uses it to acknowledge many concurrent requests with one fsync. group_rollback abandons the group. */
CREC_API int crec_store_group_begin(crec_store *s);
CREC_API int crec_store_group_commit(crec_store *s);
CREC_API void crec_store_group_rollback(crec_store *s);
CREC_API void crec_store_close(crec_store *s);
/* The schema version of the open store (PRAGMA user_version; PostgreSQL: crec_schema.version). */
CREC_API int crec_store_schema_version(crec_store *s);
/* Migrate the store's schema up to `version` (<= CREC_STORE_SCHEMA_VERSION), one transaction per step.
 * crec_store_open calls it with the latest version; tests call it to build older layouts. */
CREC_API int crec_store_migrate(crec_store *s, int version);
/* Message of the last SQLite / PostgreSQL error on this connection (static or connection-owned; never NULL). */
CREC_API const char *crec_store_errmsg(crec_store *s);

/* Group the reads that follow into one read transaction (one consistent view, one lock acquisition instead of
 * one per statement) until crec_store_read_end. Writes must not be issued inside. Both return 0 or CREC_E*. */
CREC_API int crec_store_read_begin(crec_store *s);
CREC_API int crec_store_read_end(crec_store *s);

typedef struct crec_store_stats {
    int64_t n_users, n_items, n_hidden_items, n_events, n_event_types, n_attrs;
    int64_t min_ts, max_ts;  /* over events; 0 when there are none */
} crec_store_stats;
CREC_API int crec_store_stats_get(crec_store *s, crec_store_stats *st);

/* ---- bulk ---- */
typedef struct crec_store_import_result {
    int64_t users_added, items_added, events_added, attrs_added;
    double seconds;
} crec_store_import_result;
/* Add every user, item (with title, text, attributes), user feature and event of ds in ONE transaction
 * (all or nothing). Items already in the store keep their row and get ds's title/text when ds has one.
 * Events are appended: importing the same dataset twice doubles them. r may be NULL. */
CREC_API int crec_store_import(crec_store *s, const crec_dataset *ds, crec_store_import_result *r);
/* A snapshot of the whole store as a new dataset (*out, caller frees; NULL on failure). Dense id = store row
 * id - 1 for users and items: a deleted row stays as a placeholder without events whose name starts with
 * byte 0x7f, so a later snapshot extends an earlier one (same ids, new rows after). A store filled by
 * crec_store_import from D into an empty store gives D's dense ids back. Events in insertion order; hidden
 * items are included (their events are history). ds->name is the name of the first imported dataset, or
 * "store". */
CREC_API int crec_store_snapshot(crec_store *s, crec_dataset **out);

/* ---- events ---- */
typedef struct crec_store_event {
    const char *user, *item;  /* external ids (NUL-terminated) */
    const char *type;         /* event type name; NULL = "interaction" */
    float value;
    int64_t ts;               /* seconds since the epoch (any integer the caller uses as time) */
} crec_store_event;
/* Append n events in ONE transaction; returns after COMMIT. Unknown users are created; an unknown item is
 * CREC_ENOTFOUND and nothing is written (*bad = its index). More than 255 event types is CREC_ERANGE.
 * item_sid (may be NULL) receives the store row id of each event's item (for popularity counters). */
CREC_API int crec_store_add_events(crec_store *s, const crec_store_event *ev, int64_t n, int64_t *item_sid,
                                   int64_t *bad);

/* Called once per event of a user, oldest first (ties in insertion order). item is the external id,
 * valid only during the call. Return nonzero to stop. */
typedef int (*crec_store_event_cb)(void *ctx, int64_t item_sid, const char *item, size_t item_len, const char *type,
                                   float value, int64_t ts);
/* Walk user's events (all of them, or only the newest `last` when last > 0, still oldest first).
 * *n_events (may be NULL) gets the user's total event count. CREC_ENOTFOUND when the user does not exist. */
CREC_API int crec_store_user_events(crec_store *s, const char *user, int64_t last, crec_store_event_cb cb, void *ctx,
                                    int64_t *n_events);
/* The store row ids of user's items, oldest event first (ties in insertion order), into the caller's
 * growable buffer (*sids, *cap; realloc'd as needed, caller frees); *n gets the count. The lean form of
 * crec_store_user_events for the request path. CREC_ENOTFOUND when the user does not exist (*n = 0). */
CREC_API int crec_store_user_item_sids(crec_store *s, const char *user, int64_t **sids, int64_t *cap, int64_t *n);
/* Delete a user and all their events and features (the right to erasure); *n_events (may be NULL) gets how
 * many events went. CREC_ENOTFOUND when there is no such user. */
CREC_API int crec_store_delete_user(crec_store *s, const char *user, int64_t *n_events);
/* Events per item: (*counts)[sid] for sid in [0, *n) (caller frees). */
CREC_API int crec_store_item_counts(crec_store *s, int64_t **counts, int64_t *n);

/* ---- items ---- */
typedef struct crec_store_item {
    int64_t sid;          /* store row id (out) */
    char *id, *title, *text;  /* title/text may be NULL */
    char **attrs;         /* n_attrs attribute names, sorted */
    int n_attrs;
    int visible;
    int64_t n_events;     /* events on this item (filled by get when asked) */
} crec_store_item;
CREC_API void crec_store_item_clear(crec_store_item *it); /* frees the strings, zeroes it */

typedef enum {
    CREC_STORE_CREATE = 0,  /* CREC_EEXISTS when the id exists */
    CREC_STORE_REPLACE,     /* create or replace title, text, attributes and visible */
    CREC_STORE_UPDATE,      /* CREC_ENOTFOUND when absent; replaces the fields */
} crec_store_put_mode;
/* Write an item (id, title, text, attrs, visible read from it; sid ignored) in one transaction.
 * *created (may be NULL) is 1 when a new row was made. */
CREC_API int crec_store_item_put(crec_store *s, const crec_store_item *it, crec_store_put_mode mode, int *created);
/* Read the item with external id `id` into *it (caller clears). with_attrs: also read attributes;
 * with_count: also count its events. CREC_ENOTFOUND when absent. */
CREC_API int crec_store_item_get(crec_store *s, const char *id, size_t len, int with_attrs, int with_count,
                                 crec_store_item *it);
/* The same by store row id. */
CREC_API int crec_store_item_get_sid(crec_store *s, int64_t sid, int with_attrs, crec_store_item *it);
/* Delete an item and the events on it; *n_events (may be NULL) gets how many events went. */
CREC_API int crec_store_item_delete(crec_store *s, const char *id, int64_t *n_events);
/* Called per item: sid, external id (valid during the call). Return nonzero to stop. */
typedef int (*crec_store_item_cb)(void *ctx, int64_t sid, const char *id, size_t len, int visible);
/* Every item with its attributes (text left NULL), in row order; it is valid only during the call. */
typedef int (*crec_store_item_full_cb)(void *ctx, const crec_store_item *it);
CREC_API int crec_store_items_scan(crec_store *s, crec_store_item_full_cb cb, void *ctx);
/* Items that carry attribute attr (in row order). */
CREC_API int crec_store_items_with_attr(crec_store *s, const char *attr, crec_store_item_cb cb, void *ctx);
/* Items in row order starting after row id `after` (0 = from the first), at most limit. */
CREC_API int crec_store_items_list(crec_store *s, int64_t after, int64_t limit, crec_store_item_cb cb, void *ctx);

/* ---- conversations (crec serve --crs-model; src/store/conv.c) ----
 * One row per conversation: its owner (external user id or NULL), the conversational state and the
 * transcript as JSON text, finished or not, created/updated (unix seconds). Each write is one transaction (a
 * savepoint inside a group commit). */
typedef struct crec_store_conv {
    int64_t id;
    char *user, *state, *transcript; /* malloc'd; user may be NULL */
    int done;
    int64_t created, updated;
} crec_store_conv;
/* Insert a conversation; *id gets its row id. */
CREC_API int crec_store_conv_create(crec_store *s, const char *user, const char *state, const char *transcript,
                                    int64_t now, int64_t *id);
/* Read conversation id into *c (crec_store_conv_clear frees it). CREC_ENOTFOUND when there is none. */
CREC_API int crec_store_conv_get(crec_store *s, int64_t id, crec_store_conv *c);
/* Replace its state and transcript. CREC_ENOTFOUND when there is none. */
CREC_API int crec_store_conv_update(crec_store *s, int64_t id, const char *state, const char *transcript, int done,
                                    int64_t now);
CREC_API void crec_store_conv_clear(crec_store_conv *c);

/* ---- the server's Gorse-style API (store_api.c): labels, one attribute, creation times, feedback ---- */
#define CREC_STORE_MAX_ATTRS 1000  /* attributes of one item that crec_store_item_attr lets it reach */
/* Create user (when absent) and replace their labels (user_attrs) with labels[0..n_labels) in one write.
 * *created (may be NULL) is 1 when the user was new. */
CREC_API int crec_store_user_put(crec_store *s, const char *user, const char *const *labels, int n_labels, int *created);
/* The labels of user, sorted (*labels: caller frees with crec_store_labels_free). CREC_ENOTFOUND: no user. */
CREC_API int crec_store_user_labels(crec_store *s, const char *user, char ***labels, int *n);
CREC_API void crec_store_labels_free(char **labels, int n);
/* Users in row order after row id `after` (0: from the first), at most limit; cb returns nonzero to stop. */
typedef int (*crec_store_user_cb)(void *ctx, int64_t sid, const char *id, size_t len);
CREC_API int crec_store_users_list(crec_store *s, int64_t after, int64_t limit, crec_store_user_cb cb, void *ctx);
/* Users whose id starts with prefix ("" : all), in byte order of their ids, after the id `after` (NULL: from the
 * first), at most limit; an index range read, not a scan. cb returns nonzero to stop. */
CREC_API int crec_store_users_prefix(crec_store *s, const char *prefix, const char *after, int64_t limit,
                                     crec_store_user_cb cb, void *ctx);
/* Add (add 1) or remove (0) one attribute of an item in one write; *changed (may be NULL) is 1 when the
 * item's attributes changed. CREC_ENOTFOUND: no such item; CREC_ERANGE: the item has CREC_STORE_MAX_ATTRS. */
CREC_API int crec_store_item_attr(crec_store *s, const char *item, const char *attr, int add, int *changed);
/* An item's creation time (seconds since the epoch, set by the store at insert; 0 for items made before the
 * store kept it) and its change. CREC_ENOTFOUND: no such item. */
CREC_API int crec_store_item_created(crec_store *s, const char *item, int64_t *created);
CREC_API int crec_store_item_set_created(crec_store *s, const char *item, int64_t created);
/* The k newest items (creation time, then row id, descending). */
CREC_API int crec_store_items_latest(crec_store *s, int64_t k, crec_store_item_cb cb, void *ctx);
/* One stored event, as the feedback routes list it; strings valid during the callback. */
typedef struct crec_store_feedback {
    int64_t id;               /* event row id: the paging cursor */
    const char *user, *item, *type;
    double value;
    int64_t ts;
} crec_store_feedback;
typedef int (*crec_store_feedback_cb)(void *ctx, const crec_store_feedback *f);
/* The events of a user (by_item 0) or an item (1), of one type (NULL: all), with row id > after, in row
 * (insertion) order, at most limit. CREC_ENOTFOUND when the user / item does not exist. */
CREC_API int crec_store_feedback_list(crec_store *s, int by_item, const char *id, const char *type, int64_t after,
                                      int64_t limit, crec_store_feedback_cb cb, void *ctx);
/* Every stored event with row id > after, in row id order, at most limit: what a follower of the store (the
 * --events publisher) reads. Row ids are never reused and writers are serialised, so a reader that pages with the
 * largest id it saw misses nothing committed before its snapshot. */
CREC_API int crec_store_events_after(crec_store *s, int64_t after, int64_t limit, crec_store_feedback_cb cb, void *ctx);
/* The largest event row id stored now (0 when there are none). */
CREC_API int crec_store_events_max_id(crec_store *s, int64_t *id);
/* Delete the events of user on item (of one type; NULL: all) in one write; *n gets how many, *item_sid (may be
 * NULL) the item's row id. CREC_ENOTFOUND when the user or the item does not exist. */
CREC_API int crec_store_feedback_delete(crec_store *s, const char *user, const char *item, const char *type, int64_t *n,
                                        int64_t *item_sid);
typedef enum {
    CREC_STORE_APPEND = 0,  /* every event is a new row (crec_store_add_events) */
    CREC_STORE_INSERT,      /* an event whose (user, item, type) is stored already is skipped */
    CREC_STORE_UPSERT,      /* ... or replaces the stored value and time of every such row */
} crec_store_add_mode;
/* crec_store_add_events with a mode; item_sid[k] is -1 for an event that added no row; *n_written (may be NULL)
 * gets the rows added or updated. */
/* Create or replace items[0..n) in ONE write (all or nothing: *bad gets the index of the one that failed);
 * *n_created (may be NULL) gets how many were new. */
CREC_API int crec_store_items_put_batch(crec_store *s, const crec_store_item *items, int64_t n, int64_t *bad,
                                        int64_t *n_created);
/* The k users whose item sets are most like user's (Jaccard |A n B| / |A u B| over distinct items; ties by row
 * id), with the count of items in common. CREC_ENOTFOUND when there is no such user. */
typedef int (*crec_store_simuser_cb)(void *ctx, const char *user, double score, int64_t common);
CREC_API int crec_store_similar_users(crec_store *s, const char *user, int64_t k, crec_store_simuser_cb cb, void *ctx);
CREC_API int crec_store_add_events_mode(crec_store *s, const crec_store_event *ev, int64_t n, crec_store_add_mode mode,
                                        int64_t *item_sid, int64_t *bad, int64_t *n_written);

#ifdef __cplusplus
}
#endif
#endif
