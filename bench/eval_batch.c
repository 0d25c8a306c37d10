/* eval_batch.c: crec_evaluate user by user against batched (score_batch: one matrix product per block of users)
 * for iALS on Amazon Beauty (22,363 users, 12,101 items), in one run.
 *
 * For each factor count: train iALS (a few iterations: the speed of evaluation does not depend on how well the
 * model fits), then evaluate the test targets of every user (full ranking, history excluded) three ways:
 *   dense     user by user, each history folded in by the dense d x d Cholesky (the scoring before score_batch
 *             and the fast fold-in existed: a copy of the model type whose score does exactly that)
 *   per-user  user by user with the model's own score (fast fold-in, one dot product per item)
 *   batched   the model's score_batch: blocks of users, one product per block
 * and prints wall and CPU seconds, their ratio to batched, the 1-minute load average before each run, and
 * HR@10 / NDCG@10 of each (they agree up to the float rounding of the product and of the two solvers). The
 * batched evaluation is repeated at one thread and must give the same bits.
 *
 *   usage: bench_eval_batch [--data Beauty.txt] [--factors 64,512] [--iters 2] [--threads N] [--no-dense]
 *                           [--max-users N] [--synth]
 * Without the data file (or with --synth) it runs on a synthetic dataset of Beauty's shape, and says so. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cpu_peak.h"
#include "core/util.h"
#include "crec/blas.h"
#include "crec/crec.h"
#include "models/ials.h"

static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double load1(void) {
    double l[1] = {0};
    return getloadavg(l, 1) == 1 ? l[0] : NAN;
}

/* iALS scoring as it was before: a trained row, else the dense fold-in, then one dot product per item. */
static int dense_score(const crec_model *m, const crec_context *ctx, float *scores) {
    const crec_ials_state *s = m->state;
    int trained = ctx->user >= 0 && ctx->user < s->n_users;
    if (trained && (ctx->n_hist <= 0 || strcmp(crec_model_param_str(m, "fold_in"), "new") == 0)) {
        crec__ials_scores(s, s->W + (size_t)ctx->user * s->ld, scores);
        return 0;
    }
    float *w = crec__aligned_alloc((size_t)s->ld * sizeof *w);
    if (!w) return CREC_ENOMEM;
    int rc = crec__ials_fold_in(s, ctx->hist, ctx->n_hist, w);
    if (!rc) crec__ials_scores(s, w, scores);
    free(w);
    return rc;
}

typedef struct run {
    const char *name;
    double wall, cpu, load;
    crec_eval_result r;
} run;

static int timed_eval(const crec_model *m, const crec_dataset *ds, const crec_split *s, const crec_eval_opts *o,
                      run *out) {
    out->load = load1();
    double t0 = crec__now(), c0 = cpu_now();
    int rc = crec_evaluate(m, ds, s, o, &out->r);
    out->wall = crec__now() - t0, out->cpu = cpu_now() - c0;
    if (rc) fprintf(stderr, "%s: evaluate: %s\n", out->name, crec_strerror(rc));
    return rc;
}

