/* cmd_misc.c: crec models, crec version, crec bench. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int cmd_models(int argc, char **argv) {
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_is_help(argv[i])) {
            printf("usage: crec models [--json]\n\nLists every model with its hyper-parameters: type, default, the\n"
                   "values accepted, help. Set them with crec train --set key=value (checked strictly).\n"
                   "--json: [{name, summary, caps, params: [{name, type, default, min, max | values, help}]}]\n");
            return CLI_OK;
        } else if (cli_flag(argv, i, "--json")) {
            json = 1;
        } else {
            fprintf(stderr, "crec models: unknown option '%s'\n", argv[i]);
            return CLI_USAGE;
        }
    }
    if (json) printf("[");
    for (int t = 0; t < crec_model_type_count(); t++) {
        const crec_model_type *mt = crec_model_type_at(t);
        if (json) {
            printf("%s{\"name\": ", t ? ", " : "");
            cli_json_str(stdout, mt->name);
            printf(", \"summary\": ");
            cli_json_str(stdout, mt->summary);
            printf(", \"caps\": [");
            static const struct { unsigned cap; const char *name; } CAPS[] = {
                {CREC_CAP_TIME, "time"}, {CREC_CAP_FEATURES, "features"}, {CREC_CAP_LIST, "list"},
                {CREC_CAP_ONLINE, "online"}, {CREC_CAP_SEQUENCE, "sequence"}, {CREC_CAP_BATCH, "batch"}};
            for (size_t c = 0, n = 0; c < sizeof CAPS / sizeof CAPS[0]; c++)
                if (crec_model_has(mt, CAPS[c].cap)) printf("%s\"%s\"", n++ ? ", " : "", CAPS[c].name);
            printf("], \"params\": [");
            for (const crec_param_def *p = mt->params; p && p->name; p++) {
                printf("%s{\"name\": ", p == mt->params ? "" : ", ");
                cli_json_str(stdout, p->name);
                printf(", \"type\": \"%s\", \"default\": ", crec_param_kind_name(p->kind));
                cli_json_str(stdout, p->def);
                if (p->kind == CREC_PARAM_INT || p->kind == CREC_PARAM_FLOAT)
                    printf(", \"min\": %.17g, \"max\": %.17g", p->lo, p->hi);
                if (p->choices) { /* enum words, or the words a number also accepts ("auto") */
                    printf(", \"%s\": [", p->kind == CREC_PARAM_ENUM ? "values" : "also");
                    const char *w = p->choices;
                    for (int first = 1; *w; first = 0) {
                        const char *bar = strchr(w, '|');
                        size_t len = bar ? (size_t)(bar - w) : strlen(w);
                        char word[64];
                        snprintf(word, sizeof word, "%.*s", (int)len, w);
                        printf("%s", first ? "" : ", ");
                        cli_json_str(stdout, word);
                        w = bar ? bar + 1 : w + len;
                    }
                    printf("]");
                }
                printf(", \"help\": ");
                cli_json_str(stdout, p->help);
                printf("}");
            }
            printf("]}");
        } else {
            printf("%-10s %s\n", mt->name, mt->summary);
            for (const crec_param_def *p = mt->params; p && p->name; p++) {
                char acc[256];
                crec_param_accepts(p, acc, sizeof acc);
                printf("    %-10s = %-8s %s [%s: %s]\n", p->name, p->def, p->help, crec_param_kind_name(p->kind), acc);
            }
        }
    }
    if (json) printf("]\n");
    return CLI_OK;
}

int cmd_version(int argc, char **argv) {
    if (argc > 1 && cli_is_help(argv[1])) {
        printf("usage: crec version\n\nPrints the crec version and the BLAS kernel in use (and why it was chosen).\n");
        return CLI_OK;
    }
    char why[256] = "";
    const char *choice = crec_blas_choice(why, sizeof why);
    printf("crec %s\n", crec_version());
    printf("blas: %s, core %s, %d threads\n", crec_blas_config(), crec_blas_corename(), crec_blas_threads());
    printf("blas choice: %s%s%s\n", choice ? choice : "(unchanged)", why[0] ? " - " : "", why);
    return CLI_OK;
}

int cmd_bench(int argc, char **argv) {
    if (argc < 2 || cli_is_help(argv[1])) {
        printf("usage: crec bench blas [--n N]\n\n"
               "blas: measure single-precision GEMM GFLOP/s (n x n, best of 5) of the BLAS kernel in use.\n"
               "The full benchmarks are programs under bench/ (make bench).\n");
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "blas") != 0) {
        fprintf(stderr, "crec bench: unknown benchmark '%s' (try: crec bench blas)\n", argv[1]);
        return CLI_USAGE;
    }
    long long n = 1024;
    for (int i = 2; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        if (cli_opt(argc, argv, &i, "--n", &v, &bad)) {
            if (bad || cli_int("bench", "--n", v, 16, 8192, &n)) return CLI_USAGE;
        } else {
            fprintf(stderr, "crec bench: unknown option '%s'\n", argv[i]);
            return CLI_USAGE;
        }
    }
    char why[256] = "";
    crec_blas_choice(why, sizeof why);
    printf("blas: %s, core %s, %d threads (%s)\n", crec_blas_config(), crec_blas_corename(), crec_blas_threads(), why);
    printf("sgemm n=%lld: %.1f GFLOP/s\n", n, crec_blas_sgemm_gflops((int)n, 5));
    return CLI_OK;
}
