/* store_api.c: the store functions behind the server's Gorse-style API (src/serve/api2.c): user labels and a
 * user list, one item attribute at a time, item creation times and the newest items, feedback listed by
 * user or item and deleted by (user, item, type), and ingestion that ignores or updates an existing
 * (user, item, type) instead of appending.
 *
 * The one idea: the same rules as store.c - every write is crec__store_begin ... crec__store_commit, so it is
 * one transaction alone and one savepoint inside the server's group commit - with statements prepared per
 * call (these routes are not on the hot path, so they stay out of store.c's statement cache). */
#include "store/store_internal.h"

#include <stdlib.h>
#include <string.h>

static int prep(crec_store *s, const char *sql, crec_dbst **st) { return crec__db_prepare(s->db, sql, 0, st); }

/* Run sql (no rows) with n_int integer parameters a, b (?1, ?2) and then, when c is not NULL, one text
 * parameter (?n_int+1). Every parameter the SQL names is bound (PostgreSQL infers each one's type from its use). */
static int run3(crec_store *s, const char *sql, int n_int, int64_t a, int64_t b, const char *c) {
    crec_dbst *st;
    int rc = prep(s, sql, &st);
    if (rc) return rc;
    if (n_int > 0) crec__db_bind_i64(st, 1, a);
    if (n_int > 1) crec__db_bind_i64(st, 2, b);
    if (c) crec__db_bind_text(st, n_int + 1, c, -1);
    rc = crec__db_step(st);
    crec__db_finalize(st);
    return rc == CREC_DB_DONE || rc == CREC_DB_ROW ? 0 : crec__store_rc(rc);
}

static int fail(crec_store *s, int rc) {
    crec__store_rollback(s);
    return rc;
}

/* ---- users ---- */

int crec_store_user_put(crec_store *s, const char *user, const char *const *labels, int n_labels, int *created) {
    if (created) *created = 0;
    if (!s || !user || n_labels < 0 || (n_labels > 0 && !labels)) return CREC_EINVAL;
    int rc = crec__store_begin(s);
    if (rc) return rc;
    int64_t u = crec__store_user_sid(s, user, 0);
    if (u == CREC_ENOTFOUND) {
        u = crec__store_user_sid(s, user, 1);
        if (created && u > 0) *created = 1;
    }
    if (u < 0) return fail(s, (int)u);
    if ((rc = run3(s, "DELETE FROM user_attrs WHERE user_id = ?1", 1, u, 0, NULL))) return fail(s, rc);
    for (int k = 0; k < n_labels; k++) {
        if (!labels[k]) return fail(s, CREC_EINVAL);
        if ((rc = run3(s, "INSERT INTO user_attrs(user_id, attr) VALUES (?1, ?2) ON CONFLICT DO NOTHING", 1, u, 0,
                          labels[k])))
            return fail(s, rc);
    }
    if ((rc = crec__store_commit(s))) return fail(s, rc);
    return 0;
}

int crec_store_user_labels(crec_store *s, const char *user, char ***labels, int *n) {
    *labels = NULL;
    *n = 0;
    int64_t u = crec__store_user_sid(s, user, 0);
    if (u < 0) return (int)u;
    crec_dbst *st;
    int rc = prep(s, "SELECT attr FROM user_attrs WHERE user_id = ?1 ORDER BY attr", &st);
    if (rc) return rc;
    crec__db_bind_i64(st, 1, u);
    char **l = NULL;
    int cnt = 0;
    while ((rc = crec__db_step(st)) == CREC_DB_ROW) {
        char **nl = realloc(l, (size_t)(cnt + 1) * sizeof *nl);
        char *v = nl ? strdup(crec__db_col_text(st, 0)) : NULL;
        if (!nl || !v) {
            if (nl) l = nl;
            free(v);
            rc = CREC_ENOMEM;
            break;
        }
        l = nl;
        l[cnt++] = v;
    }
    crec__db_finalize(st);
    if (rc != CREC_DB_DONE) {
        crec_store_labels_free(l, cnt);
        return crec__store_rc(rc);
    }
    *labels = l;
    *n = cnt;
    return 0;
}

