/* sasrec_epoch.c: seconds per SASRec training epoch on Amazon Beauty, peak memory, and the achieved GFLOP/s
 * against this machine's SGEMM peak.
 *
 * The configuration is the original SASRec's (Kang & McAuley 2018) that the reference PyTorch port takes ~27 s per
 * epoch for on a 2-core machine: width 50, 2 blocks, 1 head, max_len 50, batch 128, BCE with one negative per
 * position, dropout 0.2 (override any hyper-parameter with --set k=v, e.g. --set loss=ce --set dim=64). Epochs
 * are timed without validation; --quality E then trains E epochs with early stopping on validation NDCG@10 and
 * reports test HR@10 / NDCG@10 (full ranking, history excluded) so speed is read next to quality.
 * FLOPs are counted from the model's shapes (matrix products, attention over the causal pairs, the loss; backward
 * = 2x forward), not measured. OMP_WAIT_POLICY defaults to passive here (re-executing once): spinning OpenMP
 * barriers crawl when the machine is shared (docs/RESULTS.md, SASRec); --wait default measures what `crec train`
 * gets on a quiet machine (libgomp's own policy; cpu_peak.h). On a shared machine read the cpu line: CPU
 * seconds per epoch and GFLOP per CPU-second against one-thread SGEMM per CPU-second (cpu_peak.h), both from this
 * run; the wall-clock fraction falls with whatever else runs.
 *
 *   usage: bench_sasrec_epoch [--data Beauty.txt] [--epochs 3] [--threads N] [--wait passive|default|active]
 *                             [--quality E] [--ce-twopass]
 *                             [--no-ce512] [--par-min n] [--shard-rows n] [--set k=v ...]
 * (--ce-twopass: the full-catalogue CE through the two-pass kernel the fused one replaced; --no-ce512: the fused
 * kernel with its products in OpenBLAS instead of its AVX-512 tiles (src/nn/ce512.c); `--set ce_precision=bf16`:
 * its products as AMX bf16 tiles, where the CPU and Linux provide AMX; --par-min n: kernels run one
 * thread below n elements (default 16384); --shard-rows n: rows per shard of the sharded step (default 128; a
 * number above the batch's rows runs it kernel by kernel, each kernel sharing its rows among the threads, as
 * before the shards); all for a before/after in one run.)
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
#include "models/seqenc.h"
#include "nn/ce512.h"
#include "nn/nn.h"

static crec_model *train(const crec_config *cfg, const crec_split *s, int threads, int valid, int verbose,
                         double *secs, double *cpu) {
    crec_model *m = bench_train_timed("sasrec", cfg, s, threads, valid, verbose, secs, cpu);
    if (m) snprintf(m->split, sizeof m->split, "loo");
    return m;
}

/* ce_precision=bf16 among the --set options, and AMX here for width D */
static int amx_asked(const crec_config *cfg, int D) {
    int asked = 0;
    for (int i = 0; i < cfg->n; i++)
        if (!strcmp(cfg->key[i], "ce_precision")) asked = !strcmp(cfg->val[i], "bf16");
    return asked && crec__nn_ce_amx_available(D);
}

