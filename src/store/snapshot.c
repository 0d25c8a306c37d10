/* snapshot.c: moving whole datasets in and out of the store: bulk import (one transaction, prepared
 * statements) and the snapshot that turns the store back into a crec_dataset for training.
 *
 * The one idea: a snapshot's dense ids are the store's row ids minus one, for users and items alike. Row ids
 * are never reused (AUTOINCREMENT) and a deleted row leaves a placeholder (an id starting with 0x7f, no
 * events), so the snapshot taken today extends the one a model was trained on yesterday: same ids for every
 * old user and item, new ones after them. A store filled from dataset D gives D back with D's dense ids.
 * The snapshot reads inside one read transaction, so concurrent writers never tear it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/store_internal.h"

static int prep(crec_store *s, const char *sql, crec_dbst **st) { return crec__db_prepare(s->db, sql, 0, st); }

/* The highest row id ever handed out (deleted rows included): SQLite's AUTOINCREMENT counter, PostgreSQL's
 * crec_seq row (schema_pg.c; transactional, so it agrees with the snapshot's view). */
#define LITE_SEQ(t) "SELECT COALESCE(MAX(seq), 0) FROM sqlite_sequence WHERE name = '" t "'"
#define PG_SEQ(t) "SELECT COALESCE(MAX(value), 0) FROM crec_seq WHERE name = '" t "'"

static int step_reset(crec_dbst *st) {
    int rc = crec__db_step(st);
    crec__db_reset(st);
    return rc == CREC_DB_DONE || rc == CREC_DB_ROW ? 0 : crec__store_rc(rc);
}

static int count_rows(crec_store *s, const char *sql, int64_t *out) {
    crec_dbst *st;
    int rc = prep(s, sql, &st);
    if (rc) return rc;
    *out = crec__db_step(st) == CREC_DB_ROW ? crec__db_col_i64(st, 0) : 0;
    crec__db_finalize(st);
    return 0;
}

static const char *meta_get(crec_store *s, const char *key, char *buf, size_t n) {
    crec_dbst *st;
    buf[0] = 0;
    if (prep(s, "SELECT value FROM meta WHERE key = ?1", &st)) return NULL;
    crec__db_bind_text(st, 1, key, -1);
    const char *r = NULL;
    if (crec__db_step(st) == CREC_DB_ROW && crec__db_col_text(st, 0)) {
        snprintf(buf, n, "%s", crec__db_col_text(st, 0));
        r = buf;
    }
    crec__db_finalize(st);
    return r;
}

static int meta_set(crec_store *s, const char *key, const char *val) {
    crec_dbst *st;
    int rc = prep(s, "INSERT INTO meta(key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE SET value = excluded.value", &st);
    if (rc) return rc;
    crec__db_bind_text(st, 1, key, -1);
    crec__db_bind_text(st, 2, val, -1);
    rc = step_reset(st);
    crec__db_finalize(st);
    return rc;
}

/* Everything of the import inside the open transaction; statements finalized by the caller. */
typedef struct import_stmts { crec_dbst *item_upd, *uattr, *event; } import_stmts;