void crec_store_labels_free(char **labels, int n) {
    for (int k = 0; k < n; k++) free(labels[k]);
    free(labels);
}

int crec_store_users_list(crec_store *s, int64_t after, int64_t limit, crec_store_user_cb cb, void *ctx) {
    crec_dbst *st;
    int rc = prep(s, "SELECT id, ext FROM users WHERE id > ?1 ORDER BY id LIMIT ?2", &st);
    if (rc) return rc;
    crec__db_bind_i64(st, 1, after);
    crec__db_bind_i64(st, 2, limit);
    while ((rc = crec__db_step(st)) == CREC_DB_ROW)
        if (cb(ctx, crec__db_col_i64(st, 0), crec__db_col_text(st, 1),
               (size_t)crec__db_col_bytes(st, 1))) {
            rc = CREC_DB_DONE;
            break;
        }
    crec__db_finalize(st);
    return rc == CREC_DB_DONE ? 0 : crec__store_rc(rc);
}

int crec_store_users_prefix(crec_store *s, const char *prefix, const char *after, int64_t limit, crec_store_user_cb cb,
                            void *ctx) {
    if (!s || !prefix || !cb) return CREC_EINVAL;
    size_t nl = strlen(prefix);
    /* the ids from max(prefix, after) on, in byte order (the UNIQUE index on ext; PostgreSQL's column is
     * COLLATE "C"), stopping at the first that does not start with prefix */
    crec_dbst *st;
    int rc = prep(s, "SELECT id, ext FROM users WHERE ext >= ?1 AND ext > ?2 ORDER BY ext LIMIT ?3", &st);
    if (rc) return rc;
    crec__db_bind_text(st, 1, prefix, -1);
    crec__db_bind_text(st, 2, after ? after : "", -1);
    crec__db_bind_i64(st, 3, limit);
    while ((rc = crec__db_step(st)) == CREC_DB_ROW) {
        const char *id = crec__db_col_text(st, 1);
        size_t len = (size_t)crec__db_col_bytes(st, 1);
        if (len < nl || memcmp(id, prefix, nl) != 0 || cb(ctx, crec__db_col_i64(st, 0), id, len)) {
            rc = CREC_DB_DONE;
            break;
        }
    }
    crec__db_finalize(st);
    return rc == CREC_DB_DONE ? 0 : crec__store_rc(rc);
}

/* ---- items ---- */

int crec_store_item_attr(crec_store *s, const char *item, const char *attr, int add, int *changed) {
    if (changed) *changed = 0;
    if (!s || !item || !attr) return CREC_EINVAL;
    int rc = crec__store_begin(s);
    if (rc) return rc;
    int64_t i = crec__store_item_sid(s, item, strlen(item));
    if (i < 0) return fail(s, (int)i);
    if (add) {
        int64_t n = 0;
        crec_dbst *st;
        if ((rc = prep(s, "SELECT COUNT(*) FROM item_attrs WHERE item_id = ?1", &st))) return fail(s, rc);
        crec__db_bind_i64(st, 1, i);
        if (crec__db_step(st) == CREC_DB_ROW) n = crec__db_col_i64(st, 0);
        crec__db_finalize(st);
        if (n >= CREC_STORE_MAX_ATTRS) return fail(s, CREC_ERANGE);
    }
    rc = run3(s, add ? "INSERT INTO item_attrs(item_id, attr) VALUES (?1, ?2) ON CONFLICT DO NOTHING"
                     : "DELETE FROM item_attrs WHERE item_id = ?1 AND attr = ?2", 1, i, 0, attr);
    if (rc) return fail(s, rc);
    if (changed) *changed = crec__db_changes(s->db) > 0;
    if ((rc = crec__store_commit(s))) return fail(s, rc);
    return 0;
}

