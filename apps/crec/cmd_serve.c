/* cmd_serve.c: crec serve: the HTTP recommendation server over a store and a model, until SIGINT/SIGTERM;
 * SIGHUP reloads the model from the same path.
 *
 * The one idea: the signals are blocked before the server's threads start, so they all inherit the mask and
 * only this thread, waiting in sigwait, ever sees one: no handler runs inside a request. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "crec/serve.h"

static const char SERVE_HELP[] =
    "usage: crec serve --db F|URL --model M.crecm [--data D.crecds] [--port 8080] [--host 127.0.0.1] [--threads N]\n"
    "                  [--max-conns-per-client N] [--request-timeout S] [--fallback LIST] [--history-cache MB]\n"
    "                  [--api-key-file F] [--require-key-for-reads] [--max-body BYTES] [--sync full|normal]\n"
    "                  [--access-log] [--online [--online-sync SECONDS]] [--events redis://HOST:PORT/STREAM]\n"
    "                  [--deltas redis://HOST:PORT/STREAM] [--crs-model M.crecrs [--crs-names F]]\n"
    "                  [--allow-open-writes]\n\n"
    "Serves recommendations over HTTP from the store F (SQLite; created when absent; fill it with crec db import)\n"
    "or a PostgreSQL database (--db postgresql://user@host:port/db: several servers can share one; docs/SERVING.md)\n"
    "with the model M. The model's item and user ids are matched by external id to the dataset D it was trained\n"
    "on, or, without --data, to a snapshot of the store (which must then hold exactly the model's users and items).\n"
    "Routes (every one described at GET /openapi.json; docs/SERVING.md): recommendations (users, sessions, similar\n"
    "items, popular), events and feedback, items, users and labels, similar users, search, export, admin reload,\n"
    "stats, health (/healthz, /healthz/live, /healthz/ready), GET /metrics, the dashboard at GET /, and with\n"
    "--crs-model conversations.\n\n"
    "  --db F|URL             the store: a SQLite file or a postgresql:// URL (required)\n"
    "  --model M.crecm        the model to serve (required; SIGHUP or POST /v1/admin/reload loads it again)\n"
    "  --data D.crecds        the dataset the model was trained on, for its ids (default: a snapshot of the store)\n"
    "  --port N               TCP port (default 8080; 0 = any free port, printed on stderr)\n"
    "  --host H               address to bind (default 127.0.0.1; a public address needs an API key)\n"
    "  --threads N            worker threads (default 2)\n"
    "  --max-conns-per-client N  open connections one client address may hold (default 128 of 1000; raise it\n"
    "                         behind a reverse proxy, where every client shares the proxy's address)\n"
    "  --fallback LIST        the fallback chain: model[,BACKUP.crecm...][,popular] (default model,popular);\n"
    "                         backup models (trained on the same dataset) complete a short list, in order\n"
    "  --request-timeout S    seconds a request's headers and body may take to arrive, however slowly they\n"
    "                         dribble (default 30, from the connection's opening or previous answer); then closed\n"
    "  --history-cache MB     users' histories held in memory for recommendations (default 64; 0 = read the\n"
    "                         store every time; off for PostgreSQL); use 0 when another process writes the\n"
    "                         SQLite store, or reload after it did\n"
    "  --api-key-file F       API keys, one per line; also CREC_API_KEYS=k1,k2 (writes and admin need one)\n"
    "  --require-key-for-reads  reads need a key too\n"
    "  --max-body BYTES       largest request body (default 1048576); larger gets 413\n"
    "  --sync full|normal     store durability: full (default: an acknowledged event survives power loss) or\n"
    "                         normal (survives a crash of crec, faster)\n"
    "  --access-log           one line per request on stderr\n"
    "  --online               learn from acknowledged events while serving (models with the update hook, e.g.\n"
    "                         onlinemf): visible in recommendations within about a second; the learned state is\n"
    "                         checkpointed to MODEL.online(.ids) and loaded back at start\n"
    "  --online-sync SECONDS  seconds between checkpoints of the learned state (default 10)\n"
    "  --events redis://HOST:PORT/STREAM  also append every acknowledged event to this Redis stream (after the\n"
    "                         store's COMMIT, entry id = the event's store id; never delays an acknowledgement;\n"
    "                         catches up from the store when Redis is back; see docs/SERVING.md)\n"
    "  --deltas redis://HOST:PORT/STREAM  apply the row messages of `crec stream train` to the served onlinemf\n"
    "                         model while serving (the model the trainers started from)\n"
    "  --crs-model M.crecrs   enable conversations (POST /v1/conversations, .../{id}/turns, GET .../{id}) with\n"
    "                         this user-item-attribute model (crec crs train) over the dataset's item attributes\n"
    "  --crs-names F          attribute names for conversations: TSV id<TAB>name, or a header with a 'name' column\n"
    "  --allow-open-writes    allow a non-loopback --host without any API key\n";

int cmd_serve(int argc, char **argv) {
    crec_serve_opts o;
    crec_serve_opts_defaults(&o);
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        long long x;
        if (cli_is_help(argv[i])) {
            fputs(SERVE_HELP, stdout);
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--db", &v, &bad)) { if (bad) return CLI_USAGE; o.db_path = v; continue; }
        if (cli_opt(argc, argv, &i, "--model", &v, &bad)) { if (bad) return CLI_USAGE; o.model_path = v; continue; }
        if (cli_opt(argc, argv, &i, "--data", &v, &bad)) { if (bad) return CLI_USAGE; o.data_path = v; continue; }
        if (cli_opt(argc, argv, &i, "--host", &v, &bad)) { if (bad) return CLI_USAGE; o.host = v; continue; }
        if (cli_opt(argc, argv, &i, "--crs-model", &v, &bad)) { if (bad) return CLI_USAGE; o.crs_model_path = v; continue; }
        if (cli_opt(argc, argv, &i, "--crs-names", &v, &bad)) { if (bad) return CLI_USAGE; o.crs_names_path = v; continue; }
        if (cli_opt(argc, argv, &i, "--api-key-file", &v, &bad)) {
            if (bad) return CLI_USAGE;
            o.api_key_file = v;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--port", &v, &bad)) {
            if (bad || cli_int("serve", "--port", v, 0, 65535, &x)) return CLI_USAGE;
            o.port = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--max-conns-per-client", &v, &bad)) {
            if (bad || cli_int("serve", "--max-conns-per-client", v, 1, 1000, &x)) return CLI_USAGE;
            o.conns_per_client = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--fallback", &v, &bad)) {
            if (bad) return CLI_USAGE;
            o.fallback = v;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--history-cache", &v, &bad)) {
            if (bad || cli_int("serve", "--history-cache", v, 0, 1 << 20, &x)) return CLI_USAGE;
            o.history_cache_mb = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--request-timeout", &v, &bad)) {
            if (bad || cli_int("serve", "--request-timeout", v, 1, 3600, &x)) return CLI_USAGE;
            o.request_timeout = (double)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--threads", &v, &bad)) {
            if (bad || cli_int("serve", "--threads", v, 1, 256, &x)) return CLI_USAGE;
            o.threads = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--max-body", &v, &bad)) {
            if (bad || cli_int("serve", "--max-body", v, 1024, (long long)1 << 30, &x)) return CLI_USAGE;
            o.max_body = (size_t)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--sync", &v, &bad)) {
            if (bad) return CLI_USAGE;
            if (strcmp(v, "full") == 0) o.sync_normal = 0;
            else if (strcmp(v, "normal") == 0) o.sync_normal = 1;
            else {
                fprintf(stderr, "crec serve: --sync is full or normal\n");
                return CLI_USAGE;
            }
            continue;
        }
        if (cli_flag(argv, i, "--require-key-for-reads")) { o.require_key_for_reads = 1; continue; }
        if (cli_flag(argv, i, "--allow-open-writes")) { o.allow_open_writes = 1; continue; }
        if (cli_flag(argv, i, "--access-log")) { o.access_log = 1; continue; }
        if (cli_flag(argv, i, "--online")) { o.online = 1; continue; }
        if (cli_opt(argc, argv, &i, "--events", &v, &bad)) { if (bad) return CLI_USAGE; o.events_url = v; continue; }
        if (cli_opt(argc, argv, &i, "--deltas", &v, &bad)) { if (bad) return CLI_USAGE; o.deltas_url = v; continue; }
        if (cli_opt(argc, argv, &i, "--online-sync", &v, &bad)) {
            if (bad || cli_int("serve", "--online-sync", v, 1, 86400, &x)) return CLI_USAGE;
            o.online_sync = (double)x;
            continue;
        }
        fprintf(stderr, "crec serve: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!o.db_path || !o.model_path) {
        fprintf(stderr, "crec serve: --db and --model are required (see --help)\n");
        return CLI_USAGE;
    }
    o.api_keys = getenv("CREC_API_KEYS");
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    char err[1024];
    crec_server *s;
    int rc = crec_server_start(&o, &s, err, sizeof err);
    if (rc) {
        fprintf(stderr, "crec serve: %s\n", err[0] ? err : crec_strerror(rc));
        return rc == CREC_EINVAL ? CLI_USAGE : CLI_FAIL;
    }
    int keyed = (o.api_keys && *o.api_keys) || o.api_key_file;
    fprintf(stderr, "crec serve: listening on http://%s%s%s:%d (%d threads; store %s; model %s)\n",
            strchr(o.host, ':') ? "[" : "", o.host, strchr(o.host, ':') ? "]" : "", crec_server_port(s), o.threads,
            o.db_path, o.model_path);
    if (!keyed)
        fprintf(stderr, "crec serve: no API key configured: writes are open to local clients "
                        "(set CREC_API_KEYS or --api-key-file)\n");
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0) continue;
        if (sig == SIGHUP) {
            rc = crec_server_reload(s, NULL, NULL, err, sizeof err);
            if (rc) fprintf(stderr, "crec serve: reload failed, the old model stays: %s\n", err);
            else fprintf(stderr, "crec serve: model reloaded\n");
            continue;
        }
        break;
    }
    fprintf(stderr, "crec serve: stopping\n");
    crec_server_stop(s);
    return CLI_OK;
}