static int import_body(crec_store *s, const crec_dataset *ds, import_stmts *q, crec_store_import_result *r) {
    int64_t n_ev_before = 0, n_users_before = 0, n_attrs_before = 0;
    int rc;
    if ((rc = count_rows(s, "SELECT COUNT(*) FROM events", &n_ev_before)) ||
        (rc = count_rows(s, "SELECT COUNT(*) FROM users", &n_users_before)) ||
        (rc = count_rows(s, "SELECT COUNT(*) FROM item_attrs", &n_attrs_before)))
        return rc;
    int64_t *usid = malloc(((size_t)ds->users.n + 1) * sizeof *usid);
    int64_t *isid = malloc(((size_t)ds->items.n + 1) * sizeof *isid);
    int64_t tsid[256];
    if (!usid || !isid) {
        rc = CREC_ENOMEM;
        goto out;
    }
    for (int32_t u = 0; u < ds->users.n && !rc; u++) {
        if (strlen(ds->users.names[u]) > CREC_STORE_MAX_ID) rc = CREC_ERANGE;
        else if ((usid[u] = crec__store_user_sid(s, ds->users.names[u], 1)) < 0) rc = (int)usid[u];
    }
    for (int32_t i = 0; i < ds->items.n && !rc; i++) {
        const char *id = ds->items.names[i];
        const char *title = ds->title && i < ds->meta_cap ? ds->title[i] : NULL;
        const char *text = ds->text && i < ds->meta_cap ? ds->text[i] : NULL;
        if (strlen(id) > CREC_STORE_MAX_ID) {
            rc = CREC_ERANGE;
            break;
        }
        int64_t sid = crec__store_item_sid(s, id, strlen(id));
        if (sid == CREC_ENOTFOUND) {
            crec_store_item it = {.id = (char *)id, .title = (char *)title, .text = (char *)text, .visible = 1};
            if ((rc = crec__store_item_write(s, &it, CREC_STORE_CREATE, NULL, &sid))) break;
            if (r) r->items_added++;
        } else if (sid < 0) {
            rc = (int)sid;
            break;
        } else if (title || text) {
            crec__db_bind_i64(q->item_upd, 1, sid);
            if (title) crec__db_bind_text(q->item_upd, 2, title, -1);
            else crec__db_bind_null(q->item_upd, 2);
            if (text) crec__db_bind_text(q->item_upd, 3, text, -1);
            else crec__db_bind_null(q->item_upd, 3);
            if ((rc = step_reset(q->item_upd))) break;
        }
        isid[i] = sid;
    }
    for (int64_t k = 0; k < ds->n_attr_pairs && !rc; k++) {
        crec_dbst *st = crec__store_stmt(s, ST_ITEM_ATTR_ADD);
        if (!st) {
            rc = CREC_EIO;
            break;
        }
        crec__db_bind_i64(st, 1, isid[ds->attr_item[k]]);
        crec__db_bind_text(st, 2, ds->attrs.names[ds->attr_id[k]], -1);
        rc = step_reset(st);
    }
    for (int64_t k = 0; k < ds->n_uattr_pairs && !rc; k++) {
        crec__db_bind_i64(q->uattr, 1, usid[ds->uattr_user[k]]);
        crec__db_bind_text(q->uattr, 2, ds->user_attrs.names[ds->uattr_id[k]], -1);
        rc = step_reset(q->uattr);
    }
    for (int32_t t = 0; t < ds->event_types.n && t < 256 && !rc; t++) {
        int64_t id = crec__store_type_id(s, ds->event_types.names[t]);
        if (id < 0) rc = (int)id;
        else tsid[t] = id;
    }
    for (int64_t k = 0; k < ds->n && !rc; k++) {
        crec__db_bind_i64(q->event, 1, usid[ds->user[k]]);
        crec__db_bind_i64(q->event, 2, isid[ds->item[k]]);
        crec__db_bind_i64(q->event, 3, ds->type && ds->type[k] < ds->event_types.n ? tsid[ds->type[k]] : 0);
        crec__db_bind_double(q->event, 4, ds->value ? (double)ds->value[k] : 1.0);
        crec__db_bind_i64(q->event, 5, ds->ts ? ds->ts[k] : k);
        rc = step_reset(q->event);
    }
    if (!rc) {
        /* time and value semantics of the whole store: those of its first import, weakened by later ones */
        char buf[16];
        int first = n_ev_before == 0;
        const char *ht = meta_get(s, "has_time", buf, sizeof buf);
        int has_time = ds->has_time && (first || (ht && strcmp(ht, "1") == 0));
        if ((rc = meta_set(s, "has_time", has_time ? "1" : "0"))) goto out;
        const char *hv = meta_get(s, "has_value", buf, sizeof buf);
        int has_value = ds->has_value && (first || (hv && strcmp(hv, "1") == 0));
        if ((rc = meta_set(s, "has_value", has_value ? "1" : "0"))) goto out;
        if (first && ds->name[0] && (rc = meta_set(s, "name", ds->name))) goto out;
    }
    if (!rc && r) {
        int64_t n_users = 0, n_attrs = 0;
        count_rows(s, "SELECT COUNT(*) FROM users", &n_users);
        count_rows(s, "SELECT COUNT(*) FROM item_attrs", &n_attrs);
        r->users_added = n_users - n_users_before;
        r->attrs_added = n_attrs - n_attrs_before;
        r->events_added = ds->n;
    }
out:
    free(usid);
    free(isid);
    return rc;
}

