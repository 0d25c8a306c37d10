/* hstu_epoch.c: seconds (wall and CPU) per HSTU training epoch on the long-history set, MovieLens-1M users 1-2999
 * (487,650 events, real timestamps), in the reference's ML-1M shape: D 50, 2 blocks, 1 head, max_len 200,
 * dropout 0.2, sampled softmax with 128 uniform negatives, batch 128, AdamW lr 0.005 (override with --set k=v).
 *
 * Epochs are timed without validation, and per epoch by difference: one run of 1 epoch and one of 1 + E epochs,
 * (run2 - run1) / E, so the one-time costs (allocating and zeroing the activation blocks, the split) are not
 * charged to an epoch; the 1-epoch run's own figures are printed too. On a shared machine read the CPU line: CPU
 * seconds do not grow with the load of other processes. FLOPs are counted from the shapes (the products, the
 * attention over the causal pairs, the sampled loss; backward = 2x forward), not measured.
 *
 *   usage: bench_hstu_epoch [--data ratings.users-0001-2999.dat] [--epochs 2] [--threads 2] [--set k=v ...]
 *   skips (exit 0, message) when the data file is absent. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "cpu_peak.h"
#include "crec/blas.h"
#include "crec/crec.h"
#include "nn/nn.h"

/* Trains `epochs` epochs without validation; wall and process CPU seconds of the training call. */
static int train(crec_config *cfg, const crec_split *s, int threads, int epochs, double *secs, double *cpu) {
    char e[16];
    snprintf(e, sizeof e, "%d", epochs);
    crec_config_set(cfg, "epochs", e);
    crec_model *m = bench_train_timed("hstu", cfg, s, threads, 0, 0, secs, cpu);
    crec_model_free(m);
    return m ? 0 : 1;
}

int main(int argc, char **argv) {
    argc = bench_wait_policy(argc, argv); /* --wait passive|default|active (cpu_peak.h) */
    crec_blas_setup(argc, argv);
    const char *data = "../shared/data/ml-1m/ratings.users-0001-2999.dat";
    int epochs = 2, threads = 2;
    crec_config cfg = {0};
    const char *defaults[] = {"dim=50",   "blocks=2", "heads=1",   "max_len=200", "dropout=0.2",
                              "loss=ssm", "neg=128",  "batch=128", "lr=0.005",    "patience=0"};
    for (size_t k = 0; k < sizeof defaults / sizeof defaults[0]; k++) crec_config_set_kv(&cfg, defaults[k]);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (crec_config_set_kv(&cfg, argv[++i])) {
                fprintf(stderr, "bad --set %s\n", argv[i]);
                return 2;
            }
        } else
            return bench_usage(argv[i],
                               "usage: %s [--data ratings.users-0001-2999.dat] [--epochs 2] [--threads 2] [--wait P] "
                               "[--set k=v]...\nseconds (wall, CPU) per HSTU training epoch, one-time costs excluded "
                               "(runs of 1 and 1 + E epochs)\n",
                               argv[0]);
    }
    if (epochs < 1 || access(data, R_OK) != 0) {
        if (epochs >= 1) printf("skipping: %s not found (shared datasets absent)\n", data);
        return epochs < 1 ? 2 : 0;
    }
    crec_dataset *ds;
    crec_split s;
    if (bench_load_loo(data, CREC_FMT_MOVIELENS, &ds, &s)) return 1;

    crec_model *probe;
    char err[256];
    if (crec_model_new("hstu", &cfg, &probe, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    double D = (double)crec_model_param_int(probe, "dim"), L = (double)crec_model_param_int(probe, "blocks");
    double T = (double)crec_model_param_int(probe, "max_len"), K = (double)crec_model_param_int(probe, "neg");
    int ce = !strcmp(crec_model_param_str(probe, "loss"), "ce");
    crec_model_free(probe);
    double tokens = 0, pairs = 0;
    for (int32_t u = 0; u < s.train.n_rows; u++) {
        double n = (double)(s.train.ptr[u + 1] - s.train.ptr[u]);
        if (n < 2) continue;
        double tb = fmin(n - 1, T);
        tokens += tb, pairs += tb * (tb + 1) / 2;
    }
    /* per token and layer: W_uvqk (4D x D) and W_o (D x D); per causal pair and layer: Q K^T and A V */
    double fwd = tokens * (L * 10 * D * D + 2 * D * (ce ? s.train.n_cols : K + 1)) + L * pairs * 4 * D;
    double flops = 3 * fwd;

    printf("bench_hstu_epoch: %s, %d users, %d items, %lld events; %.0f training positions, %.0f causal pairs per "
           "epoch and layer\n",
           data, s.train.n_rows, s.train.n_cols, (long long)ds->n, tokens, pairs);
    printf("blas:    %s, OMP_WAIT_POLICY=%s, threads %d\n", crec_blas_corename(), bench_wait_name(), threads);
    printf("config: ");
    for (int i = 0; i < cfg.n; i++) printf(" %s=%s", cfg.key[i], cfg.val[i]);
    printf("\n");
    double l0 = bench_loadavg(), s1, c1, s2, c2;
    if (train(&cfg, &s, threads, 1, &s1, &c1) || train(&cfg, &s, threads, 1 + epochs, &s2, &c2)) return 1;
    double per = (s2 - s1) / epochs, cper = (c2 - c1) / epochs;
    int prev = crec__nn_blas_single();
    double cpeak = bench_cpu_sgemm(1024, 3);
    crec__nn_blas_restore(prev);
    printf("runs:    1 epoch %.2f s wall / %.2f CPU-s; %d epochs %.2f s wall / %.2f CPU-s (one-time costs included)\n",
           s1, c1, 1 + epochs, s2, c2);
    printf("epoch:   %.2f s wall, %.2f CPU-s (by difference of the runs, no validation); load average %.2f -> %.2f\n",
           per, cper, l0, bench_loadavg());
    printf("flops:   %.1f GFLOP per epoch (model count), %.1f GFLOP per CPU-s = %.0f%% of one-thread SGEMM %.1f GFLOP "
           "per CPU-s (n=1024)\n",
           flops / 1e9, flops / 1e9 / cper, 100 * flops / 1e9 / cper / cpeak, cpeak);
    printf("memory:  peak RSS %.1f MiB\n", crec__peak_rss() / 1048576.0);
    printf("reproduce: ");
    for (int i = 0; i < argc; i++) printf("%s%s", i ? " " : "", argv[i]);
    printf("\n");
    crec_split_free(&s);
    crec_dataset_free(ds);
    return 0;
}
