/* test_store.c: the store: a fresh schema, migration of a store written at schema version 1, refusal
 * of newer or foreign files, import -> snapshot round trip, event batches (all or nothing), history order,
 * the right to erasure (deleting a user removes their events), item create/read/update/delete.
 * SQLite by default; PostgreSQL when CREC_TEST_DB_URL is set (store_testdb.h, tests/integration/pg_store.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <sqlite3.h>

#include "crec/crec.h"
#include "crec/store.h"
#include "store_testdb.h"
#include "testutil.h"

static char *g_dir;

static const char *path_in(const char *name) { return tdb_path(g_dir, name); }

static crec_store *open_ok(const char *path) {
    crec_store *s = NULL;
    char err[256];
    int rc = crec_store_open(path, NULL, &s, err, sizeof err);
    if (rc) fprintf(stderr, "open %s: %s\n", path, err);
    assert_int_equal(rc, 0);
    return s;
}

static int64_t sql_int(const char *path, const char *sql) {
    int failed = 0;
    int64_t v = tdb_int(path, sql, &failed);
    assert_false(failed);
    return v;
}

static void sql_exec(const char *path, const char *sql) { assert_int_equal(tdb_exec(path, sql), 0); }

/* u1: a b c d (ts 1..4), u2: b c (10, 5), u3: a; titles, text, attributes, user features, two event types. */
static crec_dataset *small_dataset(void) {
    crec_dataset *ds = crec_dataset_new();
    const char *rows[][2] = {{"u1", "a"}, {"u1", "b"}, {"u2", "b"}, {"u1", "c"}, {"u2", "c"}, {"u1", "d"}, {"u3", "a"}};
    int64_t ts[] = {1, 2, 10, 3, 5, 4, 7};
    float val[] = {5, 4, 3, 2, 1, 5, 4};
    assert_int_equal(crec_idmap_intern(&ds->event_types, "click", 5), 1);
    for (int k = 0; k < 7; k++)
        assert_int_equal(crec_dataset_add(ds, rows[k][0], 2, rows[k][1], 1, ts[k], val[k], (uint8_t)(k == 3)), 0);
    ds->has_time = ds->has_value = 1;
    snprintf(ds->name, sizeof ds->name, "small");
    assert_int_equal(crec_dataset_set_title(ds, 0, "Alpha", 5), 0);
    assert_int_equal(crec_dataset_set_text(ds, 2, "about c", 7), 0);
    assert_int_equal(crec_dataset_add_attr(ds, 0, "red", 3), 0);
    assert_int_equal(crec_dataset_add_attr(ds, 0, "big", 3), 0);
    assert_int_equal(crec_dataset_add_attr(ds, 3, "big", 3), 0);
    assert_int_equal(crec_dataset_add_user_attr(ds, 1, "gender:F", 8), 0);
    assert_int_equal(crec_dataset_add_user_attr(ds, 0, "gender:M", 8), 0);
    assert_int_equal(crec_dataset_attr_csr(ds), 0);
    assert_int_equal(crec_dataset_user_attr_csr(ds), 0);
    return ds;
}