int crec_store_import(crec_store *s, const crec_dataset *ds, crec_store_import_result *r) {
    if (r) memset(r, 0, sizeof *r);
    if (!ds) return CREC_EINVAL;
    if (ds->event_types.n > 256) return CREC_ERANGE;
    double t0 = crec__now();
    int rc = crec__store_begin(s);
    if (rc) return rc;
    /* one row per event would also run the events counter trigger once per row (5x the CPU of the import):
     * switch it off for the bulk insert, add the batch's count and time range in one statement, switch it back
     * on - all in this transaction, so a failed import leaves the trigger as it was. SQLite drops and recreates
     * the trigger; PostgreSQL's trigger function returns at once while this transaction's crec.bulk is 1 (no
     * table lock, other sessions keep counting). */
    int pg = crec__store_pg(s);
    rc = crec__store_rc(crec__db_exec(s->db, pg ? "SET LOCAL crec.bulk = '1'" : "DROP TRIGGER IF EXISTS events_count_ins"));
    if (rc) {
        crec__store_rollback(s);
        return rc;
    }
    import_stmts q = {0};
    if (!(rc = prep(s, "UPDATE items SET title = COALESCE(?2, title), text = COALESCE(?3, text) WHERE id = ?1",
                    &q.item_upd)) &&
        !(rc = prep(s, "INSERT INTO user_attrs(user_id, attr) VALUES (?1, ?2) ON CONFLICT DO NOTHING", &q.uattr)) &&
        !(rc = prep(s, "INSERT INTO events(user_id, item_id, type, value, ts) VALUES (?1, ?2, ?3, ?4, ?5)", &q.event)))
        rc = import_body(s, ds, &q, r);
    crec__db_finalize(q.item_upd);
    crec__db_finalize(q.uattr);
    crec__db_finalize(q.event);
    if (!rc) rc = crec__store_rc(crec__db_exec(s->db, pg ? "SET LOCAL crec.bulk = '0'" : CREC__SQL_EVENTS_INS_TRIGGER));
    if (!rc && ds->n > 0) {
        int64_t lo = ds->ts[0], hi = ds->ts[0];
        for (int64_t k = 1; k < ds->n; k++) {
            if (ds->ts[k] < lo) lo = ds->ts[k];
            if (ds->ts[k] > hi) hi = ds->ts[k];
        }
        char sql[400];
        snprintf(sql, sizeof sql,
                 "UPDATE counters SET value = value + %lld WHERE name = 'events';"
                 "UPDATE counters SET value = CASE WHEN value IS NULL OR value > %lld THEN %lld ELSE value END"
                 " WHERE name = 'min_ts';"
                 "UPDATE counters SET value = CASE WHEN value IS NULL OR value < %lld THEN %lld ELSE value END"
                 " WHERE name = 'max_ts';",
                 (long long)ds->n, (long long)lo, (long long)lo, (long long)hi, (long long)hi);
        rc = crec__store_rc(crec__db_exec(s->db, sql));
    }
    if (!rc) rc = crec__store_commit(s);
    if (rc) {
        crec__store_rollback(s);
        s->n_types_cached = 0;
        if (r) memset(r, 0, sizeof *r);
    }
    if (r) r->seconds = crec__now() - t0;
    return rc;
}

/* ---- snapshot ---- */

/* Dense ids for store row ids: map[sid] (sids are positive and at most MAX(id)). */
typedef struct sidmap { int32_t *d; int64_t n; } sidmap;

static int sidmap_make(crec_store *s, const char *sql_max, sidmap *m) {
    int64_t mx = 0;
    int rc = count_rows(s, sql_max, &mx);
    if (rc) return rc;
    m->n = mx + 1;
    m->d = malloc((size_t)m->n * sizeof *m->d);
    if (!m->d) return CREC_ENOMEM;
    for (int64_t k = 0; k < m->n; k++) m->d[k] = -1;
    return 0;
}

static int32_t sidmap_get(const sidmap *m, int64_t sid) { return sid >= 0 && sid < m->n ? m->d[sid] : -1; }

/* The placeholder of a deleted row (users: into m; items: into ds), so that dense id = row id - 1 holds for
 * every row, deleted or not. Its name starts with 0x7f, which no id accepted by the server can. */
