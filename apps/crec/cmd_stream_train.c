/* cmd_stream_train.c: crec stream train - the online trainer on a Redis stream (crec/events.h). SIGINT / SIGTERM
 * stop it cleanly: what was applied is published, saved and acknowledged first. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "crec/events.h"

int cmd_stream_train(int argc, char **argv);

static const char TRAIN_HELP[] =
    "usage: crec stream train --events redis://HOST:PORT/STREAM --group G --consumer C --out DIR\n"
    "                         [--deltas redis://HOST:PORT/STREAM] [--files] [--init M.crecm --data D.crecds]\n"
    "                         [--model onlinemf] [--set k=v]... [--every N] [--every-seconds S] [options]\n\n"
    "Consumes the event stream that `crec serve --events` writes, as consumer C of group G (created at the start of\n"
    "the stream when absent): its own pending entries first (after a restart), then new ones. Each event updates an\n"
    "onlinemf model; an event id already applied is skipped. Every N events or S seconds the rows touched since the\n"
    "last time go out as a row message (XADD to --deltas, which `crec serve --deltas` applies, and/or a file in\n"
    "DIR/deltas with --files), the trainer's state is saved to DIR/C.state, and only then are the entries\n"
    "acknowledged (XACK). Killed and restarted with the same --out and --consumer, it resumes: no event lost, none\n"
    "counted twice. A second consumer in the same group takes half the events; a row both touched is the one\n"
    "published last (last-writer-wins). Prints a JSON summary on exit (also DIR/C.json).\n\n"
    "  --events URL        the event stream (required)\n"
    "  --group G           consumer group (required)\n"
    "  --consumer C        this consumer's name, 1..100 bytes without '/' (required)\n"
    "  --out DIR           state directory (required; created)\n"
    "  --deltas URL        publish row messages to this stream\n"
    "  --files             also write every row message to DIR/deltas/C-SEQ.rows\n"
    "  --init M.crecm      start from this onlinemf model (the one the servers serve) ...\n"
    "  --data D.crecds     ... and the dataset it was trained on (its ids)\n"
    "  --model M           the model to learn when starting empty (onlinemf, the default, is the one that can)\n"
    "  --set k=v           its hyper-parameters when starting empty (repeatable; crec models onlinemf)\n"
    "  --every N           publish every N applied events (default 1000)\n"
    "  --every-seconds S   ... or every S seconds (default 1)\n"
    "  --batch B           events per mini-batch update (default 64)\n"
    "  --count N           entries per XREADGROUP (default 512)\n"
    "  --max-events N      stop after applying N events in this run\n"
    "  --idle-exit S       stop after S seconds without a new entry\n"
    "  --json              the summary only (no progress lines)\n";

static volatile int stop_flag;
static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

int cmd_stream_train(int argc, char **argv) {
    crec_events_train_opts o;
    crec_events_train_opts_default(&o);
    crec_config cfg;
    memset(&cfg, 0, sizeof cfg);
    const char *model = "onlinemf";
    int bad = 0, json_only = 0, n_set = 0;
    long long x;
    double d;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (cli_is_help(argv[i])) {
            fputs(TRAIN_HELP, stdout);
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--events", &v, &bad)) { if (bad) return CLI_USAGE; o.events_url = v; continue; }
        if (cli_opt(argc, argv, &i, "--group", &v, &bad)) { if (bad) return CLI_USAGE; o.group = v; continue; }
        if (cli_opt(argc, argv, &i, "--consumer", &v, &bad)) { if (bad) return CLI_USAGE; o.consumer = v; continue; }
        if (cli_opt(argc, argv, &i, "--out", &v, &bad)) { if (bad) return CLI_USAGE; o.out_dir = v; continue; }
        if (cli_opt(argc, argv, &i, "--deltas", &v, &bad)) { if (bad) return CLI_USAGE; o.deltas_url = v; continue; }
        if (cli_opt(argc, argv, &i, "--init", &v, &bad)) { if (bad) return CLI_USAGE; o.init_model = v; continue; }
        if (cli_opt(argc, argv, &i, "--data", &v, &bad)) { if (bad) return CLI_USAGE; o.init_data = v; continue; }
        if (cli_opt(argc, argv, &i, "--model", &v, &bad)) { if (bad) return CLI_USAGE; model = v; continue; }
        if (cli_opt(argc, argv, &i, "--set", &v, &bad)) {
            if (bad) return CLI_USAGE;
            if (crec_config_set_kv(&cfg, v)) {
                fprintf(stderr, "crec stream train: bad --set '%s' (key=value)\n", v);
                return CLI_USAGE;
            }
            n_set++;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--every", &v, &bad)) {
            if (bad || cli_int("stream train", "--every", v, 1, (long long)1 << 40, &x)) return CLI_USAGE;
            o.every = x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--every-seconds", &v, &bad)) {
            if (bad || cli_double("stream train", "--every-seconds", v, &d)) return CLI_USAGE;
            if (!(d > 0 && d <= 86400)) {
                fprintf(stderr, "crec stream train: --every-seconds must be in (0, 86400], got '%s'\n", v);
                return CLI_USAGE;
            }
            o.every_s = d;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--batch", &v, &bad)) {
            if (bad || cli_int("stream train", "--batch", v, 1, 1 << 20, &x)) return CLI_USAGE;
            o.batch = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--count", &v, &bad)) {
            if (bad || cli_int("stream train", "--count", v, 1, 100000, &x)) return CLI_USAGE;
            o.read_count = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--max-events", &v, &bad)) {
            if (bad || cli_int("stream train", "--max-events", v, 1, (long long)1 << 62, &x)) return CLI_USAGE;
            o.max_events = x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--idle-exit", &v, &bad)) {
            if (bad || cli_double("stream train", "--idle-exit", v, &d)) return CLI_USAGE;
            if (!(d > 0 && d <= 1e6)) {
                fprintf(stderr, "crec stream train: --idle-exit must be in (0, 1e6] seconds, got '%s'\n", v);
                return CLI_USAGE;
            }
            o.idle_exit_s = d;
            continue;
        }
        if (cli_flag(argv, i, "--files")) { o.write_files = 1; continue; }
        if (cli_flag(argv, i, "--json")) { json_only = 1; continue; }
        fprintf(stderr, "crec stream train: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    const char *missing = !o.events_url ? "--events" : !o.group ? "--group" : !o.consumer ? "--consumer"
                          : !o.out_dir  ? "--out"    : NULL;
    if (missing) {
        fprintf(stderr, "crec stream train: %s is required (see --help)\n", missing);
        return CLI_USAGE;
    }
    if (strcmp(model, "onlinemf") != 0) {
        fprintf(stderr, "crec stream train: --model %s: the trainer publishes rows of the onlinemf table; only "
                        "onlinemf can be trained here\n", model);
        return CLI_USAGE;
    }
    if (o.init_model && n_set) {
        fprintf(stderr, "crec stream train: --set applies to an empty start; with --init the model's own "
                        "hyper-parameters are used\n");
        return CLI_USAGE;
    }
    if (!o.deltas_url && !o.write_files)
        fprintf(stderr, "crec stream train: neither --deltas nor --files: the learned rows stay in %s/%s.state\n",
                o.out_dir, o.consumer);
    o.cfg = &cfg;
    o.progress = !json_only;
    o.stop = &stop_flag;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    char err[1024] = "";
    crec_events_train_result r;
    int rc = crec_events_train(&o, &r, err, sizeof err);
    if (rc) {
        fprintf(stderr, "crec stream train: %s\n", err[0] ? err : crec_strerror(rc));
        return rc == CREC_EINVAL ? CLI_USAGE : CLI_FAIL;
    }
    json_t *j = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:f}", "consumer", o.consumer,
                          "group", o.group, "applied_run", (json_int_t)r.applied_run, "skipped_run",
                          (json_int_t)r.skipped_run, "acked_run", (json_int_t)r.acked_run, "applied_total",
                          (json_int_t)r.applied_total, "id_sum", (json_int_t)r.id_sum, "publications",
                          (json_int_t)r.publications, "rows_published", (json_int_t)r.rows_published,
                          "bytes_published", (json_int_t)r.bytes_published, "seconds", r.seconds, "max_ack_lag_s",
                          r.max_lag_s);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) return CLI_FAIL;
    puts(text);
    char path[1200];
    snprintf(path, sizeof path, "%s/%s.json", o.out_dir, o.consumer);
    FILE *f = fopen(path, "w");
    if (f) fprintf(f, "%s\n", text), fclose(f);
    free(text);
    return CLI_OK;
}
