/* cmd_compare.c: crec compare A.tsv B.tsv: paired comparison of two per-user result files written by
 * crec eval --per-user (same users; matched by user id). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* Read column `metric` of a per-user TSV into vals indexed by user id in `users`. */
static int read_per_user(const char *path, const char *metric, crec_idmap *users, double **vals, int64_t *cap,
                         int add) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "crec compare: cannot open %s\n", path);
        return -1;
    }
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    int col = -1, lineno = 0, rc = 0;
    while ((len = getline(&line, &lcap, f)) > 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        char *save = NULL, *tok = strtok_r(line, "\t", &save);
        if (lineno == 1) {
            for (int c = 0; tok; c++, tok = strtok_r(NULL, "\t", &save))
                if (strcmp(tok, metric) == 0) col = c;
            if (col < 1) {
                fprintf(stderr, "crec compare: %s has no column '%s'\n", path, metric);
                rc = -1;
                break;
            }
            continue;
        }
        if (!tok) continue;
        int32_t u = add ? crec_idmap_intern(users, tok, strlen(tok)) : crec_idmap_get(users, tok, strlen(tok));
        if (u < 0) {
            if (add) { rc = -1; break; }
            continue;
        }
        char *cell = tok;
        for (int c = 0; c < col && cell; c++) cell = strtok_r(NULL, "\t", &save);
        char *end;
        double v = cell ? strtod(cell, &end) : 0;
        if (!cell || end == cell) {
            fprintf(stderr, "crec compare: %s:%d: bad value in column '%s'\n", path, lineno, metric);
            rc = -1;
            break;
        }
        if (u >= *cap) {
            int64_t nc = *cap ? *cap * 2 : 1024;
            while (nc <= u) nc *= 2;
            double *nv = realloc(*vals, (size_t)nc * sizeof *nv);
            if (!nv) { rc = -1; break; }
            for (int64_t k = *cap; k < nc; k++) nv[k] = NAN;
            *vals = nv;
            *cap = nc;
        }
        (*vals)[u] = v;
    }
    free(line);
    fclose(f);
    return rc;
}

int cmd_compare(int argc, char **argv) {
    const char *a = NULL, *b = NULL, *metric = "NDCG@10";
    long long boot = 1000, seed = 42;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int bad = 0;
        if (cli_is_help(argv[i])) {
            printf("usage: crec compare A.tsv B.tsv [--metric NDCG@10] [--boot 1000] [--seed 42] [--json]\n\n"
                   "Paired comparison of two models evaluated on the same users (files from crec eval --per-user):\n"
                   "mean of each, mean difference B - A, its 95%% bootstrap confidence interval, and a paired\n"
                   "two-sided t-test.\n");
            return CLI_OK;
        }
        if (cli_opt(argc, argv, &i, "--metric", &v, &bad)) { if (bad) return CLI_USAGE; metric = v; continue; }
        if (cli_opt(argc, argv, &i, "--boot", &v, &bad)) {
            if (bad || cli_int("compare", "--boot", v, 10, 1000000, &boot)) return CLI_USAGE;
            continue;
        }
        if (cli_opt(argc, argv, &i, "--seed", &v, &bad)) {
            if (bad || cli_int("compare", "--seed", v, 0, (long long)1 << 62, &seed)) return CLI_USAGE;
            continue;
        }
        if (cli_flag(argv, i, "--json")) { json = 1; continue; }
        if (argv[i][0] == '-') {
            fprintf(stderr, "crec compare: unknown option '%s'\n", argv[i]);
            return CLI_USAGE;
        }
        if (!a) a = argv[i];
        else if (!b) b = argv[i];
        else {
            fprintf(stderr, "crec compare: give exactly two files\n");
            return CLI_USAGE;
        }
    }
    if (!a || !b) {
        fprintf(stderr, "crec compare: give two per-user files (crec eval --per-user FILE)\n");
        return CLI_USAGE;
    }
    crec_idmap users;
    crec_idmap_init(&users);
    double *va = NULL, *vb = NULL;
    int64_t ca = 0, cb = 0;
    int rc = read_per_user(a, metric, &users, &va, &ca, 1);
    if (!rc) rc = read_per_user(b, metric, &users, &vb, &cb, 0);
    double *xa = NULL, *xb = NULL;
    int64_t n = 0;
    if (!rc) {
        xa = malloc(((size_t)users.n + 1) * sizeof *xa);
        xb = malloc(((size_t)users.n + 1) * sizeof *xb);
        for (int32_t u = 0; xa && xb && u < users.n; u++)
            if (u < ca && u < cb && va[u] == va[u] && vb[u] == vb[u]) {
                xa[n] = va[u];
                xb[n] = vb[u];
                n++;
            }
        if (n < 2) {
            fprintf(stderr, "crec compare: fewer than 2 users in common between %s and %s\n", a, b);
            rc = -1;
        } else if (n < users.n) {
            fprintf(stderr, "crec compare: %lld of %d users of %s are in both files\n", (long long)n, users.n, a);
        }
    }
    crec_paired_test t;
    if (!rc && crec_paired_compare(xa, xb, n, (int)boot, (uint64_t)seed, &t)) rc = -1;
    if (!rc) {
        if (json) {
            printf("{\"metric\": ");
            cli_json_str(stdout, metric);
            printf(", \"a\": ");
            cli_json_str(stdout, a);
            printf(", \"b\": ");
            cli_json_str(stdout, b);
            printf(", \"users\": %lld, \"mean_a\": %.6g, \"mean_b\": %.6g, \"mean_diff\": %.6g, \"ci95\": [%.6g, %.6g], "
                   "\"bootstrap\": %lld, \"seed\": %lld, \"t\": %.6g, \"p_value\": %.6g}\n",
                   (long long)t.n, t.mean_a, t.mean_b, t.mean_diff, t.ci_lo, t.ci_hi, boot, seed, t.t, t.p_value);
        } else {
            printf("paired comparison of %s over %lld users\n", metric, (long long)t.n);
            printf("  A %-40s %.4f\n  B %-40s %.4f\n", a, t.mean_a, b, t.mean_b);
            printf("  B - A = %+.4f   95%% bootstrap CI [%+.4f, %+.4f] (%lld resamples, seed %lld)\n", t.mean_diff,
                   t.ci_lo, t.ci_hi, boot, seed);
            printf("  paired t-test: t = %.3f, p = %.3g%s\n", t.t, t.p_value,
                   t.p_value < 0.05 ? "  (significant at 0.05)" : "  (not significant at 0.05)");
        }
    }
    free(va);
    free(vb);
    free(xa);
    free(xb);
    crec_idmap_free(&users);
    return rc ? CLI_FAIL : CLI_OK;
}