static int tombstone(crec_idmap *m, crec_dataset *ds, int64_t sid) {
    char name[40];
    int n = snprintf(name, sizeof name, "\x7f" "deleted:%lld", (long long)sid);
    return m ? crec_idmap_intern(m, name, (size_t)n) : crec_dataset_item(ds, name, (size_t)n);
}

static int snapshot_body(crec_store *s, crec_dataset *ds) {
    sidmap um = {0}, im = {0};
    int32_t tmap[256];
    crec_dbst *st = NULL;
    int rc, src;
    if ((rc = sidmap_make(s, "SELECT COALESCE(MAX(id), 0) FROM users", &um)) ||
        (rc = sidmap_make(s, "SELECT COALESCE(MAX(id), 0) FROM items", &im)))
        goto out;
    /* users and items in row order */
    if ((rc = prep(s, "SELECT id, ext FROM users ORDER BY id", &st))) goto out;
    int64_t next = 1, last = 0;
    while ((src = crec__db_step(st)) == CREC_DB_ROW) {
        int64_t sid = crec__db_col_i64(st, 0);
        if (sid < next || sid >= um.n) {
            rc = CREC_EFORMAT;
            goto out;
        }
        for (; next < sid; next++) /* deleted rows keep their place */
            if ((rc = tombstone(&ds->users, NULL, next)) < 0) goto out;
        int32_t d = crec_idmap_intern(&ds->users, crec__db_col_text(st, 1),
                                      (size_t)crec__db_col_bytes(st, 1));
        if (d < 0) {
            rc = d;
            goto out;
        }
        um.d[sid] = d;
        next = sid + 1;
    }
    rc = 0;
    if (src != CREC_DB_DONE && (rc = crec__store_rc(src))) goto out;
    crec__db_finalize(st);
    st = NULL;
    if ((rc = count_rows(s, crec__store_pg(s) ? PG_SEQ("users") : LITE_SEQ("users"), &last))) goto out;
    for (; next <= last; next++) /* the newest rows were deleted: they keep their place too */
        if ((rc = tombstone(&ds->users, NULL, next)) < 0) goto out;
    rc = 0;
    if ((rc = prep(s, "SELECT id, ext, title, text FROM items ORDER BY id", &st))) goto out;
    next = 1;
    while ((src = crec__db_step(st)) == CREC_DB_ROW) {
        int64_t sid = crec__db_col_i64(st, 0);
        if (sid < next || sid >= im.n) {
            rc = CREC_EFORMAT;
            goto out;
        }
        for (; next < sid; next++)
            if ((rc = tombstone(NULL, ds, next)) < 0) goto out;
        rc = 0;
        int32_t d = crec_dataset_item(ds, crec__db_col_text(st, 1), (size_t)crec__db_col_bytes(st, 1));
        if (d < 0) {
            rc = d;
            goto out;
        }
        im.d[sid] = d;
        next = sid + 1;
        if (!crec__db_col_null(st, 2) &&
            (rc = crec_dataset_set_title(ds, d, crec__db_col_text(st, 2),
                                         (size_t)crec__db_col_bytes(st, 2))))
            goto out;
        if (!crec__db_col_null(st, 3) &&
            (rc = crec_dataset_set_text(ds, d, crec__db_col_text(st, 3),
                                        (size_t)crec__db_col_bytes(st, 3))))
            goto out;
    }
    if (src != CREC_DB_DONE && (rc = crec__store_rc(src))) goto out;
    crec__db_finalize(st);
    st = NULL;
    if ((rc = count_rows(s, crec__store_pg(s) ? PG_SEQ("items") : LITE_SEQ("items"), &last))) goto out;
    for (; next <= last; next++)
        if ((rc = tombstone(NULL, ds, next)) < 0) goto out;
    rc = 0;
    /* event types: 0 is "interaction" in both */
    for (int k = 0; k < 256; k++) tmap[k] = -1;
    if ((rc = prep(s, "SELECT id, name FROM event_types ORDER BY id", &st))) goto out;
    while ((src = crec__db_step(st)) == CREC_DB_ROW) {
        int64_t id = crec__db_col_i64(st, 0);
        int32_t d = crec_idmap_intern(&ds->event_types, crec__db_col_text(st, 1),
                                      (size_t)crec__db_col_bytes(st, 1));
        if (d < 0) {
            rc = d;
            goto out;
        }
        if (id < 0 || id > 255 || d > 255) {
            rc = CREC_ERANGE;
            goto out;
        }
        tmap[id] = d;
    }
    if (src != CREC_DB_DONE && (rc = crec__store_rc(src))) goto out;
    crec__db_finalize(st);
    /* attributes */
    if ((rc = prep(s, "SELECT item_id, attr FROM item_attrs ORDER BY item_id, attr", &st))) goto out;
    while ((src = crec__db_step(st)) == CREC_DB_ROW) {
        int32_t d = sidmap_get(&im, crec__db_col_i64(st, 0));
        if (d >= 0 && (rc = crec_dataset_add_attr(ds, d, crec__db_col_text(st, 1),
                                                  (size_t)crec__db_col_bytes(st, 1))))
            goto out;
    }
    if (src != CREC_DB_DONE && (rc = crec__store_rc(src))) goto out;
    crec__db_finalize(st);
    if ((rc = prep(s, "SELECT user_id, attr FROM user_attrs ORDER BY user_id, attr", &st))) goto out;
    while ((src = crec__db_step(st)) == CREC_DB_ROW) {
        int32_t d = sidmap_get(&um, crec__db_col_i64(st, 0));
        if (d >= 0 && (rc = crec_dataset_add_user_attr(ds, d, crec__db_col_text(st, 1),
                                                       (size_t)crec__db_col_bytes(st, 1))))
            goto out;
    }
    if (src != CREC_DB_DONE && (rc = crec__store_rc(src))) goto out;
    crec__db_finalize(st);
    /* the log, in insertion order */
    /* streamed: PostgreSQL sends the rows one at a time instead of materialising the whole log first */
    if ((rc = crec__db_prepare(s->db, "SELECT user_id, item_id, type, value, ts FROM events ORDER BY id", CREC_DB_STREAM,
                               &st)))
        goto out;
    while ((src = crec__db_step(st)) == CREC_DB_ROW) {
        int32_t u = sidmap_get(&um, crec__db_col_i64(st, 0));
        int32_t i = sidmap_get(&im, crec__db_col_i64(st, 1));
        int64_t t = crec__db_col_i64(st, 2);
        if (u < 0 || i < 0 || t < 0 || t > 255 || tmap[t] < 0) {
            rc = CREC_EFORMAT; /* foreign keys make this impossible unless the file was edited by hand */
            goto out;
        }
        if ((rc = crec_dataset_add_dense(ds, u, i, crec__db_col_i64(st, 4), (float)crec__db_col_double(st, 3),
                                         (uint8_t)tmap[t])))
            goto out;
    }
    if (src != CREC_DB_DONE && (rc = crec__store_rc(src))) goto out;
    crec__db_finalize(st);
    st = NULL;
    char buf[128];
    const char *v = meta_get(s, "has_time", buf, sizeof buf);
    ds->has_time = v && strcmp(v, "1") == 0;
    v = meta_get(s, "has_value", buf, sizeof buf);
    ds->has_value = v && strcmp(v, "1") == 0;
    v = meta_get(s, "name", buf, sizeof buf);
    snprintf(ds->name, sizeof ds->name, "%s", v ? v : "store");
    if (ds->n_attr_pairs && (rc = crec_dataset_attr_csr(ds))) goto out;
    if (ds->n_uattr_pairs && (rc = crec_dataset_user_attr_csr(ds))) goto out;
out:
    crec__db_finalize(st);
    free(um.d);
    free(im.d);
    return rc;
}

int crec_store_snapshot(crec_store *s, crec_dataset **out) {
    *out = NULL;
    crec_dataset *ds = crec_dataset_new();
    if (!ds) return CREC_ENOMEM;
    /* one read transaction: a consistent view while writers go on (SQLite: WAL; PostgreSQL: one MVCC snapshot
     * for every statement of the transaction) */
    int rc = crec__db_exec(s->db, crec__store_pg(s) ? "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" : "BEGIN");
    if (!rc) {
        rc = snapshot_body(s, ds);
        crec__db_exec(s->db, "COMMIT");
    }
    if (rc) {
        crec_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}