int crec_store_item_created(crec_store *s, const char *item, int64_t *created) {
    *created = 0;
    crec_dbst *st;
    int rc = prep(s, "SELECT COALESCE(created, 0) FROM items WHERE ext = ?1", &st);
    if (rc) return rc;
    crec__db_bind_text(st, 1, item, -1);
    rc = crec__db_step(st);
    if (rc == CREC_DB_ROW) *created = crec__db_col_i64(st, 0);
    crec__db_finalize(st);
    return rc == CREC_DB_ROW ? 0 : rc == CREC_DB_DONE ? CREC_ENOTFOUND : crec__store_rc(rc);
}

int crec_store_item_set_created(crec_store *s, const char *item, int64_t created) {
    int rc = crec__store_begin(s);
    if (rc) return rc;
    int64_t i = crec__store_item_sid(s, item, strlen(item));
    if (i < 0) return fail(s, (int)i);
    if ((rc = run3(s, "UPDATE items SET created = ?2 WHERE id = ?1", 2, i, created, NULL))) return fail(s, rc);
    if ((rc = crec__store_commit(s))) return fail(s, rc);
    return 0;
}

int crec_store_items_latest(crec_store *s, int64_t k, crec_store_item_cb cb, void *ctx) {
    crec_dbst *st;
    int rc = prep(s, "SELECT id, ext, visible FROM items ORDER BY created DESC, id DESC LIMIT ?1", &st);
    if (rc) return rc;
    crec__db_bind_i64(st, 1, k);
    while ((rc = crec__db_step(st)) == CREC_DB_ROW)
        if (cb(ctx, crec__db_col_i64(st, 0), crec__db_col_text(st, 1),
               (size_t)crec__db_col_bytes(st, 1), (int)crec__db_col_i64(st, 2))) {
            rc = CREC_DB_DONE;
            break;
        }
    crec__db_finalize(st);
    return rc == CREC_DB_DONE ? 0 : crec__store_rc(rc);
}

/* ---- feedback ---- */

/* Step st (bound, columns: event id, user, item, type, value, ts) through cb; finalises st. */
static int feedback_rows(crec_dbst *st, crec_store_feedback_cb cb, void *ctx) {
    int rc;
    while ((rc = crec__db_step(st)) == CREC_DB_ROW) {
        crec_store_feedback f = {
            .id = crec__db_col_i64(st, 0),
            .user = crec__db_col_text(st, 1),
            .item = crec__db_col_text(st, 2),
            .type = crec__db_col_text(st, 3),
            .value = crec__db_col_double(st, 4),
            .ts = crec__db_col_i64(st, 5),
        };
        if (cb(ctx, &f)) {
            rc = CREC_DB_DONE;
            break;
        }
    }
    crec__db_finalize(st);
    return rc == CREC_DB_DONE ? 0 : crec__store_rc(rc);
}

#define FEEDBACK_COLS                                                                                              \
    "SELECT e.id, u.ext, i.ext, t.name, e.value, e.ts FROM events e JOIN users u ON u.id = e.user_id"             \
    " JOIN items i ON i.id = e.item_id JOIN event_types t ON t.id = e.type "

int crec_store_feedback_list(crec_store *s, int by_item, const char *id, const char *type, int64_t after,
                             int64_t limit, crec_store_feedback_cb cb, void *ctx) {
    int64_t owner = by_item ? crec__store_item_sid(s, id, strlen(id)) : crec__store_user_sid(s, id, 0);
    if (owner < 0) return (int)owner;
    char sql[400];
    snprintf(sql, sizeof sql, FEEDBACK_COLS "WHERE e.%s = ?1 AND e.id > ?2%s ORDER BY e.id LIMIT ?3",
             by_item ? "item_id" : "user_id", type ? " AND t.name = ?4" : "");
    crec_dbst *st;
    int rc = prep(s, sql, &st);
    if (rc) return rc;
    crec__db_bind_i64(st, 1, owner);
    crec__db_bind_i64(st, 2, after);
    crec__db_bind_i64(st, 3, limit);
    if (type) crec__db_bind_text(st, 4, type, -1);
    return feedback_rows(st, cb, ctx);
}

