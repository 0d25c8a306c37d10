/* cmd_db.c: crec db import | export | info: fill the SQLite store from any dataset, write a snapshot of it as a
 * .crecds (to train on), describe it.
 *
 * The one idea: the store and a dataset convert both ways, so `crec db export` + `crec train --data` trains
 * on exactly what the server holds, and the snapshot's ids match the store's row order. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "crec/store.h"

static int open_store(const char *path, int must_exist, crec_store **s) {
    char err[512];
    crec_store_opts o = {.no_create = must_exist};
    int rc = crec_store_open(path, &o, s, err, sizeof err);
    if (rc) fprintf(stderr, "crec db: %s\n", err);
    return rc;
}

static int db_import(int argc, char **argv) {
    const char *db = NULL, *data = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        if (cli_is_help(argv[i])) {
            printf("usage: crec db import --db F|URL --data D\n\n"
                   "Adds every user, item (titles, text, attributes), user feature and event of dataset D (a .crecds\n"
                   "or a text dataset, format guessed) to the store F, in one transaction. Events are appended:\n"
                   "importing the same data twice doubles them.\n");
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--db", &v, &bad)) { if (bad) return CLI_USAGE; db = v; continue; }
        if (cli_opt(argc, argv, &i, "--data", &v, &bad)) { if (bad) return CLI_USAGE; data = v; continue; }
        fprintf(stderr, "crec db import: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!db || !data) {
        fprintf(stderr, "crec db import: --db and --data are required\n");
        return CLI_USAGE;
    }
    crec_dataset *ds;
    if (cli_open_dataset("db import", data, &ds)) return CLI_FAIL;
    crec_store *s;
    if (open_store(db, 0, &s)) {
        crec_dataset_free(ds);
        return CLI_FAIL;
    }
    crec_store_import_result r;
    int rc = crec_store_import(s, ds, &r);
    if (rc) fprintf(stderr, "crec db import: %s: %s (%s); nothing was written\n", db, crec_strerror(rc),
                    crec_store_errmsg(s));
    else
        fprintf(stderr, "crec db import: %s -> %s: %lld users, %lld items, %lld events added in %.2fs (%.0f events/s)\n",
                ds->name, db, (long long)r.users_added, (long long)r.items_added, (long long)r.events_added, r.seconds,
                r.seconds > 0 ? (double)r.events_added / r.seconds : 0.0);
    crec_store_close(s);
    crec_dataset_free(ds);
    return rc ? CLI_FAIL : CLI_OK;
}

static int db_export(int argc, char **argv) {
    const char *db = NULL, *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        if (cli_is_help(argv[i])) {
            printf("usage: crec db export --db F|URL --out D.crecds\n\n"
                   "Writes a snapshot of the store F (users and items in row order, events in insertion order,\n"
                   "hidden items included) as a dataset to train on: crec train --data D.crecds ...; then serve\n"
                   "the model with crec serve --db F --model M --data D.crecds.\n");
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--db", &v, &bad)) { if (bad) return CLI_USAGE; db = v; continue; }
        if (cli_opt(argc, argv, &i, "--out", &v, &bad)) { if (bad) return CLI_USAGE; out = v; continue; }
        fprintf(stderr, "crec db export: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!db || !out) {
        fprintf(stderr, "crec db export: --db and --out are required\n");
        return CLI_USAGE;
    }
    crec_store *s;
    if (open_store(db, 1, &s)) return CLI_FAIL;
    crec_dataset *ds;
    int rc = crec_store_snapshot(s, &ds);
    crec_store_close(s);
    if (rc) {
        cli_err("db export", db, rc);
        return CLI_FAIL;
    }
    rc = crec_dataset_save(ds, out);
    if (rc) cli_err("db export", out, rc);
    else fprintf(stderr, "crec db export: %s -> %s: %d users, %d items, %lld events\n", db, out, ds->users.n,
                 ds->items.n, (long long)ds->n);
    crec_dataset_free(ds);
    return rc ? CLI_FAIL : CLI_OK;
}

static int db_info(int argc, char **argv) {
    const char *db = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        if (cli_is_help(argv[i])) {
            printf("usage: crec db info --db F|URL [--json]\n\nCounts of the store F and its schema version.\n"
                   "F is a SQLite file, or a PostgreSQL URL (postgresql://user@host:port/db; docs/SERVING.md).\n");
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--db", &v, &bad)) { if (bad) return CLI_USAGE; db = v; continue; }
        if (cli_flag(argv, i, "--json")) { json = 1; continue; }
        fprintf(stderr, "crec db info: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!db) {
        fprintf(stderr, "crec db info: --db is required\n");
        return CLI_USAGE;
    }
    crec_store *s;
    if (open_store(db, 1, &s)) return CLI_FAIL;
    crec_store_stats st;
    int rc = crec_store_stats_get(s, &st);
    int ver = crec_store_schema_version(s);
    crec_store_close(s);
    if (rc) {
        cli_err("db info", db, rc);
        return CLI_FAIL;
    }
    if (json)
        printf("{\"schema_version\": %d, \"users\": %lld, \"items\": %lld, \"hidden_items\": %lld, \"events\": %lld, "
               "\"event_types\": %lld, \"attributes\": %lld}\n",
               ver, (long long)st.n_users, (long long)st.n_items, (long long)st.n_hidden_items, (long long)st.n_events,
               (long long)st.n_event_types, (long long)st.n_attrs);
    else
        printf("store %s (schema %d): %lld users, %lld items (%lld hidden), %lld events, %lld event types, "
               "%lld attributes\n",
               db, ver, (long long)st.n_users, (long long)st.n_items, (long long)st.n_hidden_items,
               (long long)st.n_events, (long long)st.n_event_types, (long long)st.n_attrs);
    return CLI_OK;
}

int cmd_db(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs("usage: crec db <import|export|info> [options]\n\n"
              "  import   fill a SQLite store from a dataset (one transaction)\n"
              "  export   write a snapshot of a store as a .crecds dataset (to train on)\n"
              "  info     counts of a store\n",
              argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "import") == 0) return db_import(argc - 1, argv + 1);
    if (strcmp(argv[1], "export") == 0) return db_export(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0) return db_info(argc - 1, argv + 1);
    fprintf(stderr, "crec db: unknown subcommand '%s' (import, export, info)\n", argv[1]);
    return CLI_USAGE;
}
