/* test_cml.c: collaborative metric learning. Finite-difference checks (double precision) of the triple loss and of
 * the feature encoder's position, the unit-ball constraint after training, a cold item with a trained item's
 * attributes and title landing next to it, cold items scored by features and beating random on a cold-items
 * split, checkpoint round trips with identical scores (cold items and anonymous users included), bad
 * hyper-parameters, and cml beating popularity on the synthetic default. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "crec/crec.h"
#include "core/util.h"
#include "models/cml.h"
#include "models/feat.h"
#include "testutil.h"

/* Train cml with hyper-parameters kv[n_kv] on `threads` threads; train_cml uses one thread, so that the quality
 * assertions see the same (bit-identical) model on every run. */
static crec_model *train_cml_t(const crec_dataset *ds, const crec_csr *x, const crec_csr *valid, const char **kv,
                               int n_kv, uint64_t seed, int threads) {
    crec_config cfg = {0};
    for (int k = 0; k < n_kv; k++) assert_int_equal(crec_config_set_kv(&cfg, kv[k]), 0);
    crec_model *m;
    char err[256];
    assert_int_equal(crec_model_new("cml", &cfg, &m, err, sizeof err), 0);
    crec_train_input in = {.ds = ds, .train = x, .valid = valid, .n_threads = threads, .seed = seed};
    assert_int_equal(crec_model_train(m, &in), 0);
    return m;
}

static crec_model *train_cml(const crec_dataset *ds, const crec_csr *x, const crec_csr *valid, const char **kv,
                             int n_kv, uint64_t seed) {
    return train_cml_t(ds, x, valid, kv, n_kv, seed, 1);
}

/* L(x) for the finite differences: the triple loss with fresh gradient buffers. */
static double triple_loss(const double *u, const double *vi, const double *vj, int D, double m, double w) {
    double du[8] = {0}, dvi[8] = {0}, dvj[8] = {0};
    return crec__cml_triple_d(u, vi, vj, D, m, w, du, dvi, dvj);
}

static void check_fd(double *x, const double *grad, int n, double (*f)(void *), void *ud, const char *what) {
    const double eps = 1e-6;
    for (int k = 0; k < n; k++) {
        double x0 = x[k];
        x[k] = x0 + eps;
        double lp = f(ud);
        x[k] = x0 - eps;
        double lm = f(ud);
        x[k] = x0;
        double fd = (lp - lm) / (2 * eps);
        if (fabs(fd - grad[k]) > 1e-6 * (1 + fabs(fd))) {
            print_error("%s[%d]: analytic %.10f, finite difference %.10f\n", what, k, grad[k], fd);
            fail();
        }
    }
}

typedef struct triple_case { double u[5], vi[5], vj[5], m, w; } triple_case;
static double triple_f(void *ud) {
    triple_case *c = ud;
    return triple_loss(c->u, c->vi, c->vj, 5, c->m, c->w);
}

