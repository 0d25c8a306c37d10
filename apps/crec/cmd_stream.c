/* cmd_stream.c: crec stream eval - prequential (test-then-train) evaluation on a time-ordered replay, comparing
 * online updates, periodic retraining and a static model on the same events (crec/stream.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli.h"
#include "crec/stream.h"

int cmd_stream(int argc, char **argv);
int cmd_stream_train(int argc, char **argv);

static const char STREAM_HELP[] =
    "usage: crec stream eval --data D [--model online,static,periodic] [options]\n\n"
    "Prequential evaluation: replays D in time order (real timestamps; file order for files without times). The\n"
    "first --warm fraction of events is learned only; after it every event is first a test - the model ranks every\n"
    "item seen so far for the event's user, the user's seen items excluded (a repeated target is a miss, as is an\n"
    "item never seen before), pessimistic ties - and then learned. Modes, all on the same replay and tests:\n"
    "  online     --online-model (default onlinemf) learns every event through its update hook\n"
    "  static     --base-model trained once on the warm events\n"
    "  periodic   --base-model retrained from scratch on all events so far every --every events\n"
    "             (or --every-seconds of replay time)\n"
    "Prints HR@K / NDCG@K per time window (equal event counts) and overall, and the cost per event.\n\n"
    "  --model LIST        comma-separated modes (default online,static,periodic)\n"
    "  --online-model M    model of the online mode (needs the update hook; default onlinemf)\n"
    "  --online-set k=v    its hyper-parameters (repeatable)\n"
    "  --base-model M      model of the static and periodic modes (default onlinemf, trained offline)\n"
    "  --set k=v           its hyper-parameters (repeatable)\n"
    "  --warm F            fraction of events learned before testing starts (default 0.5)\n"
    "  --prefix F          replay only the first fraction F of the log (tuning on a part never reported)\n"
    "  --every N           periodic: retrain every N events (default: a tenth of the tested part)\n"
    "  --every-seconds S   periodic: retrain every S seconds of replay time instead (86400: daily)\n"
    "  --eval-every K      test every K-th event only (default 1: all); stated in the protocol\n"
    "  --users F           test only a seeded fraction F of users (default 1)\n"
    "  --batch B           online: events per update (default 1)\n"
    "  --windows W         time windows in the report (default 10)\n"
    "  --k K               cutoff (default 10)\n"
    "  --keep-seen         do not exclude the user's seen items (repeat-aware)\n"
    "  --seed N            seed of the models and the user sample (default 42)\n"
    "  --threads N         training threads (default 1)\n"
    "  --json              JSON on stdout instead of the table\n"
    "  --out-json FILE     also write the JSON to FILE\n"
    "  --svg FILE          SVG line plot of the metric per window\n"
    "  --svg-metric M      ndcg (default) or hr\n"
    "  --errmem L          ReLoop2 error memory on top of every mode, correction weight L (0: off, default);\n"
    "                      key: a random projection of the user's last --errmem-hist items (default 10)\n"
    "                      into --errmem-dim floats (default 64); LSH --errmem-tables (4) x --errmem-bits (10);\n"
    "                      see crec/stream.h\n"
    "  --tag T             appended to every run's label (to tell settings apart in tables and plots)\n"
    "  --per-event FILE    TSV: replay position, user, item, rank (0: a miss by the mask) of every tested event\n";

static int add_set(crec_config *c, const char *opt, const char *v) {
    if (crec_config_set_kv(c, v)) {
        fprintf(stderr, "crec stream eval: bad %s '%s' (key=value)\n", opt, v);
        return -1;
    }
    return 0;
}

static int stream_eval(int argc, char **argv) {
    const char *data = NULL, *modes = "online,static,periodic", *online_model = "onlinemf", *base_model = "onlinemf";
    const char *out_json = NULL, *svg = NULL, *svg_metric = "ndcg", *per_event = NULL;
    crec_config ocfg, bcfg;
    memset(&ocfg, 0, sizeof ocfg);
    memset(&bcfg, 0, sizeof bcfg);
    crec_stream_opts o;
    crec_stream_opts_defaults(&o);
    int json = 0, bad = 0;
    long long x;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (cli_is_help(argv[i])) {
            fputs(STREAM_HELP, stdout);
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--data", &v, &bad)) { if (bad) return CLI_USAGE; data = v; continue; }
        if (cli_opt(argc, argv, &i, "--model", &v, &bad)) { if (bad) return CLI_USAGE; modes = v; continue; }
        if (cli_opt(argc, argv, &i, "--online-model", &v, &bad)) { if (bad) return CLI_USAGE; online_model = v; continue; }
        if (cli_opt(argc, argv, &i, "--base-model", &v, &bad)) { if (bad) return CLI_USAGE; base_model = v; continue; }
        if (cli_opt(argc, argv, &i, "--online-set", &v, &bad)) {
            if (bad || add_set(&ocfg, "--online-set", v)) return CLI_USAGE;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--set", &v, &bad)) {
            if (bad || add_set(&bcfg, "--set", v)) return CLI_USAGE;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--warm", &v, &bad)) {
            double d;
            if (bad || cli_double("stream eval", "--warm", v, &d)) return CLI_USAGE;
            if (!(d >= 0 && d < 1)) {
                fprintf(stderr, "crec stream eval: --warm must be in [0, 1), got '%s'\n", v);
                return CLI_USAGE;
            }
            o.warm = d;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--prefix", &v, &bad)) {
            double d;
            if (bad || cli_double("stream eval", "--prefix", v, &d)) return CLI_USAGE;
            if (!(d > 0 && d <= 1)) {
                fprintf(stderr, "crec stream eval: --prefix must be in (0, 1], got '%s'\n", v);
                return CLI_USAGE;
            }
            o.prefix = d;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--errmem", &v, &bad)) {
            double d;
            if (bad || cli_double("stream eval", "--errmem", v, &d)) return CLI_USAGE;
            if (!(d >= -1e6 && d <= 1e6)) {
                fprintf(stderr, "crec stream eval: --errmem must be a finite weight, got '%s'\n", v);
                return CLI_USAGE;
            }
            o.errmem_lambda = (float)d;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--errmem-dim", &v, &bad)) {
            if (bad || cli_int("stream eval", "--errmem-dim", v, 1, 4096, &x)) return CLI_USAGE;
            o.errmem_dim = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--errmem-tables", &v, &bad)) {
            if (bad || cli_int("stream eval", "--errmem-tables", v, 1, 64, &x)) return CLI_USAGE;
            o.errmem_tables = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--errmem-bits", &v, &bad)) {
            if (bad || cli_int("stream eval", "--errmem-bits", v, 1, 24, &x)) return CLI_USAGE;
            o.errmem_bits = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--errmem-hist", &v, &bad)) {
            if (bad || cli_int("stream eval", "--errmem-hist", v, 1, 100000, &x)) return CLI_USAGE;
            o.errmem_hist = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--users", &v, &bad)) {
            double d;
            if (bad || cli_double("stream eval", "--users", v, &d)) return CLI_USAGE;
            if (!(d > 0 && d <= 1)) {
                fprintf(stderr, "crec stream eval: --users must be in (0, 1], got '%s'\n", v);
                return CLI_USAGE;
            }
            o.user_frac = d;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--every", &v, &bad)) {
            if (bad || cli_int("stream eval", "--every", v, 1, (long long)1 << 62, &x)) return CLI_USAGE;
            o.every = x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--every-seconds", &v, &bad)) {
            if (bad || cli_int("stream eval", "--every-seconds", v, 1, (long long)1 << 62, &x)) return CLI_USAGE;
            o.every_seconds = x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--eval-every", &v, &bad)) {
            if (bad || cli_int("stream eval", "--eval-every", v, 1, (long long)1 << 40, &x)) return CLI_USAGE;
            o.eval_every = x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--batch", &v, &bad)) {
            if (bad || cli_int("stream eval", "--batch", v, 1, 1 << 20, &x)) return CLI_USAGE;
            o.batch = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--windows", &v, &bad)) {
            if (bad || cli_int("stream eval", "--windows", v, 1, CREC_STREAM_MAX_WINDOWS, &x)) return CLI_USAGE;
            o.n_windows = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--k", &v, &bad)) {
            if (bad || cli_int("stream eval", "--k", v, 1, 100000, &x)) return CLI_USAGE;
            o.k = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--seed", &v, &bad)) {
            if (bad || cli_int("stream eval", "--seed", v, 0, (long long)1 << 62, &x)) return CLI_USAGE;
            o.seed = (uint64_t)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--threads", &v, &bad)) {
            if (bad || cli_int("stream eval", "--threads", v, 1, 1024, &x)) return CLI_USAGE;
            o.n_threads = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--out-json", &v, &bad)) { if (bad) return CLI_USAGE; out_json = v; continue; }
        if (cli_opt(argc, argv, &i, "--svg", &v, &bad)) { if (bad) return CLI_USAGE; svg = v; continue; }
        if (cli_opt(argc, argv, &i, "--svg-metric", &v, &bad)) {
            if (bad) return CLI_USAGE;
            if (strcmp(v, "ndcg") && strcmp(v, "hr")) {
                fprintf(stderr, "crec stream eval: --svg-metric must be ndcg or hr, got '%s'\n", v);
                return CLI_USAGE;
            }
            svg_metric = v;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--tag", &v, &bad)) { if (bad) return CLI_USAGE; o.tag = v; continue; }
        if (cli_opt(argc, argv, &i, "--per-event", &v, &bad)) { if (bad) return CLI_USAGE; per_event = v; continue; }
        if (cli_flag(argv, i, "--json")) { json = 1; continue; }
        if (cli_flag(argv, i, "--keep-seen")) { o.filter_seen = 0; continue; }
        fprintf(stderr, "crec stream eval: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!data) {
        fprintf(stderr, "crec stream eval: --data is required (see --help)\n");
        return CLI_USAGE;
    }
    /* the modes, checked before any work */
    crec_stream_mode list[8];
    int nm = 0;
    {
        char buf[256];
        snprintf(buf, sizeof buf, "%s", modes);
        for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
            crec_stream_mode md;
            if (!strcmp(t, "online")) md = CREC_STREAM_ONLINE;
            else if (!strcmp(t, "static")) md = CREC_STREAM_STATIC;
            else if (!strcmp(t, "periodic")) md = CREC_STREAM_PERIODIC;
            else {
                fprintf(stderr, "crec stream eval: --model: unknown mode '%s' (online, static, periodic)\n", t);
                return CLI_USAGE;
            }
            if (nm == 8) {
                fprintf(stderr, "crec stream eval: --model: at most 8 modes\n");
                return CLI_USAGE;
            }
            list[nm++] = md;
        }
        if (!nm) {
            fprintf(stderr, "crec stream eval: --model: no mode given\n");
            return CLI_USAGE;
        }
    }
    const char *names[2] = {online_model, base_model};
    for (int j = 0; j < 2; j++)
        if (!crec_model_type_find(names[j])) {
            fprintf(stderr, "crec stream eval: unknown model '%s' (see: crec models)\n", names[j]);
            return CLI_USAGE;
        }
    crec_dataset *ds;
    if (cli_open_dataset("stream eval", data, &ds)) return CLI_FAIL;
    if (!o.every && !o.every_seconds) {
        double nrep = o.prefix * (double)ds->n;
        o.every = (int64_t)((nrep - floor(o.warm * nrep)) / 10);
        if (o.every < 1) o.every = 1;
    }
    FILE *pe = NULL;
    if (per_event && !(pe = fopen(per_event, "w"))) {
        fprintf(stderr, "crec stream eval: %s: cannot write\n", per_event);
        crec_dataset_free(ds);
        return CLI_FAIL;
    }
    if (pe) fputs("position\tuser\titem\trank\n", pe);
    crec_stream_result *res = calloc((size_t)nm, sizeof *res);
    int rc = res ? 0 : CREC_ENOMEM, ret = CLI_OK;
    o.progress = cli_progress();
    for (int j = 0; j < nm && !rc; j++) {
        o.mode = list[j];
        o.model = list[j] == CREC_STREAM_ONLINE ? online_model : base_model;
        o.cfg = list[j] == CREC_STREAM_ONLINE ? &ocfg : &bcfg;
        o.per_event = j == 0 ? pe : NULL;
        char err[512] = "";
        rc = crec_stream_eval(ds, &o, &res[j], err, sizeof err);
        if (rc) fprintf(stderr, "crec stream eval: %s\n", err[0] ? err : crec_strerror(rc));
    }
    if (pe) fclose(pe);
    if (rc) {
        ret = rc == CREC_EINVAL ? CLI_USAGE : CLI_FAIL;
    } else {
        if (json) crec_stream_write_json(res, nm, stdout);
        else crec_stream_write_table(res, nm, stdout);
        if (out_json) {
            FILE *f = fopen(out_json, "w");
            if (!f || crec_stream_write_json(res, nm, f)) {
                fprintf(stderr, "crec stream eval: %s: cannot write\n", out_json);
                ret = CLI_FAIL;
            }
            if (f) fclose(f);
        }
        if (svg) {
            char title[200];
            snprintf(title, sizeof title, "prequential %s@%d per window: %s", strcmp(svg_metric, "hr") ? "NDCG" : "HR",
                     o.k, ds->name);
            int src = crec_stream_write_svg(res, nm, svg_metric, title, svg);
            if (src) {
                fprintf(stderr, "crec stream eval: %s: %s\n", svg, crec_strerror(src));
                ret = CLI_FAIL;
            }
        }
    }
    free(res);
    crec_dataset_free(ds);
    return ret;
}

