/* cmd_model.c: crec train | eval | recommend | compare. The split a model was trained under is stored in
 * its checkpoint; eval rebuilds exactly that split from the dataset, so no test event reaches training. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/util.h"
#include "crec/store.h"

int cli_train_model(const crec_dataset *ds, const char *model, const crec_config *cfg, const char *split,
                    uint64_t seed, int threads, int verbose, crec_model **out);
/* cmd_dist.c: crec train under mpirun */
int cli_dist_begin(const char *cmd, int argc, char **argv, int *required);
int cli_dist_model(const char *cmd, const char *model, int required);
void cli_dist_end(void);
int cli_dist_rank0(void);

/* Train `model` on the training part of `split` of ds. Prints errors; returns 0 or a CREC_E code. */
int cli_train_model(const crec_dataset *ds, const char *model, const crec_config *cfg, const char *split,
                    uint64_t seed, int threads, int verbose, crec_model **out) {
    *out = NULL;
    crec_split_spec spec;
    if (crec_split_spec_parse(split, &spec)) {
        fprintf(stderr, "crec train: bad --split '%s' (loo, temporal:TEST[:VALID], random:TEST[:VALID[:SEED]])\n",
                split);
        return CREC_EINVAL;
    }
    char err[512] = "";
    crec_model *m;
    int rc = crec_model_new(model, cfg, &m, err, sizeof err);
    if (rc) {
        fprintf(stderr, "crec train: %s\n", err);
        return rc;
    }
    crec_split s;
    if ((rc = crec_split_make(ds, &spec, &s))) {
        cli_err("train", "split", rc);
        crec_model_free(m);
        return rc;
    }
    crec_split_spec_format(&spec, m->split, sizeof m->split);
    crec_train_input in = {.ds = ds, .train = &s.train, .valid = &s.valid, .n_threads = threads, .seed = seed,
                           .verbose = verbose};
    rc = crec_model_train(m, &in);
    crec_split_free(&s);
    if (rc) {
        fprintf(stderr, "crec train: training %s failed: %s\n", model, crec_strerror(rc));
        crec_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static int train_main(int argc, char **argv, int dist) {
    const char *data = NULL, *db = NULL, *model = NULL, *out = NULL, *split = "loo";
    crec_config cfg = {0};
    long long threads = 0, seed = 42;
    int verbose = cli_progress();
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        if (cli_is_help(argv[i])) {
            printf("usage: crec train (--data D | --db STORE.db) --model NAME --out M.crecm [--split S] [--set k=v ...]\n\n"
                   "Trains NAME (see crec models) on the training part of split S of dataset D (or of a snapshot of\n"
                   "the SQLite store behind crec serve) and writes a checkpoint that records the model, its\n"
                   "hyper-parameters and the split.\n\n"
                   "  --split S      loo (default: last event test, second-to-last validation, per user),\n"
                   "                 temporal:TEST[:VALID] (global time cut, fractions of events),\n"
                   "                 random:TEST[:VALID[:SEED]] (per-event holdout),\n"
                   "                 cold-items:TEST[:VALID[:SEED]] (fractions of items held out entirely),\n"
                   "                 cold-users:TEST[:VALID[:SEED]] (fractions of users held out entirely)\n"
                   "  --set k=v      a hyper-parameter (repeatable)\n"
                   "  --threads N    OpenMP threads (default: all cores)\n"
                   "  --seed N       training seed (default 42)\n"
                   "  --verbose      per-epoch log lines even when stderr is not a terminal\n"
                   "  --dist         require data-parallel training: mpirun -np N crec train ... --dist (each rank\n"
                   "                 trains on its shard of users; rank 0 writes the checkpoint; docs/DISTRIBUTED.md)\n");
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--data", &v, &bad)) { if (bad) return CLI_USAGE; data = v; continue; }
        if (cli_opt(argc, argv, &i, "--db", &v, &bad)) { if (bad) return CLI_USAGE; db = v; continue; }
        if (cli_opt(argc, argv, &i, "--model", &v, &bad)) { if (bad) return CLI_USAGE; model = v; continue; }
        if (cli_opt(argc, argv, &i, "--out", &v, &bad)) { if (bad) return CLI_USAGE; out = v; continue; }
        if (cli_flag(argv, i, "--verbose")) { verbose = 1; continue; }
        if (cli_flag(argv, i, "--dist")) continue; /* cmd_train */
        if (cli_opt(argc, argv, &i, "--split", &v, &bad)) { if (bad) return CLI_USAGE; split = v; continue; }
        if (cli_opt(argc, argv, &i, "--set", &v, &bad)) {
            if (bad) return CLI_USAGE;
            if (crec_config_set_kv(&cfg, v)) {
                fprintf(stderr, "crec train: bad --set '%s' (key=value)\n", v);
                return CLI_USAGE;
            }
            continue;
        }
        if (cli_opt(argc, argv, &i, "--threads", &v, &bad)) {
            if (bad || cli_int("train", "--threads", v, 1, 1024, &threads)) return CLI_USAGE;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--seed", &v, &bad)) {
            if (bad || cli_int("train", "--seed", v, 0, (long long)1 << 62, &seed)) return CLI_USAGE;
            continue;
        }
        fprintf(stderr, "crec train: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!data == !db || !model || !out) {
        fprintf(stderr, "crec train: one of --data or --db, and --model and --out are required (see --help)\n");
        return CLI_USAGE;
    }
    if (!crec_model_type_find(model)) {
        fprintf(stderr, "crec train: unknown model '%s' (see: crec models)\n", model);
        return CLI_USAGE;
    }
    if (cli_dist_model("train", model, dist)) return CLI_USAGE;
    crec_dataset *ds;
    if (db) {
        /* a consistent snapshot of the store: ids are the store's, so crec serve lines up with the model */
        crec_store *st;
        crec_store_opts so = {.no_create = 1};
        char err[512] = "";
        int src = crec_store_open(db, &so, &st, err, sizeof err);
        if (src) {
            fprintf(stderr, "crec train: %s: %s\n", db, err[0] ? err : crec_strerror(src));
            return CLI_FAIL;
        }
        src = crec_store_snapshot(st, &ds);
        crec_store_close(st);
        if (src) {
            cli_err("train", db, src);
            return CLI_FAIL;
        }
    } else if (cli_open_dataset("train", data, &ds)) {
        return CLI_FAIL;
    }
    crec_model *m;
    int rc = cli_train_model(ds, model, &cfg, split, (uint64_t)seed, (int)threads, verbose && cli_dist_rank0(), &m);
    if (rc) {
        crec_dataset_free(ds);
        return rc == CREC_EINVAL ? CLI_USAGE : CLI_FAIL;
    }
    rc = cli_dist_rank0() ? crec_model_save(m, out) : 0; /* under mpirun: rank 0 writes, once */
    if (rc) cli_err("train", out, rc);
    else if (cli_dist_rank0())
        fprintf(stderr, "crec train: %s on %s (split %s) in %.2fs -> %s\n", model, ds->name, m->split,
                m->train_seconds, out);
    crec_model_free(m);
    crec_dataset_free(ds);
    return rc ? CLI_FAIL : CLI_OK;
}

/* crec train: under mpirun, MPI around the whole command (cmd_dist.c); without it, train_main alone. */
int cmd_train(int argc, char **argv) {
    int dist, rc = cli_dist_begin("train", argc, argv, &dist);
    if (rc) return rc;
    rc = train_main(argc, argv, dist);
    cli_dist_end();
    return rc;
}

/* Open D and M and check they belong together. */
static int open_pair(const char *cmd, const char *data, const char *model, crec_dataset **ds, crec_model **m) {
    *ds = NULL;
    *m = NULL;
    if (!data || !model) {
        fprintf(stderr, "crec %s: --data and --model are required (see --help)\n", cmd);
        return CLI_USAGE;
    }
    if (cli_open_dataset(cmd, data, ds)) return CLI_FAIL;
    int rc = crec_model_load(model, m);
    if (rc) {
        if (rc == CREC_ENOTFOUND) fprintf(stderr, "crec %s: %s: no such file\n", cmd, model);
        else fprintf(stderr, "crec %s: %s: not a valid crec model: %s\n", cmd, model, crec_strerror(rc));
        crec_dataset_free(*ds);
        *ds = NULL;
        return CLI_FAIL;
    }
    if ((*m)->n_items != (*ds)->items.n || (*m)->n_users != (*ds)->users.n) {
        fprintf(stderr,
                "crec %s: model %s was trained on a different dataset (%d users x %d items; '%s') than %s "
                "(%d x %d)\n",
                cmd, model, (*m)->n_users, (*m)->n_items, (*m)->data_name, data, (*ds)->users.n, (*ds)->items.n);
        crec_model_free(*m);
        crec_dataset_free(*ds);
        *m = NULL;
        *ds = NULL;
        return CLI_FAIL;
    }
    return 0;
}

int cmd_eval(int argc, char **argv) {
    const char *data = NULL, *model = NULL, *per_user = NULL, *cands = NULL;
    crec_eval_opts o;
    crec_eval_opts_defaults(&o);
    int json = 0;
    const char *task = NULL; /* --task: pointwise rating / click prediction instead of ranking */
    crec_pointwise_opts po;
    crec_pointwise_opts_defaults(&po);
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        long long x;
        if (cli_is_help(argv[i])) {
            printf("usage: crec eval --data D --model M.crecm [options]\n\n"
                   "Evaluates M on the split it was trained under. Default protocol: full ranking over the whole\n"
                   "catalog, the user's history excluded, ties ranked pessimistically, test target with history\n"
                   "= train + validation events.\n\n"
                   "  --k 5,10,20          cut-offs (default 5,10,20)\n"
                   "  --target test|valid  which held-out part to rank (default test)\n"
                   "  --no-filter-seen     keep history items among the candidates\n"
                   "  --sampled N          rank against N sampled negatives (labelled SAMPLED everywhere)\n"
                   "  --seed N             seed for sampled negatives (default 42)\n"
                   "  --candidates untrained  rank only items without training events (cold-item protocol,\n"
                   "                       with --split cold-items:...)\n"
                   "  --per-user FILE      write per-user metrics (TSV) for crec compare\n"
                   "  --task rating|click  pointwise prediction instead of ranking: rating = RMSE/MAE of the score\n"
                   "                       at each held-out event vs its rating; click = AUC/LogLoss, held-out events\n"
                   "                       positive, --neg unobserved items per positive negative (seeded by --seed)\n"
                   "  --neg N              click: sampled negatives per positive (default 1)\n"
                   "  --threshold T        click: positives are held-out events with rating >= T (others left out)\n"
                   "  --labels values      click, with --threshold: the held-out events below T are the negatives\n"
                   "                       (a click log with explicit non-clicks; no sampled negatives); also GAUC\n"
                   "  --max-users N        evaluate only the first N users with a target\n"
                   "  --threads N          OpenMP threads\n"
                   "  --json               machine-readable output\n");
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--data", &v, &bad)) { if (bad) return CLI_USAGE; data = v; continue; }
        if (cli_opt(argc, argv, &i, "--model", &v, &bad)) { if (bad) return CLI_USAGE; model = v; continue; }
        if (cli_opt(argc, argv, &i, "--per-user", &v, &bad)) { if (bad) return CLI_USAGE; per_user = v; continue; }
        if (cli_opt(argc, argv, &i, "--candidates", &v, &bad)) {
            if (bad) return CLI_USAGE;
            if (strcmp(v, "untrained") != 0 && strcmp(v, "all") != 0) {
                fprintf(stderr, "crec eval: --candidates is all or untrained\n");
                return CLI_USAGE;
            }
            cands = strcmp(v, "all") == 0 ? NULL : v;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--k", &v, &bad)) {
            if (bad || cli_ks("eval", v, o.ks, &o.n_ks)) return CLI_USAGE;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--target", &v, &bad)) {
            if (bad) return CLI_USAGE;
            if (strcmp(v, "test") == 0) o.target = CREC_EVAL_TEST;
            else if (strcmp(v, "valid") == 0) o.target = CREC_EVAL_VALID;
            else {
                fprintf(stderr, "crec eval: --target is test or valid\n");
                return CLI_USAGE;
            }
            continue;
        }
        if (cli_opt(argc, argv, &i, "--sampled", &v, &bad)) {
            if (bad || cli_int("eval", "--sampled", v, 1, 100000000, &x)) return CLI_USAGE;
            o.sampled = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--seed", &v, &bad)) {
            if (bad || cli_int("eval", "--seed", v, 0, (long long)1 << 62, &x)) return CLI_USAGE;
            o.seed = (uint64_t)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--max-users", &v, &bad)) {
            if (bad || cli_int("eval", "--max-users", v, 1, 2000000000, &x)) return CLI_USAGE;
            o.max_users = (int32_t)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--threads", &v, &bad)) {
            if (bad || cli_int("eval", "--threads", v, 1, 1024, &x)) return CLI_USAGE;
            o.n_threads = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--task", &v, &bad)) {
            if (bad) return CLI_USAGE;
            if (crec_pointwise_task_parse(v, &po.task)) {
                fprintf(stderr, "crec eval: --task is rating or click\n");
                return CLI_USAGE;
            }
            task = v;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--neg", &v, &bad)) {
            if (bad || cli_int("eval", "--neg", v, 1, 100000, &x)) return CLI_USAGE;
            po.neg = (int)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--threshold", &v, &bad)) {
            double t;
            if (bad || cli_double("eval", "--threshold", v, &t)) return CLI_USAGE;
            po.use_threshold = 1;
            po.threshold = (float)t;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--labels", &v, &bad)) {
            if (bad) return CLI_USAGE;
            if (strcmp(v, "values") && strcmp(v, "sampled")) {
                fprintf(stderr, "crec eval: --labels is values or sampled\n");
                return CLI_USAGE;
            }
            po.value_labels = !strcmp(v, "values");
            continue;
        }
        if (cli_flag(argv, i, "--no-filter-seen")) { o.filter_seen = 0; continue; }
        if (cli_flag(argv, i, "--json")) { json = 1; continue; }
        fprintf(stderr, "crec eval: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (po.value_labels && !po.use_threshold) {
        fprintf(stderr, "crec eval: --labels values needs --threshold T (events below T are the negatives)\n");
        return CLI_USAGE;
    }
    if (task && (per_user || cands || o.sampled)) {
        fprintf(stderr, "crec eval: --task does not combine with --per-user, --candidates or --sampled\n");
        return CLI_USAGE;
    }
    crec_dataset *ds;
    crec_model *m;
    int rc = open_pair("eval", data, model, &ds, &m);
    if (rc) return rc;
    crec_split_spec spec;
    crec_split s;
    if (crec_split_spec_parse(m->split, &spec) || (rc = crec_split_make(ds, &spec, &s))) {
        fprintf(stderr, "crec eval: cannot rebuild the model's split '%s'\n", m->split);
        crec_model_free(m);
        crec_dataset_free(ds);
        return CLI_FAIL;
    }
    if (task) {
        if (po.task == CREC_TASK_RATING && !ds->has_value)
            fprintf(stderr, "crec eval: warning: %s has no ratings (every value is 1)\n", data);
        crec_pointwise_result pr;
        po.target = o.target;
        po.seed = o.seed;
        po.max_users = o.max_users;
        po.n_threads = o.n_threads;
        po.progress = cli_progress();
        rc = crec_eval_pointwise(m, ds, &s, &po, &pr);
        if (rc) cli_err("eval", "evaluate", rc);
        else if (json) crec_pointwise_result_write_json(&pr, &po, m, stdout);
        else {
            printf("model: %s", m->type->name);
            for (int k = 0; k < m->cfg.n; k++) printf(" %s=%s", m->cfg.key[k], m->cfg.val[k]);
            printf("  data: %s\n", ds->name);
            crec_pointwise_result_write_table(&pr, stdout);
        }
        crec_split_free(&s);
        crec_model_free(m);
        crec_dataset_free(ds);
        return rc ? CLI_FAIL : CLI_OK;
    }
    FILE *pu = NULL;
    if (per_user && !(pu = fopen(per_user, "w"))) {
        fprintf(stderr, "crec eval: cannot write %s\n", per_user);
        rc = CREC_EIO;
    }
    uint8_t *cmask = NULL;
    if (!rc && cands) {
        if (o.sampled) {
            fprintf(stderr, "crec eval: --candidates and --sampled do not combine\n");
            rc = CREC_EINVAL;
        } else if (!(cmask = calloc((size_t)ds->items.n + 1, 1))) {
            rc = CREC_ENOMEM;
        } else {
            for (int32_t i = 0; i < ds->items.n; i++) cmask[i] = 1;
            for (int64_t k = 0; k < crec_csr_nnz(&s.train); k++) cmask[s.train.idx[k]] = 0;
            o.candidates = cmask;
            o.candidates_desc = "items without training events";
        }
    }
    crec_eval_result r;
    if (!rc) {
        o.per_user = pu;
        o.progress = cli_progress();
        rc = crec_evaluate(m, ds, &s, &o, &r);
        if (rc) cli_err("eval", "evaluate", rc);
    }
    if (pu) fclose(pu);
    free(cmask);
    if (!rc) {
        if (json) crec_eval_result_write_json(&r, &o, m, stdout);
        else {
            printf("model: %s", m->type->name);
            for (int k = 0; k < m->cfg.n; k++) printf(" %s=%s", m->cfg.key[k], m->cfg.val[k]);
            printf("  data: %s\n", ds->name);
            crec_eval_result_write_table(&r, &o, stdout);
        }
    }
    crec_split_free(&s);
    crec_model_free(m);
    crec_dataset_free(ds);
    return rc ? CLI_FAIL : CLI_OK;
}

/* A comma-separated list of external item ids ("i1, i2") into rq, in order: history events (times =
 * positions) or exclusions. Unknown ids are reported on stderr (what names the option) and skipped. */
static int recommend_id_list(const crec_dataset *ds, const char *list, const char *what, crec_service_request *rq,
                             int as_history) {
    int32_t pos = 0;
    for (const char *p = list; *p;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *next = e ? e + 1 : p + len;
        while (len && *p == ' ') p++, len--;
        while (len && p[len - 1] == ' ') len--;
        if (len) {
            int32_t it = crec_idmap_get(&ds->items, p, len);
            int rc = 0;
            if (it < 0) fprintf(stderr, "crec recommend: unknown item '%.*s' in %s: ignored\n", (int)len, p, what);
            else if (as_history) rc = crec_service_request_add_event(rq, it, pos++, 0); /* times = positions */
            else rc = crec_service_request_exclude(rq, it);
            if (rc) return rc;
        }
        p = next;
    }
    return 0;
}

static void print_attrs(FILE *f, const crec_dataset *ds, int32_t i, int json) {
    if (!ds->attr_ptr) return;
    for (int64_t k = ds->attr_ptr[i]; k < ds->attr_ptr[i + 1]; k++) {
        if (json) {
            fputs(k > ds->attr_ptr[i] ? ", " : "", f);
            cli_json_str(f, ds->attrs.names[ds->attr_idx[k]]);
        } else {
            fprintf(f, "%s%s", k > ds->attr_ptr[i] ? ", " : "", ds->attrs.names[ds->attr_idx[k]]);
        }
    }
}

/* crec recommend: one request to the recommendation service (include/crec/service.h), the same one the
 * server's routes and the demo make; this function only builds it and prints the answer. */
int cmd_recommend(int argc, char **argv) {
    const char *data = NULL, *model = NULL, *user = NULL, *history = NULL, *exclude = NULL;
    const char *must[CREC_SERVICE_MAX_ATTRS], *must_not[CREC_SERVICE_MAX_ATTRS];
    int n_must = 0, n_must_not = 0;
    long long k = 10;
    int json = 0, keep_seen = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        if (cli_is_help(argv[i])) {
            printf("usage: crec recommend --data D --model M.crecm (--user ID | --history \"i1,i2,...\") [-k 10]\n"
                   "                      [--keep-seen] [--exclude \"i1,i2,...\"] [--category A] [--not-category A]\n"
                   "                      [--json]\n\n"
                   "Top-k items with titles for a known user (history = all their events in D, with their times)\n"
                   "or for an anonymous session given as external item ids, oldest first. Seen items are excluded\n"
                   "unless --keep-seen; --exclude drops more items; --category keeps only items with attribute A,\n"
                   "--not-category drops items with it (each repeatable, up to %d).\n",
                   CREC_SERVICE_MAX_ATTRS);
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--data", &v, &bad)) { if (bad) return CLI_USAGE; data = v; continue; }
        if (cli_opt(argc, argv, &i, "--model", &v, &bad)) { if (bad) return CLI_USAGE; model = v; continue; }
        if (cli_opt(argc, argv, &i, "--user", &v, &bad)) { if (bad) return CLI_USAGE; user = v; continue; }
        if (cli_opt(argc, argv, &i, "--history", &v, &bad)) { if (bad) return CLI_USAGE; history = v; continue; }
        if (cli_opt(argc, argv, &i, "--exclude", &v, &bad)) { if (bad) return CLI_USAGE; exclude = v; continue; }
        int is_must = cli_opt(argc, argv, &i, "--category", &v, &bad);
        if (is_must || cli_opt(argc, argv, &i, "--not-category", &v, &bad)) {
            int *n = is_must ? &n_must : &n_must_not;
            if (bad) return CLI_USAGE;
            if (*n == CREC_SERVICE_MAX_ATTRS) {
                fprintf(stderr, "crec recommend: at most %d --category and %d --not-category\n",
                        CREC_SERVICE_MAX_ATTRS, CREC_SERVICE_MAX_ATTRS);
                return CLI_USAGE;
            }
            (is_must ? must : must_not)[(*n)++] = v;
            continue;
        }
        if (cli_opt(argc, argv, &i, "-k", &v, &bad) || cli_opt(argc, argv, &i, "--k", &v, &bad)) {
            if (bad || cli_int("recommend", "-k", v, 1, 100000, &k)) return CLI_USAGE;
            continue;
        }
        if (cli_flag(argv, i, "--json")) { json = 1; continue; }
        if (cli_flag(argv, i, "--keep-seen")) { keep_seen = 1; continue; }
        fprintf(stderr, "crec recommend: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!user == !history) {
        fprintf(stderr, "crec recommend: give exactly one of --user ID or --history \"i1,i2,...\"\n");
        return CLI_USAGE;
    }
    crec_dataset *ds;
    crec_model *m;
    int rc = open_pair("recommend", data, model, &ds, &m);
    if (rc) return rc;
    crec_dataset_attr_csr(ds);
    crec_service_request rq;
    crec_service_scratch sc;
    crec_service_request_init(&rq);
    crec_service_scratch_init(&sc);
    rq.k = (int)k;
    rq.keep_seen = keep_seen;
    for (int f = 0; f < n_must; f++) crec_service_request_filter(&rq, must[f], 1);
    for (int f = 0; f < n_must_not; f++) crec_service_request_filter(&rq, must_not[f], 0);
    if (user) {
        rq.user = crec_idmap_get(&ds->users, user, strlen(user));
        if (rq.user < 0)
            fprintf(stderr, "crec recommend: user '%s' is not in %s: recommending for an empty history\n", user, data);
        else
            rc = crec_service_request_add_user(&rq, ds, rq.user);
    } else {
        rc = recommend_id_list(ds, history, "--history", &rq, 1);
    }
    if (!rc && exclude) rc = recommend_id_list(ds, exclude, "--exclude", &rq, 0);
    crec_service_catalog cat;
    crec_service_catalog_dataset(&cat, m, ds); /* the model's items, D's attributes, no popular fallback */
    crec_service_result res;
    if (!rc && (rc = crec_service_recommend(m, &cat, &rq, &sc, &res))) {
        cli_err("recommend", "score", rc);
        goto out;
    }
    if (rc) goto out;
    const int32_t *top = res.items;
    int n = res.n;
    if (json) {
        printf("{\"user\": ");
        if (user) cli_json_str(stdout, user);
        else printf("null");
        printf(", \"model\": ");
        cli_json_str(stdout, m->type->name);
        printf(", \"history_length\": %d, \"items\": [", rq.n_hist);
        for (int r = 0; r < n; r++) {
            printf("%s{\"rank\": %d, \"item\": ", r ? ", " : "", r + 1);
            cli_json_str(stdout, ds->items.names[top[r]]);
            printf(", \"score\": %.6g, \"title\": ", (double)res.scores[r]);
            if (ds->title && top[r] < ds->meta_cap && ds->title[top[r]]) cli_json_str(stdout, ds->title[top[r]]);
            else printf("null");
            printf(", \"attributes\": [");
            print_attrs(stdout, ds, top[r], 1);
            printf("]}");
        }
        printf("]}\n");
    } else {
        printf("user %s (%d events in history), model %s\n", user ? user : "(anonymous)", rq.n_hist, m->type->name);
        for (int r = 0; r < n; r++) {
            printf("%3d. %-10s %9.4f  %s", r + 1, ds->items.names[top[r]], (double)res.scores[r],
                   crec_dataset_item_label(ds, top[r]));
            if (ds->attr_ptr && ds->attr_ptr[top[r] + 1] > ds->attr_ptr[top[r]]) {
                printf("  [");
                print_attrs(stdout, ds, top[r], 0);
                printf("]");
            }
            printf("\n");
        }
    }
out:
    crec_service_scratch_free(&sc);
    crec_service_request_free(&rq);
    crec_model_free(m);
    crec_dataset_free(ds);
    return rc ? CLI_FAIL : CLI_OK;
}
