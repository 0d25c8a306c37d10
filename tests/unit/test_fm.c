/* test_fm.c: the factorization machine: its prediction against a hand computation with parameters set by the
 * test, the SGD gradient of one example against central finite differences in double, feature weights
 * (1/sqrt of the values in a field), checkpoints that score identically, bad hyper-parameters, and quality:
 * better RMSE than the global mean on low-rank ratings (SGD and ALS), better NDCG@10 than pop on the synthetic
 * default (click task), and user features that serve cold users (no training events) on data where the
 * rating depends on a user feature. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "core/util.h"
#include "crec/crec.h"
#include "models/fm.h"
#include "testutil.h"

static crec_model *train_fm(const crec_dataset *ds, const crec_csr *x, const char *const *kv, int nkv) {
    crec_config cfg = {0};
    for (int k = 0; k < nkv; k++) assert_int_equal(crec_config_set_kv(&cfg, kv[k]), 0);
    crec_model *m;
    char err[256];
    assert_int_equal(crec_model_new("fm", &cfg, &m, err, sizeof err), 0);
    crec_train_input in = {.ds = ds, .train = x, .n_threads = 1, .seed = 7};
    assert_int_equal(crec_model_train(m, &in), 0);
    return m;
}

/* users a, b; items x, y, z; user a has gender:F; x has Drama, y has Drama and Comedy (one field, 1/sqrt 2) */
static crec_dataset *tiny(void) {
    crec_dataset *ds = crec_dataset_new();
    assert_non_null(ds);
    const char *ev[][2] = {{"a", "x"}, {"a", "y"}, {"b", "y"}, {"b", "z"}};
    const float val[] = {5, 3, 4, 1};
    for (int k = 0; k < 4; k++) assert_int_equal(crec_dataset_add(ds, ev[k][0], 1, ev[k][1], 1, k, val[k], 0), 0);
    ds->has_value = 1;
    assert_int_equal(crec_dataset_add_user_attr(ds, 0, "gender:F", 8), 0);
    assert_int_equal(crec_dataset_add_attr(ds, 0, "Drama", 5), 0);
    assert_int_equal(crec_dataset_add_attr(ds, 1, "Drama", 5), 0);
    assert_int_equal(crec_dataset_add_attr(ds, 1, "Comedy", 6), 0);
    return ds;
}

/* Fixed parameters: multiples of 1/64 so that +-2^-10 steps are exact in float. */
static void set_params(crec_fm *f) {
    f->w0[0] = 0.5f;
    for (int32_t j = 0; j < f->n_feat; j++) {
        f->w[j] = (float)((j % 5) - 2) / 16.0f;
        for (int c = 0; c < f->k; c++) f->v[(size_t)j * f->k + c] = (float)(((j * 7 + c * 3) % 11) - 5) / 64.0f;
    }
    assert_int_equal(crec__fm_refresh(f), 0);
}

/* y = w0 + sum_j w_j x_j + sum_{j<l} <v_j, v_l> x_j x_l over a dense x, directly from the definition. */
static double by_hand(const crec_fm *f, const double *x) {
    double y = f->w0[0];
    for (int32_t j = 0; j < f->n_feat; j++) y += (double)f->w[j] * x[j];
    for (int32_t j = 0; j < f->n_feat; j++)
        for (int32_t l = j + 1; l < f->n_feat; l++) {
            double d = 0;
            for (int c = 0; c < f->k; c++) d += (double)f->v[(size_t)j * f->k + c] * f->v[(size_t)l * f->k + c];
            y += d * x[j] * x[l];
        }
    return y;
}