static void test_triple_gradient(void **st) {
    triple_case c = {.u = {0.1, -0.3, 0.2, 0.05, -0.1}, .vi = {0.4, 0.2, -0.1, 0.3, 0.0},
                     .vj = {0.0, -0.2, 0.3, 0.1, -0.2}, .m = 0.5, .w = 2.3};
    double du[5] = {0}, dvi[5] = {0}, dvj[5] = {0};
    double L = crec__cml_triple_d(c.u, c.vi, c.vj, 5, c.m, c.w, du, dvi, dvj);
    /* by hand: |u - vi|^2 = 0.09 + 0.25 + 0.09 + 0.0625 + 0.01 = 0.5025, |u - vj|^2 = 0.01 + 0.01 + 0.01 + 0.0025
     * + 0.01 = 0.0425 -> 2.3 * (0.5 + 0.5025 - 0.0425) = 2.208 */
    assert_true(fabs(L - 2.208) < 1e-12);
    check_fd(c.u, du, 5, triple_f, &c, "du");
    check_fd(c.vi, dvi, 5, triple_f, &c, "dvi");
    check_fd(c.vj, dvj, 5, triple_f, &c, "dvj");
    /* gradients accumulate (+=): a second call doubles them */
    double du2[5], dvi2[5], dvj2[5];
    memcpy(du2, du, sizeof du);
    memcpy(dvi2, dvi, sizeof dvi);
    memcpy(dvj2, dvj, sizeof dvj);
    crec__cml_triple_d(c.u, c.vi, c.vj, 5, c.m, c.w, du2, dvi2, dvj2);
    for (int k = 0; k < 5; k++)
        assert_true(du2[k] == 2 * du[k] && dvi2[k] == 2 * dvi[k] && dvj2[k] == 2 * dvj[k]);
    /* inactive hinge: loss 0, gradients untouched */
    double far[5] = {3, 3, 3, 3, 3}, g[5] = {7, 7, 7, 7, 7};
    assert_true(crec__cml_triple_d(c.u, c.vi, far, 5, c.m, c.w, g, g, g) == 0);
    for (int k = 0; k < 5; k++) assert_true(g[k] == 7);
    /* float and double kernels agree */
    float uf[5], vif[5], vjf[5], duf[5] = {0}, dvif[5] = {0}, dvjf[5] = {0};
    for (int k = 0; k < 5; k++) uf[k] = (float)c.u[k], vif[k] = (float)c.vi[k], vjf[k] = (float)c.vj[k];
    float Lf = crec__cml_triple_f(uf, vif, vjf, 5, 0.5f, 2.3f, duf, dvif, dvjf);
    assert_true(fabsf(Lf - 2.208f) < 1e-5f);
    for (int k = 0; k < 5; k++)
        assert_true(fabs(duf[k] - du[k]) < 1e-5 && fabs(dvif[k] - dvi[k]) < 1e-5 && fabs(dvjf[k] - dvj[k]) < 1e-5);
}

/* Two items through the feature encoder: i has free row e_i and features {0, 2}; j (free embedding dropped) has
 * features {1, 2, 3}; feature 2 is shared, so its gradient gets contributions from both. */
typedef struct pos_case { double u[4], ei[4], ej[4], W[4 * 4]; } pos_case;
static const int32_t FI[] = {0, 2}, FJ[] = {1, 2, 3};
static double pos_f(void *ud) {
    pos_case *c = ud;
    double vi[4], vj[4];
    crec__cml_pos_d(vi, c->ei, 1, c->W, FI, 2, 4);
    crec__cml_pos_d(vj, c->ej, 0, c->W, FJ, 3, 4);
    return triple_loss(c->u, vi, vj, 4, 0.8, 1.7);
}

static void test_feature_encoder_gradient(void **st) {
    pos_case c = {.u = {0.2, -0.1, 0.3, 0.1}, .ei = {0.3, 0.2, -0.2, 0.1}, .ej = {-0.5, 0.4, 0.1, 0.2}};
    for (int k = 0; k < 16; k++) c.W[k] = 0.1 * sin(1.0 + k);
    double vi[4], vj[4], du[4] = {0}, dvi[4] = {0}, dvj[4] = {0}, dei[4] = {0}, dej[4] = {0}, dW[16] = {0};
    crec__cml_pos_d(vi, c.ei, 1, c.W, FI, 2, 4);
    crec__cml_pos_d(vj, c.ej, 0, c.W, FJ, 3, 4);
    /* the position is e + mean of the feature rows */
    assert_true(fabs(vi[0] - (0.3 + 0.5 * (c.W[0] + c.W[8]))) < 1e-15);
    assert_true(fabs(vj[1] - (c.W[5] + c.W[9] + c.W[13]) / 3) < 1e-15);
    assert_true(crec__cml_triple_d(c.u, vi, vj, 4, 0.8, 1.7, du, dvi, dvj) > 0);
    crec__cml_pos_backward_d(dvi, 1, FI, 2, 4, 1.0, dei, dW);
    crec__cml_pos_backward_d(dvj, 0, FJ, 3, 4, 1.0, dej, dW);
    check_fd(c.u, du, 4, pos_f, &c, "du");
    check_fd(c.ei, dei, 4, pos_f, &c, "dei");
    check_fd(c.ej, dej, 4, pos_f, &c, "dej (dropped: zero)");
    check_fd(c.W, dW, 16, pos_f, &c, "dW");
    for (int k = 0; k < 4; k++) assert_true(dej[k] == 0);
}