static void test_fresh_schema(void **st) {
    const char *p = path_in("fresh.db");
    crec_store *s = open_ok(p);
    assert_int_equal(crec_store_schema_version(s), CREC_STORE_SCHEMA_VERSION);
    crec_store_stats stats;
    assert_int_equal(crec_store_stats_get(s, &stats), 0);
    assert_int_equal(stats.n_users + stats.n_items + stats.n_events, 0);
    assert_int_equal(stats.n_event_types, 1); /* "interaction" */
    crec_store_close(s);
    if (tdb_pg()) {
        assert_int_equal(sql_int(p, "SELECT version FROM crec_schema"), CREC_STORE_SCHEMA_VERSION);
        assert_int_equal(sql_int(p, "SELECT COUNT(*) FROM crec_schema WHERE app = 'crec'"), 1);
        assert_int_equal(sql_int(p, "SELECT COUNT(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                                    " WHERE n.nspname = current_schema() AND c.relname IN ('users', 'items', 'events',"
                                    " 'event_types', 'meta', 'item_attrs', 'user_attrs', 'events_by_user',"
                                    " 'events_by_item', 'item_attrs_by_attr')"),
                         10);
        s = open_ok(p);
        assert_int_equal(crec_store_schema_version(s), CREC_STORE_SCHEMA_VERSION);
        crec_store_close(s);
        return;
    }
    assert_int_equal(sql_int(p, "PRAGMA user_version"), CREC_STORE_SCHEMA_VERSION);
    assert_int_equal(sql_int(p, "PRAGMA application_id"), 0x43524543);
    assert_int_equal(sql_int(p, "SELECT COUNT(*) FROM sqlite_schema WHERE name IN ('users', 'items', 'events',"
                                " 'event_types', 'meta', 'item_attrs', 'user_attrs', 'events_by_user',"
                                " 'events_by_item', 'item_attrs_by_attr')"),
                     10);
    /* WAL persists in the file */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
    sqlite3_stmt *q;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(q), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
    sqlite3_finalize(q);
    sqlite3_close(db);
    /* reopening an up-to-date store changes nothing */
    s = open_ok(p);
    assert_int_equal(crec_store_schema_version(s), CREC_STORE_SCHEMA_VERSION);
    crec_store_close(s);
}

/* A store as schema version 1 wrote it (a frozen copy of migration step 1, with data). */
static void test_migrate_from_v1(void **st) {
    const char *p = path_in("v1.db");
    if (tdb_pg())
        sql_exec(p, /* a frozen copy of PostgreSQL's step 1 (schema_pg.c) */
                 "CREATE TABLE crec_schema(app TEXT NOT NULL, version INTEGER NOT NULL);"
                 "INSERT INTO crec_schema VALUES ('crec', 1);"
                 "CREATE TABLE crec_seq(name TEXT PRIMARY KEY, value BIGINT NOT NULL);"
                 "INSERT INTO crec_seq(name, value) VALUES ('users', 0), ('items', 0);"
                 "CREATE FUNCTION crec_row_id() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                 "  IF NEW.id IS NULL THEN"
                 "    UPDATE crec_seq SET value = value + 1 WHERE name = TG_TABLE_NAME RETURNING value INTO NEW.id;"
                 "  ELSE UPDATE crec_seq SET value = GREATEST(value, NEW.id) WHERE name = TG_TABLE_NAME; END IF;"
                 "  RETURN NEW; END $$;"
                 "CREATE TABLE users(id BIGINT PRIMARY KEY, ext TEXT COLLATE \"C\" NOT NULL UNIQUE);"
                 "CREATE TABLE items(id BIGINT PRIMARY KEY, ext TEXT COLLATE \"C\" NOT NULL UNIQUE, title TEXT, text TEXT,"
                 "  visible INTEGER NOT NULL DEFAULT 1);"
                 "CREATE TRIGGER users_row_id BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION crec_row_id();"
                 "CREATE TRIGGER items_row_id BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION crec_row_id();"
                 "CREATE TABLE event_types(id BIGINT PRIMARY KEY, name TEXT COLLATE \"C\" NOT NULL UNIQUE);"
                 "INSERT INTO event_types(id, name) VALUES (0, 'interaction');"
                 "CREATE TABLE events(id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,"
                 "  user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
                 "  item_id BIGINT NOT NULL REFERENCES items(id) ON DELETE CASCADE,"
                 "  type BIGINT NOT NULL DEFAULT 0 REFERENCES event_types(id),"
                 "  value DOUBLE PRECISION NOT NULL DEFAULT 1, ts BIGINT NOT NULL);"
                 "CREATE INDEX events_by_user ON events(user_id, ts);"
                 "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
                 "INSERT INTO users(ext) VALUES ('old-user');"
                 "INSERT INTO items(ext, title) VALUES ('x', 'Item X'), ('y', 'Item Y');"
                 "INSERT INTO events(user_id, item_id, value, ts) VALUES (1, 2, 1, 20), (1, 1, 1, 10);");
    else
    sql_exec(p,
             "PRAGMA application_id = 1129465155;"
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
             "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
             "INSERT INTO users(ext) VALUES ('old-user');"
             "INSERT INTO items(ext, title) VALUES ('x', 'Item X'), ('y', 'Item Y');"
             "INSERT INTO events(user_id, item_id, value, ts) VALUES (1, 2, 1, 20), (1, 1, 1, 10);"
             "PRAGMA user_version = 1;");
    if (!tdb_pg()) assert_int_equal(sql_int(p, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'item_attrs'"), 0);
    crec_store *s = open_ok(p);
    assert_int_equal(crec_store_schema_version(s), CREC_STORE_SCHEMA_VERSION);
    /* step 3 filled the counters from the rows that were there */
    crec_store_stats stv;
    assert_int_equal(crec_store_stats_get(s, &stv), 0);
    assert_int_equal(stv.n_users, 1);
    assert_int_equal(stv.n_items, 2);
    assert_int_equal(stv.n_events, 2);
    assert_int_equal(stv.min_ts, 10);
    assert_int_equal(stv.max_ts, 20);
    /* old rows survive and the new tables work */
    crec_store_item it = {.id = "x", .title = "Item X", .visible = 1, .attrs = (char *[]){"blue", "a-first"}, .n_attrs = 2};
    assert_int_equal(crec_store_item_put(s, &it, CREC_STORE_UPDATE, NULL), 0);
    crec_store_item got;
    assert_int_equal(crec_store_item_get(s, "x", 1, 1, 1, &got), 0);
    assert_string_equal(got.title, "Item X");
    assert_int_equal(got.n_attrs, 2);
    assert_string_equal(got.attrs[0], "a-first"); /* sorted */
    assert_string_equal(got.attrs[1], "blue");
    assert_int_equal(got.n_events, 1);
    crec_store_item_clear(&got);
    crec_dataset *ds;
    assert_int_equal(crec_store_snapshot(s, &ds), 0);
    assert_int_equal(ds->n, 2);
    assert_string_equal(ds->items.names[ds->item[0]], "y"); /* insertion order */
    crec_dataset_free(ds);
    crec_store_close(s);
    if (tdb_pg()) {
        assert_int_equal(sql_int(p, "SELECT version FROM crec_schema"), CREC_STORE_SCHEMA_VERSION);
        assert_int_equal(sql_int(p, "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema()"
                                    " AND indexname = 'events_by_item'"), 1);
        return;
    }
    assert_int_equal(sql_int(p, "PRAGMA user_version"), CREC_STORE_SCHEMA_VERSION);
    assert_int_equal(sql_int(p, "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'events_by_item'"), 1);
}

/* The statistics come from counters kept by triggers (schema 3): after every kind of write - events,
 * a new user, hiding, a user's erasure, an item's deletion cascading to its events, a write undone in a
 * group - they must equal what COUNT(*) says. */
static void check_counts(crec_store *s, const char *p) {
    crec_store_stats a;
    assert_int_equal(crec_store_stats_get(s, &a), 0);
    assert_int_equal(a.n_users, sql_int(p, "SELECT COUNT(*) FROM users"));
    assert_int_equal(a.n_items, sql_int(p, "SELECT COUNT(*) FROM items"));
    assert_int_equal(a.n_hidden_items, sql_int(p, "SELECT COUNT(*) FROM items WHERE visible = 0"));
    assert_int_equal(a.n_events, sql_int(p, "SELECT COUNT(*) FROM events"));
    assert_int_equal(a.min_ts, sql_int(p, "SELECT COALESCE(MIN(ts), 0) FROM events"));
    assert_int_equal(a.max_ts, sql_int(p, "SELECT COALESCE(MAX(ts), 0) FROM events"));
}

static void test_counters(void **st) {
    const char *p = path_in("counters.db");
    crec_dataset *ds = small_dataset();
    crec_store *s = open_ok(p);
    crec_store_import_result r;
    assert_int_equal(crec_store_import(s, ds, &r), 0);
    check_counts(s, p);
    crec_store_event ev[] = {{"c-new", "a", NULL, 1, 500}, {"c-new", "b", NULL, 1, -3}};
    int64_t bad;
    assert_int_equal(crec_store_add_events(s, ev, 2, NULL, &bad), 0);
    check_counts(s, p);
    crec_store_item it = {.id = "hid", .title = "H", .visible = 0};
    assert_int_equal(crec_store_item_put(s, &it, CREC_STORE_CREATE, NULL), 0);
    check_counts(s, p);
    it.visible = 1;
    assert_int_equal(crec_store_item_put(s, &it, CREC_STORE_UPDATE, NULL), 0);
    check_counts(s, p);
    int64_t n = 0;
    assert_int_equal(crec_store_delete_user(s, "c-new", &n), 0);
    assert_int_equal(n, 2);
    check_counts(s, p);
    assert_int_equal(crec_store_item_delete(s, "a", &n), 0);  /* its events go by ON DELETE CASCADE */
    check_counts(s, p);
    /* a group: one write committed, one undone by its own failure */
    assert_int_equal(crec_store_group_begin(s), 0);
    crec_store_event g1[] = {{"g", "b", NULL, 1, 7}};
    crec_store_event g2[] = {{"g2", "b", NULL, 1, 8}, {"g2", "nope", NULL, 1, 9}};
    assert_int_equal(crec_store_add_events(s, g1, 1, NULL, &bad), 0);
    assert_int_equal(crec_store_add_events(s, g2, 2, NULL, &bad), CREC_ENOTFOUND);
    assert_int_equal(crec_store_group_commit(s), 0);
    check_counts(s, p);
    assert_int_equal(sql_int(p, "SELECT COUNT(*) FROM users WHERE ext = 'g2'"), 0);
    assert_int_equal(sql_int(p, "SELECT COUNT(*) FROM users WHERE ext = 'g'"), 1);
    /* an abandoned group leaves nothing */
    assert_int_equal(crec_store_group_begin(s), 0);
    assert_int_equal(crec_store_add_events(s, g1, 1, NULL, &bad), 0);
    crec_store_group_rollback(s);
    check_counts(s, p);
    assert_int_equal(sql_int(p, "SELECT COUNT(*) FROM events WHERE ts = 7"), 1);
    crec_store_close(s);
    crec_dataset_free(ds);
}

static void test_refuses_newer_and_foreign(void **st) {
    crec_store *s = NULL;
    char err[256];
    const char *p = path_in("newer.db");
    crec_store_close(open_ok(p));
    sql_exec(p, tdb_pg() ? "UPDATE crec_schema SET version = 99" : "PRAGMA user_version = 99");
    assert_int_equal(crec_store_open(p, NULL, &s, err, sizeof err), CREC_EVERSION);
    assert_null(s);
    assert_non_null(strstr(err, "newer"));

    const char *q = path_in("foreign.db");
    sql_exec(q, "CREATE TABLE accounts(id INTEGER)");
    assert_int_equal(crec_store_open(q, NULL, &s, err, sizeof err), CREC_EFORMAT);
    assert_non_null(strstr(err, "another application"));

    crec_store_opts o = {.no_create = 1};
    assert_int_equal(crec_store_open(path_in("missing.db"), &o, &s, err, sizeof err), CREC_ENOTFOUND);
    if (tdb_pg()) {
        /* nothing listening: a clear connection error, not a crash */
        assert_int_equal(crec_store_open("postgresql://127.0.0.1:1/none?connect_timeout=2", NULL, &s, err, sizeof err),
                         CREC_EIO);
        assert_non_null(strstr(err, "cannot connect"));
        assert_null(s);
        return;
    }
    const char *t = path_in("text.db");
    tu_write(t, "this is not a database, just some text long enough to fill a header........................"
                "..................................................................................\n");
    assert_int_equal(crec_store_open(t, NULL, &s, err, sizeof err), CREC_EFORMAT);
}

static void test_import_snapshot_roundtrip(void **st) {
    crec_dataset *ds = small_dataset();
    crec_store *s = open_ok(path_in("rt.db"));
    crec_store_import_result r;
    assert_int_equal(crec_store_import(s, ds, &r), 0);
    assert_int_equal(r.users_added, 3);
    assert_int_equal(r.items_added, 4);
    assert_int_equal(r.events_added, 7);
    assert_int_equal(r.attrs_added, 3);
    crec_store_stats stats;
    assert_int_equal(crec_store_stats_get(s, &stats), 0);
    assert_int_equal(stats.n_users, 3);
    assert_int_equal(stats.n_items, 4);
    assert_int_equal(stats.n_events, 7);
    assert_int_equal(stats.n_event_types, 2);
    assert_int_equal(stats.n_attrs, 2);
    assert_int_equal(stats.min_ts, 1);
    assert_int_equal(stats.max_ts, 10);

    crec_dataset *back;
    assert_int_equal(crec_store_snapshot(s, &back), 0);
    assert_int_equal(back->users.n, 3);
    assert_int_equal(back->items.n, 4);
    assert_int_equal(back->n, 7);
    for (int32_t u = 0; u < 3; u++) assert_string_equal(back->users.names[u], ds->users.names[u]);
    for (int32_t i = 0; i < 4; i++) assert_string_equal(back->items.names[i], ds->items.names[i]);
    for (int64_t k = 0; k < 7; k++) {
        assert_int_equal(back->user[k], ds->user[k]);
        assert_int_equal(back->item[k], ds->item[k]);
        assert_int_equal(back->ts[k], ds->ts[k]);
        assert_true(back->value[k] == ds->value[k]);
        assert_string_equal(back->event_types.names[back->type[k]], ds->event_types.names[ds->type[k]]);
    }
    assert_int_equal(back->has_time, 1);
    assert_int_equal(back->has_value, 1);
    assert_string_equal(back->name, "small");
    assert_string_equal(back->title[0], "Alpha");
    assert_null(back->title[1]);
    assert_string_equal(back->text[2], "about c");
    /* attributes: a = {big, red}, d = {big} */
    assert_int_equal(back->attr_ptr[1] - back->attr_ptr[0], 2);
    assert_int_equal(back->attr_ptr[4] - back->attr_ptr[3], 1);
    assert_string_equal(back->attrs.names[back->attr_idx[back->attr_ptr[3]]], "big");
    assert_int_equal(back->uattr_ptr[2] - back->uattr_ptr[1], 1);
    assert_string_equal(back->user_attrs.names[back->uattr_idx[back->uattr_ptr[1]]], "gender:F");
    /* and the snapshot is a dataset like any other: .crecds round trip */
    assert_int_equal(crec_dataset_save(back, path_in("rt.crecds")), 0);
    crec_dataset *file;
    assert_int_equal(crec_dataset_load(path_in("rt.crecds"), &file), 0);
    assert_int_equal(file->n, 7);
    crec_dataset_free(file);
    crec_dataset_free(back);

    /* a second import appends the events and adds no users or items */
    assert_int_equal(crec_store_import(s, ds, &r), 0);
    assert_int_equal(r.users_added + r.items_added, 0);
    assert_int_equal(crec_store_stats_get(s, &stats), 0);
    assert_int_equal(stats.n_events, 14);
    crec_store_close(s);
    crec_dataset_free(ds);
}

typedef struct hist { char items[16][8]; int64_t ts[16]; char types[16][16]; int n; } hist;

static int hist_cb(void *ctx, int64_t sid, const char *item, size_t len, const char *type, float value, int64_t ts) {
    hist *h = ctx;
    if (h->n < 16) {
        snprintf(h->items[h->n], sizeof h->items[0], "%.*s", (int)len, item);
        snprintf(h->types[h->n], sizeof h->types[0], "%s", type);
        h->ts[h->n++] = ts;
    }
    return 0;
}

static void test_events_history(void **st) {
    crec_dataset *ds = small_dataset();
    crec_store *s = open_ok(path_in("ev.db"));
    assert_int_equal(crec_store_import(s, ds, NULL), 0);
    hist h = {0};
    int64_t n = 0;
    /* u2's events were b@10 then c@5: history is time ordered */
    assert_int_equal(crec_store_user_events(s, "u2", 0, hist_cb, &h, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(h.n, 2);
    assert_string_equal(h.items[0], "c");
    assert_string_equal(h.items[1], "b");

    /* a batch: a new user, a new event type, equal timestamps keep insertion order */
    crec_store_event ev[] = {{"u2", "d", "purchase", 2.5f, 20}, {"new", "a", NULL, 1, 30}, {"u2", "a", NULL, 1, 20}};
    int64_t sid[3], bad = 0;
    assert_int_equal(crec_store_add_events(s, ev, 3, sid, &bad), 0);
    assert_int_equal(bad, -1);
    assert_int_equal(sid[0], 4); /* d is the 4th item row */
    assert_int_equal(sid[1], 1);
    memset(&h, 0, sizeof h);
    assert_int_equal(crec_store_user_events(s, "u2", 0, hist_cb, &h, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(h.items[2], "d");
    assert_string_equal(h.types[2], "purchase");
    assert_string_equal(h.items[3], "a");
    assert_int_equal(h.ts[3], 20);
    /* only the newest two, still oldest first */
    memset(&h, 0, sizeof h);
    assert_int_equal(crec_store_user_events(s, "u2", 2, hist_cb, &h, NULL), 0);
    assert_int_equal(h.n, 2);
    assert_string_equal(h.items[0], "d");
    assert_string_equal(h.items[1], "a");

    /* an unknown item anywhere in the batch: nothing is written, and the bad index is reported */
    crec_store_stats before, after;
    assert_int_equal(crec_store_stats_get(s, &before), 0);
    crec_store_event ev2[] = {{"u9", "a", NULL, 1, 40}, {"u9", "nope", NULL, 1, 41}};
    assert_int_equal(crec_store_add_events(s, ev2, 2, NULL, &bad), CREC_ENOTFOUND);
    assert_int_equal(bad, 1);
    assert_int_equal(crec_store_stats_get(s, &after), 0);
    assert_int_equal(after.n_events, before.n_events);
    assert_int_equal(after.n_users, before.n_users); /* u9 was rolled back too */
    assert_int_equal(crec_store_user_events(s, "u9", 0, NULL, NULL, NULL), CREC_ENOTFOUND);

    int64_t *counts, nc;
    assert_int_equal(crec_store_item_counts(s, &counts, &nc), 0);
    assert_int_equal(nc, 5);
    assert_int_equal(counts[1], 4); /* a: u1, u3, new, u2 */
    assert_int_equal(counts[4], 2); /* d: u1, u2 */
    free(counts);
    crec_store_close(s);

    /* committed means on disk: a new connection sees all of it */
    s = open_ok(path_in("ev.db"));
    assert_int_equal(crec_store_user_events(s, "new", 0, NULL, NULL, &n), 0);
    assert_int_equal(n, 1);
    crec_store_close(s);
    crec_dataset_free(ds);
}

static void test_delete_user(void **st) {
    crec_dataset *ds = small_dataset();
    crec_store *s = open_ok(path_in("del.db"));
    assert_int_equal(crec_store_import(s, ds, NULL), 0);
    int64_t n = -1;
    assert_int_equal(crec_store_delete_user(s, "u1", &n), 0);
    assert_int_equal(n, 4);
    assert_int_equal(crec_store_user_events(s, "u1", 0, NULL, NULL, NULL), CREC_ENOTFOUND);
    assert_int_equal(crec_store_delete_user(s, "u1", &n), CREC_ENOTFOUND);
    crec_store_stats stats;
    assert_int_equal(crec_store_stats_get(s, &stats), 0);
    assert_int_equal(stats.n_users, 2);
    assert_int_equal(stats.n_events, 3);
    crec_store_close(s);
    /* no row of u1 is left anywhere, features included */
    const char *p = path_in("del.db");
    assert_int_equal(sql_int(p, "SELECT COUNT(*) FROM events WHERE user_id = 1"), 0);
    assert_int_equal(sql_int(p, "SELECT COUNT(*) FROM user_attrs WHERE user_id = 1"), 0);
    assert_int_equal(sql_int(p, "SELECT COUNT(*) FROM user_attrs"), 1);
    /* the snapshot keeps every surviving user at its id (row id - 1): u1's place is held by a placeholder,
     * so a model trained before the deletion still lines up */
    s = open_ok(p);
    crec_dataset *back;
    assert_int_equal(crec_store_snapshot(s, &back), 0);
    assert_int_equal(back->users.n, 3);
    assert_int_equal((unsigned char)back->users.names[0][0], 0x7f);
    assert_string_equal(back->users.names[1], "u2");
    assert_string_equal(back->users.names[2], "u3");
    assert_int_equal(back->n, 3);
    assert_int_equal(back->user[0], 1); /* u2's first event */
    crec_dataset_free(back);
    /* deleting the newest user and item, then adding new ones: old ids unchanged, new rows after them */
    assert_int_equal(crec_store_delete_user(s, "u3", &n), 0);
    assert_int_equal(crec_store_item_delete(s, "d", &n), 0);
    crec_store_item it = {.id = "e", .visible = 1};
    assert_int_equal(crec_store_item_put(s, &it, CREC_STORE_CREATE, NULL), 0);
    crec_store_event ev[] = {{"u4", "e", NULL, 1, 99}};
    assert_int_equal(crec_store_add_events(s, ev, 1, NULL, NULL), 0);
    assert_int_equal(crec_store_snapshot(s, &back), 0);
    assert_int_equal(back->users.n, 4);
    assert_int_equal(back->items.n, 5);
    assert_int_equal((unsigned char)back->users.names[2][0], 0x7f);
    assert_string_equal(back->users.names[3], "u4");
    assert_int_equal((unsigned char)back->items.names[3][0], 0x7f);
    for (int32_t i = 0; i < 3; i++) assert_string_equal(back->items.names[i], ds->items.names[i]);
    assert_string_equal(back->items.names[4], "e");
    assert_int_equal(back->user[back->n - 1], 3);
    assert_int_equal(back->item[back->n - 1], 4);
    crec_dataset_free(back);
    crec_store_close(s);
    crec_dataset_free(ds);
}

static int collect_ids(void *ctx, int64_t sid, const char *id, size_t len, int visible) {
    char *out = ctx;
    size_t l = strlen(out);
    snprintf(out + l, 256 - l, "%s%.*s%s", l ? "," : "", (int)len, id, visible ? "" : "(hidden)");
    return 0;
}

static void test_items_crud(void **st) {
    crec_store *s = open_ok(path_in("items.db"));
    char *attrs1[] = {"shoes", "red"};
    crec_store_item it = {.id = "sku1", .title = "Red shoes", .text = "nice", .attrs = attrs1, .n_attrs = 2, .visible = 1};
    int created = 0;
    assert_int_equal(crec_store_item_put(s, &it, CREC_STORE_CREATE, &created), 0);
    assert_int_equal(created, 1);
    assert_int_equal(crec_store_item_put(s, &it, CREC_STORE_CREATE, &created), CREC_EEXISTS);
    assert_int_equal(created, 0);
    crec_store_item it2 = {.id = "sku2", .title = "Blue hat", .attrs = (char *[]){"hats"}, .n_attrs = 1, .visible = 1};
    assert_int_equal(crec_store_item_put(s, &it2, CREC_STORE_REPLACE, &created), 0);
    assert_int_equal(created, 1);
    crec_store_item none = {.id = "sku3", .visible = 1};
    assert_int_equal(crec_store_item_put(s, &none, CREC_STORE_UPDATE, NULL), CREC_ENOTFOUND);

    crec_store_item got;
    assert_int_equal(crec_store_item_get(s, "sku1", 4, 1, 1, &got), 0);
    assert_int_equal(got.sid, 1);
    assert_string_equal(got.title, "Red shoes");
    assert_string_equal(got.text, "nice");
    assert_int_equal(got.n_attrs, 2);
    assert_string_equal(got.attrs[0], "red");
    assert_int_equal(got.visible, 1);
    crec_store_item_clear(&got);
    assert_int_equal(crec_store_item_get(s, "sku9", 4, 0, 0, &got), CREC_ENOTFOUND);

    /* update replaces the fields, attributes included; hidden items stay readable */
    it.title = "Red boots";
    it.text = NULL;
    it.attrs = (char *[]){"boots"};
    it.n_attrs = 1;
    it.visible = 0;
    assert_int_equal(crec_store_item_put(s, &it, CREC_STORE_UPDATE, &created), 0);
    assert_int_equal(created, 0);
    assert_int_equal(crec_store_item_get_sid(s, 1, 1, &got), 0);
    assert_string_equal(got.title, "Red boots");
    assert_null(got.text);
    assert_int_equal(got.n_attrs, 1);
    assert_string_equal(got.attrs[0], "boots");
    assert_int_equal(got.visible, 0);
    crec_store_item_clear(&got);

    char ids[256] = "";
    assert_int_equal(crec_store_items_with_attr(s, "boots", collect_ids, ids), 0);
    assert_string_equal(ids, "sku1(hidden)");
    ids[0] = 0;
    assert_int_equal(crec_store_items_with_attr(s, "shoes", collect_ids, ids), 0);
    assert_string_equal(ids, "");
    ids[0] = 0;
    assert_int_equal(crec_store_items_list(s, 0, 10, collect_ids, ids), 0);
    assert_string_equal(ids, "sku1(hidden),sku2");
    ids[0] = 0;
    assert_int_equal(crec_store_items_list(s, 1, 10, collect_ids, ids), 0);
    assert_string_equal(ids, "sku2");

    /* delete takes the item's events with it */
    crec_store_event ev[] = {{"u", "sku1", NULL, 1, 1}, {"u", "sku2", NULL, 1, 2}, {"v", "sku1", NULL, 1, 3}};
    assert_int_equal(crec_store_add_events(s, ev, 3, NULL, NULL), 0);
    int64_t n = 0;
    assert_int_equal(crec_store_item_delete(s, "sku1", &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(crec_store_item_get(s, "sku1", 4, 0, 0, &got), CREC_ENOTFOUND);
    assert_int_equal(crec_store_item_delete(s, "sku1", &n), CREC_ENOTFOUND);
    crec_store_stats stats;
    assert_int_equal(crec_store_stats_get(s, &stats), 0);
    assert_int_equal(stats.n_items, 1);
    assert_int_equal(stats.n_events, 1);
    crec_store_close(s);
}

/* The functions behind the server's Gorse-style API (store_api.c). */
static int collect_users(void *ctx, int64_t sid, const char *id, size_t len) {
    return collect_ids(ctx, sid, id, len, 1);
}
static int collect_fb(void *ctx, const crec_store_feedback *f) {
    char *out = ctx;
    size_t l = strlen(out);
    snprintf(out + l, 256 - l, "%s%s/%s/%s/%g/%lld", l ? "," : "", f->user, f->item, f->type, f->value, (long long)f->ts);
    return 0;
}
static int collect_uid(void *ctx, int64_t sid, const char *id, size_t len) {
    char *out = ctx;
    size_t l = strlen(out);
    (void)sid;
    snprintf(out + l, 256 - l, "%s%.*s", l ? "," : "", (int)len, id);
    return 0;
}
static int collect_sim(void *ctx, const char *user, double score, int64_t common) {
    char *out = ctx;
    size_t l = strlen(out);
    snprintf(out + l, 256 - l, "%s%s:%.3f:%lld", l ? "," : "", user, score, (long long)common);
    return 0;
}

static void test_api_functions(void **st) {
    crec_store *s = open_ok(path_in("api.db"));
    char ids[256] = "";
    /* labels: created, replaced (duplicates once, sorted), read back; unknown user */
    const char *l1[] = {"b", "a", "b"};
    int created = 0, n = 0;
    char **labels = NULL;
    assert_int_equal(crec_store_user_put(s, "ann", l1, 3, &created), 0);
    assert_int_equal(created, 1);
    assert_int_equal(crec_store_user_labels(s, "ann", &labels, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(labels[0], "a");
    assert_string_equal(labels[1], "b");
    crec_store_labels_free(labels, n);
    assert_int_equal(crec_store_user_put(s, "ann", NULL, 0, &created), 0);
    assert_int_equal(created, 0);
    assert_int_equal(crec_store_user_labels(s, "ann", &labels, &n), 0);
    assert_int_equal(n, 0);
    crec_store_labels_free(labels, n);
    assert_int_equal(crec_store_user_labels(s, "zed", &labels, &n), CREC_ENOTFOUND);
    assert_int_equal(crec_store_user_put(s, "bob", NULL, 0, NULL), 0);
    assert_int_equal(crec_store_users_list(s, 0, 10, collect_users, ids), 0);
    assert_string_equal(ids, "ann,bob");
    ids[0] = 0;
    assert_int_equal(crec_store_users_list(s, 1, 10, collect_users, ids), 0);
    assert_string_equal(ids, "bob");

    /* items in a batch: all or nothing; the bad one's index */
    crec_store_item items[3] = {{.id = "x1", .visible = 1}, {.id = "x2", .visible = 1}, {.id = NULL, .visible = 1}};
    int64_t bad = -1, made = 0;
    assert_int_not_equal(crec_store_items_put_batch(s, items, 3, &bad, &made), 0);
    assert_int_equal(bad, 2);
    crec_store_item got;
    assert_int_equal(crec_store_item_get(s, "x1", 2, 0, 0, &got), CREC_ENOTFOUND);
    assert_int_equal(crec_store_items_put_batch(s, items, 2, &bad, &made), 0);
    assert_int_equal(made, 2);
    assert_int_equal(crec_store_items_put_batch(s, items, 1, &bad, &made), 0);
    assert_int_equal(made, 0);
    /* creation time: set at insert, changed on request; the newest first */
    int64_t c1 = 0;
    assert_int_equal(crec_store_item_created(s, "x1", &c1), 0);
    assert_true(c1 > 1600000000);
    assert_int_equal(crec_store_item_set_created(s, "x1", c1 + 100), 0);
    ids[0] = 0;
    assert_int_equal(crec_store_items_latest(s, 2, collect_ids, ids), 0);
    assert_string_equal(ids, "x1,x2");
    assert_int_equal(crec_store_item_created(s, "nope", &c1), CREC_ENOTFOUND);
    /* one attribute at a time */
    int changed = 0;
    assert_int_equal(crec_store_item_attr(s, "x2", "sale", 1, &changed), 0);
    assert_int_equal(changed, 1);
    assert_int_equal(crec_store_item_attr(s, "x2", "sale", 1, &changed), 0);
    assert_int_equal(changed, 0);
    ids[0] = 0;
    assert_int_equal(crec_store_items_with_attr(s, "sale", collect_ids, ids), 0);
    assert_string_equal(ids, "x2");
    assert_int_equal(crec_store_item_attr(s, "x2", "sale", 0, &changed), 0);
    assert_int_equal(changed, 1);
    assert_int_equal(crec_store_item_attr(s, "nope", "sale", 1, &changed), CREC_ENOTFOUND);

    /* feedback: append, insert (skip a stored triple), upsert (update it) */
    crec_store_event ev[] = {{"ann", "x1", "click", 1, 10}, {"ann", "x2", NULL, 1, 11}, {"bob", "x1", "click", 1, 12}};
    int64_t w = 0;
    assert_int_equal(crec_store_add_events_mode(s, ev, 3, CREC_STORE_APPEND, NULL, NULL, &w), 0);
    assert_int_equal(w, 3);
    crec_store_event ev2[] = {{"ann", "x1", "click", 7, 20}, {"ann", "x1", "buy", 2, 21}, {"ann", "x1", "buy", 3, 22}};
    int64_t sids[3];
    assert_int_equal(crec_store_add_events_mode(s, ev2, 3, CREC_STORE_INSERT, sids, NULL, &w), 0);
    assert_int_equal(w, 1); /* the buy is new; the click and the second buy are stored already */
    assert_int_equal(sids[0], -1);
    assert_int_equal(sids[1], 1);
    assert_int_equal(sids[2], -1);
    ids[0] = 0;
    assert_int_equal(crec_store_feedback_list(s, 0, "ann", NULL, 0, 10, collect_fb, ids), 0);
    assert_string_equal(ids, "ann/x1/click/1/10,ann/x2/interaction/1/11,ann/x1/buy/2/21");
    assert_int_equal(crec_store_add_events_mode(s, ev2, 1, CREC_STORE_UPSERT, NULL, NULL, &w), 0);
    assert_int_equal(w, 1);
    ids[0] = 0;
    assert_int_equal(crec_store_feedback_list(s, 1, "x1", "click", 0, 10, collect_fb, ids), 0);
    assert_string_equal(ids, "ann/x1/click/7/20,bob/x1/click/1/12");
    ids[0] = 0;
    assert_int_equal(crec_store_feedback_list(s, 1, "x1", "click", 0, 1, collect_fb, ids), 0); /* limit */
    assert_string_equal(ids, "ann/x1/click/7/20");
    ids[0] = 0;
    assert_int_equal(crec_store_feedback_list(s, 1, "x1", "nosuchtype", 0, 10, collect_fb, ids), 0);
    assert_string_equal(ids, "");
    assert_int_equal(crec_store_feedback_list(s, 0, "zed", NULL, 0, 10, collect_fb, ids), CREC_ENOTFOUND);
    /* users by id prefix, in byte order, paged by the last id */
    ids[0] = 0;
    assert_int_equal(crec_store_users_prefix(s, "", NULL, 10, collect_uid, ids), 0);
    assert_string_equal(ids, "ann,bob");
    ids[0] = 0;
    assert_int_equal(crec_store_users_prefix(s, "b", NULL, 10, collect_uid, ids), 0);
    assert_string_equal(ids, "bob");
    ids[0] = 0;
    assert_int_equal(crec_store_users_prefix(s, "", "ann", 10, collect_uid, ids), 0);
    assert_string_equal(ids, "bob");
    ids[0] = 0;
    assert_int_equal(crec_store_users_prefix(s, "", NULL, 1, collect_uid, ids), 0);
    assert_string_equal(ids, "ann");
    ids[0] = 0;
    assert_int_equal(crec_store_users_prefix(s, "an", "ann", 10, collect_uid, ids), 0);
    assert_string_equal(ids, "");
    assert_int_equal(crec_store_users_prefix(s, "zz", NULL, 10, collect_uid, ids), 0);
    assert_string_equal(ids, "");
    /* every event after an id, in id order (the --events publisher's read) */
    int64_t top = -1;
    assert_int_equal(crec_store_events_max_id(s, &top), 0);
    assert_true(top >= 4);
    ids[0] = 0;
    assert_int_equal(crec_store_events_after(s, top - 2, 10, collect_fb, ids), 0);
    assert_string_equal(ids, "bob/x1/click/1/12,ann/x1/buy/2/21");
    ids[0] = 0;
    assert_int_equal(crec_store_events_after(s, top - 2, 1, collect_fb, ids), 0); /* limit */
    assert_string_equal(ids, "bob/x1/click/1/12");
    ids[0] = 0;
    assert_int_equal(crec_store_events_after(s, top, 10, collect_fb, ids), 0);
    assert_string_equal(ids, "");
    bad = -1;
    crec_store_event evbad[] = {{"ann", "x1", NULL, 1, 1}, {"ann", "nope", NULL, 1, 1}};
    assert_int_equal(crec_store_add_events_mode(s, evbad, 2, CREC_STORE_INSERT, NULL, &bad, &w), CREC_ENOTFOUND);
    assert_int_equal(bad, 1);

    /* similar users: bob shares x1 with ann (ann: x1, x2) -> 1 / 2 */
    ids[0] = 0;
    assert_int_equal(crec_store_similar_users(s, "bob", 5, collect_sim, ids), 0);
    assert_string_equal(ids, "ann:0.500:1");
    assert_int_equal(crec_store_similar_users(s, "zed", 5, collect_sim, ids), CREC_ENOTFOUND);

    /* delete one type, then all of a pair */
    int64_t nd = 0, isid = 0;
    assert_int_equal(crec_store_feedback_delete(s, "ann", "x1", "buy", &nd, &isid), 0);
    assert_int_equal(nd, 1);
    assert_int_equal(isid, 1);
    assert_int_equal(crec_store_feedback_delete(s, "ann", "x1", "nosuchtype", &nd, NULL), 0);
    assert_int_equal(nd, 0);
    assert_int_equal(crec_store_feedback_delete(s, "ann", "x1", NULL, &nd, NULL), 0);
    assert_int_equal(nd, 1);
    assert_int_equal(crec_store_feedback_delete(s, "ann", "nope", NULL, &nd, NULL), CREC_ENOTFOUND);
    assert_int_equal(crec_store_feedback_delete(s, "zed", "x1", NULL, &nd, NULL), CREC_ENOTFOUND);
    crec_store_stats stats;
    assert_int_equal(crec_store_stats_get(s, &stats), 0);
    assert_int_equal(stats.n_events, 2);
    crec_store_close(s);
}

static int setup(void **st) {
    g_dir = tu_tmpdir();
    return g_dir ? 0 : -1;
}

static int teardown(void **st) {
    tu_rmrf(g_dir);
    free(g_dir);
    return 0;
}

/* Two connections to one store (two server processes): one writer at a time - a second writer waits up to its
 * busy timeout and then gets CREC_ESTATE, never a torn write - and the same new user created through both
 * is one row. */
static void test_two_connections(void **st) {
    const char *p = path_in("two.db");
    crec_store *a = open_ok(p), *b = NULL;
    char err[256];
    crec_store_opts o = {.busy_timeout_ms = 200};
    assert_int_equal(crec_store_open(p, &o, &b, err, sizeof err), 0);
    crec_store_item it = {.id = "x", .visible = 1};
    assert_int_equal(crec_store_item_put(a, &it, CREC_STORE_CREATE, NULL), 0);
    crec_store_event ev[] = {{"both", "x", NULL, 1, 5}};
    int64_t bad = -1;
    assert_int_equal(crec_store_group_begin(a), 0);
    assert_int_equal(crec_store_add_events(a, ev, 1, NULL, &bad), 0);
    assert_int_equal(crec_store_add_events(b, ev, 1, NULL, &bad), CREC_ESTATE); /* a holds the write lock */
    assert_int_equal(crec_store_group_commit(a), 0);
    assert_int_equal(crec_store_add_events(b, ev, 1, NULL, &bad), 0);
    int64_t n = 0;
    assert_int_equal(crec_store_user_events(a, "both", 0, NULL, NULL, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(sql_int(p, "SELECT COUNT(*) FROM users WHERE ext = 'both'"), 1);
    crec_store_close(a);
    crec_store_close(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_schema),          cmocka_unit_test(test_migrate_from_v1),
        cmocka_unit_test(test_refuses_newer_and_foreign), cmocka_unit_test(test_import_snapshot_roundtrip),
        cmocka_unit_test(test_events_history),        cmocka_unit_test(test_delete_user),
        cmocka_unit_test(test_items_crud),            cmocka_unit_test(test_counters),
        cmocka_unit_test(test_api_functions),       cmocka_unit_test(test_two_connections),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