static void test_prediction_by_hand(void **st) {
    crec_dataset *ds = tiny();
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(ds, &x), 0);
    const char *kv[] = {"epochs=0", "factors=3", "task=rating"};
    crec_model *m = train_fm(ds, &x, kv, 3);
    crec_fm *f = m->state;
    /* layout: users 0-1, items 2-4, gender:F 5, Drama 6, Comedy 7 */
    assert_int_equal(f->n_feat, 8);
    assert_int_equal(f->n_ufeat, 1);
    assert_int_equal(f->n_ifeat, 2);
    assert_int_equal(f->uf_ptr[1] - f->uf_ptr[0], 1);
    assert_int_equal(f->uf_idx[f->uf_ptr[0]], 5);
    assert_int_equal(f->uf_ptr[2] - f->uf_ptr[1], 0);
    assert_int_equal(f->if_ptr[1] - f->if_ptr[0], 1); /* x: Drama alone, value 1 */
    assert_true(f->if_val[f->if_ptr[0]] == 1.0f);
    assert_int_equal(f->if_ptr[2] - f->if_ptr[1], 2); /* y: Drama, Comedy at 1/sqrt(2) each */
    for (int64_t p = f->if_ptr[1]; p < f->if_ptr[2]; p++) assert_true(fabsf(f->if_val[p] - 1.0f / sqrtf(2.0f)) < 1e-7f);
    set_params(f);

    const double r2 = 1.0 / sqrt(2.0);
    double xs[3][8] = {
        {1, 0, 1, 0, 0, 1, 1, 0},   /* a, x */
        {1, 0, 0, 1, 0, 1, r2, r2}, /* a, y */
        {1, 0, 0, 0, 1, 1, 0, 0},   /* a, z */
    };
    float s[3];
    crec_context ctx = {.user = 0};
    assert_int_equal(crec_model_score(m, &ctx, s), 0);
    for (int i = 0; i < 3; i++) {
        double want = by_hand(f, xs[i]);
        print_message("user a item %d: fm %.7f by hand %.7f\n", i, (double)s[i], want);
        assert_true(fabs((double)s[i] - want) < 2e-6);
    }
    /* user b (no features): only its id; anonymous (-1): the global bias and the item terms */
    ctx.user = 1;
    assert_int_equal(crec_model_score(m, &ctx, s), 0);
    double xb[8] = {0, 1, 0, 1, 0, 0, r2, r2};
    assert_true(fabs((double)s[1] - by_hand(f, xb)) < 2e-6);
    ctx.user = -1;
    assert_int_equal(crec_model_score(m, &ctx, s), 0);
    double xa[8] = {0, 0, 0, 1, 0, 0, r2, r2};
    assert_true(fabs((double)s[1] - by_hand(f, xa)) < 2e-6);

    /* a checkpoint scores identically without the dataset */
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/fm.crecm", dir);
    assert_int_equal(crec_model_save(m, path), 0);
    crec_model *m2;
    assert_int_equal(crec_model_load(path, &m2), 0);
    float s2[3];
    for (int32_t u = -1; u < 2; u++) {
        ctx.user = u;
        assert_int_equal(crec_model_score(m, &ctx, s), 0);
        assert_int_equal(crec_model_score(m2, &ctx, s2), 0);
        assert_memory_equal(s, s2, sizeof s);
    }
    assert_string_equal(crec_model_param_str(m2, "task"), "rating");
    crec_model_free(m2);
    tu_rmrf(dir);
    free(dir);
    crec_model_free(m);
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

/* Loss of example (idx, x) against target t under task. */
static double example_loss(const crec_fm *f, int task, const int32_t *idx, const float *x, int n, double t) {
    double q[CREC_FM_MAX_K], dy;
    return crec__fm_loss(task, crec__fm_forward(f, idx, x, n, q), t, &dy);
}

