/* db_sqlite.c: the store's SQL driver over SQLite (see db.h): each call is the sqlite3_* function of the
 * same name, with SQLite result codes turned into CREC_E*.
 *
 * The one idea: nothing here knows the store's schema; it only maps the driver interface onto sqlite3. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/common.h"
#include "store/db.h"

typedef struct {
    crec_db base;
    sqlite3 *h;
} lite_db;

typedef struct {
    crec_dbst base;
    sqlite3_stmt *h;
} lite_st;

static int lite_rc(int src) {
    switch (src & 0xff) {
    case SQLITE_OK:
    case SQLITE_DONE:
    case SQLITE_ROW: return 0;
    case SQLITE_NOMEM: return CREC_ENOMEM;
    case SQLITE_NOTADB: return CREC_EFORMAT;
    case SQLITE_CONSTRAINT: return CREC_EEXISTS;
    case SQLITE_TOOBIG:
    case SQLITE_RANGE: return CREC_ERANGE;
    case SQLITE_READONLY: return CREC_EUNSUPPORTED;
    case SQLITE_BUSY:
    case SQLITE_LOCKED: return CREC_ESTATE;
    default: return CREC_EIO;
    }
}

#define LDB(db) (((lite_db *)(db))->h)
#define LST(st) (((lite_st *)(st))->h)

static int lite_prepare(crec_db *db, const char *sql, int flags, crec_dbst **out) {
    *out = NULL;
    lite_st *st = calloc(1, sizeof *st);
    if (!st) return CREC_ENOMEM;
    st->base.db = db;
    int rc = sqlite3_prepare_v3(LDB(db), sql, -1, (flags & CREC_DB_PERSISTENT) ? SQLITE_PREPARE_PERSISTENT : 0,
                                &st->h, NULL);
    if (rc != SQLITE_OK) {
        free(st);
        return lite_rc(rc) ? lite_rc(rc) : CREC_EIO;
    }
    *out = &st->base;
    return 0;
}

static void lite_finalize(crec_dbst *st) {
    sqlite3_finalize(LST(st));
    free(st);
}

static void lite_reset(crec_dbst *st) {
    sqlite3_reset(LST(st));
    sqlite3_clear_bindings(LST(st));
}

static void lite_bind_i64(crec_dbst *st, int i, int64_t v) { sqlite3_bind_int64(LST(st), i, v); }
static void lite_bind_double(crec_dbst *st, int i, double v) { sqlite3_bind_double(LST(st), i, v); }
static void lite_bind_text(crec_dbst *st, int i, const char *t, int len) {
    sqlite3_bind_text(LST(st), i, t, len, SQLITE_TRANSIENT);
}
static void lite_bind_null(crec_dbst *st, int i) { sqlite3_bind_null(LST(st), i); }

static int lite_step(crec_dbst *st) {
    int rc = sqlite3_step(LST(st));
    if (rc == SQLITE_ROW) return CREC_DB_ROW;
    if (rc == SQLITE_DONE) return CREC_DB_DONE;
    return lite_rc(rc) ? lite_rc(rc) : CREC_EIO;
}

static int64_t lite_col_i64(crec_dbst *st, int c) { return sqlite3_column_int64(LST(st), c); }
static double lite_col_double(crec_dbst *st, int c) { return sqlite3_column_double(LST(st), c); }
static const char *lite_col_text(crec_dbst *st, int c) { return (const char *)sqlite3_column_text(LST(st), c); }
static int lite_col_bytes(crec_dbst *st, int c) { return sqlite3_column_bytes(LST(st), c); }
static int lite_col_null(crec_dbst *st, int c) { return sqlite3_column_type(LST(st), c) == SQLITE_NULL; }

static int lite_exec(crec_db *db, const char *sql) {
    int rc = sqlite3_exec(LDB(db), sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : (lite_rc(rc) ? lite_rc(rc) : CREC_EIO);
}
static int64_t lite_changes(crec_db *db) { return sqlite3_changes(LDB(db)); }
static int lite_in_tx(crec_db *db) { return !sqlite3_get_autocommit(LDB(db)); }
static const char *lite_errmsg(crec_db *db) { return sqlite3_errmsg(LDB(db)); }
static int lite_errcode(crec_db *db) {
    int rc = lite_rc(sqlite3_errcode(LDB(db)));
    return rc ? rc : CREC_EIO;
}
static void lite_close(crec_db *db) {
    sqlite3_close(LDB(db));
    free(db);
}

static const crec_db_ops LITE_OPS = {
    lite_prepare, lite_finalize, lite_reset,   lite_bind_i64, lite_bind_double, lite_bind_text, lite_bind_null,
    lite_step,    lite_col_i64,  lite_col_double, lite_col_text, lite_col_bytes, lite_col_null, lite_exec,
    lite_changes, lite_in_tx,    lite_errmsg,   lite_errcode,  lite_close,
};

/* Process-wide SQLite settings, before SQLite initializes: no memory statistics (they take a global mutex
 * on every allocation, which serializes the server's threads). MISUSE when the process already used SQLite:
 * then the defaults stay, which is only slower. */
static void sqlite_global_init(void) { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

int crec__db_open_sqlite(const char *path, int readonly, crec_db **out, char *err, size_t errn) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_global_init);
    *out = NULL;
    lite_db *d = calloc(1, sizeof *d);
    if (!d) return CREC_ENOMEM;
    d->base.ops = &LITE_OPS;
    d->base.kind = CREC_DB_SQLITE;
    int flags = (readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &d->h, flags, NULL);
    if (rc != SQLITE_OK) {
        crec__errf(err, errn, "%s: %s", path, d->h ? sqlite3_errmsg(d->h) : "cannot open");
        int crc = rc == SQLITE_CANTOPEN ? CREC_EIO : lite_rc(rc);
        sqlite3_close(d->h);
        free(d);
        return crc ? crc : CREC_EIO;
    }
    sqlite3_extended_result_codes(d->h, 0);
    *out = &d->base;
    return 0;
}
