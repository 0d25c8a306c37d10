/* online_mf.c: cost per event of the online factorisation model (crec_omf, crec/online.h) on one thread: learning a
 * synthetic stream (Zipf items, uniform users) one event per batch and in batches, then scoring the whole catalogue
 * for users. Times are the thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so other work on the machine inflates them
 * less than wall time; the load average is printed with them.
 * usage: bench_online_mf [--dim D] [--neg N] [--hist L] [--loss bpr|softmax] [--users U] [--items I] [--events E] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu_peak.h"
#include "core/util.h"
#include "crec/online.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void loadavg(char *buf, size_t n) {
    FILE *f = fopen("/proc/loadavg", "r");
    snprintf(buf, n, "?");
    if (f) {
        if (!fgets(buf, (int)n, f)) snprintf(buf, n, "?");
        fclose(f);
        buf[strcspn(buf, "\n")] = 0;
    }
}

#define OMF_USAGE "usage: %s [--dim D] [--neg N] [--hist L] [--loss bpr|softmax] [--users U] [--items I] [--events E]\n"

int main(int argc, char **argv) {
    crec_omf_opts o;
    crec_omf_opts_default(&o);
    o.loss = CREC_OMF_SOFTMAX;
    o.neg = 64;
    o.lr = 0.5f;
    int32_t nu = 20000, ni = 10000;
    int64_t ne = 200000;
    for (int i = 1; i < argc; i += 2) {
        if (i + 1 >= argc) return bench_usage(argv[i], OMF_USAGE, argv[0]);
        if (!strcmp(argv[i], "--dim")) o.dim = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--neg")) o.neg = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--hist")) o.hist = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--loss")) o.loss = strcmp(argv[i + 1], "bpr") ? CREC_OMF_SOFTMAX : CREC_OMF_BPR;
        else if (!strcmp(argv[i], "--users")) nu = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--items")) ni = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--events")) ne = atoll(argv[i + 1]);
        else {
            fprintf(stderr, "%s: unknown option '%s'\n", argv[0], argv[i]);
            return bench_usage(NULL, OMF_USAGE, argv[0]);
        }
    }
    if (nu < 1 || ni < 2 || ne < 1) {
        fprintf(stderr, "bench_online_mf: needs --users >= 1, --items >= 2, --events >= 1\n");
        return 2;
    }
    char la[128];
    loadavg(la, sizeof la);
    printf("online MF (crec_omf): one thread, CPU time per event; dim %d, %s, %d negatives, hist %d; %d users, %d items "
           "(Zipf 1.0), %lld events\ncommand:",
           o.dim, o.loss == CREC_OMF_BPR ? "bpr" : "softmax", o.neg, o.hist, nu, ni, (long long)ne);
    for (int i = 0; i < argc; i++) printf(" %s", argv[i]);
    printf("\nload average: %s\n", la);
    /* the stream: Zipf item popularity by inverse CDF over a table */
    double *cdf = malloc((size_t)ni * sizeof *cdf);
    crec_event *ev = malloc((size_t)ne * sizeof *ev);
    if (!cdf || !ev) return 1;
    double z = 0;
    for (int32_t i = 0; i < ni; i++) cdf[i] = (z += 1.0 / (i + 1));
    crec_rng r;
    crec__rng_seed(&r, 1);
    for (int64_t k = 0; k < ne; k++) {
        double x = crec__rng_uniform(&r) * z;
        int32_t lo = 0, hi = ni - 1;
        while (lo < hi) {
            int32_t mid = (lo + hi) / 2;
            if (cdf[mid] < x) lo = mid + 1;
            else hi = mid;
        }
        ev[k] = (crec_event){.user = (int32_t)crec__rng_below(&r, (uint64_t)nu), .item = lo, .ts = k, .value = 1};
    }
    int batches[3] = {1, 16, 256};
    for (int b = 0; b < 3; b++) {
        crec_omf *m = crec_omf_new(&o);
        if (!m) return 1;
        double t0 = cpu_now();
        for (int64_t k = 0; k < ne; k += batches[b])
            if (crec_omf_learn(m, ev + k, ne - k < batches[b] ? ne - k : batches[b], NULL)) return 1;
        double dt = cpu_now() - t0;
        crec_omf_stats st;
        crec_omf_get_stats(m, &st);
        printf("learn, batch %3d: %7.2f us/event (%.0f events/s), %d users and %d items with rows\n", batches[b],
               dt / (double)ne * 1e6, (double)ne / dt, st.users, st.items);
        if (b == 0) {
            float *sc = malloc((size_t)ni * sizeof *sc);
            int32_t top[10];
            int nq = 2000;
            double s0 = cpu_now();
            for (int q = 0; q < nq; q++) {
                int32_t u = (int32_t)crec__rng_below(&r, (uint64_t)nu);
                int32_t h[3] = {ev[q].item, ev[q + 1].item, ev[q + 2].item};
                crec_omf_score(m, u, h, 3, ni, sc);
                crec_topk(sc, ni, NULL, 10, top);
            }
            double sd = cpu_now() - s0;
            printf("score all %d items + top-10: %7.2f us/request (%.1f M items scored/s)\n", ni, sd / nq * 1e6,
                   (double)nq * ni / sd / 1e6);
            free(sc);
        }
        crec_omf_free(m);
    }
    loadavg(la, sizeof la);
    printf("load average after: %s\n", la);
    free(cdf);
    free(ev);
    return 0;
}