int crec_store_events_after(crec_store *s, int64_t after, int64_t limit, crec_store_feedback_cb cb, void *ctx) {
    crec_dbst *st;
    int rc = prep(s, FEEDBACK_COLS "WHERE e.id > ?1 ORDER BY e.id LIMIT ?2", &st);
    if (rc) return rc;
    crec__db_bind_i64(st, 1, after);
    crec__db_bind_i64(st, 2, limit);
    return feedback_rows(st, cb, ctx);
}

int crec_store_events_max_id(crec_store *s, int64_t *id) {
    *id = 0;
    crec_dbst *st;
    int rc = prep(s, "SELECT COALESCE(MAX(id), 0) FROM events", &st);
    if (rc) return rc;
    if ((rc = crec__db_step(st)) == CREC_DB_ROW) *id = crec__db_col_i64(st, 0), rc = CREC_DB_DONE;
    crec__db_finalize(st);
    return rc == CREC_DB_DONE ? 0 : crec__store_rc(rc);
}

int crec_store_feedback_delete(crec_store *s, const char *user, const char *item, const char *type, int64_t *n,
                               int64_t *item_sid) {
    *n = 0;
    if (item_sid) *item_sid = -1;
    int rc = crec__store_begin(s);
    if (rc) return rc;
    int64_t u = crec__store_user_sid(s, user, 0);
    int64_t i = u < 0 ? u : crec__store_item_sid(s, item, strlen(item));
    if (i < 0) return fail(s, (int)i);
    if (item_sid) *item_sid = i;
    rc = run3(s, type ? "DELETE FROM events WHERE user_id = ?1 AND item_id = ?2"
                        " AND type = (SELECT id FROM event_types WHERE name = ?3)"
                      : "DELETE FROM events WHERE user_id = ?1 AND item_id = ?2", 2, u, i, type);
    if (rc) return fail(s, rc);
    *n = crec__db_changes(s->db);
    if ((rc = crec__store_commit(s))) return fail(s, rc);
    return 0;
}

int crec_store_add_events_mode(crec_store *s, const crec_store_event *ev, int64_t n, crec_store_add_mode mode,
                               int64_t *item_sid, int64_t *bad, int64_t *n_written) {
    if (n_written) *n_written = 0;
    if (mode == CREC_STORE_APPEND) {
        int rc = crec_store_add_events(s, ev, n, item_sid, bad);
        if (!rc && n_written) *n_written = n;
        return rc;
    }
    if (bad) *bad = -1;
    if (n < 0 || (n > 0 && !ev)) return CREC_EINVAL;
    int rc = crec__store_begin(s);
    if (rc) return rc;
    crec_dbst *find = NULL, *upd = NULL, *ins = NULL;
    int64_t written = 0, k = 0;
    if ((rc = prep(s, "SELECT id FROM events WHERE user_id = ?1 AND item_id = ?2 AND type = ?3 LIMIT 1", &find)) ||
        (rc = prep(s, "UPDATE events SET value = ?2, ts = ?3 WHERE user_id = ?4 AND item_id = ?5 AND type = ?1", &upd)) ||
        (rc = prep(s, "INSERT INTO events(user_id, item_id, type, value, ts) VALUES (?1, ?2, ?3, ?4, ?5)", &ins)))
        goto done;
    for (; k < n; k++) {
        if (item_sid) item_sid[k] = -1;
        if (!ev[k].user || !ev[k].item) {
            rc = CREC_EINVAL;
            break;
        }
        int64_t u = crec__store_user_sid(s, ev[k].user, 1);
        int64_t i = u < 0 ? u : crec__store_item_sid(s, ev[k].item, strlen(ev[k].item));
        int64_t t = i < 0 ? i : crec__store_type_id(s, ev[k].type);
        if (t < 0) {
            rc = (int)t;
            break;
        }
        crec__db_reset(find);
        crec__db_bind_i64(find, 1, u);
        crec__db_bind_i64(find, 2, i);
        crec__db_bind_i64(find, 3, t);
        int src = crec__db_step(find);
        crec__db_reset(find);
        if (src != CREC_DB_ROW && src != CREC_DB_DONE) {
            rc = crec__store_rc(src);
            break;
        }
        if (src == CREC_DB_ROW) {
            if (mode == CREC_STORE_UPSERT) {
                crec__db_reset(upd);
                crec__db_bind_i64(upd, 1, t);
                crec__db_bind_double(upd, 2, (double)ev[k].value);
                crec__db_bind_i64(upd, 3, ev[k].ts);
                crec__db_bind_i64(upd, 4, u);
                crec__db_bind_i64(upd, 5, i);
                if ((src = crec__db_step(upd)) != CREC_DB_DONE) {
                    rc = crec__store_rc(src);
                    break;
                }
                written++;
            }
            continue;
        }
        crec__db_reset(ins);
        crec__db_bind_i64(ins, 1, u);
        crec__db_bind_i64(ins, 2, i);
        crec__db_bind_i64(ins, 3, t);
        crec__db_bind_double(ins, 4, (double)ev[k].value);
        crec__db_bind_i64(ins, 5, ev[k].ts);
        if ((src = crec__db_step(ins)) != CREC_DB_DONE) {
            rc = crec__store_rc(src);
            break;
        }
        written++;
        if (item_sid) item_sid[k] = i;
    }
    if (rc && bad) *bad = k; /* the loop stopped on the event that failed */
    if (!rc && n_written) *n_written = written;
done:
    crec__db_finalize(find);
    crec__db_finalize(upd);
    crec__db_finalize(ins);
    if (!rc) rc = crec__store_commit(s);
    if (rc) {
        crec__store_rollback(s);
        s->n_types_cached = 0;
    }
    return rc;
}

