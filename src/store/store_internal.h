/* store_internal.h: private parts of the store shared by store.c, snapshot.c, store_api.c and conv.c: the
 * connection struct (a driver connection, db.h: SQLite or PostgreSQL), the cached statements and the id
 * helpers used inside a transaction. */
#ifndef CREC_STORE_INTERNAL_H
#define CREC_STORE_INTERNAL_H

#include "crec/store.h"
#include "store/db.h"

typedef enum {
    ST_BEGIN, ST_BEGIN_READ, ST_WRITE_LOCK, ST_COMMIT, ST_ROLLBACK, ST_SAVEPOINT, ST_RELEASE, ST_ROLLBACK_TO,
    ST_USER_ID, ST_USER_ADD, ST_ITEM_ID, ST_TYPE_ID, ST_TYPE_ADD, ST_EVENT_ADD,
    ST_USER_EVENTS, ST_USER_EVENTS_LAST, ST_USER_COUNT, ST_USER_DEL_EVENTS, ST_USER_DEL,
    ST_ITEM_COUNTS, ST_ITEM_MAXID, ST_ITEM_GET, ST_ITEM_GET_SID, ST_ITEM_ATTRS, ST_ITEM_NEVENTS,
    ST_ITEM_INSERT, ST_ITEM_UPDATE, ST_ITEM_ATTRS_DEL, ST_ITEM_ATTR_ADD, ST_ITEM_DEL_EVENTS, ST_ITEM_DEL,
    ST_ITEMS_WITH_ATTR, ST_ITEMS_LIST, ST_USER_SIDS, ST_SCAN_ITEMS, ST_SCAN_ATTRS,
    ST__COUNT
} crec__stmt_id;

struct crec_store {
    crec_db *db;
    crec_dbst *stmt[ST__COUNT];  /* prepared on first use, finalized by crec_store_close */
    struct { char name[64]; int64_t id; } type_cache[16];  /* committed event types only */
    int n_types_cached;
    int group;                      /* inside crec_store_group_begin: writes are savepoints */
};

/* The cached statement `id`, reset and unbound; NULL when preparing failed (see crec_store_errmsg). */
crec_dbst *crec__store_stmt(crec_store *s, crec__stmt_id id);
/* A driver result (db.h) -> CREC_E* (0 for rows and done). */
static inline int crec__store_rc(int db_rc) { return db_rc < 0 ? db_rc : 0; }
/* 1 on PostgreSQL (for the few statements whose dialects differ). */
static inline int crec__store_pg(const crec_store *s) { return crec__db_kind(s->db) == CREC_DB_PG; }
/* The events counters' triggers (schema 3), shared by the migration and the bulk import, which drops the insert
 * trigger for its rows and adds their count in one statement. min_ts / max_ts follow inserts; a delete at either
 * end only marks them stale (ts_stale = 1): the delete paths recompute them, and statistics read MIN/MAX(ts)
 * themselves while they are stale. */
#define CREC__SQL_EVENTS_INS_TRIGGER                                                                    \
    "CREATE TRIGGER events_count_ins AFTER INSERT ON events BEGIN"                                      \
    "  UPDATE counters SET value = value + 1 WHERE name = 'events';"                                    \
    "  UPDATE counters SET value = MIN(COALESCE(value, NEW.ts), NEW.ts) WHERE name = 'min_ts';"         \
    "  UPDATE counters SET value = MAX(COALESCE(value, NEW.ts), NEW.ts) WHERE name = 'max_ts'; END;"
#define CREC__SQL_EVENTS_DEL_TRIGGER                                                                    \
    "CREATE TRIGGER events_count_del AFTER DELETE ON events BEGIN"                                      \
    "  UPDATE counters SET value = value - 1 WHERE name = 'events';"                                    \
    "  UPDATE counters SET value = 1 WHERE name = 'ts_stale' AND value = 0 AND"                         \
    "    (OLD.ts <= (SELECT value FROM counters WHERE name = 'min_ts') OR"                              \
    "     OLD.ts >= (SELECT value FROM counters WHERE name = 'max_ts')); END;"
/* Recompute min_ts / max_ts when a delete made them stale (a scan, only after deleting an end event). */
int crec__store_fix_ts(crec_store *s);

/* One write: BEGIN IMMEDIATE ... COMMIT, or inside a group (crec_store_group_begin) SAVEPOINT ... RELEASE,
 * so every write function works alone and as part of a group commit without knowing which. */
int crec__store_begin(crec_store *s);
int crec__store_commit(crec_store *s);
void crec__store_rollback(crec_store *s); /* no-op outside a transaction; in a group: back to the savepoint */
/* Row id of a user (creating it when create), of an item, of an event type (created when new; CREC_ERANGE past
 * 256). Negative CREC_E* on failure; CREC_ENOTFOUND when absent and not created. */
int64_t crec__store_user_sid(crec_store *s, const char *user, int create);
int64_t crec__store_item_sid(crec_store *s, const char *item, size_t len);
int64_t crec__store_type_id(crec_store *s, const char *name);
/* Step an INSERT ... RETURNING id statement (bound by the caller) and reset it: the new row id, or a negative
 * CREC_E* (st NULL: the failed prepare's error). */
int64_t crec__store_insert_id(crec_store *s, crec_dbst *st);
/* Insert or update one item inside the caller's transaction; *sid (may be NULL) gets its row id. */
int crec__store_item_write(crec_store *s, const crec_store_item *it, crec_store_put_mode mode, int *created,
                           int64_t *sid);
/* PostgreSQL's migration steps (schema_pg.c): the same steps as SQLite's, in PostgreSQL's DDL. */
extern const char *const crec__store_pg_migrations[CREC_STORE_SCHEMA_VERSION];
/* The transaction-scoped advisory lock every PostgreSQL write transaction takes ("CREC"). */
#define CREC__PG_LOCK_KEY "1129465155"
#endif
