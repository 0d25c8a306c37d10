/* db_pg.c: the store's SQL driver over PostgreSQL (libpq), behind the interface of db.h.
 *
 * The one idea: a cached (persistent) statement is prepared on the server once (PQprepare, `?N` rewritten to
 * `$N`) and run with PQexecPrepared; a one-off statement runs with PQexecParams (prepared on the server only if
 * it is run a second time, as the bulk import's are). A result normally arrives whole, so a caller may run
 * other statements while it walks the rows (as SQLite allows); a statement prepared with CREC_DB_STREAM (the
 * snapshot's scan of the event log) gets its rows one at a time in libpq's single-row mode, so a million
 * events never sit in memory twice. Parameters travel as text, NULL when unbound.
 *
 * A COMMIT that PostgreSQL turned into a ROLLBACK (the transaction had failed) is reported as a failure: the
 * store must never acknowledge a write that was not committed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/util.h"
#include "crec/common.h"
#include "store/db.h"

int crec__db_is_pg_url(const char *path) {
    return path && (strncmp(path, "postgresql://", 13) == 0 || strncmp(path, "postgres://", 11) == 0);
}

const char *crec__db_pg_display(const char *url) {
    static _Thread_local char buf[512];
    snprintf(buf, sizeof buf, "%s", url ? url : "");
    char *p = strstr(buf, "://");
    if (!p) return buf;
    p += 3;
    char *at = strchr(p, '@'), *slash = strchr(p, '/');
    if (!at || (slash && slash < at)) return buf;
    char *colon = memchr(p, ':', (size_t)(at - p));
    if (!colon) return buf;
    char rest[512];
    snprintf(rest, sizeof rest, "%s", at);
    snprintf(colon, sizeof buf - (size_t)(colon - buf), ":***%s", rest);
    return buf;
}

#ifndef CREC_HAVE_PG

int crec__db_open_pg(const char *url, crec_db **out, char *err, size_t errn) {
    *out = NULL;
    crec__errf(err, errn, "%s: this crec was built without libpq (install libpq-dev and rebuild)",
               crec__db_pg_display(url));
    return CREC_EUNSUPPORTED;
}

#else

#include <libpq-fe.h>

typedef struct {
    crec_db base;
    PGconn *c;
    unsigned n_named;      /* statement names handed out: crec_<n> */
    int64_t changes;
    int errcode;
    char err[512];
    struct pg_st *streaming; /* the statement whose rows are in flight, if any */
} pg_db;

typedef struct {
    char *heap;    /* text parameter (owned) */
    char num[32];  /* or a number's text */
    int set;       /* 0: NULL */
} pg_param;

enum { ST_IDLE, ST_RESULT, ST_STREAM, ST_DONE };

typedef struct pg_st {
    crec_dbst base;
    char *sql;      /* rewritten to $N */
    char name[24];  /* server-side name once prepared, else "" */
    int persistent, stream, runs;
    int nparams;
    pg_param *par;
    const char **vals;
    int state, row, nrows;
    PGresult *res;
} pg_st;

#define PDB(db) ((pg_db *)(db))
#define PST(st) ((pg_st *)(st))

static void quiet_notices(void *arg, const char *msg) { (void)arg, (void)msg; }

static int sqlstate_rc(const char *state) {
    if (!state || strlen(state) < 5) return CREC_EIO;
    if (strncmp(state, "23", 2) == 0) return CREC_EEXISTS;               /* integrity constraint */
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||    /* serialization, deadlock */
        strcmp(state, "55P03") == 0 || strcmp(state, "57014") == 0)      /* lock timeout, canceled */
        return CREC_ESTATE;
    if (strcmp(state, "53200") == 0) return CREC_ENOMEM;
    if (strcmp(state, "22001") == 0 || strcmp(state, "22003") == 0 || strcmp(state, "54000") == 0) return CREC_ERANGE;
    if (strcmp(state, "25006") == 0) return CREC_EUNSUPPORTED;            /* read-only transaction */
    return CREC_EIO;
}

/* Record the failure of res (or of the connection when res is NULL); returns its CREC_E*. */
static int fail(pg_db *d, const PGresult *res) {
    const char *m = res ? PQresultErrorMessage(res) : PQerrorMessage(d->c);
    snprintf(d->err, sizeof d->err, "%s", m && *m ? m : "PostgreSQL error");
    size_t n = strlen(d->err);
    while (n && (d->err[n - 1] == '\n' || d->err[n - 1] == ' ')) d->err[--n] = 0;
    d->errcode = res ? sqlstate_rc(PQresultErrorField(res, PG_DIAG_SQLSTATE)) : CREC_EIO;
    return d->errcode;
}

