/* db.h: the store's thin SQL driver layer: one connection, prepared statements with numbered parameters,
 * rows stepped one at a time - over SQLite (db_sqlite.c) or PostgreSQL through libpq (db_pg.c).
 *
 * The one idea: store.c, snapshot.c, store_api.c and conv.c hold ONE copy of the store's logic and SQL and
 * talk only to this interface; SQL is written with SQLite's `?N` parameters (PostgreSQL's driver rewrites
 * them to `$N`) in the dialect both accept (RETURNING, ON CONFLICT, SAVEPOINT). Where the dialects differ
 * (DDL, triggers, transaction start, sequences) the caller picks the string by crec__db_kind.
 *
 * Results: crec__db_step gives CREC_DB_ROW (1), CREC_DB_DONE (0) or a negative CREC_E*; every other call
 * gives 0 or a negative CREC_E*. Column text is valid until the next step/reset of the statement. */
#ifndef CREC_STORE_DB_H
#define CREC_STORE_DB_H

#include <stddef.h>
#include <stdint.h>

typedef enum { CREC_DB_SQLITE = 0, CREC_DB_PG = 1 } crec_db_kind;
enum { CREC_DB_DONE = 0, CREC_DB_ROW = 1 };
/* crec__db_prepare flags */
enum {
    CREC_DB_PERSISTENT = 1, /* kept for the connection's life (SQLite: SQLITE_PREPARE_PERSISTENT) */
    CREC_DB_STREAM = 2,     /* a big scan: rows arrive one at a time (libpq single-row mode) instead of the whole
                               result at once; no other statement may run on the connection until it is done */
};

typedef struct crec_db crec_db;
typedef struct crec_dbst crec_dbst;

/* Driver entry points (one table per backend). */
typedef struct crec_db_ops {
    int (*prepare)(crec_db *db, const char *sql, int flags, crec_dbst **out);
    void (*finalize)(crec_dbst *st);
    void (*reset)(crec_dbst *st); /* ends a running statement and clears its parameters */
    void (*bind_i64)(crec_dbst *st, int i, int64_t v);
    void (*bind_double)(crec_dbst *st, int i, double v);
    void (*bind_text)(crec_dbst *st, int i, const char *t, int len); /* copied; len < 0: up to NUL */
    void (*bind_null)(crec_dbst *st, int i);
    int (*step)(crec_dbst *st);
    int64_t (*col_i64)(crec_dbst *st, int c);
    double (*col_double)(crec_dbst *st, int c);
    const char *(*col_text)(crec_dbst *st, int c); /* NULL for SQL NULL */
    int (*col_bytes)(crec_dbst *st, int c);
    int (*col_null)(crec_dbst *st, int c);
    int (*exec)(crec_db *db, const char *sql); /* one or more statements, no parameters, no rows wanted */
    int64_t (*changes)(crec_db *db);           /* rows changed by the last INSERT/UPDATE/DELETE */
    int (*in_tx)(crec_db *db);                 /* 1 inside an open transaction */
    const char *(*errmsg)(crec_db *db);
    int (*errcode)(crec_db *db); /* CREC_E* of the last failure on the connection (CREC_EIO when unknown) */
    void (*close)(crec_db *db);
} crec_db_ops;

struct crec_db {
    const crec_db_ops *ops;
    crec_db_kind kind;
};
struct crec_dbst {
    crec_db *db;
};

/* Open a SQLite file (created when absent unless readonly) or a PostgreSQL connection (a libpq URL). On
 * failure *out is NULL and err holds the reason. The caller closes with crec__db_close. */
int crec__db_open_sqlite(const char *path, int readonly, crec_db **out, char *err, size_t errn);
int crec__db_open_pg(const char *url, crec_db **out, char *err, size_t errn);
/* 1 when path names a PostgreSQL database (postgresql:// or postgres://). */
int crec__db_is_pg_url(const char *path);
/* url with its password replaced by *** for messages (a per-thread buffer, valid until the next call). */
const char *crec__db_pg_display(const char *url);

static inline int crec__db_prepare(crec_db *db, const char *sql, int flags, crec_dbst **out) {
    return db->ops->prepare(db, sql, flags, out);
}
static inline void crec__db_finalize(crec_dbst *st) { if (st) st->db->ops->finalize(st); }
static inline void crec__db_reset(crec_dbst *st) { st->db->ops->reset(st); }
static inline void crec__db_bind_i64(crec_dbst *st, int i, int64_t v) { st->db->ops->bind_i64(st, i, v); }
static inline void crec__db_bind_double(crec_dbst *st, int i, double v) { st->db->ops->bind_double(st, i, v); }
static inline void crec__db_bind_text(crec_dbst *st, int i, const char *t, int len) {
    st->db->ops->bind_text(st, i, t, len);
}
static inline void crec__db_bind_null(crec_dbst *st, int i) { st->db->ops->bind_null(st, i); }
static inline int crec__db_step(crec_dbst *st) { return st->db->ops->step(st); }
static inline int64_t crec__db_col_i64(crec_dbst *st, int c) { return st->db->ops->col_i64(st, c); }
static inline double crec__db_col_double(crec_dbst *st, int c) { return st->db->ops->col_double(st, c); }
static inline const char *crec__db_col_text(crec_dbst *st, int c) { return st->db->ops->col_text(st, c); }
static inline int crec__db_col_bytes(crec_dbst *st, int c) { return st->db->ops->col_bytes(st, c); }
static inline int crec__db_col_null(crec_dbst *st, int c) { return st->db->ops->col_null(st, c); }
static inline int crec__db_exec(crec_db *db, const char *sql) { return db->ops->exec(db, sql); }
static inline int64_t crec__db_changes(crec_db *db) { return db->ops->changes(db); }
static inline int crec__db_in_tx(crec_db *db) { return db->ops->in_tx(db); }
static inline const char *crec__db_errmsg(crec_db *db) { return db->ops->errmsg(db); }
static inline int crec__db_errcode(crec_db *db) { return db->ops->errcode(db); }
static inline void crec__db_close(crec_db *db) { if (db) db->ops->close(db); }
static inline crec_db_kind crec__db_kind(const crec_db *db) { return db->kind; }
/* Bind text or NULL. */
static inline void crec__db_bind_opt_text(crec_dbst *st, int i, const char *t) {
    if (t) crec__db_bind_text(st, i, t, -1);
    else crec__db_bind_null(st, i);
}
#endif