static void collect(const char *tok, size_t len, void *ud) {
    char *out = ud;
    strncat(out, tok, len);
    strcat(out, "|");
}

/* Words and feature lists: only features of trained items are kept; a cold item keeps what it shares. */
static void test_features(void **st) {
    char out[256] = "";
    assert_int_equal(crec__tokenize("Toy Story (1995), a FILM - l'ete \xc3\xa0 Paris!", collect, out), 7);
    assert_string_equal(out, "toy|story|1995|film|ete|\xc3\xa0|paris|");

    crec_dataset *ds = crec_dataset_new();
    const char *names[] = {"x0", "x1", "x2"}, *titles[] = {"Red Fox", "Blue fox", "Green FOX"};
    const char *attrs[][2] = {{"a", "b"}, {"b", NULL}, {"b", "z"}};
    for (int i = 0; i < 3; i++) {
        int32_t id = crec_dataset_item(ds, names[i], 2);
        crec_dataset_set_title(ds, id, titles[i], strlen(titles[i]));
        for (int k = 0; k < 2; k++)
            if (attrs[i][k]) crec_dataset_add_attr(ds, id, attrs[i][k], 1);
    }
    crec_dataset_add_attr(ds, 0, "a", 1); /* a duplicate pair counts once */
    uint8_t trained[3] = {1, 1, 0};
    crec_feat f;
    assert_int_equal(crec__feat_build(&f, ds, 3, trained, 1, 1, 100), 0);
    /* attributes a, b (z only on the cold item); words fox (2 trained items), red, blue (green only on cold) */
    assert_int_equal(f.n_attrs, 2);
    assert_int_equal(f.n_tokens, 3);
    assert_int_equal(f.ptr[1] - f.ptr[0], 4); /* a b fox red */
    assert_int_equal(f.ptr[2] - f.ptr[1], 3); /* b fox blue */
    assert_int_equal(f.ptr[3] - f.ptr[2], 2); /* b fox */
    int32_t b = f.idx[f.ptr[2]], fox = f.idx[f.ptr[2] + 1];
    assert_true(b < 2 && fox == 2); /* attributes first; fox is the most frequent word */
    crec__feat_free(&f);
    /* word cap: only the most frequent word stays; no text: attributes only; no dataset: empty lists */
    assert_int_equal(crec__feat_build(&f, ds, 3, trained, 1, 1, 1), 0);
    assert_int_equal(f.n_tokens, 1);
    assert_int_equal(f.ptr[3] - f.ptr[2], 2);
    crec__feat_free(&f);
    assert_int_equal(crec__feat_build(&f, ds, 3, trained, 1, 0, 100), 0);
    assert_int_equal(f.n_feats, 2);
    crec__feat_free(&f);
    assert_int_equal(crec__feat_build(&f, NULL, 3, trained, 1, 1, 100), 0);
    assert_int_equal(f.n_feats, 0);
    assert_int_equal(f.ptr[3], 0);
    crec__feat_free(&f);
    crec_dataset_free(ds);
}

static double max_norm(const float *X, int32_t n, int32_t D, int32_t *argmax) {
    double best = 0;
    for (int32_t i = 0; i < n; i++) {
        double s = 0;
        for (int32_t k = 0; k < D; k++) s += (double)X[(size_t)i * D + k] * X[(size_t)i * D + k];
        if (sqrt(s) > best) {
            best = sqrt(s);
            if (argmax) *argmax = i;
        }
    }
    return best;
}

static crec_dataset *synth(int32_t nu, int32_t ni) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = nu;
    o.n_items = ni;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    return ds;
}