int main(int argc, char **argv) {
    if (!getenv("OMP_WAIT_POLICY")) { /* as bench_sasrec_epoch: spinning barriers crawl on a shared machine */
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    crec_blas_setup(argc, argv);
    const char *data = "../shared/data/amazon-beauty/Beauty.txt", *factors = "64,512";
    int iters = 2, threads = 0, dense = 1, synth = 0, max_users = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc) data = argv[++i];
        else if (!strcmp(argv[i], "--factors") && i + 1 < argc) factors = argv[++i];
        else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--max-users") && i + 1 < argc) max_users = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-dense")) dense = 0;
        else if (!strcmp(argv[i], "--synth")) synth = 1;
        else {
            return bench_usage(argv[i],
                               "usage: %s [--data Beauty.txt] [--factors 64,512] [--iters 2] [--threads N] "
                               "[--no-dense] [--max-users N] [--synth]\n",
                               argv[0]);
        }
    }
    crec_dataset *ds = NULL;
    char label[600];
    if (!synth && access(data, R_OK) != 0) {
        printf("%s not found (shared datasets absent): a synthetic dataset of Beauty's shape instead\n", data);
        synth = 1;
    }
    if (synth) {
        crec_synth_opts so;
        crec_synth_defaults(&so);
        so.n_users = 22363, so.n_items = 12101, so.min_len = 5, so.max_len = 20, so.seed = 42;
        if (crec_synth_generate(&so, &ds)) return 1;
        snprintf(label, sizeof label, "synth(users=22363,items=12101)");
    } else {
        ds = crec_dataset_new();
        crec_load_opts lo;
        memset(&lo, 0, sizeof lo);
        if (!ds || crec_load(ds, CREC_FMT_SEQUENCES, data, &lo)) {
            fprintf(stderr, "load: %s\n", lo.err);
            return 1;
        }
        snprintf(label, sizeof label, "%s", data);
    }
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    crec_split s;
    if (crec_split_make(ds, &sp, &s)) return 1;
    int nth = threads > 0 ? threads : omp_get_max_threads();
    char why[256];
    crec_blas_choice(why, sizeof why);
    printf("bench_eval_batch: %s, %d users, %d items, %lld events; split loo, target test\n", label, s.train.n_rows,
           s.train.n_cols, (long long)ds->n);
    printf("blas:    %s (%s), OMP_WAIT_POLICY=%s, threads %d, cores online %ld, load %.2f\n", crec_blas_corename(), why,
           getenv("OMP_WAIT_POLICY"), nth, sysconf(_SC_NPROCESSORS_ONLN), load1());

    int fail = 0;
    for (const char *f = factors; *f && !fail;) {
        int d = atoi(f);
        const char *comma = strchr(f, ',');
        f = comma ? comma + 1 : f + strlen(f);
        if (d < 1) continue;
        crec_config cfg = {0};
        char kv[64];
        snprintf(kv, sizeof kv, "factors=%d", d);
        crec_config_set_kv(&cfg, kv);
        snprintf(kv, sizeof kv, "iters=%d", iters);
        crec_config_set_kv(&cfg, kv);
        crec_model *m;
        char err[256];
        if (crec_model_new("ials", &cfg, &m, err, sizeof err)) {
            fprintf(stderr, "%s\n", err);
            return 2;
        }
        crec_train_input in = {.train = &s.train, .valid = &s.valid, .n_threads = threads, .seed = 42};
        double t0 = crec__now();
        if (crec_model_train(m, &in)) {
            fprintf(stderr, "train failed\n");
            return 1;
        }
        snprintf(m->split, sizeof m->split, "loo");
        printf("\nials factors=%d iters=%d (defaults otherwise: fold_in=history): trained in %.1f s\n", d, iters,
               crec__now() - t0);

        /* the same model through type copies: without the batch hook, and with the old dense scoring */
        crec_model_type t_user = *m->type, t_dense = *m->type;
        t_user.score_batch = NULL, t_user.caps &= ~(unsigned)CREC_CAP_BATCH;
        t_dense.score_batch = NULL, t_dense.caps &= ~(unsigned)CREC_CAP_BATCH, t_dense.score = dense_score;
        crec_model m_user = *m, m_dense = *m;
        m_user.type = &t_user, m_dense.type = &t_dense;

        crec_eval_opts o;
        crec_eval_opts_defaults(&o);
        o.n_ks = 2, o.ks[0] = 10, o.ks[1] = 20;
        o.n_threads = nth, o.max_users = max_users;
        run runs[3] = {{.name = "batched"}, {.name = "per-user"}, {.name = "dense"}};
        int nr = dense ? 3 : 2;
        fail = timed_eval(m, ds, &s, &o, &runs[0]) || timed_eval(&m_user, ds, &s, &o, &runs[1]) ||
               (dense && timed_eval(&m_dense, ds, &s, &o, &runs[2]));
        /* batched at one thread: the same bits */
        crec_eval_opts o1 = o;
        o1.n_threads = 1;
        run one = {.name = "batched, 1 thread"};
        if (!fail) fail = timed_eval(m, ds, &s, &o1, &one);
        if (fail) break;
        printf("users %lld; scoring user by user: 'dense' = d x d Cholesky fold-in (as before), 'per-user' = "
               "the model's score\n",
               (long long)runs[0].r.n_users);
        printf("  %-18s %9s %9s %8s %7s %10s %10s %12s\n", "path", "wall s", "cpu s", "x batch", "load", "HR@10",
               "NDCG@10", "NDCG diff");
        for (int k = 0; k < nr; k++) {
            const run *x = &runs[k];
            printf("  %-18s %9.2f %9.2f %8.2f %7.2f %10.6f %10.6f %12.2e\n", x->name, x->wall, x->cpu,
                   x->wall / runs[0].wall, x->load, x->r.at[0].hr, x->r.at[0].ndcg,
                   x->r.at[0].ndcg - runs[0].r.at[0].ndcg);
        }
        printf("  %-18s %9.2f %9.2f %8.2f %7.2f %10.6f %10.6f %12.2e\n", one.name, one.wall, one.cpu,
               one.wall / runs[0].wall, one.load, one.r.at[0].hr, one.r.at[0].ndcg,
               one.r.at[0].ndcg - runs[0].r.at[0].ndcg);
        int same = memcmp(one.r.at, runs[0].r.at, sizeof one.r.at) == 0 &&
                   memcmp(one.r.coverage, runs[0].r.coverage, sizeof one.r.coverage) == 0 &&
                   memcmp(one.r.novelty, runs[0].r.novelty, sizeof one.r.novelty) == 0;
        printf("  batched at %d threads and at 1 thread: %s\n", nth, same ? "bit-identical metrics" : "DIFFERENT");
        int agree = 1;
        for (int k = 1; k < nr; k++)
            agree = agree && fabs(runs[k].r.at[0].ndcg - runs[0].r.at[0].ndcg) <= 1e-4 &&
                    fabs(runs[k].r.at[1].ndcg - runs[0].r.at[1].ndcg) <= 1e-4;
        printf("  NDCG@10 and NDCG@20 of every path within 1e-4 of batched: %s\n", agree ? "yes" : "NO");
        if (!same || !agree) fail = 1;
        crec_model_free(m);
    }
    printf("\nreproduce: build-rel/bench_eval_batch --factors %s --iters %d --threads %d%s%s\n", factors, iters, nth,
           dense ? "" : " --no-dense", synth ? " --synth" : "");
    crec_split_free(&s);
    crec_dataset_free(ds);
    return fail;
}