static void test_gradient_finite_differences(void **st) {
    crec_dataset *ds = tiny();
    crec_csr xm;
    assert_int_equal(crec_csr_from_dataset(ds, &xm), 0);
    const char *kv[] = {"epochs=0", "factors=3", "task=rating"};
    crec_model *m = train_fm(ds, &xm, kv, 3);
    crec_fm *f = m->state;
    set_params(f);
    int32_t idx[8];
    float x[8];
    int n = crec__fm_example(f, 0, 1, idx, x); /* a, y: id, gender, id, Drama, Comedy */
    assert_int_equal(n, 5);
    const double h = 1.0 / 1024;
    double worst = 0;
    for (int task = CREC_FM_RATING; task <= CREC_FM_CLICK; task++) {
        double t = task == CREC_FM_RATING ? 4.0 : 1.0;
        double q[CREC_FM_MAX_K], dy, dw0, dw[8], dv[8 * 3];
        double y = crec__fm_forward(f, idx, x, n, q);
        crec__fm_loss(task, y, t, &dy);
        crec__fm_backward(f, idx, x, n, q, dy, &dw0, dw, dv);
        /* every parameter the example touches: w0, w_j, v_jc */
        float *theta[1 + 8 + 8 * 3];
        double grad[1 + 8 + 8 * 3];
        int np = 0;
        theta[np] = f->w0;
        grad[np++] = dw0;
        for (int a = 0; a < n; a++) {
            theta[np] = f->w + idx[a];
            grad[np++] = dw[a];
            for (int c = 0; c < f->k; c++) {
                theta[np] = f->v + (size_t)idx[a] * f->k + c;
                grad[np++] = dv[a * f->k + c];
            }
        }
        for (int p = 0; p < np; p++) {
            float keep = *theta[p];
            *theta[p] = keep + (float)h;
            double lp = example_loss(f, task, idx, x, n, t);
            *theta[p] = keep - (float)h;
            double lm = example_loss(f, task, idx, x, n, t);
            *theta[p] = keep;
            double fd = (lp - lm) / (2 * h), err = fabs(fd - grad[p]);
            if (err > worst) worst = err;
            if (err > 1e-7 * (1 + fabs(fd)))
                print_message("task %d param %d: backward %.10g fd %.10g\n", task, p, grad[p], fd);
            assert_true(err <= 1e-7 * (1 + fabs(fd)));
        }
    }
    print_message("worst |backward - finite difference| = %.3g\n", worst);

    /* the fused float training step moves every parameter by -lr (backward + reg theta) (w: reg_bias; w0: none) */
    for (int task = CREC_FM_RATING; task <= CREC_FM_CLICK; task++) {
        double t = task == CREC_FM_RATING ? 4.0 : 0.0, q[CREC_FM_MAX_K], dy, dw0, dw[8], dv[8 * 3];
        const float lr = 0.125f, reg = 0.25f, reg_bias = 0.0625f;
        f->task = task;
        double y = crec__fm_forward(f, idx, x, n, q);
        double loss = crec__fm_loss(task, y, t, &dy);
        crec__fm_backward(f, idx, x, n, q, dy, &dw0, dw, dv);
        float *before = malloc(f->n_params * sizeof *before), qs[2 * CREC_FM_MAX_K];
        memcpy(before, f->params, f->n_params * sizeof *before);
        double got = crec__fm_sgd_step(f, idx, x, n, t, lr, reg, reg_bias, qs);
        assert_true(fabs(got - loss) < 1e-6 * (1 + fabs(loss)));
        assert_true(fabs((double)f->w0[0] - (before[0] - lr * dw0)) < 1e-6);
        size_t changed = 1;
        for (int a = 0; a < n; a++) {
            size_t jw = 1 + (size_t)idx[a], jv = 1 + (size_t)f->n_feat + (size_t)idx[a] * f->k;
            assert_true(fabs((double)f->params[jw] - (before[jw] - lr * (dw[a] + reg_bias * before[jw]))) < 1e-6);
            for (int c = 0; c < f->k; c++)
                assert_true(fabs((double)f->params[jv + c] -
                                 (before[jv + c] - lr * (dv[a * f->k + c] + reg * before[jv + c]))) < 1e-6);
            changed += 1 + (size_t)f->k;
        }
        /* and nothing else */
        size_t same = 0;
        for (size_t p = 0; p < f->n_params; p++) same += f->params[p] == before[p];
        assert_true(same >= f->n_params - changed);
        memcpy(f->params, before, f->n_params * sizeof *before);
        free(before);
    }
    /* the logistic loss itself: log(1 + e^y) - t y and its slope sigmoid(y) - t, finite far out */
    double dy;
    assert_true(fabs(crec__fm_loss(CREC_FM_CLICK, 0.0, 1.0, &dy) - log(2.0)) < 1e-15 && fabs(dy + 0.5) < 1e-15);
    assert_true(fabs(crec__fm_loss(CREC_FM_CLICK, 800.0, 0.0, &dy) - 800.0) < 1e-9 && fabs(dy - 1.0) < 1e-15);
    assert_true(fabs(crec__fm_loss(CREC_FM_CLICK, -800.0, 1.0, &dy) - 800.0) < 1e-9 && fabs(dy + 1.0) < 1e-15);
    crec_model_free(m);
    crec_csr_free(&xm);
    crec_dataset_free(ds);
}