static void test_unit_ball(void **st) {
    crec_dataset *ds = synth(300, 200);
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(ds, &x), 0);
    for (int feat = 0; feat <= 1; feat++) {
        const char *kv[] = {feat ? "features=1" : "features=0", "epochs=15", "factors=16", "lr=0.3"};
        crec_model *m = train_cml_t(ds, &x, NULL, kv, 4, 3, 2); /* the Hogwild path */
        const float *U, *V;
        int32_t D;
        assert_int_equal(crec__cml_points(m, &U, &V, &D), 0);
        assert_int_equal(D, 16);
        double mu = max_norm(U, m->n_users, D, NULL), mv = max_norm(V, m->n_items, D, NULL);
        print_message("features=%d: max |user| %.6f, max |item position| %.6f\n", feat, mu, mv);
        assert_true(mu <= 1 + 1e-5);
        assert_true(mu > 0.95); /* the constraint binds: without the projection points leave the ball */
        assert_true(mv <= (feat ? 2 : 1) + 1e-5);
        crec_model_free(m);
    }
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

/* 4 topics x 10 items; an item has attributes "t<topic>" and "i<item>", and a title "<topicword> <name>". Users of
 * topic k take 6 of its items, item k*10 (the topic's star) most often. Two cold items: one a twin of the star of
 * topic 0 (same attributes and title), one a twin of item 25 (topic 2). */
static crec_dataset *twins(void) {
    static const char *TW[] = {"pirate", "galaxy", "romance", "western"};
    crec_dataset *ds = crec_dataset_new();
    char name[32], title[64], attr[16];
    for (int i = 0; i < 40; i++) {
        snprintf(name, sizeof name, "it%d", i);
        int32_t id = crec_dataset_item(ds, name, strlen(name));
        snprintf(title, sizeof title, "%s tale%d", TW[i / 10], i);
        crec_dataset_set_title(ds, id, title, strlen(title));
        snprintf(attr, sizeof attr, "t%d", i / 10);
        crec_dataset_add_attr(ds, id, attr, strlen(attr));
        snprintf(attr, sizeof attr, "i%d", i);
        crec_dataset_add_attr(ds, id, attr, strlen(attr));
    }
    int src[2] = {0, 25};
    for (int c = 0; c < 2; c++) {
        snprintf(name, sizeof name, "cold%d", c);
        int32_t id = crec_dataset_item(ds, name, strlen(name));
        snprintf(title, sizeof title, "%s tale%d", TW[src[c] / 10], src[c]);
        crec_dataset_set_title(ds, id, title, strlen(title));
        snprintf(attr, sizeof attr, "t%d", src[c] / 10);
        crec_dataset_add_attr(ds, id, attr, strlen(attr));
        snprintf(attr, sizeof attr, "i%d", src[c]);
        crec_dataset_add_attr(ds, id, attr, strlen(attr));
    }
    crec_rng r;
    crec__rng_seed(&r, 5);
    int64_t ts = 0;
    for (int u = 0; u < 240; u++) {
        int k = u % 4;
        snprintf(name, sizeof name, "u%d", u);
        for (int e = 0; e < 6; e++) {
            int it = crec__rng_uniform(&r) < 0.4 ? k * 10 : k * 10 + 1 + (int)crec__rng_below(&r, 9);
            char iname[16];
            snprintf(iname, sizeof iname, "it%d", it);
            crec_dataset_add(ds, name, strlen(name), iname, strlen(iname), ts++, 1, 0);
        }
    }
    crec_dataset_dedup(ds, 0);
    return ds;
}

