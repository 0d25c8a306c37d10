/* store.c: the store: open, schema migrations, statistics, events, users and items - over SQLite (a file) or
 * PostgreSQL (a postgresql:// URL), through the driver layer of db.h.
 *
 * The one idea: the schema is a list of migration steps and a version (PRAGMA user_version in SQLite, the
 * crec_schema row in PostgreSQL) says how many have run; open runs the missing ones, each in its own write
 * transaction that re-reads the version first, so two processes opening an old store at once migrate it once.
 * Every write is one transaction that returns after COMMIT (SQLite: WAL, synchronous=FULL unless asked for
 * NORMAL; PostgreSQL: synchronous_commit=on), so "returned 0" means "on disk".
 * Prepared statements are cached per connection (one crec_store = one connection = one thread at a time).
 * Bulk import and the dataset snapshot live in snapshot.c. */
#include "store/store_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/util.h"

#define STORE_APP_ID 0x43524543 /* "CREC" in PRAGMA application_id */

/* Migration steps: MIGRATIONS[v - 1] takes a store from user_version v-1 to v. Never edit a released step;
 * add a new one and raise CREC_STORE_SCHEMA_VERSION. */
static const char *const MIGRATIONS[CREC_STORE_SCHEMA_VERSION] = {
    /* 1: users, items, event types, events by user, key/value metadata */
    "CREATE TABLE users(id INTEGER PRIMARY KEY AUTOINCREMENT, ext TEXT NOT NULL UNIQUE);"
    "CREATE TABLE items(id INTEGER PRIMARY KEY AUTOINCREMENT, ext TEXT NOT NULL UNIQUE, title TEXT, text TEXT,"
    "  visible INTEGER NOT NULL DEFAULT 1);"
    "CREATE TABLE event_types(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "INSERT INTO event_types(id, name) VALUES (0, 'interaction');"
    "CREATE TABLE events(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
    "  type INTEGER NOT NULL DEFAULT 0 REFERENCES event_types(id),"
    "  value REAL NOT NULL DEFAULT 1, ts INTEGER NOT NULL);"
    "CREATE INDEX events_by_user ON events(user_id, ts);"
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;",
    /* 2: item attributes (category filters), user features, events by item (popularity, item deletion) */
    "CREATE TABLE item_attrs(item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE, attr TEXT NOT NULL,"
    "  PRIMARY KEY(item_id, attr)) WITHOUT ROWID;"
    "CREATE INDEX item_attrs_by_attr ON item_attrs(attr);"
    "CREATE TABLE user_attrs(user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE, attr TEXT NOT NULL,"
    "  PRIMARY KEY(user_id, attr)) WITHOUT ROWID;"
    "CREATE INDEX events_by_item ON events(item_id);",
    /* 3: counters kept by triggers, so statistics read a few rows instead of counting every event (a COUNT(*)
     * over 1.6 M events took 168 ms under the write lock) */
    "CREATE TABLE counters(name TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;"
    "INSERT INTO counters(name, value) VALUES ('users', (SELECT COUNT(*) FROM users)),"
    "  ('items', (SELECT COUNT(*) FROM items)), ('hidden_items', (SELECT COUNT(*) FROM items WHERE visible = 0)),"
    "  ('events', (SELECT COUNT(*) FROM events)), ('min_ts', (SELECT MIN(ts) FROM events)),"
    "  ('max_ts', (SELECT MAX(ts) FROM events)), ('ts_stale', 0);"
    "CREATE TRIGGER users_count_ins AFTER INSERT ON users BEGIN"
    "  UPDATE counters SET value = value + 1 WHERE name = 'users'; END;"
    "CREATE TRIGGER users_count_del AFTER DELETE ON users BEGIN"
    "  UPDATE counters SET value = value - 1 WHERE name = 'users'; END;"
    "CREATE TRIGGER items_count_ins AFTER INSERT ON items BEGIN"
    "  UPDATE counters SET value = value + 1 WHERE name = 'items';"
    "  UPDATE counters SET value = value + (NEW.visible = 0) WHERE name = 'hidden_items'; END;"
    "CREATE TRIGGER items_count_del AFTER DELETE ON items BEGIN"
    "  UPDATE counters SET value = value - 1 WHERE name = 'items';"
    "  UPDATE counters SET value = value - (OLD.visible = 0) WHERE name = 'hidden_items'; END;"
    "CREATE TRIGGER items_count_vis AFTER UPDATE OF visible ON items WHEN (OLD.visible = 0) <> (NEW.visible = 0) BEGIN"
    "  UPDATE counters SET value = value + (NEW.visible = 0) - (OLD.visible = 0) WHERE name = 'hidden_items'; END;"
    CREC__SQL_EVENTS_INS_TRIGGER CREC__SQL_EVENTS_DEL_TRIGGER,
    /* 4: conversations of crec serve --crs-model (state and transcript as JSON text) */
    "CREATE TABLE conversations(id INTEGER PRIMARY KEY AUTOINCREMENT, user TEXT, state TEXT NOT NULL,"
    "  transcript TEXT NOT NULL, done INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL);",
    /* 5: item creation time (seconds since the epoch; NULL for items made before this step), set on insert,
     * for GET /v1/items/latest */
    "ALTER TABLE items ADD COLUMN created INTEGER;"
    "CREATE TRIGGER items_created AFTER INSERT ON items WHEN NEW.created IS NULL BEGIN"
    "  UPDATE items SET created = CAST(strftime('%s', 'now') AS INTEGER) WHERE id = NEW.id; END;"
    "CREATE INDEX items_by_created ON items(created, id);",
};

/* SQL of each cached statement (indexed by crec__stmt_id), in the dialect SQLite and PostgreSQL share; the
 * transaction statements whose dialects differ come from TX_SQL_PG on PostgreSQL. */