/* A COMMIT answered with ROLLBACK: the transaction had failed and nothing was written. */
static int commit_rolled_back(const char *sql, const PGresult *res) {
    return strncasecmp(sql, "COMMIT", 6) == 0 && strcmp(PQcmdStatus((PGresult *)res), "ROLLBACK") == 0;
}

/* `?N` -> `$N`, a bare `?` -> the next number; string literals and quoted names are copied as they are.
 * *nparams gets the highest number. NULL when out of memory. */
static char *rewrite(const char *sql, int *nparams) {
    size_t n = strlen(sql);
    char *o = malloc(n * 2 + 16), *w = o;
    if (!o) return NULL;
    int next = 0, hi = 0;
    char q = 0;
    for (const char *p = sql; *p; p++) {
        if (q) {
            if (*p == q) q = 0;
            *w++ = *p;
        } else if (*p == '\'' || *p == '"') {
            q = *p;
            *w++ = *p;
        } else if (*p == '?') {
            int k = 0;
            while (p[1] >= '0' && p[1] <= '9') k = k * 10 + (*++p - '0');
            if (!k) k = next + 1;
            next = k;
            if (k > hi) hi = k;
            w += sprintf(w, "$%d", k);
        } else {
            *w++ = *p;
        }
    }
    *w = 0;
    *nparams = hi;
    return o;
}

static void st_clear_result(pg_st *st) {
    pg_db *d = PDB(st->base.db);
    if (st->state == ST_STREAM) {
        /* rows still coming: read them to the end so the connection is free again */
        PQclear(st->res);
        PGresult *r;
        while ((r = PQgetResult(d->c))) PQclear(r);
        if (d->streaming == st) d->streaming = NULL;
    } else {
        PQclear(st->res);
    }
    st->res = NULL;
    st->state = ST_IDLE;
    st->row = st->nrows = 0;
}

static int pg_prepare(crec_db *db, const char *sql, int flags, crec_dbst **out) {
    *out = NULL;
    pg_st *st = calloc(1, sizeof *st);
    if (!st) return CREC_ENOMEM;
    st->base.db = db;
    st->persistent = (flags & CREC_DB_PERSISTENT) != 0;
    st->stream = (flags & CREC_DB_STREAM) != 0;
    if (!(st->sql = rewrite(sql, &st->nparams)) ||
        (st->nparams && (!(st->par = calloc((size_t)st->nparams, sizeof *st->par)) ||
                         !(st->vals = calloc((size_t)st->nparams, sizeof *st->vals))))) {
        free(st->sql);
        free(st->par);
        free(st);
        return CREC_ENOMEM;
    }
    *out = &st->base;
    return 0;
}

static void params_clear(pg_st *st) {
    for (int i = 0; i < st->nparams; i++) {
        free(st->par[i].heap);
        st->par[i].heap = NULL;
        st->par[i].set = 0;
    }
}

static void pg_finalize(crec_dbst *b) {
    pg_st *st = PST(b);
    pg_db *d = PDB(b->db);
    st_clear_result(st);
    if (st->name[0] && PQtransactionStatus(d->c) == PQTRANS_IDLE) {
        char sql[48];
        snprintf(sql, sizeof sql, "DEALLOCATE %s", st->name);
        PQclear(PQexec(d->c, sql)); /* in a transaction it stays until the connection closes: harmless */
    }
    params_clear(st);
    free(st->par);
    free(st->vals);
    free(st->sql);
    free(st);
}

static void pg_reset(crec_dbst *b) {
    pg_st *st = PST(b);
    st_clear_result(st);
    params_clear(st);
}

static pg_param *param(crec_dbst *b, int i) {
    pg_st *st = PST(b);
    if (i < 1 || i > st->nparams) return NULL; /* a parameter the SQL does not name */
    pg_param *p = &st->par[i - 1];
    free(p->heap);
    p->heap = NULL;
    p->set = 1;
    return p;
}