int crec_store_items_put_batch(crec_store *s, const crec_store_item *items, int64_t n, int64_t *bad, int64_t *n_created) {
    if (bad) *bad = -1;
    if (n_created) *n_created = 0;
    if (n < 0 || (n > 0 && !items)) return CREC_EINVAL;
    int rc = crec__store_begin(s);
    if (rc) return rc;
    int64_t made = 0;
    for (int64_t k = 0; k < n; k++) {
        int created = 0;
        if (!items[k].id) rc = CREC_EINVAL;
        if (rc || (rc = crec__store_item_write(s, &items[k], CREC_STORE_REPLACE, &created, NULL))) {
            if (bad) *bad = k;
            return fail(s, rc);
        }
        made += created;
    }
    if ((rc = crec__store_commit(s))) return fail(s, rc);
    if (n_created) *n_created = made;
    return 0;
}

int crec_store_similar_users(crec_store *s, const char *user, int64_t k, crec_store_simuser_cb cb, void *ctx) {
    int64_t u = crec__store_user_sid(s, user, 0);
    if (u < 0) return (int)u;
    crec_dbst *st;
    int rc = prep(s,
                  "WITH a AS (SELECT DISTINCT item_id FROM events WHERE user_id = ?1),"
                  " c AS (SELECT e.user_id AS uid, COUNT(DISTINCT e.item_id) AS inter FROM events e"
                  "       JOIN a ON a.item_id = e.item_id WHERE e.user_id <> ?1 GROUP BY e.user_id),"
                  " j AS (SELECT uid, inter, inter * 1.0 / ((SELECT COUNT(*) FROM a) +"
                  "       (SELECT COUNT(DISTINCT item_id) FROM events WHERE user_id = c.uid) - inter) AS score FROM c)"
                  " SELECT u.ext, j.score, j.inter FROM j JOIN users u ON u.id = j.uid ORDER BY j.score DESC, u.id"
                  " LIMIT ?2",
                  &st);
    if (rc) return rc;
    crec__db_bind_i64(st, 1, u);
    crec__db_bind_i64(st, 2, k);
    while ((rc = crec__db_step(st)) == CREC_DB_ROW)
        if (cb(ctx, crec__db_col_text(st, 0), crec__db_col_double(st, 1), crec__db_col_i64(st, 2))) {
            rc = CREC_DB_DONE;
            break;
        }
    crec__db_finalize(st);
    return rc == CREC_DB_DONE ? 0 : crec__store_rc(rc);
}
