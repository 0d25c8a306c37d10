/* genrec_beam.c: a trained genrec model's quality and decoding cost against its beam width, on the VALIDATION
 * target only (history = training items, target = the validation item, seen items excluded, full catalogue: an item
 * outside the top-10 list counts as a miss), so the width can be chosen without reading the test items.
 *
 *   usage: bench_genrec_beam --data D --model M.crecm [--beams 20,50,100] [--users N]
 *   N users evenly spaced over those with a validation item (0 = all, the default). One thread. */
#include <omp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cpu_peak.h"
#include "core/util.h"
#include "crec/blas.h"
#include "crec/crec.h"
#include "models/genrec.h"

extern void openblas_set_num_threads(int num_threads);

static double cpu_s(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return r.ru_utime.tv_sec + r.ru_utime.tv_usec * 1e-6;
}

int main(int argc, char **argv) {
    crec_blas_setup(argc, argv);
    const char *data = NULL, *model = NULL, *beams = "20,50,100";
    int users = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc) model = argv[++i];
        else if (!strcmp(argv[i], "--beams") && i + 1 < argc) beams = argv[++i];
        else if (!strcmp(argv[i], "--users") && i + 1 < argc) users = atoi(argv[++i]);
        else
            return bench_usage(argv[i], "usage: %s --data D --model M.crecm [--beams 20,50,100] [--users N]\n",
                               argv[0]);
    }
    if (!data || !model || users < 0) {
        return bench_usage(NULL, "usage: %s --data D --model M.crecm [--beams 20,50,100] [--users N]\n", argv[0]);
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
    if (m->n_items != ds->items.n) {
        fprintf(stderr, "%s: trained on %d items, %s has %d\n", model, m->n_items, data, ds->items.n);
        return 1;
    }
    crec_split_spec spec;
    crec_split sp;
    if (crec_split_spec_parse(m->split, &spec) || crec_split_make(ds, &spec, &sp)) {
        fprintf(stderr, "cannot rebuild split %s\n", m->split);
        return 1;
    }
    int32_t NI = ds->items.n, NU = sp.train.n_rows, with = 0;
    for (int32_t u = 0; u < NU; u++) with += sp.valid.ptr[u + 1] > sp.valid.ptr[u] && sp.train.ptr[u + 1] > sp.train.ptr[u];
    int32_t stride = users > 0 && with > users ? with / users : 1;
    uint8_t *ex = calloc((size_t)NI, 1);
    printf("genrec beam width on validation (loo; history = training items; target = the validation item; seen items "
           "excluded; full catalogue of %d items, unlisted = miss); model %s, %d of %d users, 1 thread\n",
           NI, model, users > 0 && users < with ? users : with, with);
    printf("%6s %9s %9s %9s %9s %12s\n", "beam", "HR@5", "NDCG@5", "HR@10", "NDCG@10", "CPU ms/user");
    for (const char *q = beams; *q;) {
        char *end;
        long b = strtol(q, &end, 10);
        if (end == q || b < 1) {
            fprintf(stderr, "--beams '%s': positive widths, comma-separated\n", beams);
            return 2;
        }
        q = *end ? end + 1 : end;
        if (crec__genrec_set_beam(m, (int)b)) {
            fprintf(stderr, "%s: not a genrec model\n", model);
            return 1;
        }
        double h5 = 0, n5 = 0, h10 = 0, n10 = 0, c0 = cpu_s();
        int32_t idx = 0, cnt = 0;
        for (int32_t u = 0; u < NU; u++) {
            if (!(sp.valid.ptr[u + 1] > sp.valid.ptr[u] && sp.train.ptr[u + 1] > sp.train.ptr[u])) continue;
            if (idx++ % stride || (users > 0 && cnt >= users)) continue;
            const int32_t *h = sp.train.idx + sp.train.ptr[u];
            int n = (int)(sp.train.ptr[u + 1] - sp.train.ptr[u]);
            for (int i = 0; i < n; i++) ex[h[i]] = 1;
            int32_t tgt = sp.valid.idx[sp.valid.ptr[u]], items[10];
            crec_context ctx = {.user = u, .hist = h, .n_hist = n};
            int got = crec_model_recommend(m, &ctx, ex, 10, items, NULL, NULL);
            for (int i = 0; i < n; i++) ex[h[i]] = 0;
            if (got < 0) {
                fprintf(stderr, "recommend: %s\n", crec_strerror(got));
                return 1;
            }
            cnt++;
            for (int r = 0; r < got; r++)
                if (items[r] == tgt) {
                    double g = 1 / log2(r + 2.0);
                    h10 += 1, n10 += g;
                    if (r < 5) h5 += 1, n5 += g;
                    break;
                }
        }
        double c = cpu_s() - c0;
        printf("%6ld %9.4f %9.4f %9.4f %9.4f %12.3f\n", b, h5 / cnt, n5 / cnt, h10 / cnt, n10 / cnt, 1e3 * c / cnt);
        fflush(stdout);
    }
    double la[3] = {0, 0, 0};
    FILE *lf = fopen("/proc/loadavg", "r");
    if (lf) {
        if (fscanf(lf, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3) la[0] = -1;
        fclose(lf);
    }
    printf("load average %.2f %.2f %.2f\n  reproduce: bench_genrec_beam --data %s --model %s --beams %s --users %d\n",
           la[0], la[1], la[2], data, model, beams, users);
    free(ex);
    crec_split_free(&sp);
    crec_model_free(m);
    crec_dataset_free(ds);
    return 0;
}