int main(int argc, char **argv) {
    argc = bench_wait_policy(argc, argv); /* --wait passive|default|active (cpu_peak.h) */
    crec_blas_setup(argc, argv);
    const char *data = "../shared/data/amazon-beauty/Beauty.txt";
    int epochs = 3, threads = 0, quality = 0;
    crec_config cfg = {0};
    const char *defaults[] = {"dim=50",   "blocks=2", "heads=1",     "max_len=50", "batch=128",
                              "loss=bce", "neg=1",    "dropout=0.2", "lr=0.001"};
    for (size_t k = 0; k < sizeof defaults / sizeof defaults[0]; k++) crec_config_set_kv(&cfg, defaults[k]);
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--par-min") && i + 1 < argc) /* one-thread kernels below n elements */
            crec__nn_par_min = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--shard-rows") && i + 1 < argc) /* rows per shard of a step (seqenc.c) */
            crec__seqenc_shard_rows = (size_t)atol(argv[++i]);
        else if (!strcmp(argv[i], "--ce-twopass")) /* the CE loss before the fused kernel, for a before/after */
            crec__nn_ce_twopass = 1;
        else if (!strcmp(argv[i], "--no-ce512")) /* the fused CE's products in OpenBLAS, for a before/after */
            crec__nn_ce512 = 0;
        else if (!strcmp(argv[i], "--quality") && i + 1 < argc)
            quality = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) {
            if (crec_config_set_kv(&cfg, argv[++i])) {
                fprintf(stderr, "bad --set %s\n", argv[i]);
                return 2;
            }
        } else {
            return bench_usage(argv[i],
                               "usage: %s [--data Beauty.txt] [--epochs 3] [--threads N] [--wait P] [--quality E] "
                               "[--ce-twopass] [--no-ce512] [--par-min n] [--shard-rows n] [--set k=v]...\n",
                               argv[0]);
        }
    }
    if (epochs < 1 || access(data, R_OK) != 0) {
        if (epochs >= 1) printf("skipping: %s not found (shared datasets absent)\n", data);
        return epochs < 1 ? 2 : 0;
    }
    crec_dataset *ds;
    crec_split s;
    if (bench_load_loo(data, CREC_FMT_SEQUENCES, &ds, &s)) return 1;

    /* model FLOPs of one epoch, from the shapes of every user's training window */
    char epochs_s[16];
    snprintf(epochs_s, sizeof epochs_s, "%d", epochs);
    crec_config_set(&cfg, "epochs", epochs_s);
    crec_model *probe;
    char err[256];
    if (crec_model_new("sasrec", &cfg, &probe, err, sizeof err)) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    double D = (double)crec_model_param_int(probe, "dim"), L = (double)crec_model_param_int(probe, "blocks");
    double F = (double)crec_model_param_int(probe, "ffn"), T = (double)crec_model_param_int(probe, "max_len");
    double K = (double)crec_model_param_int(probe, "neg");
    const char *loss = crec_model_param_str(probe, "loss");
    if (F == 0) F = D;
    if (K == 0) K = !strcmp(loss, "ssm") ? 256 : !strcmp(loss, "gbce") ? 128 : 1;
    double tokens = 0, pairs = 0;
    for (int32_t u = 0; u < s.train.n_rows; u++) {
        double n = (double)(s.train.ptr[u + 1] - s.train.ptr[u]);
        if (n < 2) continue;
        double tb = fmin(n - 1, T);
        tokens += tb, pairs += tb * (tb + 1) / 2;
    }
    double out_per_token = !strcmp(loss, "ce")    ? 2 * D * s.train.n_cols
                           : !strcmp(loss, "ssm") ? 2 * D * K
                                                  : 2 * D * (1 + K);
    double fwd = tokens * (L * (2 * D * 3 * D + 2 * D * D + 4 * D * F) + out_per_token) + L * pairs * 4 * D;
    double flops = 3 * fwd;
    crec_model_free(probe);

    printf("bench_sasrec_epoch: %s, %d users, %d items, %lld events; %.0f training positions per epoch\n", data,
           s.train.n_rows, s.train.n_cols, (long long)ds->n, tokens);
    printf("blas:    %s, OMP_WAIT_POLICY=%s, threads %d, one-thread kernels below %zu elements, shards of >= %zu "
           "rows, CE %s\n",
           crec_blas_corename(), bench_wait_name(), threads > 0 ? threads : crec_blas_threads(),
           crec__nn_par_min, crec__seqenc_shard_rows,
           crec__nn_ce_twopass                                ? "two-pass"
           : amx_asked(&cfg, (int)D)                          ? "fused, AMX bf16 tiles"
           : crec__nn_ce512_ok((int)D)                        ? "fused, AVX-512 tiles"
                                           : "fused, OpenBLAS products");
    printf("config: ");
    for (int i = 0; i < cfg.n; i++) printf(" %s=%s", cfg.key[i], cfg.val[i]);
    printf("\n");

    double secs, cpu;
    crec_model *m = train(&cfg, &s, threads, 0, 0, &secs, &cpu);
    if (!m) return 1;
    /* serving latency: one user's top-10 over the catalog from a history of max_len items (the forward, one
     * matrix-vector product against the item table, top-k), one thread, over 1000 histories */
    {
        int32_t ni = m->n_items, hl = (int32_t)T, k10[10];
        float *sc = malloc((size_t)ni * sizeof *sc);
        int32_t *h = malloc((size_t)hl * sizeof *h);
        crec_rng r;
        crec__rng_seed(&r, 1);
        double t0 = crec__now(), worst = 0;
        for (int q = 0; q < 1000 && sc && h; q++) {
            for (int32_t k = 0; k < hl; k++) h[k] = (int32_t)crec__rng_below(&r, (uint64_t)ni);
            double t1 = crec__now();
            crec_context c = {.user = -1, .hist = h, .n_hist = hl};
            if (crec_model_score(m, &c, sc) == 0) crec_topk(sc, ni, NULL, 10, k10);
            double dt = crec__now() - t1;
            worst = dt > worst ? dt : worst;
        }
        printf("score:   %.3f ms per top-10 over %d items from a %d-item history (mean of 1000, max %.3f ms)\n",
               (crec__now() - t0) / 1000 * 1e3, ni, hl, worst * 1e3);
        free(sc);
        free(h);
    }
    crec_model_free(m);
    double per = secs / epochs;
    double peak = crec_blas_sgemm_gflops(1024, 3);
    int prev = crec__nn_blas_single();
    double cpeak = bench_cpu_sgemm(1024, 3);
    crec__nn_blas_restore(prev);
    printf("epoch:   %.2f s (%d epochs in %.2f s, no validation), %.0f positions/s\n", per, epochs, secs, tokens / per);
    printf("flops:   %.2f GFLOP per epoch (model count), achieved %.1f GFLOP/s = %.0f%% of SGEMM peak %.1f GFLOP/s "
           "(n=1024)\n",
           flops / 1e9, flops / 1e9 / per, 100 * flops / 1e9 / per / peak, peak);
    double fc = bench_fma_ceiling(BENCH_CEIL_FMA, crec_blas_threads());
    if (fc > 0)
        printf("ceiling: %.1f GFLOP/s from 512-bit FMAs alone (%d threads): the epoch at %.0f%% of it, the SGEMM at "
               "%.0f%%\n",
               fc, crec_blas_threads(), 100 * flops / 1e9 / per / fc, 100 * peak / fc);
    /* CPU time: what the load of other processes does not change (cpu_peak.h) */
    printf("cpu:     %.2f CPU-s per epoch, %.1f GFLOP per CPU-s = %.0f%% of one-thread SGEMM %.1f GFLOP per CPU-s "
           "(n=1024); load average %.2f\n",
           cpu / epochs, flops / 1e9 / (cpu / epochs), 100 * flops / 1e9 / (cpu / epochs) / cpeak, cpeak, bench_loadavg());
    printf("memory:  peak RSS %.1f MiB\n", crec__peak_rss() / 1048576.0);
    if (quality > 0) {
        char q[16];
        snprintf(q, sizeof q, "%d", quality);
        crec_config_set(&cfg, "epochs", q);
        m = train(&cfg, &s, threads, 1, 1, &secs, &cpu);
        if (!m) return 1;
        crec_eval_opts eo;
        crec_eval_opts_defaults(&eo);
        eo.n_ks = 1;
        eo.ks[0] = 10;
        crec_eval_result r;
        if (crec_evaluate(m, ds, &s, &eo, &r)) return 1;
        printf("quality: test HR@10 %.4f NDCG@10 %.4f after up to %d epochs (early stopping on validation NDCG@10), "
               "trained in %.1f s\n",
               r.at[0].hr, r.at[0].ndcg, quality, secs);
        crec_model_free(m);
    }
    printf("reproduce: ");
    for (int i = 0; i < argc; i++) printf("%s%s", i ? " " : "", argv[i]);
    printf("\n");
    crec_split_free(&s);
    crec_dataset_free(ds);
    return 0;
}
