/* store_testdb.h: the store tests' backend: a SQLite file in the test's temp dir, or - when CREC_TEST_DB_URL
 * names a PostgreSQL database (tests/integration/pg_store.sh sets it) - a fresh schema of that database per
 * store name, reached through the URL's search_path. Raw SQL checks (tdb_int, tdb_exec) go to whichever
 * backend the store uses, outside the store's own code.
 *
 * The one idea: the same test body runs against both stores; only checks of one backend's own layout
 * (PRAGMAs, sqlite_schema, a frozen schema-1 file) branch on tdb_pg(). */
#ifndef CREC_TEST_STORE_TESTDB_H
#define CREC_TEST_STORE_TESTDB_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#define TDB_HAVE_PQ 1
#endif

static const char *tdb_url(void) {
    const char *u = getenv("CREC_TEST_DB_URL");
    return u && *u ? u : NULL;
}
static int tdb_pg(void) { return tdb_url() != NULL; }

#ifdef TDB_HAVE_PQ
static void tdb_quiet(void *arg, const char *msg) { (void)arg, (void)msg; }

static PGconn *tdb_connect(const char *url) {
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        fprintf(stderr, "tdb: cannot connect to %s: %s\n", url, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, tdb_quiet, NULL);
    return c;
}
#endif

/* The store "path" for name: dir/name for SQLite; for PostgreSQL (and a name ending in .db) the URL with
 * search_path set to schema t_<name> (dropped and made empty the first time this process asks for that name).
 * Other names are files in dir. Static buffers (4). */
static const char *tdb_path(const char *dir, const char *name) {
    static char buf[4][1024];
    static char seen[64][64];
    static int n_seen, k;
    k = (k + 1) % 4;
    size_t len = strlen(name);
    if (!tdb_pg() || len < 3 || strcmp(name + len - 3, ".db") != 0) { /* a store in a file, or any other file */
        snprintf(buf[k], sizeof buf[k], "%s/%s", dir, name);
        return buf[k];
    }
    char schema[64];
    int n = snprintf(schema, sizeof schema, "t_");
    for (const char *p = name; *p && *p != '.' && n < 60; p++)
        schema[n++] = (char)((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '_');
    schema[n] = 0;
    const char *url = tdb_url();
    snprintf(buf[k], sizeof buf[k], "%s%soptions=-csearch_path%%3D%s", url, strchr(url, '?') ? "&" : "?", schema);
    int known = 0;
    for (int i = 0; i < n_seen; i++) known |= strcmp(seen[i], schema) == 0;
    if (!known) {
#ifdef TDB_HAVE_PQ
        PGconn *c = tdb_connect(url);
        if (c) {
            char sql[256];
            snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema);
            PGresult *r = PQexec(c, sql);
            if (PQresultStatus(r) != PGRES_COMMAND_OK) fprintf(stderr, "tdb: %s", PQresultErrorMessage(r));
            PQclear(r);
            PQfinish(c);
        }
#endif
        if (n_seen < 64) snprintf(seen[n_seen++], sizeof seen[0], "%s", schema);
    }
    return buf[k];
}

/* One integer from sql on the store at p (-1 when it gives no row); *failed is set when the query fails. */
__attribute__((unused)) static int64_t tdb_int(const char *p, const char *sql, int *failed) {
    int64_t v = -1;
    *failed = 0;
    if (tdb_pg()) {
#ifdef TDB_HAVE_PQ
        PGconn *c = tdb_connect(p);
        if (!c) return *failed = 1, -1;
        PGresult *r = PQexec(c, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0) v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else if (PQresultStatus(r) != PGRES_TUPLES_OK) {
            fprintf(stderr, "tdb: %s: %s", sql, PQresultErrorMessage(r));
            *failed = 1;
        }
        PQclear(r);
        PQfinish(c);
#endif
        return v;
    }
    sqlite3 *db;
    if (sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return *failed = 1, -1;
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    } else {
        *failed = 1;
    }
    sqlite3_close(db);
    return v;
}

/* Run sql (one or more statements) on the store at p; 0 or -1 (the error printed). */
__attribute__((unused)) static int tdb_exec(const char *p, const char *sql) {
    int rc = -1;
    if (tdb_pg()) {
#ifdef TDB_HAVE_PQ
        PGconn *c = tdb_connect(p);
        if (!c) return -1;
        PGresult *r = PQexec(c, sql);
        rc = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK ? 0 : -1;
        if (rc) fprintf(stderr, "tdb: %s", PQresultErrorMessage(r));
        PQclear(r);
        PQfinish(c);
#endif
        return rc;
    }
    sqlite3 *db;
    if (sqlite3_open(p, &db) != SQLITE_OK) return -1;
    char *msg = NULL;
    rc = sqlite3_exec(db, sql, NULL, NULL, &msg) == SQLITE_OK ? 0 : -1;
    if (rc) fprintf(stderr, "tdb: %s\n", msg ? msg : "?");
    sqlite3_free(msg);
    sqlite3_close(db);
    return rc;
}
#endif
