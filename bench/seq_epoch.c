/* seq_epoch.c: seconds and CPU-seconds per training epoch of any sequence model (bert4rec, gru4rec, sasrec, hstu,
 * ...) on Amazon Beauty with its default hyper-parameters (override with --set k=v), for before/after comparisons of
 * the kernels they share in one binary: --no-ce512 runs the full-catalogue CE's products through OpenBLAS instead
 * of the AVX-512 tiles (src/nn/ce512.c), --ce-twopass through the two-pass CE kernel. Epochs are timed without
 * validation. Prints the wall and process CPU seconds per epoch, the load average, and the SGEMM rates timed in the
 * same run (wall, 2 threads; per CPU-second, one thread: bench/cpu_peak.h) to read the figures against; on a shared
 * machine read CPU-seconds. OMP_WAIT_POLICY defaults to passive (re-executing once), as bench_sasrec_epoch;
 * --wait passive|default|active chooses (cpu_peak.h).
 * --data may also be a .crecds file (e.g. `crec data synth` at MovieLens-20M's shape, bench/growth.sh).
 * --fraction F (0 < F < 1, with --epochs 1) stops training after the first ceil(F x S) of the epoch's S optimiser
 * steps (models/seqtrain.h: crec__seqtrain_step_limit; users are shuffled first, so the steps are a random sample of
 * the epoch's batches) and prints the timed CPU-s and that figure scaled by S / steps, labelled as such; the run's
 * fixed cost (tables, buffers, the first touch) is inside the timed figure, so run a second, smaller fraction and
 * take the difference for the per-step cost. Peak RSS is the real one: the tables and buffers are allocated in full.
 *
 *   usage: bench_seq_epoch --model NAME [--data Beauty.txt|D.crecds] [--epochs 1] [--fraction F] [--threads 2]
 *                          [--no-ce512] [--ce-twopass] [--set k=v ...]
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
#include "nn/ce512.h"
#include "models/seqtrain.h"
#include "nn/nn.h"

static int usage(FILE *f, const char *argv0) {
    fprintf(f,
            "usage: %s --model NAME [--data Beauty.txt|D.crecds] [--epochs 1] [--fraction F] [--threads 2] [--wait P] [--no-ce512] "
            "[--ce-twopass] [--set k=v]...\n",
            argv0);
    return 2;
}

int main(int argc, char **argv) {
    argc = bench_wait_policy(argc, argv); /* --wait passive|default|active (cpu_peak.h) */
    crec_blas_setup(argc, argv);
    const char *data = "../shared/data/amazon-beauty/Beauty.txt", *model = NULL;
    int epochs = 1, threads = 2;
    double fraction = 0;
    crec_config cfg = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            return usage(stdout, argv[0]), 0;
        } else if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--fraction") && i + 1 < argc)
            fraction = atof(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-ce512"))
            crec__nn_ce512 = 0;
        else if (!strcmp(argv[i], "--ce-twopass"))
            crec__nn_ce_twopass = 1;
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (crec_config_set_kv(&cfg, argv[++i])) {
                fprintf(stderr, "bad --set %s\n", argv[i]);
                return 2;
            }
        } else
            return usage(stderr, argv[0]);
    }
    if (!model || epochs < 1 || threads < 1 || fraction < 0 || fraction >= 1 || (fraction > 0 && epochs != 1))
        return usage(stderr, argv[0]);
    if (access(data, R_OK) != 0) {
        printf("skipping: %s not found (shared datasets absent)\n", data);
        return 0;
    }
    crec_dataset *ds;
    crec_split s;
    size_t dl = strlen(data);
    if (dl > 7 && !strcmp(data + dl - 7, ".crecds")) {
        int lrc = crec_dataset_load(data, &ds);
        crec_split_spec sp;
        crec_split_spec_parse("loo", &sp);
        if (lrc || crec_split_make(ds, &sp, &s)) {
            fprintf(stderr, "%s: %s\n", data, lrc ? crec_strerror(lrc) : "cannot make the leave-one-out split");
            return 1;
        }
    } else if (bench_load_loo(data, CREC_FMT_SEQUENCES, &ds, &s))
        return 1;
    char ep[16];
    snprintf(ep, sizeof ep, "%d", epochs);
    crec_config_set(&cfg, "epochs", ep);
    crec_model *m;
    char err[256];
    if (crec_model_new(model, &cfg, &m, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    int64_t dim = crec_model_param_int(m, "dim");
    /* an epoch's optimiser steps: users with >= 2 training items in batches of `batch` (seqtrain.c) */
    int64_t nu2 = 0, batch = crec_model_param_int(m, "batch"), steps = 0, limit = 0;
    for (int32_t u = 0; u < s.train.n_rows; u++) nu2 += s.train.ptr[u + 1] - s.train.ptr[u] >= 2;
    if (batch > 0) steps = (nu2 + batch - 1) / batch;
    if (fraction > 0) {
        limit = (int64_t)ceil(fraction * (double)steps);
        if (limit < 1) limit = 1;
        crec__seqtrain_step_limit = limit;
    }
    printf("bench_seq_epoch: %s on %s (%d users, %d items, %lld events), %d epoch(s), %d threads, blas %s, "
           "OMP_WAIT_POLICY=%s, CE %s\n",
           model, data, s.train.n_rows, s.train.n_cols, (long long)ds->n, epochs, threads, crec_blas_corename(),
           bench_wait_name(),
           crec__nn_ce_twopass                           ? "two-pass"
           : dim > 0 && crec__nn_ce512_ok((int)dim)      ? "fused, AVX-512 tiles"
                                                         : "fused, OpenBLAS products");
    printf("config: ");
    for (int i = 0; i < cfg.n; i++) printf(" %s=%s", cfg.key[i], cfg.val[i]);
    printf(" (dim %lld)\n", (long long)dim);
    crec_train_input in = {.train = &s.train, .n_threads = threads, .seed = 42};
    double la0 = bench_loadavg(), t0 = crec__now(), c0 = bench_cpu_clock(CLOCK_PROCESS_CPUTIME_ID);
    int rc = crec_model_train(m, &in);
    double secs = crec__now() - t0, cpu = bench_cpu_clock(CLOCK_PROCESS_CPUTIME_ID) - c0, la1 = bench_loadavg();
    crec_model_free(m);
    if (rc) {
        fprintf(stderr, "train: %s\n", crec_strerror(rc));
        return 1;
    }
    double peak = crec_blas_sgemm_gflops(1024, 3);
    int prev = crec__nn_blas_single();
    double cpeak = bench_cpu_sgemm(1024, 3);
    crec__nn_blas_restore(prev);
    if (limit > 0)
        printf("steps:   the first %lld of the epoch's %lld steps (fraction %.4f, batch %lld): %.2f s, %.2f CPU-s; "
               "scaled by %lld/%lld to an epoch: %.1f s, %.1f CPU-s (no validation); load average %.2f before, %.2f "
               "after\n",
               (long long)limit, (long long)steps, (double)limit / (double)steps, (long long)batch, secs, cpu,
               (long long)steps, (long long)limit, secs * (double)steps / (double)limit,
               cpu * (double)steps / (double)limit, la0, la1);
    else
        printf("epoch:   %.2f s, %.2f CPU-s per epoch (%lld steps, no validation); load average %.2f before, %.2f "
               "after\n",
               secs / epochs, cpu / epochs, (long long)steps, la0, la1);
    printf("sgemm:   n=1024, same run: %.1f GFLOP/s (wall, %d threads), %.1f GFLOP per CPU-s (one thread)\n", peak,
           crec_blas_threads(), cpeak);
    printf("memory:  peak RSS %.1f MiB\n", crec__peak_rss() / 1048576.0);
    printf("reproduce: ");
    for (int i = 0; i < argc; i++) printf("%s%s", i ? " " : "", argv[i]);
    printf("\n");
    crec_split_free(&s);
    crec_dataset_free(ds);
    return 0;
}