static const char *const STMT_SQL[ST__COUNT] = {
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_BEGIN_READ] = "BEGIN",
    [ST_WRITE_LOCK] = NULL, /* SQLite: BEGIN IMMEDIATE took the write lock */
    [ST_COMMIT] = "COMMIT",
    [ST_ROLLBACK] = "ROLLBACK",
    [ST_SAVEPOINT] = "SAVEPOINT crec_w",
    [ST_RELEASE] = "RELEASE crec_w",
    [ST_ROLLBACK_TO] = "ROLLBACK TO crec_w",
    [ST_USER_ID] = "SELECT id FROM users WHERE ext = ?1",
    [ST_USER_ADD] = "INSERT INTO users(ext) VALUES (?1) RETURNING id",
    [ST_ITEM_ID] = "SELECT id FROM items WHERE ext = ?1",
    [ST_TYPE_ID] = "SELECT id FROM event_types WHERE name = ?1",
    [ST_TYPE_ADD] = "INSERT INTO event_types(id, name) VALUES ((SELECT COALESCE(MAX(id), 0) + 1 FROM event_types), ?1)"
                    " RETURNING id",
    [ST_EVENT_ADD] = "INSERT INTO events(user_id, item_id, type, value, ts) VALUES (?1, ?2, ?3, ?4, ?5)",
    [ST_USER_EVENTS] = "SELECT e.item_id, i.ext, t.name, e.value, e.ts FROM events e JOIN items i ON i.id = e.item_id"
                       " JOIN event_types t ON t.id = e.type WHERE e.user_id = ?1 ORDER BY e.ts, e.id",
    [ST_USER_EVENTS_LAST] = "SELECT * FROM (SELECT e.item_id, i.ext, t.name, e.value, e.ts, e.id FROM events e"
                            " JOIN items i ON i.id = e.item_id JOIN event_types t ON t.id = e.type"
                            " WHERE e.user_id = ?1 ORDER BY e.ts DESC, e.id DESC LIMIT ?2) AS last_events ORDER BY 5, 6",
    [ST_USER_COUNT] = "SELECT COUNT(*) FROM events WHERE user_id = ?1",
    [ST_USER_DEL_EVENTS] = "DELETE FROM events WHERE user_id = ?1",
    [ST_USER_DEL] = "DELETE FROM users WHERE id = ?1",
    [ST_ITEM_COUNTS] = "SELECT item_id, COUNT(*) FROM events GROUP BY item_id",
    [ST_ITEM_MAXID] = "SELECT COALESCE(MAX(id), 0) FROM items",
    [ST_ITEM_GET] = "SELECT id, ext, title, text, visible FROM items WHERE ext = ?1",
    [ST_ITEM_GET_SID] = "SELECT id, ext, title, text, visible FROM items WHERE id = ?1",
    [ST_ITEM_ATTRS] = "SELECT attr FROM item_attrs WHERE item_id = ?1 ORDER BY attr",
    [ST_ITEM_NEVENTS] = "SELECT COUNT(*) FROM events WHERE item_id = ?1",
    [ST_ITEM_INSERT] = "INSERT INTO items(ext, title, text, visible) VALUES (?1, ?2, ?3, ?4) RETURNING id",
    [ST_ITEM_UPDATE] = "UPDATE items SET title = ?2, text = ?3, visible = ?4 WHERE id = ?1",
    [ST_ITEM_ATTRS_DEL] = "DELETE FROM item_attrs WHERE item_id = ?1",
    [ST_ITEM_ATTR_ADD] = "INSERT INTO item_attrs(item_id, attr) VALUES (?1, ?2) ON CONFLICT DO NOTHING",
    [ST_ITEM_DEL_EVENTS] = "DELETE FROM events WHERE item_id = ?1",
    [ST_ITEM_DEL] = "DELETE FROM items WHERE id = ?1",
    [ST_ITEMS_WITH_ATTR] = "SELECT i.id, i.ext, i.visible FROM item_attrs a JOIN items i ON i.id = a.item_id"
                           " WHERE a.attr = ?1 ORDER BY i.id",
    [ST_ITEMS_LIST] = "SELECT id, ext, visible FROM items WHERE id > ?1 ORDER BY id LIMIT ?2",
    [ST_USER_SIDS] = "SELECT item_id FROM events WHERE user_id = ?1 ORDER BY ts, id",
    [ST_SCAN_ITEMS] = "SELECT id, ext, title, visible FROM items ORDER BY id",
    [ST_SCAN_ATTRS] = "SELECT item_id, attr FROM item_attrs ORDER BY item_id, attr",
};

/* PostgreSQL: a write transaction is BEGIN plus a transaction-scoped advisory lock, which serializes writers
 * across processes the way SQLite's BEGIN IMMEDIATE does (no deadlocks between the counters' row locks, no
 * lost race between two processes creating the same user, item or event type); reads never take it. */
static const char *tx_sql(const crec_store *s, crec__stmt_id id) {
    if (crec__store_pg(s)) {
        if (id == ST_BEGIN) return "BEGIN";
        if (id == ST_BEGIN_READ) return "BEGIN ISOLATION LEVEL REPEATABLE READ";
        if (id == ST_WRITE_LOCK) return "SELECT pg_advisory_xact_lock(" CREC__PG_LOCK_KEY ")";
    }
    return STMT_SQL[id];
}

crec_dbst *crec__store_stmt(crec_store *s, crec__stmt_id id) {
    if (!s->stmt[id]) {
        if (crec__db_prepare(s->db, tx_sql(s, id), CREC_DB_PERSISTENT, &s->stmt[id])) return NULL;
    } else {
        crec__db_reset(s->stmt[id]);
    }
    return s->stmt[id];
}

/* Run one cached statement that returns no rows (or whose rows nobody reads). */
static int step_done(crec_store *s, crec_dbst *st) {
    if (!st) return crec__store_rc(crec__db_errcode(s->db));
    int rc = crec__db_step(st);
    crec__db_reset(st);
    return rc == CREC_DB_DONE || rc == CREC_DB_ROW ? 0 : crec__store_rc(rc);
}