static void pg_bind_i64(crec_dbst *b, int i, int64_t v) {
    pg_param *p = param(b, i);
    if (p) snprintf(p->num, sizeof p->num, "%lld", (long long)v);
}
static void pg_bind_double(crec_dbst *b, int i, double v) {
    pg_param *p = param(b, i);
    if (p) snprintf(p->num, sizeof p->num, "%.17g", v);
}
static void pg_bind_text(crec_dbst *b, int i, const char *t, int len) {
    pg_param *p = param(b, i);
    if (!p) return;
    size_t n = len < 0 ? strlen(t) : (size_t)len;
    if ((p->heap = malloc(n + 1))) {
        memcpy(p->heap, t, n);
        p->heap[n] = 0;
    } else {
        p->set = 0; /* reported as NULL; the statement then fails on NOT NULL or finds nothing */
    }
}
static void pg_bind_null(crec_dbst *b, int i) {
    pg_param *p = param(b, i);
    if (p) p->set = 0;
}

/* Send (stream) or run (whole result) the statement; on the second run of a one-off statement, prepare it. */
static int execute(pg_st *st) {
    pg_db *d = PDB(st->base.db);
    if (d->streaming && d->streaming != st) {
        /* the connection is busy with another statement's rows: end that one (its next step fails) */
        st_clear_result(d->streaming);
        d->streaming->state = ST_DONE;
        d->streaming->nrows = -1;
        d->streaming = NULL;
    }
    for (int i = 0; i < st->nparams; i++)
        st->vals[i] = !st->par[i].set ? NULL : st->par[i].heap ? st->par[i].heap : st->par[i].num;
    if (!st->name[0] && (st->persistent || st->runs > 0)) {
        snprintf(st->name, sizeof st->name, "crec_%u", ++d->n_named);
        PGresult *r = PQprepare(d->c, st->name, st->sql, st->nparams, NULL);
        if (PQresultStatus(r) != PGRES_COMMAND_OK) {
            int rc = fail(d, r);
            PQclear(r);
            st->name[0] = 0;
            return rc;
        }
        PQclear(r);
    }
    st->runs++;
    if (st->stream) {
        int ok = st->name[0] ? PQsendQueryPrepared(d->c, st->name, st->nparams, st->vals, NULL, NULL, 0)
                             : PQsendQueryParams(d->c, st->sql, st->nparams, NULL, st->vals, NULL, NULL, 0);
        if (!ok) return fail(d, NULL);
        PQsetSingleRowMode(d->c);
        st->state = ST_STREAM;
        d->streaming = st;
        return 0;
    }
    st->res = st->name[0] ? PQexecPrepared(d->c, st->name, st->nparams, st->vals, NULL, NULL, 0)
                          : PQexecParams(d->c, st->sql, st->nparams, NULL, st->vals, NULL, NULL, 0);
    ExecStatusType s = PQresultStatus(st->res);
    if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
        if (s == PGRES_COMMAND_OK && commit_rolled_back(st->sql, st->res)) {
            snprintf(d->err, sizeof d->err, "COMMIT failed: the transaction had been aborted and was rolled back");
            d->errcode = CREC_EIO;
            PQclear(st->res);
            st->res = NULL;
            return CREC_EIO;
        }
        const char *ct = PQcmdTuples(st->res);
        d->changes = ct && *ct ? strtoll(ct, NULL, 10) : 0;
        st->nrows = s == PGRES_TUPLES_OK ? PQntuples(st->res) : 0;
        st->row = -1;
        st->state = ST_RESULT;
        return 0;
    }
    int rc = fail(d, st->res);
    PQclear(st->res);
    st->res = NULL;
    return rc;
}

static int pg_step(crec_dbst *b) {
    pg_st *st = PST(b);
    pg_db *d = PDB(b->db);
    if (st->state == ST_DONE) {
        if (st->nrows < 0) {
            snprintf(d->err, sizeof d->err, "a streamed scan was interrupted by another statement");
            return d->errcode = CREC_ESTATE;
        }
        return CREC_DB_DONE;
    }
    if (st->state == ST_IDLE) {
        int rc = execute(st);
        if (rc) return rc;
    }
    if (st->state == ST_RESULT) {
        if (++st->row < st->nrows) return CREC_DB_ROW;
        return CREC_DB_DONE;
    }
    /* streaming: one result per row, then the final (empty) TUPLES_OK, then NULL */
    PQclear(st->res);
    st->res = PQgetResult(d->c);
    ExecStatusType s = PQresultStatus(st->res);
    if (s == PGRES_SINGLE_TUPLE) {
        st->row = 0;
        return CREC_DB_ROW;
    }
    int rc = s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK ? CREC_DB_DONE : fail(d, st->res);
    PQclear(st->res);
    st->res = NULL;
    PGresult *r;
    while ((r = PQgetResult(d->c))) PQclear(r);
    d->streaming = NULL;
    st->state = ST_DONE;
    st->nrows = 0;
    return rc;
}