/* Ratings from a rank-3 model plus biases and noise: nu users x ni items, each user rates per_user items. */
static crec_dataset *lowrank_ratings(int nu, int ni, int per_user, uint64_t seed) {
    crec_dataset *ds = crec_dataset_new();
    crec_rng r;
    crec__rng_seed(&r, seed);
    double P[400][3], Q[200][3], bu[400], bi[200];
    assert_true(nu <= 400 && ni <= 200);
    for (int u = 0; u < nu; u++) {
        bu[u] = 0.4 * crec__rng_normal(&r);
        for (int c = 0; c < 3; c++) P[u][c] = 0.7 * crec__rng_normal(&r);
    }
    for (int i = 0; i < ni; i++) {
        bi[i] = 0.5 * crec__rng_normal(&r);
        for (int c = 0; c < 3; c++) Q[i][c] = 0.7 * crec__rng_normal(&r);
    }
    char un[16], in[16];
    for (int u = 0; u < nu; u++) {
        snprintf(un, sizeof un, "u%d", u);
        for (int k = 0; k < per_user; k++) {
            int i = (int)crec__rng_below(&r, (uint64_t)ni);
            double y = 3.5 + bu[u] + bi[i] + 0.2 * crec__rng_normal(&r);
            for (int c = 0; c < 3; c++) y += P[u][c] * Q[i][c];
            snprintf(in, sizeof in, "i%d", i);
            assert_int_equal(crec_dataset_add(ds, un, strlen(un), in, strlen(in), k, (float)y, 0), 0);
        }
    }
    ds->has_value = 1;
    return ds;
}

static void test_beats_global_mean(void **st) {
    crec_dataset *ds = lowrank_ratings(300, 150, 40, 11);
    crec_split_spec sp;
    assert_int_equal(crec_split_spec_parse("random:0.2:0:5", &sp), 0);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    /* the global mean of the training ratings, scored on the test events */
    double mean = 0, se = 0;
    int64_t ntr = crec_csr_nnz(&s.train), nte = crec_csr_nnz(&s.test);
    for (int64_t p = 0; p < ntr; p++) mean += s.train.val[p];
    mean /= (double)ntr;
    for (int64_t p = 0; p < nte; p++) se += (s.test.val[p] - mean) * (s.test.val[p] - mean);
    double rmse_mean = sqrt(se / (double)nte);
    const char *sgd[] = {"task=rating", "factors=8", "epochs=40", "lr=0.02", "reg=0.02"};
    const char *als[] = {"task=rating", "factors=8", "epochs=10", "solver=als", "reg=0.05"};
    for (int v = 0; v < 2; v++) {
        crec_model *m = train_fm(ds, &s.train, v ? als : sgd, 5);
        snprintf(m->split, sizeof m->split, "random:0.2:0:5");
        crec_pointwise_opts o;
        crec_pointwise_opts_defaults(&o);
        crec_pointwise_result r;
        assert_int_equal(crec_eval_pointwise(m, ds, &s, &o, &r), 0);
        assert_int_equal(r.n_events, nte);
        print_message("%s: RMSE %.4f MAE %.4f; global mean RMSE %.4f\n", v ? "als" : "sgd", r.rmse, r.mae, rmse_mean);
        assert_true(r.rmse < 0.45 * rmse_mean);
        crec_model_free(m);
    }
    crec_split_free(&s);
    crec_dataset_free(ds);
}