/* BEGIN a write transaction (and take PostgreSQL's writer lock). */
static int begin_write(crec_store *s) {
    int rc = step_done(s, crec__store_stmt(s, ST_BEGIN));
    if (!rc && crec__store_pg(s) && (rc = step_done(s, crec__store_stmt(s, ST_WRITE_LOCK))))
        step_done(s, crec__store_stmt(s, ST_ROLLBACK));
    return rc;
}

int crec__store_begin(crec_store *s) { return s->group ? step_done(s, crec__store_stmt(s, ST_SAVEPOINT)) : begin_write(s); }
int crec__store_commit(crec_store *s) { return step_done(s, crec__store_stmt(s, s->group ? ST_RELEASE : ST_COMMIT)); }
void crec__store_rollback(crec_store *s) {
    if (!crec__db_in_tx(s->db)) return;
    if (s->group) {
        /* undo this write only; the group's earlier writes stay. RELEASE after ROLLBACK TO closes it. */
        step_done(s, crec__store_stmt(s, ST_ROLLBACK_TO));
        step_done(s, crec__store_stmt(s, ST_RELEASE));
        return;
    }
    step_done(s, crec__store_stmt(s, ST_ROLLBACK));
}

/* ---- group commit: many writes, one transaction, one fsync ---- */

int crec_store_group_begin(crec_store *s) {
    if (!s || s->group) return CREC_EINVAL;
    int rc = begin_write(s);
    if (!rc) s->group = 1;
    return rc;
}

int crec_store_group_commit(crec_store *s) {
    if (!s || !s->group) return CREC_EINVAL;
    int rc = step_done(s, crec__store_stmt(s, ST_COMMIT));
    s->group = 0;
    if (rc) {
        if (crec__db_in_tx(s->db)) step_done(s, crec__store_stmt(s, ST_ROLLBACK));
        s->n_types_cached = 0;  /* types created in the group were not committed */
    }
    return rc;
}

void crec_store_group_rollback(crec_store *s) {
    if (!s || !s->group) return;
    s->group = 0;
    if (crec__db_in_tx(s->db)) step_done(s, crec__store_stmt(s, ST_ROLLBACK));
    s->n_types_cached = 0;
}

/* A single integer from a query (no parameters); 0 when it gives no row. */
static int query_int(crec_store *s, const char *sql, int64_t *out) {
    crec_dbst *st;
    *out = 0;
    int rc = crec__db_prepare(s->db, sql, 0, &st);
    if (rc) return rc;
    rc = crec__db_step(st);
    *out = rc == CREC_DB_ROW ? crec__db_col_i64(st, 0) : 0;
    crec__db_finalize(st);
    return rc == CREC_DB_ROW || rc == CREC_DB_DONE ? 0 : crec__store_rc(rc);
}

static int exec(crec_store *s, const char *sql) { return crec__store_rc(crec__db_exec(s->db, sql)); }

/* The schema version: PRAGMA user_version in SQLite, the one row of crec_schema in PostgreSQL. */
static int read_version(crec_store *s, int64_t *v) {
    return query_int(s, crec__store_pg(s) ? "SELECT version FROM crec_schema" : "PRAGMA user_version", v);
}

int crec_store_schema_version(crec_store *s) {
    int64_t v = 0;
    return read_version(s, &v) ? -1 : (int)v;
}

int crec_store_migrate(crec_store *s, int version) {
    if (version < 0 || version > CREC_STORE_SCHEMA_VERSION) return CREC_EINVAL;
    int pg = crec__store_pg(s);
    int rc;
    for (;;) {
        if ((rc = begin_write(s))) return rc;
        int64_t cur = 0;
        if ((rc = read_version(s, &cur))) break;
        if (cur > CREC_STORE_SCHEMA_VERSION) {
            rc = CREC_EVERSION;
            break;
        }
        if (cur >= version) {
            rc = exec(s, "COMMIT");
            return rc;
        }
        char sql[64];
        if (cur == 0 && !pg) {
            snprintf(sql, sizeof sql, "PRAGMA application_id = %d", STORE_APP_ID);
            if ((rc = exec(s, sql))) break;
        }
        if ((rc = exec(s, pg ? crec__store_pg_migrations[cur] : MIGRATIONS[cur]))) break;
        snprintf(sql, sizeof sql, pg ? "UPDATE crec_schema SET version = %d" : "PRAGMA user_version = %d",
                 (int)cur + 1);
        if ((rc = exec(s, sql)) || (rc = exec(s, "COMMIT"))) break;
        /* next step, in its own transaction */
    }
    exec(s, "ROLLBACK");
    return rc;
}

int crec_store_read_begin(crec_store *s) { return step_done(s, crec__store_stmt(s, ST_BEGIN_READ)); }
int crec_store_read_end(crec_store *s) { return !crec__db_in_tx(s->db) ? 0 : crec__store_commit(s); }

const char *crec_store_errmsg(crec_store *s) { return s && s->db ? crec__db_errmsg(s->db) : "no store"; }