static void test_cold_twin(void **st) {
    crec_dataset *ds = twins();
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(ds, &x), 0);
    assert_int_equal(x.n_cols, 42);
    int32_t c0 = crec_idmap_get(&ds->items, "cold0", 5), c1 = crec_idmap_get(&ds->items, "cold1", 5);
    int32_t star = crec_idmap_get(&ds->items, "it0", 3), i25 = crec_idmap_get(&ds->items, "it25", 4);
    const char *kv[] = {"factors=16", "epochs=40", "lr=0.1"};
    crec_model *m = train_cml(ds, &x, NULL, kv, 3, 9);
    const float *U, *V;
    int32_t D;
    assert_int_equal(crec__cml_points(m, &U, &V, &D), 0);
    /* the nearest trained items of each cold item: its twin first, and the next ones from the twin's topic
     * (ids 0..39 are it0..it39: the items were created first, in order) */
    for (int32_t i = 0; i < 40; i++) assert_int_equal(atoi(ds->items.names[i] + 2), i);
    int32_t tw[2] = {star, i25}, cold[2] = {c0, c1};
    for (int c = 0; c < 2; c++) {
        double d[40];
        int32_t order[40];
        for (int32_t i = 0; i < 40; i++) {
            double s = 0;
            for (int32_t k = 0; k < D; k++) {
                double a = V[(size_t)cold[c] * D + k] - V[(size_t)i * D + k];
                s += a * a;
            }
            d[i] = s;
            order[i] = i;
        }
        for (int a = 1; a < 40; a++) /* insertion sort by distance */
            for (int b = a; b > 0 && d[order[b]] < d[order[b - 1]]; b--) {
                int32_t t = order[b];
                order[b] = order[b - 1];
                order[b - 1] = t;
            }
        print_message("cold%d: nearest trained items %s %s %s (twin %s)\n", c, ds->items.names[order[0]],
                      ds->items.names[order[1]], ds->items.names[order[2]], ds->items.names[tw[c]]);
        assert_int_equal(order[0], tw[c]);
        int topic = c == 0 ? 0 : 2;
        for (int q = 1; q < 4; q++) assert_int_equal(atoi(ds->items.names[order[q]] + 2) / 10, topic);
    }
    /* every topic-0 user prefers the star's twin to the other cold item */
    float *s = malloc(42 * sizeof *s);
    int wins = 0, n = 0;
    for (int32_t u = 0; u < x.n_rows; u++) {
        if (atoi(ds->users.names[u] + 1) % 4 != 0) continue;
        crec_context ctx = {.user = u, .hist = x.idx + x.ptr[u], .n_hist = (int32_t)(x.ptr[u + 1] - x.ptr[u])};
        assert_int_equal(crec_model_score(m, &ctx, s), 0);
        n++;
        wins += s[c0] > s[c1];
    }
    print_message("topic-0 users preferring cold0 to cold1: %d of %d\n", wins, n);
    assert_true(n > 20 && wins == n);
    free(s);
    crec_model_free(m);
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

static double eval_ndcg(const crec_model *m, const crec_dataset *ds, const crec_split *s, const uint8_t *cand) {
    crec_eval_opts eo;
    crec_eval_opts_defaults(&eo);
    eo.n_ks = 1;
    eo.ks[0] = 10;
    eo.candidates = cand;
    crec_eval_result r;
    assert_int_equal(crec_evaluate(m, ds, s, &eo, &r), 0);
    return r.at[0].ndcg;
}

/* Cold-items split of the synthetic data (items carry topic/style attributes and titles): with features the held
 * out items are scored and ranked far better than at random; without, they all tie. Round trip of the model. */
static void test_cold_items_and_checkpoint(void **st) {
    crec_dataset *ds = synth(600, 300);
    crec_split_spec sp;
    assert_int_equal(crec_split_spec_parse("cold-items:0.15:0.05:3", &sp), 0);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    uint8_t *cand = calloc(300, 1);
    for (int32_t i = 0; i < 300; i++) cand[i] = 1;
    for (int64_t k = 0; k < crec_csr_nnz(&s.train); k++) cand[s.train.idx[k]] = 0;
    const char *kv_f[] = {"factors=16", "epochs=12", "lr=0.1"};
    const char *kv_n[] = {"factors=16", "epochs=12", "lr=0.1", "features=0"};
    crec_model *mf = train_cml(ds, &s.train, &s.valid, kv_f, 3, 1);
    crec_model *mn = train_cml(ds, &s.train, &s.valid, kv_n, 4, 1);
    crec_model *rnd = NULL;
    char err[256];
    assert_int_equal(crec_model_new("random", NULL, &rnd, err, sizeof err), 0);
    crec_train_input in = {.ds = ds, .train = &s.train, .n_threads = 2, .seed = 1};
    assert_int_equal(crec_model_train(rnd, &in), 0);
    double nf = eval_ndcg(mf, ds, &s, cand), nn = eval_ndcg(mn, ds, &s, cand), nr = eval_ndcg(rnd, ds, &s, cand);
    print_message("cold items NDCG@10: cml features %.4f, cml no features %.4f, random %.4f\n", nf, nn, nr);
    assert_true(nf > 3 * nr);
    assert_true(nn == 0); /* no features: every cold item sits at the origin, ties rank pessimistically */

    /* round trip: identical scores for known users, cold items included, and for an anonymous history */
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/cml.crecm", dir);
    snprintf(mf->split, sizeof mf->split, "cold-items:0.15:0.05:3");
    assert_int_equal(crec_model_save(mf, path), 0);
    crec_model *l;
    assert_int_equal(crec_model_load(path, &l), 0);
    float *a = malloc(300 * sizeof *a), *b = malloc(300 * sizeof *b);
    int distinct_cold = 0;
    for (int32_t u = -1; u < 40; u++) {
        int32_t hu = u < 0 ? 7 : u;
        crec_context ctx = {.user = u, .hist = s.train.idx + s.train.ptr[hu],
                            .n_hist = (int32_t)(s.train.ptr[hu + 1] - s.train.ptr[hu])};
        assert_int_equal(crec_model_score(mf, &ctx, a), 0);
        assert_int_equal(crec_model_score(l, &ctx, b), 0);
        assert_memory_equal(a, b, 300 * sizeof *a);
        float first = NAN;
        for (int32_t i = 0; i < 300; i++)
            if (cand[i]) {
                if (isnan(first)) first = a[i];
                else distinct_cold += a[i] != first;
            }
    }
    assert_true(distinct_cold > 0);
    tu_rmrf(dir);
    free(dir);
    free(a);
    free(b);
    free(cand);
    crec_model_free(l);
    crec_model_free(mf);
    crec_model_free(mn);
    crec_model_free(rnd);
    crec_split_free(&s);
    crec_dataset_free(ds);
}