static int row_ok(pg_st *st, int c) {
    return st->res && st->row >= 0 && st->row < PQntuples(st->res) && c >= 0 && c < PQnfields(st->res);
}
static const char *pg_col_text(crec_dbst *b, int c) {
    pg_st *st = PST(b);
    if (!row_ok(st, c) || PQgetisnull(st->res, st->row, c)) return NULL;
    return PQgetvalue(st->res, st->row, c);
}
static int64_t pg_col_i64(crec_dbst *b, int c) {
    const char *t = pg_col_text(b, c);
    return t ? strtoll(t, NULL, 10) : 0;
}
static double pg_col_double(crec_dbst *b, int c) {
    const char *t = pg_col_text(b, c);
    return t ? strtod(t, NULL) : 0.0;
}
static int pg_col_bytes(crec_dbst *b, int c) {
    pg_st *st = PST(b);
    return row_ok(st, c) ? PQgetlength(st->res, st->row, c) : 0;
}
static int pg_col_null(crec_dbst *b, int c) {
    pg_st *st = PST(b);
    return !row_ok(st, c) || PQgetisnull(st->res, st->row, c);
}

static int pg_exec(crec_db *db, const char *sql) {
    pg_db *d = PDB(db);
    PGresult *r = PQexec(d->c, sql);
    ExecStatusType s = PQresultStatus(r);
    int rc = 0;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        rc = fail(d, r);
    } else if (commit_rolled_back(sql, r)) {
        snprintf(d->err, sizeof d->err, "COMMIT failed: the transaction had been aborted and was rolled back");
        rc = d->errcode = CREC_EIO;
    } else {
        const char *ct = PQcmdTuples(r);
        d->changes = ct && *ct ? strtoll(ct, NULL, 10) : 0;
    }
    PQclear(r);
    return rc;
}

static int64_t pg_changes(crec_db *db) { return PDB(db)->changes; }
static int pg_in_tx(crec_db *db) {
    PGTransactionStatusType t = PQtransactionStatus(PDB(db)->c);
    return t == PQTRANS_INTRANS || t == PQTRANS_INERROR || t == PQTRANS_ACTIVE;
}
static const char *pg_errmsg(crec_db *db) { return PDB(db)->err[0] ? PDB(db)->err : "no error"; }
static int pg_errcode(crec_db *db) { return PDB(db)->errcode ? PDB(db)->errcode : CREC_EIO; }
static void pg_close(crec_db *db) {
    PQfinish(PDB(db)->c);
    free(db);
}

static const crec_db_ops PG_OPS = {
    pg_prepare, pg_finalize, pg_reset,   pg_bind_i64,   pg_bind_double, pg_bind_text, pg_bind_null,
    pg_step,    pg_col_i64,  pg_col_double, pg_col_text, pg_col_bytes,  pg_col_null,  pg_exec,
    pg_changes, pg_in_tx,    pg_errmsg,   pg_errcode,    pg_close,
};

int crec__db_open_pg(const char *url, crec_db **out, char *err, size_t errn) {
    *out = NULL;
    pg_db *d = calloc(1, sizeof *d);
    if (!d) return CREC_ENOMEM;
    d->base.ops = &PG_OPS;
    d->base.kind = CREC_DB_PG;
    d->c = PQconnectdb(url);
    if (!d->c || PQstatus(d->c) != CONNECTION_OK) {
        char m[400];
        snprintf(m, sizeof m, "%s", d->c ? PQerrorMessage(d->c) : "out of memory");
        size_t n = strlen(m);
        while (n && (m[n - 1] == '\n' || m[n - 1] == ' ')) m[--n] = 0;
        crec__errf(err, errn, "%s: cannot connect: %s", crec__db_pg_display(url), m);
        PQfinish(d->c);
        free(d);
        return CREC_EIO;
    }
    PQsetNoticeProcessor(d->c, quiet_notices, NULL);
    if (PQsetClientEncoding(d->c, "UTF8") != 0) {
        crec__errf(err, errn, "%s: cannot set client_encoding UTF8", crec__db_pg_display(url));
        PQfinish(d->c);
        free(d);
        return CREC_EIO;
    }
    *out = &d->base;
    return 0;
}

#endif