/* crec stream plot: one figure from the JSON reports of several replays of the same data (runs deduplicated by
 * label, in order of appearance). */
static int stream_plot(int argc, char **argv) {
    const char *svg = NULL, *metric = "ndcg", *title = NULL, *files[32];
    int nf = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (cli_is_help(argv[i])) {
            printf("usage: crec stream plot --svg OUT.svg [--metric ndcg|hr] [--title T] RUN.json...\n\n"
                   "Draws the per-window metric of every run in the JSON reports of crec stream eval (--out-json) in\n"
                   "one SVG line plot; a run whose label appeared in an earlier file is skipped.\n");
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--svg", &v, &bad)) { if (bad) return CLI_USAGE; svg = v; continue; }
        if (cli_opt(argc, argv, &i, "--title", &v, &bad)) { if (bad) return CLI_USAGE; title = v; continue; }
        if (cli_opt(argc, argv, &i, "--metric", &v, &bad)) {
            if (bad) return CLI_USAGE;
            if (strcmp(v, "ndcg") && strcmp(v, "hr")) {
                fprintf(stderr, "crec stream plot: --metric must be ndcg or hr, got '%s'\n", v);
                return CLI_USAGE;
            }
            metric = v;
            continue;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "crec stream plot: unknown option '%s' (see --help)\n", argv[i]);
            return CLI_USAGE;
        }
        if (nf == 32) {
            fprintf(stderr, "crec stream plot: at most 32 files\n");
            return CLI_USAGE;
        }
        files[nf++] = argv[i];
    }
    if (!svg || !nf) {
        fprintf(stderr, "crec stream plot: --svg and at least one JSON report are required (see --help)\n");
        return CLI_USAGE;
    }
    crec_stream_result *res = calloc(64, sizeof *res);
    int n = 0, ret = CLI_OK;
    if (!res) return CLI_FAIL;
    for (int f = 0; f < nf && ret == CLI_OK; f++) {
        json_error_t je;
        json_t *root = json_load_file(files[f], 0, &je);
        json_t *runs = root ? json_object_get(root, "runs") : NULL;
        json_t *k = root ? json_object_get(root, "k") : NULL;
        if (!root || !json_is_array(runs) || !json_is_integer(k)) {
            if (!root) fprintf(stderr, "crec stream plot: %s:%d:%d: %s\n", files[f], je.line, je.column, je.text);
            else fprintf(stderr, "crec stream plot: %s: not a crec stream eval report (no \"runs\" / \"k\")\n", files[f]);
            json_decref(root);
            ret = CLI_FAIL;
            break;
        }
        size_t j;
        json_t *run;
        json_array_foreach(runs, j, run) {
            const char *label = json_string_value(json_object_get(run, "label"));
            json_t *wins = json_object_get(run, "windows");
            if (!label || !json_is_array(wins) || json_array_size(wins) < 1 ||
                json_array_size(wins) > CREC_STREAM_MAX_WINDOWS) {
                fprintf(stderr, "crec stream plot: %s: run %zu: no label or windows\n", files[f], j);
                ret = CLI_FAIL;
                break;
            }
            int dup = 0;
            for (int q = 0; q < n && !dup; q++) dup = !strcmp(res[q].label, label);
            if (dup || n == 64) continue;
            crec_stream_result *r = &res[n++];
            snprintf(r->label, sizeof r->label, "%s", label);
            r->k = (int)json_integer_value(k);
            r->n_windows = (int)json_array_size(wins);
            for (int w = 0; w < r->n_windows; w++) {
                json_t *x = json_array_get(wins, (size_t)w);
                json_t *hr = json_object_get(x, "HR"), *nd = json_object_get(x, "NDCG");
                r->win[w].hr = json_is_number(hr) ? json_number_value(hr) : NAN;
                r->win[w].ndcg = json_is_number(nd) ? json_number_value(nd) : NAN;
            }
        }
        json_decref(root);
    }
    if (ret == CLI_OK) {
        int rc = crec_stream_write_svg(res, n, metric, title, svg);
        if (rc) {
            fprintf(stderr, "crec stream plot: %s: %s\n", svg, crec_strerror(rc));
            ret = CLI_FAIL;
        }
    }
    free(res);
    return ret;
}

int cmd_stream(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs("usage: crec stream eval --data D [options]   (crec stream eval --help)\n"
              "       crec stream plot --svg OUT.svg RUN.json...\n"
              "       crec stream train --events redis://H:P/S --group G --consumer C --out DIR [options]\n\n"
              "  eval   prequential evaluation: online updates vs periodic retraining vs a static model\n"
              "  plot   one SVG figure from several JSON reports of eval\n"
              "  train  online trainer: consume a Redis stream in a consumer group, publish table rows\n",
              argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (!strcmp(argv[1], "eval")) return stream_eval(argc - 1, argv + 1);
    if (!strcmp(argv[1], "plot")) return stream_plot(argc - 1, argv + 1);
    if (!strcmp(argv[1], "train")) return cmd_stream_train(argc - 1, argv + 1); /* cmd_stream_train.c */
    fprintf(stderr, "crec stream: unknown subcommand '%s' (eval, plot, train)\n", argv[1]);
    return CLI_USAGE;
}