/* One thread: the same seed gives the same model, bit for bit. */
static void test_reproducible(void **st) {
    crec_dataset *ds = synth(200, 120);
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(ds, &x), 0);
    crec_model *m[3];
    for (int k = 0; k < 3; k++) {
        crec_config cfg = {0};
        crec_config_set_kv(&cfg, "epochs=5");
        crec_config_set_kv(&cfg, "factors=16");
        char err[256];
        assert_int_equal(crec_model_new("cml", &cfg, &m[k], err, sizeof err), 0);
        crec_train_input in = {.ds = ds, .train = &x, .n_threads = 1, .seed = k < 2 ? 11 : 12};
        assert_int_equal(crec_model_train(m[k], &in), 0);
    }
    const float *U0, *V0, *U1, *V1, *U2, *V2;
    int32_t D;
    crec__cml_points(m[0], &U0, &V0, &D);
    crec__cml_points(m[1], &U1, &V1, &D);
    crec__cml_points(m[2], &U2, &V2, &D);
    assert_memory_equal(U0, U1, (size_t)m[0]->n_users * D * sizeof *U0);
    assert_memory_equal(V0, V1, (size_t)m[0]->n_items * D * sizeof *V0);
    assert_memory_not_equal(V0, V2, (size_t)m[0]->n_items * D * sizeof *V0);
    for (int k = 0; k < 3; k++) crec_model_free(m[k]);
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

/* On the synthetic default (loo, full ranking) cml beats popularity. */
static void test_beats_pop(void **st) {
    crec_dataset *ds = synth(1500, 800);
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    const char *kv[] = {"epochs=10", "factors=16", "neg=5"};
    crec_model *m = train_cml(ds, &s.train, &s.valid, kv, 3, 42);
    crec_model *pop;
    char err[256];
    assert_int_equal(crec_model_new("pop", NULL, &pop, err, sizeof err), 0);
    crec_train_input in = {.train = &s.train, .n_threads = 2};
    assert_int_equal(crec_model_train(pop, &in), 0);
    double nc = eval_ndcg(m, ds, &s, NULL), np = eval_ndcg(pop, ds, &s, NULL);
    print_message("synthetic loo NDCG@10: cml %.4f, pop %.4f\n", nc, np);
    assert_true(nc > 1.3 * np);
    crec_model_free(m);
    crec_model_free(pop);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_triple_gradient), cmocka_unit_test(test_feature_encoder_gradient),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_unit_ball),       cmocka_unit_test(test_cold_twin),
        cmocka_unit_test(test_cold_items_and_checkpoint), cmocka_unit_test(test_reproducible),    cmocka_unit_test(test_beats_pop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
