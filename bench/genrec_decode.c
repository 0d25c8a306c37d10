/* genrec_decode.c: decoding latency of the generative retrieval model - one top-10 list by trie-constrained beam
 * search (encoder pass, KV-cached decoder steps, seen items excluded) - p50 / p99 / mean over N users, on one
 * thread (OpenMP and BLAS), as a server answers one request.
 *
 *   usage: bench_genrec_decode --data D --model M.crecm [--users N] [--k 10]
 *   D and M as for crec eval (the model's split is rebuilt; histories are training + validation items). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cpu_peak.h"
#include "core/util.h"
#include "crec/blas.h"
#include "crec/crec.h"

extern void openblas_set_num_threads(int num_threads);

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    crec_blas_setup(argc, argv);
    const char *data = NULL, *model = NULL;
    int users = 2000, k = 10;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--users") && i + 1 < argc) users = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--k") && i + 1 < argc) k = atoi(argv[++i]);
        else {
            return bench_usage(argv[i], "usage: %s --data D --model M.crecm [--users N] [--k 10]\n", argv[0]);
        }
    }
    if (!data || !model || users < 1 || k < 1 || k > 1000) {
        return bench_usage(NULL, "usage: %s --data D --model M.crecm [--users N] [--k 10]\n", argv[0]);
    }
    omp_set_num_threads(1);
    openblas_set_num_threads(1);
    crec_dataset *ds = NULL;
    int rc = crec_dataset_load(data, &ds);
    if (rc) {
        fprintf(stderr, "%s: %s (a .crecds file)\n", data, crec_strerror(rc));
        return 1;
    }
    crec_model *m = NULL;
    if ((rc = crec_model_load(model, &m))) {
        fprintf(stderr, "%s: %s\n", model, crec_strerror(rc));
        return 1;
    }
    crec_split_spec spec;
    crec_split sp;
    if (crec_split_spec_parse(m->split, &spec) || crec_split_make(ds, &spec, &sp)) {
        fprintf(stderr, "cannot rebuild split %s\n", m->split);
        return 1;
    }
    int32_t NI = ds->items.n, NU = sp.train.n_rows;
    uint8_t *ex = calloc((size_t)NI, 1);
    int32_t *hist = malloc((size_t)NI * sizeof *hist), *items = malloc((size_t)k * sizeof *items);
    double *lat = malloc((size_t)users * sizeof *lat);
    int n = 0;
    int32_t stride = NU / users > 0 ? NU / users : 1;
    double t_all = crec__now();
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    for (int32_t u = 0; u < NU && n < users; u += stride) {
        int nh = 0;
        for (int64_t p = sp.train.ptr[u]; p < sp.train.ptr[u + 1] && nh < NI; p++) hist[nh++] = sp.train.idx[p];
        for (int64_t p = sp.valid.ptr[u]; p < sp.valid.ptr[u + 1] && nh < NI; p++) hist[nh++] = sp.valid.idx[p];
        if (nh == 0) continue;
        for (int i = 0; i < nh; i++) ex[hist[i]] = 1;
        crec_context ctx = {.user = u, .hist = hist, .n_hist = nh};
        double t0 = crec__now();
        int got = crec_model_recommend(m, &ctx, ex, k, items, NULL, NULL);
        lat[n++] = (crec__now() - t0) * 1e3;
        for (int i = 0; i < nh; i++) ex[hist[i]] = 0;
        if (got < 0) {
            fprintf(stderr, "recommend: %s\n", crec_strerror(got));
            return 1;
        }
    }
    getrusage(RUSAGE_SELF, &r1);
    double wall = crec__now() - t_all;
    double cpu = (r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) + (r1.ru_utime.tv_usec - r0.ru_utime.tv_usec) * 1e-6;
    qsort(lat, (size_t)n, sizeof *lat, cmp_d);
    double mean = 0;
    for (int i = 0; i < n; i++) mean += lat[i];
    mean /= n > 0 ? n : 1;
    double la[3] = {0, 0, 0};
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3) la[0] = -1;
        fclose(lf);
    }
    printf("genrec decode, top-%d with seen items excluded, 1 thread: model %s (%s), %d users\n", k, model,
           m->type->name, n);
    printf("  latency ms: p50 %.3f  p90 %.3f  p99 %.3f  mean %.3f  max %.3f\n", lat[n / 2], lat[(int)(n * 0.9)],
           lat[(int)(n * 0.99)], mean, lat[n - 1]);
    printf("  wall %.2fs, user CPU %.2fs, load average %.2f %.2f %.2f, peak RSS %.1f MiB\n", wall, cpu, la[0], la[1],
           la[2], crec__peak_rss() / 1048576.0);
    printf("  reproduce: bench_genrec_decode --data %s --model %s --users %d --k %d\n", data, model, users, k);
    free(ex), free(hist), free(items), free(lat);
    crec_split_free(&sp);
    crec_model_free(m);
    crec_dataset_free(ds);
    return 0;
}