/* SQLite: the file, its application id and version, WAL and the pragmas. */
static int open_sqlite(crec_store *s, const char *path, const crec_store_opts *o, int64_t *ver, char *err,
                       size_t errn) {
    struct stat sb;
    if ((o->no_create || o->readonly) && stat(path, &sb) != 0) {
        crec__errf(err, errn, "%s: no such file", path);
        return CREC_ENOTFOUND;
    }
    int rc = crec__db_open_sqlite(path, o->readonly, &s->db, err, errn);
    if (rc) return rc;
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA busy_timeout = %d", o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000);
    exec(s, sql);
    /* application_id tells a crec store from another application's SQLite file (and a non-SQLite file fails
     * here with NOTADB). */
    int64_t app = 0, n_tables = 0;
    if ((rc = query_int(s, "PRAGMA application_id", &app)) || (rc = query_int(s, "PRAGMA user_version", ver)) ||
        (rc = query_int(s, "SELECT COUNT(*) FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'", &n_tables))) {
        crec__errf(err, errn, "%s: %s", path, rc == CREC_EFORMAT ? "not a SQLite database" : crec__db_errmsg(s->db));
        return rc;
    }
    if ((app != 0 && app != STORE_APP_ID) || (app == 0 && n_tables > 0)) {
        crec__errf(err, errn, "%s: a SQLite database of another application (not a crec store)", path);
        return CREC_EFORMAT;
    }
    if (*ver <= CREC_STORE_SCHEMA_VERSION && !o->readonly && (rc = exec(s, "PRAGMA journal_mode = WAL"))) {
        /* WAL: readers never block the writer; the mode is persistent in the file. */
        crec__errf(err, errn, "%s: cannot enable WAL: %s", path, crec__db_errmsg(s->db));
        return rc;
    }
    exec(s, o->sync_normal ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL");
    exec(s, "PRAGMA foreign_keys = ON");
    exec(s, "PRAGMA cache_size = -16384");
    return 0;
}

/* PostgreSQL: the connection, the crec_schema row (made under the writer lock when the database - or the
 * schema named by search_path - is empty), and the session settings. */
static int open_pg(crec_store *s, const char *url, const crec_store_opts *o, int64_t *ver, char *err, size_t errn) {
    int rc = crec__db_open_pg(url, &s->db, err, errn);
    if (rc) return rc;
    const char *name = crec__db_pg_display(url);
    int64_t has = 0, n_tables = 0;
    if ((rc = query_int(s, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()"
                           " AND tablename = 'crec_schema'", &has)) ||
        (rc = query_int(s, "SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema()", &n_tables))) {
        crec__errf(err, errn, "%s: %s", name, crec__db_errmsg(s->db));
        return rc;
    }
    if (!has && n_tables > 0) {
        crec__errf(err, errn, "%s: a PostgreSQL database of another application (tables but no crec_schema)", name);
        return CREC_EFORMAT;
    }
    if (!has && (o->no_create || o->readonly)) {
        crec__errf(err, errn, "%s: no crec store in this database", name);
        return CREC_ENOTFOUND;
    }
    if (!has) {
        /* two processes creating the store at once: the lock makes the second see the first's row */
        if ((rc = begin_write(s)) ||
            (rc = exec(s, "CREATE TABLE IF NOT EXISTS crec_schema(app TEXT NOT NULL, version INTEGER NOT NULL);"
                          "INSERT INTO crec_schema(app, version) SELECT 'crec', 0"
                          " WHERE NOT EXISTS (SELECT 1 FROM crec_schema);")) ||
            (rc = exec(s, "COMMIT"))) {
            crec__errf(err, errn, "%s: cannot create the store: %s", name, crec__db_errmsg(s->db));
            exec(s, "ROLLBACK");
            return rc;
        }
    }
    if ((rc = read_version(s, ver))) {
        crec__errf(err, errn, "%s: %s", name, crec__db_errmsg(s->db));
        return rc;
    }
    char sql[96];
    snprintf(sql, sizeof sql, "SET lock_timeout = %d", o->busy_timeout_ms > 0 ? o->busy_timeout_ms : 5000);
    exec(s, sql);
    /* synchronous_commit = on (PostgreSQL's default): COMMIT returns after the WAL reached the disk; off is the
     * analogue of SQLite's NORMAL (a server crash may lose the last commits, never corrupts) */
    exec(s, o->sync_normal ? "SET synchronous_commit = off" : "SET synchronous_commit = on");
    if (o->readonly) exec(s, "SET default_transaction_read_only = on");
    return 0;
}

int crec_store_open(const char *path, const crec_store_opts *o, crec_store **out, char *err, size_t errn) {
    *out = NULL;
    if (err && errn) err[0] = 0;
    crec_store_opts def = {0};
    if (!o) o = &def;
    if (!path || !*path) {
        crec__errf(err, errn, "no store path");
        return CREC_EINVAL;
    }
    crec_store *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    int pg = crec__db_is_pg_url(path);
    const char *name = pg ? crec__db_pg_display(path) : path;
    int64_t ver = 0;
    int crc = pg ? open_pg(s, path, o, &ver, err, errn) : open_sqlite(s, path, o, &ver, err, errn);
    if (crc) goto fail;
    if (ver > CREC_STORE_SCHEMA_VERSION) {
        crec__errf(err, errn, "%s: store schema version %lld is newer than this crec's (%d)", name, (long long)ver,
                   CREC_STORE_SCHEMA_VERSION);
        crc = CREC_EVERSION;
        goto fail;
    }
    if (o->readonly && ver < CREC_STORE_SCHEMA_VERSION) {
        crec__errf(err, errn, "%s: store schema version %lld needs migrating (open it read-write once)", name,
                   (long long)ver);
        crc = CREC_EVERSION;
        goto fail;
    }
    if (!o->readonly && ver < CREC_STORE_SCHEMA_VERSION && (crc = crec_store_migrate(s, CREC_STORE_SCHEMA_VERSION))) {
        crec__errf(err, errn, "%s: migrating the schema from version %lld failed: %s", name, (long long)ver,
                   crec__db_errmsg(s->db));
        goto fail;
    }
    *out = s;
    return 0;
fail:
    crec_store_close(s);
    return crc ? crc : CREC_EIO;
}

void crec_store_close(crec_store *s) {
    if (!s) return;
    for (int i = 0; i < ST__COUNT; i++) crec__db_finalize(s->stmt[i]);
    crec__db_close(s->db);
    free(s);
}
int crec_store_stats_get(crec_store *s, crec_store_stats *st) {
    memset(st, 0, sizeof *st);
    int64_t stale = 0;
    int rc;
    /* the counters (schema 3) are kept by triggers */
    if ((rc = query_int(s, "SELECT value FROM counters WHERE name = 'users'", &st->n_users)) ||
        (rc = query_int(s, "SELECT value FROM counters WHERE name = 'items'", &st->n_items)) ||
        (rc = query_int(s, "SELECT value FROM counters WHERE name = 'hidden_items'", &st->n_hidden_items)) ||
        (rc = query_int(s, "SELECT value FROM counters WHERE name = 'events'", &st->n_events)) ||
        (rc = query_int(s, "SELECT COUNT(*) FROM event_types", &st->n_event_types)) ||
        (rc = query_int(s, "SELECT COUNT(DISTINCT attr) FROM item_attrs", &st->n_attrs)) ||
        (rc = query_int(s, "SELECT value FROM counters WHERE name = 'ts_stale'", &stale)))
        return rc;
    /* min/max stay exact: read from the events themselves (a scan) only while a delete left them stale */
    if (stale) {
        if ((rc = query_int(s, "SELECT COALESCE(MIN(ts), 0) FROM events", &st->min_ts)) ||
            (rc = query_int(s, "SELECT COALESCE(MAX(ts), 0) FROM events", &st->max_ts)))
            return rc;
    } else if ((rc = query_int(s, "SELECT COALESCE(value, 0) FROM counters WHERE name = 'min_ts'", &st->min_ts)) ||
               (rc = query_int(s, "SELECT COALESCE(value, 0) FROM counters WHERE name = 'max_ts'", &st->max_ts))) {
        return rc;
    }
    if (st->n_events == 0) st->min_ts = st->max_ts = 0;
    return 0;
}

int crec__store_fix_ts(crec_store *s) {
    int64_t stale = 0;
    int rc = query_int(s, "SELECT value FROM counters WHERE name = 'ts_stale'", &stale);
    if (rc || !stale) return rc;
    return exec(s, "UPDATE counters SET value = (SELECT MIN(ts) FROM events) WHERE name = 'min_ts';"
                   "UPDATE counters SET value = (SELECT MAX(ts) FROM events) WHERE name = 'max_ts';"
                   "UPDATE counters SET value = 0 WHERE name = 'ts_stale';");
}

/* ---- ids ---- */

int64_t crec__store_insert_id(crec_store *s, crec_dbst *st) {
    if (!st) return crec__store_rc(crec__db_errcode(s->db));
    int rc = crec__db_step(st);
    int64_t id = rc == CREC_DB_ROW ? crec__db_col_i64(st, 0) : rc < 0 ? rc : CREC_EIO;
    crec__db_reset(st);
    return id;
}

int64_t crec__store_user_sid(crec_store *s, const char *user, int create) {
    crec_dbst *st = crec__store_stmt(s, ST_USER_ID);
    if (!st) return crec__store_rc(crec__db_errcode(s->db));
    crec__db_bind_text(st, 1, user, -1);
    int rc = crec__db_step(st);
    if (rc == CREC_DB_ROW) {
        int64_t id = crec__db_col_i64(st, 0);
        crec__db_reset(st);
        return id;
    }
    crec__db_reset(st);
    if (rc != CREC_DB_DONE) return crec__store_rc(rc);
    if (!create) return CREC_ENOTFOUND;
    if (!(st = crec__store_stmt(s, ST_USER_ADD))) return crec__store_rc(crec__db_errcode(s->db));
    crec__db_bind_text(st, 1, user, -1);
    return crec__store_insert_id(s, st);
}

int64_t crec__store_item_sid(crec_store *s, const char *item, size_t len) {
    crec_dbst *st = crec__store_stmt(s, ST_ITEM_ID);
    if (!st) return crec__store_rc(crec__db_errcode(s->db));
    crec__db_bind_text(st, 1, item, (int)len);
    int rc = crec__db_step(st);
    int64_t id = rc == CREC_DB_ROW ? crec__db_col_i64(st, 0) : rc == CREC_DB_DONE ? CREC_ENOTFOUND : crec__store_rc(rc);
    crec__db_reset(st);
    return id;
}

int64_t crec__store_type_id(crec_store *s, const char *name) {
    if (!name || !*name || strcmp(name, "interaction") == 0) return 0;
    for (int i = 0; i < s->n_types_cached; i++)
        if (strcmp(s->type_cache[i].name, name) == 0) return s->type_cache[i].id;
    crec_dbst *st = crec__store_stmt(s, ST_TYPE_ID);
    if (!st) return crec__store_rc(crec__db_errcode(s->db));
    crec__db_bind_text(st, 1, name, -1);
    int rc = crec__db_step(st);
    int64_t id = rc == CREC_DB_ROW ? crec__db_col_i64(st, 0) : -1;
    crec__db_reset(st);
    if (rc != CREC_DB_ROW && rc != CREC_DB_DONE) return crec__store_rc(rc);
    if (id < 0) {
        /* a dataset holds at most 256 types (uint8), so the store does too */
        int64_t n = 0;
        if ((rc = query_int(s, "SELECT COUNT(*) FROM event_types", &n))) return rc;
        if (n >= 256) return CREC_ERANGE;
        if (!(st = crec__store_stmt(s, ST_TYPE_ADD))) return crec__store_rc(crec__db_errcode(s->db));
        crec__db_bind_text(st, 1, name, -1);
        return crec__store_insert_id(s, st); /* not cached: the insert may still be rolled back */
    }
    if (s->n_types_cached < (int)(sizeof s->type_cache / sizeof s->type_cache[0]) &&
        strlen(name) < sizeof s->type_cache[0].name) {
        snprintf(s->type_cache[s->n_types_cached].name, sizeof s->type_cache[0].name, "%s", name);
        s->type_cache[s->n_types_cached++].id = id;
    }
    return id;
}

/* ---- events ---- */

int crec_store_add_events(crec_store *s, const crec_store_event *ev, int64_t n, int64_t *item_sid, int64_t *bad) {
    if (bad) *bad = -1;
    if (n < 0 || (n > 0 && !ev)) return CREC_EINVAL;
    int rc = crec__store_begin(s);
    if (rc) return rc;
    crec_dbst *st = NULL;
    for (int64_t k = 0; k < n; k++) {
        if (!ev[k].user || !ev[k].item) {
            rc = CREC_EINVAL;
        } else {
            int64_t u = crec__store_user_sid(s, ev[k].user, 1);
            int64_t i = u < 0 ? u : crec__store_item_sid(s, ev[k].item, strlen(ev[k].item));
            int64_t t = i < 0 ? i : crec__store_type_id(s, ev[k].type);
            if (t < 0) {
                rc = (int)t;
            } else if (!(st = crec__store_stmt(s, ST_EVENT_ADD))) {
                rc = crec__store_rc(crec__db_errcode(s->db));
            } else {
                crec__db_bind_i64(st, 1, u);
                crec__db_bind_i64(st, 2, i);
                crec__db_bind_i64(st, 3, t);
                crec__db_bind_double(st, 4, (double)ev[k].value);
                crec__db_bind_i64(st, 5, ev[k].ts);
                rc = step_done(s, st);
                if (item_sid) item_sid[k] = i;
            }
        }
        if (rc) {
            if (bad) *bad = k;
            crec__store_rollback(s);
            s->n_types_cached = 0; /* a rolled-back type insert must not stay cached */
            return rc;
        }
    }
    if ((rc = crec__store_commit(s))) {
        crec__store_rollback(s);
        s->n_types_cached = 0;
    }
    return rc;
}

int crec_store_user_events(crec_store *s, const char *user, int64_t last, crec_store_event_cb cb, void *ctx,
                           int64_t *n_events) {
    if (n_events) *n_events = 0;
    int64_t u = crec__store_user_sid(s, user, 0);
    if (u < 0) return (int)u;
    crec_dbst *st;
    if (n_events) {
        if (!(st = crec__store_stmt(s, ST_USER_COUNT))) return crec__store_rc(crec__db_errcode(s->db));
        crec__db_bind_i64(st, 1, u);
        int rc = crec__db_step(st);
        *n_events = rc == CREC_DB_ROW ? crec__db_col_i64(st, 0) : 0;
        crec__db_reset(st);
        if (rc != CREC_DB_ROW) return crec__store_rc(rc);
    }
    if (!cb) return 0;
    if (!(st = crec__store_stmt(s, last > 0 ? ST_USER_EVENTS_LAST : ST_USER_EVENTS)))
        return crec__store_rc(crec__db_errcode(s->db));
    crec__db_bind_i64(st, 1, u);
    if (last > 0) crec__db_bind_i64(st, 2, last);
    int rc;
    while ((rc = crec__db_step(st)) == CREC_DB_ROW) {
        const char *item = crec__db_col_text(st, 1);
        size_t len = (size_t)crec__db_col_bytes(st, 1);
        const char *type = crec__db_col_text(st, 2);
        if (cb(ctx, crec__db_col_i64(st, 0), item ? item : "", len, type ? type : "interaction",
               (float)crec__db_col_double(st, 3), crec__db_col_i64(st, 4)))
            break;
    }
    crec__db_reset(st);
    return rc == CREC_DB_ROW || rc == CREC_DB_DONE ? 0 : crec__store_rc(rc);
}

int crec_store_user_item_sids(crec_store *s, const char *user, int64_t **sids, int64_t *cap, int64_t *n) {
    *n = 0;
    int64_t u = crec__store_user_sid(s, user, 0);
    if (u < 0) return (int)u;
    crec_dbst *st = crec__store_stmt(s, ST_USER_SIDS);
    if (!st) return crec__store_rc(crec__db_errcode(s->db));
    crec__db_bind_i64(st, 1, u);
    int rc;
    while ((rc = crec__db_step(st)) == CREC_DB_ROW) {
        if (*n == *cap) {
            int64_t nc = *cap ? *cap * 2 : 256;
            int64_t *p = realloc(*sids, (size_t)nc * sizeof *p);
            if (!p) {
                crec__db_reset(st);
                return CREC_ENOMEM;
            }
            *sids = p;
            *cap = nc;
        }
        (*sids)[(*n)++] = crec__db_col_i64(st, 0);
    }
    crec__db_reset(st);
    return rc == CREC_DB_DONE ? 0 : crec__store_rc(rc);
}

int crec_store_delete_user(crec_store *s, const char *user, int64_t *n_events) {
    if (n_events) *n_events = 0;
    int rc = crec__store_begin(s);
    if (rc) return rc;
    int64_t u = crec__store_user_sid(s, user, 0);
    if (u < 0) {
        crec__store_rollback(s);
        return (int)u;
    }
    crec_dbst *st = crec__store_stmt(s, ST_USER_DEL_EVENTS);
    if (st) crec__db_bind_i64(st, 1, u);
    if (!(rc = step_done(s, st))) {
        if (n_events) *n_events = crec__db_changes(s->db);
        st = crec__store_stmt(s, ST_USER_DEL); /* user_attrs go by ON DELETE CASCADE */
        if (st) crec__db_bind_i64(st, 1, u);
        rc = step_done(s, st);
    }
    if (!rc) rc = crec__store_fix_ts(s);
    if (!rc) rc = crec__store_commit(s);
    if (rc) crec__store_rollback(s);
    return rc;
}

int crec_store_item_counts(crec_store *s, int64_t **counts, int64_t *n) {
    *counts = NULL;
    *n = 0;
    int64_t maxid = 0;
    crec_dbst *st = crec__store_stmt(s, ST_ITEM_MAXID);
    if (!st) return crec__store_rc(crec__db_errcode(s->db));
    if (crec__db_step(st) == CREC_DB_ROW) maxid = crec__db_col_i64(st, 0);
    crec__db_reset(st);
    int64_t *c = calloc((size_t)maxid + 1, sizeof *c);
    if (!c) return CREC_ENOMEM;
    if (!(st = crec__store_stmt(s, ST_ITEM_COUNTS))) {
        free(c);
        return crec__store_rc(crec__db_errcode(s->db));
    }
    int rc;
    while ((rc = crec__db_step(st)) == CREC_DB_ROW) {
        int64_t sid = crec__db_col_i64(st, 0);
        if (sid >= 0 && sid <= maxid) c[sid] = crec__db_col_i64(st, 1);
    }
    crec__db_reset(st);
    if (rc != CREC_DB_DONE) {
        free(c);
        return crec__store_rc(rc);
    }
    *counts = c;
    *n = maxid + 1;
    return 0;
}

/* ---- items ---- */

void crec_store_item_clear(crec_store_item *it) {
    if (!it) return;
    free(it->id);
    free(it->title);
    free(it->text);
    for (int k = 0; k < it->n_attrs; k++) free(it->attrs[k]);
    free(it->attrs);
    memset(it, 0, sizeof *it);
}

static char *col_dup(crec_dbst *st, int c) {
    if (crec__db_col_null(st, c)) return NULL;
    const char *t = crec__db_col_text(st, c);
    return crec__strndup(t ? t : "", (size_t)crec__db_col_bytes(st, c));
}

/* Fill *it from the current row of an ST_ITEM_GET / ST_ITEM_GET_SID statement, then attributes and count. */
static int item_from_row(crec_store *s, crec_dbst *st, int with_attrs, int with_count, crec_store_item *it) {
    it->sid = crec__db_col_i64(st, 0);
    it->id = col_dup(st, 1);
    it->title = col_dup(st, 2);
    it->text = col_dup(st, 3);
    it->visible = (int)crec__db_col_i64(st, 4) != 0;
    crec__db_reset(st);
    if (!it->id || (!crec__db_col_null(st, 2) && !it->title)) return CREC_ENOMEM;
    int rc;
    if (with_attrs) {
        if (!(st = crec__store_stmt(s, ST_ITEM_ATTRS))) return crec__store_rc(crec__db_errcode(s->db));
        crec__db_bind_i64(st, 1, it->sid);
        int cap = 0;
        while ((rc = crec__db_step(st)) == CREC_DB_ROW) {
            if (it->n_attrs == cap) {
                int nc = cap ? cap * 2 : 8;
                char **na = realloc(it->attrs, (size_t)nc * sizeof *na);
                if (!na) {
                    crec__db_reset(st);
                    return CREC_ENOMEM;
                }
                it->attrs = na;
                cap = nc;
            }
            if (!(it->attrs[it->n_attrs] = col_dup(st, 0))) {
                crec__db_reset(st);
                return CREC_ENOMEM;
            }
            it->n_attrs++;
        }
        crec__db_reset(st);
        if (rc != CREC_DB_DONE) return crec__store_rc(rc);
    }
    if (with_count) {
        if (!(st = crec__store_stmt(s, ST_ITEM_NEVENTS))) return crec__store_rc(crec__db_errcode(s->db));
        crec__db_bind_i64(st, 1, it->sid);
        rc = crec__db_step(st);
        it->n_events = rc == CREC_DB_ROW ? crec__db_col_i64(st, 0) : 0;
        crec__db_reset(st);
        if (rc != CREC_DB_ROW) return crec__store_rc(rc);
    }
    return 0;
}

int crec_store_item_get(crec_store *s, const char *id, size_t len, int with_attrs, int with_count,
                        crec_store_item *it) {
    memset(it, 0, sizeof *it);
    crec_dbst *st = crec__store_stmt(s, ST_ITEM_GET);
    if (!st) return crec__store_rc(crec__db_errcode(s->db));
    crec__db_bind_text(st, 1, id, (int)len);
    int rc = crec__db_step(st);
    if (rc != CREC_DB_ROW) {
        crec__db_reset(st);
        return rc == CREC_DB_DONE ? CREC_ENOTFOUND : crec__store_rc(rc);
    }
    rc = item_from_row(s, st, with_attrs, with_count, it);
    if (rc) crec_store_item_clear(it);
    return rc;
}

int crec_store_item_get_sid(crec_store *s, int64_t sid, int with_attrs, crec_store_item *it) {
    memset(it, 0, sizeof *it);
    crec_dbst *st = crec__store_stmt(s, ST_ITEM_GET_SID);
    if (!st) return crec__store_rc(crec__db_errcode(s->db));
    crec__db_bind_i64(st, 1, sid);
    int rc = crec__db_step(st);
    if (rc != CREC_DB_ROW) {
        crec__db_reset(st);
        return rc == CREC_DB_DONE ? CREC_ENOTFOUND : crec__store_rc(rc);
    }
    rc = item_from_row(s, st, with_attrs, 0, it);
    if (rc) crec_store_item_clear(it);
    return rc;
}

int crec__store_item_write(crec_store *s, const crec_store_item *it, crec_store_put_mode mode, int *created,
                           int64_t *sid_out) {
    if (created) *created = 0;
    int64_t sid = crec__store_item_sid(s, it->id, strlen(it->id));
    if (sid < 0 && sid != CREC_ENOTFOUND) return (int)sid;
    if (sid >= 0 && mode == CREC_STORE_CREATE) return CREC_EEXISTS;
    if (sid < 0 && mode == CREC_STORE_UPDATE) return CREC_ENOTFOUND;
    crec_dbst *st;
    int rc;
    if (sid < 0) {
        if (!(st = crec__store_stmt(s, ST_ITEM_INSERT))) return crec__store_rc(crec__db_errcode(s->db));
        crec__db_bind_text(st, 1, it->id, -1);
        crec__db_bind_opt_text(st, 2, it->title);
        crec__db_bind_opt_text(st, 3, it->text);
        crec__db_bind_i64(st, 4, it->visible != 0);
        if ((sid = crec__store_insert_id(s, st)) < 0) return (int)sid;
        if (created) *created = 1;
    } else {
        if (!(st = crec__store_stmt(s, ST_ITEM_UPDATE))) return crec__store_rc(crec__db_errcode(s->db));
        crec__db_bind_i64(st, 1, sid);
        crec__db_bind_opt_text(st, 2, it->title);
        crec__db_bind_opt_text(st, 3, it->text);
        crec__db_bind_i64(st, 4, it->visible != 0);
        if ((rc = step_done(s, st))) return rc;
        if (!(st = crec__store_stmt(s, ST_ITEM_ATTRS_DEL))) return crec__store_rc(crec__db_errcode(s->db));
        crec__db_bind_i64(st, 1, sid);
        if ((rc = step_done(s, st))) return rc;
    }
    for (int k = 0; k < it->n_attrs; k++) {
        if (!(st = crec__store_stmt(s, ST_ITEM_ATTR_ADD))) return crec__store_rc(crec__db_errcode(s->db));
        crec__db_bind_i64(st, 1, sid);
        crec__db_bind_text(st, 2, it->attrs[k], -1);
        if ((rc = step_done(s, st))) return rc;
    }
    if (sid_out) *sid_out = sid;
    return 0;
}

int crec_store_item_put(crec_store *s, const crec_store_item *it, crec_store_put_mode mode, int *created) {
    if (created) *created = 0;
    if (!it || !it->id || !*it->id) return CREC_EINVAL;
    int rc = crec__store_begin(s);
    if (rc) return rc;
    if (!(rc = crec__store_item_write(s, it, mode, created, NULL))) rc = crec__store_commit(s);
    if (rc) {
        crec__store_rollback(s);
        if (created) *created = 0;
    }
    return rc;
}

int crec_store_item_delete(crec_store *s, const char *id, int64_t *n_events) {
    if (n_events) *n_events = 0;
    int rc = crec__store_begin(s);
    if (rc) return rc;
    int64_t sid = crec__store_item_sid(s, id, strlen(id));
    if (sid < 0) {
        crec__store_rollback(s);
        return (int)sid;
    }
    crec_dbst *st = crec__store_stmt(s, ST_ITEM_DEL_EVENTS);
    if (st) crec__db_bind_i64(st, 1, sid);
    if (!(rc = step_done(s, st))) {
        if (n_events) *n_events = crec__db_changes(s->db);
        st = crec__store_stmt(s, ST_ITEM_DEL); /* item_attrs go by ON DELETE CASCADE */
        if (st) crec__db_bind_i64(st, 1, sid);
        rc = step_done(s, st);
    }
    if (!rc) rc = crec__store_fix_ts(s);
    if (!rc) rc = crec__store_commit(s);
    if (rc) crec__store_rollback(s);
    return rc;
}

static int walk_items(crec_store *s, crec_dbst *st, crec_store_item_cb cb, void *ctx) {
    int rc;
    while ((rc = crec__db_step(st)) == CREC_DB_ROW) {
        const char *id = crec__db_col_text(st, 1);
        if (cb(ctx, crec__db_col_i64(st, 0), id ? id : "", (size_t)crec__db_col_bytes(st, 1),
               (int)crec__db_col_i64(st, 2) != 0))
            break;
    }
    crec__db_reset(st);
    return rc == CREC_DB_ROW || rc == CREC_DB_DONE ? 0 : crec__store_rc(rc);
}

int crec_store_items_scan(crec_store *s, crec_store_item_full_cb cb, void *ctx) {
    crec_dbst *a = crec__store_stmt(s, ST_SCAN_ITEMS), *b = a ? crec__store_stmt(s, ST_SCAN_ATTRS) : NULL;
    if (!a || !b) return crec__store_rc(crec__db_errcode(s->db));
    /* two ordered scans merged: items by id, attributes by (item id, attr) */
    int ra, rb = crec__db_step(b), rc = 0;
    char **attrs = NULL;
    int cap = 0;
    while (!rc && (ra = crec__db_step(a)) == CREC_DB_ROW) {
        crec_store_item it = {.sid = crec__db_col_i64(a, 0),
                              .id = (char *)crec__db_col_text(a, 1),
                              .title = (char *)crec__db_col_text(a, 2),
                              .visible = (int)crec__db_col_i64(a, 3) != 0,
                              .attrs = attrs};
        while (rb == CREC_DB_ROW && crec__db_col_i64(b, 0) < it.sid) rb = crec__db_step(b);
        for (; rb == CREC_DB_ROW && crec__db_col_i64(b, 0) == it.sid; rb = crec__db_step(b)) {
            if (it.n_attrs == cap) {
                int nc = cap ? cap * 2 : 16;
                char **na = realloc(attrs, (size_t)nc * sizeof *na);
                if (!na) {
                    rc = CREC_ENOMEM;
                    break;
                }
                attrs = it.attrs = na;
                cap = nc;
            }
            /* copies: the text of b's row changes at its next step */
            if (!(it.attrs[it.n_attrs] = crec__strndup(crec__db_col_text(b, 1),
                                                        (size_t)crec__db_col_bytes(b, 1)))) {
                rc = CREC_ENOMEM;
                break;
            }
            it.n_attrs++;
        }
        if (!rc && it.id && cb(ctx, &it)) ra = CREC_DB_DONE;
        for (int k = 0; k < it.n_attrs; k++) free(it.attrs[k]);
        if (ra == CREC_DB_DONE) break;
    }
    if (!rc && ra != CREC_DB_ROW && ra != CREC_DB_DONE) rc = crec__store_rc(ra);
    if (!rc && rb != CREC_DB_ROW && rb != CREC_DB_DONE) rc = crec__store_rc(rb);
    free(attrs);
    crec__db_reset(a);
    crec__db_reset(b);
    return rc;
}

int crec_store_items_with_attr(crec_store *s, const char *attr, crec_store_item_cb cb, void *ctx) {
    crec_dbst *st = crec__store_stmt(s, ST_ITEMS_WITH_ATTR);
    if (!st) return crec__store_rc(crec__db_errcode(s->db));
    crec__db_bind_text(st, 1, attr, -1);
    return walk_items(s, st, cb, ctx);
}

int crec_store_items_list(crec_store *s, int64_t after, int64_t limit, crec_store_item_cb cb, void *ctx) {
    crec_dbst *st = crec__store_stmt(s, ST_ITEMS_LIST);
    if (!st) return crec__store_rc(crec__db_errcode(s->db));
    crec__db_bind_i64(st, 1, after);
    crec__db_bind_i64(st, 2, limit);
    return walk_items(s, st, cb, ctx);
}
