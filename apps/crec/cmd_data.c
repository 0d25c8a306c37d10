/* cmd_data.c: crec data synth | import | info | fetch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cmd_fetch.h"
#include "core/util.h"
#include "crec/crs.h"

static const char DATA_USAGE[] =
    "usage: crec data <synth|import|info|fetch> [options]\n"
    "\n"
    "  synth    generate the embedded default dataset (deterministic for a seed)\n"
    "  import   read a dataset file (movielens, sequences, pairs, csv) into a binary .crecds\n"
    "  info     users, items, interactions, density, sequence lengths, popularity Gini\n"
    "  fetch    download a public dataset (MovieLens) from its official URL into a cache\n";

static int data_synth(int argc, char **argv) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    const char *out = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        long long x;
        double d;
        if (cli_is_help(argv[i])) {
            printf("usage: crec data synth --out FILE.crecds [options]\n\n"
                   "Generates the embedded default dataset: Zipf item popularity, users with 1-3 favourite topics,\n"
                   "item-to-item sequential dynamics, timestamps, item titles and attributes. Deterministic for a seed.\n\n"
                   "  --users N      users (default %d)\n  --items N      items (default %d)\n"
                   "  --topics N     taste topics (default %d)\n  --attrs N      style attributes (default %d)\n"
                   "  --min-len N    shortest history (default %d)\n  --max-len N    longest history (default %d)\n"
                   "  --alpha X      Zipf exponent of popularity (default %.2f)\n"
                   "  --p-seq X      probability the next item follows the last one (default %.2f)\n"
                   "  --p-taste X    probability it comes from the user's topics (default %.2f)\n"
                   "  --p-repeat X   probability it repeats an earlier item of the user (default %.2f)\n"
                   "  --seed N       random seed (default %llu)\n",
                   o.n_users, o.n_items, o.n_topics, o.n_attrs, o.min_len, o.max_len, o.pop_alpha, o.p_seq,
                   o.p_taste, o.p_repeat, (unsigned long long)o.seed);
            return CLI_OK;
        }
#define INTOPT(name, field, lo, hi)                                                    \
    if (cli_opt(argc, argv, &i, name, &v, &bad)) {                                     \
        if (bad || cli_int("data synth", name, v, lo, hi, &x)) return CLI_USAGE;       \
        o.field = (int32_t)x;                                                          \
        continue;                                                                      \
    }
#define DBLOPT(name, field, lo, hi)                                                    \
    if (cli_opt(argc, argv, &i, name, &v, &bad)) {                                     \
        if (bad || cli_double("data synth", name, v, &d)) return CLI_USAGE;            \
        if (d < lo || d > hi) {                                                        \
            fprintf(stderr, "crec data synth: %s must be in [%g, %g]\n", name, (double)lo, (double)hi); \
            return CLI_USAGE;                                                          \
        }                                                                              \
        o.field = d;                                                                   \
        continue;                                                                      \
    }
        INTOPT("--users", n_users, 1, 50000000)
        INTOPT("--items", n_items, 4, 50000000)
        INTOPT("--topics", n_topics, 1, 100000)
        INTOPT("--attrs", n_attrs, 0, 1000000)
        INTOPT("--min-len", min_len, 1, 100000)
        INTOPT("--max-len", max_len, 1, 100000)
        DBLOPT("--alpha", pop_alpha, 0, 5)
        DBLOPT("--p-seq", p_seq, 0, 1)
        DBLOPT("--p-taste", p_taste, 0, 1)
        DBLOPT("--p-repeat", p_repeat, 0, 1)
#undef INTOPT
#undef DBLOPT
        if (cli_opt(argc, argv, &i, "--seed", &v, &bad)) {
            if (bad || cli_int("data synth", "--seed", v, 0, (long long)1 << 62, &x)) return CLI_USAGE;
            o.seed = (uint64_t)x;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--out", &v, &bad)) {
            if (bad) return CLI_USAGE;
            out = v;
            continue;
        }
        fprintf(stderr, "crec data synth: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!out) {
        fprintf(stderr, "crec data synth: --out FILE.crecds is required\n");
        return CLI_USAGE;
    }
    if (o.max_len < o.min_len || o.n_topics > o.n_items) {
        fprintf(stderr, "crec data synth: need min-len <= max-len and topics <= items\n");
        return CLI_USAGE;
    }
    crec_dataset *ds;
    double t0 = crec__now();
    int rc = crec_synth_generate(&o, &ds);
    if (rc) {
        cli_err("data synth", "generate", rc);
        return CLI_FAIL;
    }
    rc = crec_dataset_save(ds, out);
    if (rc) {
        cli_err("data synth", out, rc);
        crec_dataset_free(ds);
        return CLI_FAIL;
    }
    fprintf(stderr, "crec data synth: %d users, %d items, %lld interactions -> %s (%.2fs)\n", ds->users.n, ds->items.n,
            (long long)ds->n, out, crec__now() - t0);
    crec_dataset_free(ds);
    return CLI_OK;
}

static int data_import(int argc, char **argv) {
    const char *fmt = "auto", *input = NULL, *out = NULL, *items = NULL;
    crec_load_opts lo;
    memset(&lo, 0, sizeof lo);
    double min_rating = -1;
    long long kcore = 0;
    int dedup = 0, coarse = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        long long x;
        if (cli_is_help(argv[i])) {
            printf("usage: crec data import --format FMT --input PATH --out FILE.crecds [options]\n\n"
                   "formats:\n"
                   "  movielens  a MovieLens folder or ratings file: u.data (100K), ratings.dat (1M/10M),\n"
                   "             ratings.csv (latest/20M); titles and genres from u.item/movies.dat/movies.csv\n"
                   "  sequences  'user item item ...' per line, in time order (SASRec / S3-Rec layout)\n"
                   "  pairs      'user item' per line, in time order\n"
                   "  csv        CSV/TSV with a header; map columns with --user-col/--item-col/--time-col/--value-col\n"
                   "  crs        a conversational-recommendation folder (SCPR/UNICORN review_dict_*.json + item_fea.json,\n"
                   "             or interactions.tsv + item_feature.tsv): attributes and the given split (--split given)\n"
                   "  auto       guess from the path (default)\n\n"
                   "options:\n"
                   "  --items FILE        item attributes: JSON {item: [attrs]} or TSV item<TAB>attr\n"
                   "  --skip-bad          skip malformed lines (counted and reported) instead of stopping\n"
                   "  --min-rating R      keep ratings >= R and make them implicit (value 1)\n"
                   "  --dedup             keep only the first interaction of each (user, item)\n"
                   "  --kcore K           iteratively keep users and items with >= K interactions\n"
                   "  --user-col C, --item-col C, --time-col C, --value-col C   CSV columns (name or 1-based)\n"
                   "  --delim C           CSV delimiter (default: guessed; 'tab' for TAB)\n"
                   "  --no-header         CSV without a header line\n"
                   "  --coarse            crs: item attributes are the coarse feature categories (33-attribute LastFM)\n");
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--format", &v, &bad)) { if (bad) return CLI_USAGE; fmt = v; continue; }
        if (cli_opt(argc, argv, &i, "--input", &v, &bad)) { if (bad) return CLI_USAGE; input = v; continue; }
        if (cli_opt(argc, argv, &i, "--out", &v, &bad)) { if (bad) return CLI_USAGE; out = v; continue; }
        if (cli_opt(argc, argv, &i, "--items", &v, &bad)) { if (bad) return CLI_USAGE; items = v; continue; }
        if (cli_opt(argc, argv, &i, "--user-col", &v, &bad)) { if (bad) return CLI_USAGE; lo.col_user = v; continue; }
        if (cli_opt(argc, argv, &i, "--item-col", &v, &bad)) { if (bad) return CLI_USAGE; lo.col_item = v; continue; }
        if (cli_opt(argc, argv, &i, "--time-col", &v, &bad)) { if (bad) return CLI_USAGE; lo.col_time = v; continue; }
        if (cli_opt(argc, argv, &i, "--value-col", &v, &bad)) { if (bad) return CLI_USAGE; lo.col_value = v; continue; }
        if (cli_opt(argc, argv, &i, "--delim", &v, &bad)) {
            if (bad) return CLI_USAGE;
            if (strcmp(v, "tab") == 0 || strcmp(v, "\\t") == 0) lo.delim = '\t';
            else if (strlen(v) == 1) lo.delim = v[0];
            else {
                fprintf(stderr, "crec data import: --delim takes one character or 'tab'\n");
                return CLI_USAGE;
            }
            continue;
        }
        if (cli_opt(argc, argv, &i, "--min-rating", &v, &bad)) {
            if (bad || cli_double("data import", "--min-rating", v, &min_rating)) return CLI_USAGE;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--kcore", &v, &bad)) {
            if (bad || cli_int("data import", "--kcore", v, 1, 1000000, &x)) return CLI_USAGE;
            kcore = x;
            continue;
        }
        if (cli_flag(argv, i, "--skip-bad")) { lo.skip_bad = 1; continue; }
        if (cli_flag(argv, i, "--dedup")) { dedup = 1; continue; }
        if (cli_flag(argv, i, "--no-header")) { lo.no_header = 1; continue; }
        if (cli_flag(argv, i, "--coarse")) { coarse = 1; continue; }
        fprintf(stderr, "crec data import: unknown option '%s' (see --help)\n", argv[i]);
        return CLI_USAGE;
    }
    if (!input || !out) {
        fprintf(stderr, "crec data import: --input PATH and --out FILE.crecds are required (see --help)\n");
        return CLI_USAGE;
    }
    crec_format f = crec_format_parse(fmt);
    if (f == CREC_FMT_UNKNOWN) {
        fprintf(stderr, "crec data import: unknown format '%s' (movielens, sequences, pairs, csv, crs, auto)\n", fmt);
        return CLI_USAGE;
    }
    crec_dataset *ds = crec_dataset_new();
    if (!ds) return CLI_FAIL;
    double t0 = crec__now();
    if (coarse && f != CREC_FMT_CRS) {
        fprintf(stderr, "crec data import: --coarse needs --format crs\n");
        crec_dataset_free(ds);
        return CLI_USAGE;
    }
    int rc = f == CREC_FMT_CRS ? crec_crs_load(ds, input, coarse, &lo) : crec_load(ds, f, input, &lo);
    if (rc) {
        fprintf(stderr, "crec data import: %s\n", lo.err[0] ? lo.err : crec_strerror(rc));
        if (rc == CREC_EPARSE && f != CREC_FMT_CRS) fprintf(stderr, "hint: --skip-bad skips malformed lines and reports how many\n");
        crec_dataset_free(ds);
        return CLI_FAIL;
    }
    if (lo.n_skipped) fprintf(stderr, "crec data import: skipped %lld malformed line(s); first: %s\n",
                              (long long)lo.n_skipped, lo.err);
    if (items) {
        crec_load_opts ao;
        memset(&ao, 0, sizeof ao);
        ao.skip_bad = lo.skip_bad;
        rc = crec_load_item_attrs(ds, items, &ao);
        if (rc) {
            fprintf(stderr, "crec data import: %s\n", ao.err[0] ? ao.err : crec_strerror(rc));
            crec_dataset_free(ds);
            return CLI_FAIL;
        }
        if (ao.n_skipped) fprintf(stderr, "crec data import: %s: %lld entries skipped (unknown items or malformed)\n",
                                  items, (long long)ao.n_skipped);
    }
    if (min_rating >= 0 && (rc = crec_dataset_filter_min_value(ds, (float)min_rating))) goto fail;
    if (dedup && (rc = crec_dataset_dedup(ds, 0))) goto fail;
    if (kcore > 0 && (rc = crec_dataset_kcore(ds, (int)kcore, (int)kcore))) goto fail;
    if ((rc = crec_dataset_save(ds, out))) goto fail;
    fprintf(stderr, "crec data import: %d users, %d items, %lld interactions, %d attributes -> %s (%.2fs)\n",
            ds->users.n, ds->items.n, (long long)ds->n, ds->attrs.n, out, crec__now() - t0);
    crec_dataset_free(ds);
    return CLI_OK;
fail:
    cli_err("data import", out, rc);
    crec_dataset_free(ds);
    return CLI_FAIL;
}

static int data_info(int argc, char **argv) {
    const char *path = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: crec data info FILE [--json]\n\n"
                   "Users, items, interactions, density, per-user sequence-length quantiles, popularity Gini.\n"
                   "FILE is a .crecds or any text dataset crec can import.\n");
            return CLI_OK;
        }
        if (cli_flag(argv, i, "--json")) json = 1;
        else if (argv[i][0] == '-') {
            fprintf(stderr, "crec data info: unknown option '%s'\n", argv[i]);
            return CLI_USAGE;
        } else path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "crec data info: a dataset FILE is required\n");
        return CLI_USAGE;
    }
    crec_dataset *ds;
    if (cli_open_dataset("data info", path, &ds)) return CLI_FAIL;
    crec_dataset_info in;
    int rc = crec_dataset_info_compute(ds, &in);
    if (rc) {
        cli_err("data info", path, rc);
        crec_dataset_free(ds);
        return CLI_FAIL;
    }
    if (json) {
        printf("{\"name\": ");
        cli_json_str(stdout, ds->name);
        printf(", \"users\": %lld, \"items\": %lld, \"interactions\": %lld, \"density\": %.6g, \"attributes\": %lld, "
               "\"user_features\": %d, \"titled_items\": %lld, \"has_time\": %s, \"has_value\": %s, \"seq_len\": {\"min\": %g, \"q25\": %g, "
               "\"median\": %g, \"q75\": %g, \"max\": %g, \"mean\": %.4g}, \"popularity_gini\": %.4f, "
               "\"repeat_events\": %lld, \"repeat_users\": %lld}\n",
               (long long)in.n_users, (long long)in.n_items, (long long)in.n_interactions, in.density,
               (long long)in.n_attrs, ds->user_attrs.n, (long long)in.n_titled, in.has_time ? "true" : "false",
               in.has_value ? "true" : "false", in.seq_q[0], in.seq_q[1], in.seq_q[2], in.seq_q[3], in.seq_q[4],
               in.seq_mean, in.pop_gini, (long long)in.n_repeats, (long long)in.n_repeat_users);
    } else {
        printf("dataset        %s\n", ds->name);
        printf("users          %lld\n", (long long)in.n_users);
        printf("items          %lld (%lld with titles)\n", (long long)in.n_items, (long long)in.n_titled);
        printf("interactions   %lld\n", (long long)in.n_interactions);
        printf("density        %.6f\n", in.density);
        printf("attributes     %lld\n", (long long)in.n_attrs);
        printf("user features  %d\n", ds->user_attrs.n);
        printf("timestamps     %s\n", in.has_time ? "yes" : "no (file order)");
        printf("ratings        %s\n", in.has_value ? "yes" : "no (implicit)");
        printf("per-user len   min %g  q25 %g  median %g  q75 %g  max %g  mean %.2f\n", in.seq_q[0], in.seq_q[1],
               in.seq_q[2], in.seq_q[3], in.seq_q[4], in.seq_mean);
        printf("pop. Gini      %.4f\n", in.pop_gini);
        printf("repeats        %lld events (%.2f%%) repeat an earlier item of their user; %lld users (%.2f%%)\n",
               (long long)in.n_repeats, in.n_interactions ? 100.0 * (double)in.n_repeats / (double)in.n_interactions : 0.0,
               (long long)in.n_repeat_users, in.n_users ? 100.0 * (double)in.n_repeat_users / (double)in.n_users : 0.0);
    }
    crec_dataset_free(ds);
    return CLI_OK;
}

int cmd_data(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs(DATA_USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "synth") == 0) return data_synth(argc - 1, argv + 1);
    if (strcmp(argv[1], "import") == 0) return data_import(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0) return data_info(argc - 1, argv + 1);
    if (strcmp(argv[1], "fetch") == 0) return crec_cmd_data_fetch(argc - 1, argv + 1);
    fprintf(stderr, "crec data: unknown subcommand '%s'\n\n%s", argv[1], DATA_USAGE);
    return CLI_USAGE;
}