static void test_click_beats_pop(void **st) {
    crec_synth_opts so;
    crec_synth_defaults(&so);
    so.n_users = 1200;
    so.n_items = 600;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&so, &ds), 0);
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    double ndcg[2];
    for (int v = 0; v < 2; v++) {
        crec_model *m;
        if (v == 0) {
            char err[256];
            assert_int_equal(crec_model_new("pop", NULL, &m, err, sizeof err), 0);
            crec_train_input in = {.ds = ds, .train = &s.train, .n_threads = 1, .seed = 1};
            assert_int_equal(crec_model_train(m, &in), 0);
        } else {
            const char *kv[] = {"epochs=10"};
            m = train_fm(ds, &s.train, kv, 1);
            assert_string_equal(crec_model_param_str(m, "task"), "click"); /* auto: the synth data has no ratings */
        }
        snprintf(m->split, sizeof m->split, "loo");
        crec_eval_opts eo;
        crec_eval_opts_defaults(&eo);
        eo.n_ks = 1;
        eo.ks[0] = 10;
        crec_eval_result r;
        assert_int_equal(crec_evaluate(m, ds, &s, &eo, &r), 0);
        ndcg[v] = r.at[0].ndcg;
        print_message("%-4s NDCG@10 %.4f HR@10 %.4f\n", v ? "fm" : "pop", r.at[0].ndcg, r.at[0].hr);
        crec_model_free(m);
    }
    assert_true(ndcg[1] > 1.3 * ndcg[0]);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

/* rating = 3 + 1.5 g_u k_i + noise, g_u = +-1 from the user feature group:a/b, k_i = +-1 from the item
 * attribute kind:x/y; every user also has an uninformative age feature. */
static crec_dataset *feature_ratings(void) {
    crec_dataset *ds = crec_dataset_new();
    crec_rng r;
    crec__rng_seed(&r, 3);
    const int nu = 300, ni = 40;
    char un[16], in[16];
    for (int u = 0; u < nu; u++) {
        snprintf(un, sizeof un, "u%d", u);
        int g = u % 2 ? 1 : -1;
        for (int k = 0; k < 15; k++) {
            int i = (int)crec__rng_below(&r, (uint64_t)ni), ki = i % 2 ? 1 : -1;
            snprintf(in, sizeof in, "i%d", i);
            double y = 3 + 1.5 * g * ki + 0.3 * crec__rng_normal(&r);
            assert_int_equal(crec_dataset_add(ds, un, strlen(un), in, strlen(in), k, (float)y, 0), 0);
        }
    }
    int32_t cold = crec_dataset_item(ds, "never-rated", 11); /* an item without events, kind:y (id 40 is even) */
    assert_true(cold == ni);
    for (int u = 0; u < nu; u++) {
        int32_t id = crec_idmap_get(&ds->users, un, (size_t)snprintf(un, sizeof un, "u%d", u));
        assert_int_equal(crec_dataset_add_user_attr(ds, id, u % 2 ? "group:a" : "group:b", 7), 0);
        assert_int_equal(crec_dataset_add_user_attr(ds, id, u % 3 ? "age:young" : "age:old", u % 3 ? 9 : 7), 0);
    }
    for (int i = 0; i <= ni; i++) {
        int32_t id = crec_idmap_get(&ds->items, in, (size_t)snprintf(in, sizeof in, "i%d", i));
        if (i == ni) id = cold;
        assert_int_equal(crec_dataset_add_attr(ds, id, i % 2 ? "kind:x" : "kind:y", 6), 0);
    }
    ds->has_value = 1;
    return ds;
}

