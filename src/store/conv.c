/* conv.c: the conversations table (schema step 4) for crec serve --crs-model: create, read, update.
 *
 * The one idea: a conversation is a row holding its whole state as JSON text, so a turn is one read and one
 * write and a restarted server continues where it stopped. Statements are prepared per call (a turn is rare
 * next to an event) so the cached statement list of store.c stays as it is. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/store_internal.h"

static int prep(crec_store *s, const char *sql, crec_dbst **st) { return crec__db_prepare(s->db, sql, 0, st); }

static char *col_dup(crec_dbst *st, int k) {
    const char *t = crec__db_col_text(st, k);
    if (!t) return NULL;
    size_t n = (size_t)crec__db_col_bytes(st, k);
    char *o = malloc(n + 1);
    if (o) memcpy(o, t, n), o[n] = 0;
    return o;
}

int crec_store_conv_create(crec_store *s, const char *user, const char *state, const char *transcript, int64_t now,
                           int64_t *id) {
    crec_dbst *st = NULL;
    int rc = crec__store_begin(s);
    if (rc) return rc;
    if (!(rc = prep(s, "INSERT INTO conversations(\"user\", state, transcript, created, updated)"
                       " VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id",
                    &st))) {
        crec__db_bind_opt_text(st, 1, user);
        crec__db_bind_text(st, 2, state, -1);
        crec__db_bind_text(st, 3, transcript, -1);
        crec__db_bind_i64(st, 4, now);
        int64_t r = crec__store_insert_id(s, st);
        if (r < 0) rc = (int)r;
        else *id = r;
    }
    crec__db_finalize(st);
    if (!rc) rc = crec__store_commit(s);
    if (rc) crec__store_rollback(s);
    return rc;
}

int crec_store_conv_get(crec_store *s, int64_t id, crec_store_conv *c) {
    memset(c, 0, sizeof *c);
    crec_dbst *st = NULL;
    int rc = prep(s, "SELECT id, \"user\", state, transcript, done, created, updated FROM conversations WHERE id = ?1", &st);
    if (rc) return rc;
    crec__db_bind_i64(st, 1, id);
    int sr = crec__db_step(st);
    if (sr == CREC_DB_ROW) {
        c->id = crec__db_col_i64(st, 0);
        c->user = col_dup(st, 1);
        c->state = col_dup(st, 2);
        c->transcript = col_dup(st, 3);
        c->done = (int)crec__db_col_i64(st, 4);
        c->created = crec__db_col_i64(st, 5);
        c->updated = crec__db_col_i64(st, 6);
        if (!c->state || !c->transcript || (!c->user && !crec__db_col_null(st, 1))) rc = CREC_ENOMEM;
    } else {
        rc = sr == CREC_DB_DONE ? CREC_ENOTFOUND : (crec__store_rc(sr) ? crec__store_rc(sr) : CREC_EIO);
    }
    crec__db_finalize(st);
    if (rc) crec_store_conv_clear(c);
    return rc;
}

int crec_store_conv_update(crec_store *s, int64_t id, const char *state, const char *transcript, int done,
                           int64_t now) {
    crec_dbst *st = NULL;
    int rc = crec__store_begin(s);
    if (rc) return rc;
    if (!(rc = prep(s, "UPDATE conversations SET state = ?2, transcript = ?3, done = ?4, updated = ?5 WHERE id = ?1",
                    &st))) {
        crec__db_bind_i64(st, 1, id);
        crec__db_bind_text(st, 2, state, -1);
        crec__db_bind_text(st, 3, transcript, -1);
        crec__db_bind_i64(st, 4, done);
        crec__db_bind_i64(st, 5, now);
        rc = crec__store_rc(crec__db_step(st));
        if (!rc && crec__db_changes(s->db) == 0) rc = CREC_ENOTFOUND;
    }
    crec__db_finalize(st);
    if (!rc) rc = crec__store_commit(s);
    if (rc) crec__store_rollback(s);
    return rc;
}

void crec_store_conv_clear(crec_store_conv *c) {
    if (!c) return;
    free(c->user);
    free(c->state);
    free(c->transcript);
    memset(c, 0, sizeof *c);
}
