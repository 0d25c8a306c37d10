/* conv.c: the conversations table (schema step 4) for crec serve --crs-model: create, read, update.
 *
 * The one idea: a conversation is a row holding its whole state as JSON text, so a turn is one read and one
 * write and a restarted server continues where it stopped. Statements are prepared per call (a turn is rare
 * next to an event) so the cached statement list of store.c stays as it is. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "store/store_internal.h"

static int prep(crec_store *s, const char *sql, sqlite3_stmt **st) {
    int rc = crec__store_rc(sqlite3_prepare_v2(s->db, sql, -1, st, NULL));
    return rc;
}

static char *col_dup(sqlite3_stmt *st, int k) {
    const unsigned char *t = sqlite3_column_text(st, k);
    if (!t) return NULL;
    size_t n = (size_t)sqlite3_column_bytes(st, k);
    char *o = malloc(n + 1);
    if (o) memcpy(o, t, n), o[n] = 0;
    return o;
}

int crec_store_conv_create(crec_store *s, const char *user, const char *state, const char *transcript, int64_t now,
                           int64_t *id) {
    sqlite3_stmt *st = NULL;
    int rc = crec__store_begin(s);
    if (rc) return rc;
    if (!(rc = prep(s, "INSERT INTO conversations(user, state, transcript, created, updated) VALUES (?1, ?2, ?3, ?4, ?4)",
                    &st))) {
        if (user) sqlite3_bind_text(st, 1, user, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, transcript, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, now);
        rc = crec__store_rc(sqlite3_step(st));
        if (!rc) *id = sqlite3_last_insert_rowid(s->db);
    }
    sqlite3_finalize(st);
    if (!rc) rc = crec__store_commit(s);
    if (rc) crec__store_rollback(s);
    return rc;
}

int crec_store_conv_get(crec_store *s, int64_t id, crec_store_conv *c) {
    memset(c, 0, sizeof *c);
    sqlite3_stmt *st = NULL;
    int rc = prep(s, "SELECT id, user, state, transcript, done, created, updated FROM conversations WHERE id = ?1", &st);
    if (rc) return rc;
    sqlite3_bind_int64(st, 1, id);
    int sr = sqlite3_step(st);
    if (sr == SQLITE_ROW) {
        c->id = sqlite3_column_int64(st, 0);
        c->user = col_dup(st, 1);
        c->state = col_dup(st, 2);
        c->transcript = col_dup(st, 3);
        c->done = sqlite3_column_int(st, 4);
        c->created = sqlite3_column_int64(st, 5);
        c->updated = sqlite3_column_int64(st, 6);
        if (!c->state || !c->transcript || (!c->user && sqlite3_column_type(st, 1) != SQLITE_NULL)) rc = CREC_ENOMEM;
    } else {
        rc = sr == SQLITE_DONE ? CREC_ENOTFOUND : (crec__store_rc(sr) ? crec__store_rc(sr) : CREC_EIO);
    }
    sqlite3_finalize(st);
    if (rc) crec_store_conv_clear(c);
    return rc;
}

int crec_store_conv_update(crec_store *s, int64_t id, const char *state, const char *transcript, int done,
                           int64_t now) {
    sqlite3_stmt *st = NULL;
    int rc = crec__store_begin(s);
    if (rc) return rc;
    if (!(rc = prep(s, "UPDATE conversations SET state = ?2, transcript = ?3, done = ?4, updated = ?5 WHERE id = ?1",
                    &st))) {
        sqlite3_bind_int64(st, 1, id);
        sqlite3_bind_text(st, 2, state, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, transcript, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 4, done);
        sqlite3_bind_int64(st, 5, now);
        rc = crec__store_rc(sqlite3_step(st));
        if (!rc && sqlite3_changes(s->db) == 0) rc = CREC_ENOTFOUND;
    }
    sqlite3_finalize(st);
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