static void test_user_features_serve_cold_users(void **st) {
    crec_dataset *ds = feature_ratings();
    crec_split_spec sp;
    assert_int_equal(crec_split_spec_parse("cold-users:0.2:0:9", &sp), 0);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    int32_t n_cold = 0;
    for (int32_t u = 0; u < s.test.n_rows; u++)
        if (s.test.ptr[u + 1] > s.test.ptr[u]) {
            assert_int_equal(s.train.ptr[u + 1] - s.train.ptr[u], 0); /* test users are cold */
            n_cold++;
        }
    assert_int_equal(n_cold, 60);
    /* 0: ids and item attributes; 1: + user features; 2: + ids left out of 30% of the training examples */
    double rmse[3];
    for (int uf = 0; uf < 3; uf++) {
        const char *kv[] = {"task=rating", "factors=4", "epochs=30", "lr=0.02",
                            uf ? "use_user_features=1" : "use_user_features=0",
                            uf == 2 ? "drop_ids=0.3" : "drop_ids=0"};
        crec_model *m = train_fm(ds, &s.train, kv, 6);
        snprintf(m->split, sizeof m->split, "cold-users:0.2:0:9");
        crec_pointwise_opts o;
        crec_pointwise_opts_defaults(&o);
        crec_pointwise_result r;
        assert_int_equal(crec_eval_pointwise(m, ds, &s, &o, &r), 0);
        assert_int_equal(r.n_users, 60);
        rmse[uf] = r.rmse;
        print_message("cold users, user features %s, drop_ids %s: RMSE %.4f\n", uf ? "on " : "off",
                      uf == 2 ? "0.3" : "0", r.rmse);
        if (uf == 1) {
            crec_fm *f = m->state;
            /* a cold user's and a never-rated item's id parameters stay exactly zero */
            int32_t cu = -1;
            for (int32_t u = 0; u < s.test.n_rows && cu < 0; u++)
                if (s.test.ptr[u + 1] > s.test.ptr[u]) cu = u;
            int32_t ci = f->n_users + 40;
            assert_true(f->w[cu] == 0 && f->w[ci] == 0);
            for (int c = 0; c < f->k; c++)
                assert_true(f->v[(size_t)cu * f->k + c] == 0 && f->v[(size_t)ci * f->k + c] == 0);
            /* the never-rated item is kind:y, served by its attribute alone: group:b users (even ids) rate
             * kind:y 4.5, group:a users 1.5; the attribute carries part of that gap (item ids took the rest) */
            float sc[41];
            crec_context ctx = {.user = 1};
            assert_int_equal(crec_model_score(m, &ctx, sc), 0);
            float ga = sc[40];
            ctx.user = 0;
            assert_int_equal(crec_model_score(m, &ctx, sc), 0);
            print_message("never-rated kind:y item: group:a %.3f, group:b %.3f\n", (double)ga, (double)sc[40]);
            assert_true(sc[40] - ga > 1.0f);
            /* checkpoint: identical scores for a cold user */
            char *dir = tu_tmpdir(), path[512];
            snprintf(path, sizeof path, "%s/fm.crecm", dir);
            assert_int_equal(crec_model_save(m, path), 0);
            crec_model *m2;
            assert_int_equal(crec_model_load(path, &m2), 0);
            float s2[41];
            ctx.user = cu;
            assert_int_equal(crec_model_score(m, &ctx, sc), 0);
            assert_int_equal(crec_model_score(m2, &ctx, s2), 0);
            assert_memory_equal(sc, s2, sizeof sc);
            crec_model_free(m2);
            tu_rmrf(dir);
            free(dir);
        }
        crec_model_free(m);
    }
    assert_true(rmse[1] < 0.5 * rmse[0]);
    assert_true(rmse[1] < 0.6);
    /* trained without their ids now and then, the features learn to stand in for them: near the noise (0.3) */
    assert_true(rmse[2] < 0.8 * rmse[1] && rmse[2] < 0.36);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prediction_by_hand), cmocka_unit_test(test_gradient_finite_differences),
        cmocka_unit_test(test_beats_global_mean),
        cmocka_unit_test(test_click_beats_pop),    cmocka_unit_test(test_user_features_serve_cold_users),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
