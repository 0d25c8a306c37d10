/* test_din.c: the din / dare click models (src/models/din.c) and their kernels (src/nn/din.inc), and GAUC.
 *   - one example's backward (activation unit or dot product, softmax or raw weights, pooling, output MLP with
 *     PReLU) against central finite differences in double, for every parameter of the MLP block and every entry of
 *     the item tables, with one shared table (din: the attention and representation roles add into one row) and
 *     with two decoupled tables of different widths (dare);
 *   - the blocked matrix-product scoring of the whole catalogue against the per-item example kernel;
 *   - a planted rule: each user's history leans to one half of the catalogue and exactly the items of that half
 *     are clicked; both models, trained on some users, rank a new user's half above the other (AUC > 0.9);
 *   - GAUC on a hand-computed example. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/crec.h"
#include "models/din.h"
#include "nn/din.h"

/* ---- gradient check in double ---- */

enum { NI = 7, H = 5 };

typedef struct gc {
    crec_din_arch a;
    int shared;
    double *P, *EA, *ER; /* ER == EA when shared */
    int32_t hist[H], target;
    double *ws, *q, *tr, *K, *V;
} gc;

static double gc_logit(gc *g) {
    int da = g->a.da, dr = g->a.dr;
    memcpy(g->q, g->EA + (size_t)g->target * da, (size_t)da * sizeof(double));
    memcpy(g->tr, g->ER + (size_t)g->target * dr, (size_t)dr * sizeof(double));
    for (int j = 0; j < H; j++) {
        memcpy(g->K + (size_t)j * da, g->EA + (size_t)g->hist[j] * da, (size_t)da * sizeof(double));
        memcpy(g->V + (size_t)j * dr, g->ER + (size_t)g->hist[j] * dr, (size_t)dr * sizeof(double));
    }
    return crec__nn_din_forward_d(&g->a, g->P, g->q, g->tr, g->K, g->V, H, g->ws);
}

static void check_one(int att, int softmax, int shared, int nl) {
    gc g;
    memset(&g, 0, sizeof g);
    g.a.da = shared ? 4 : 3;
    g.a.dr = 4;
    g.a.att = att;
    g.a.softmax = softmax;
    g.a.A = 5;
    g.a.nl = nl;
    g.a.hid[0] = 6;
    g.a.hid[1] = 3;
    assert_int_equal(crec__din_arch_layout(&g.a), 0);
    g.shared = shared;
    crec_rng r;
    crec__rng_seed(&r, 11 + att * 2 + softmax + shared * 4);
    int da = g.a.da, dr = g.a.dr;
    size_t nP = g.a.n, nA = (size_t)NI * da, nR = (size_t)NI * dr;
    g.P = malloc(nP * sizeof(double));
    g.EA = malloc(nA * sizeof(double));
    g.ER = shared ? g.EA : malloc(nR * sizeof(double));
    for (size_t i = 0; i < nP; i++) g.P[i] = 0.6 * crec__rng_normal(&r);
    for (size_t i = 0; i < nA; i++) g.EA[i] = 0.7 * crec__rng_normal(&r);
    if (!shared)
        for (size_t i = 0; i < nR; i++) g.ER[i] = 0.7 * crec__rng_normal(&r);
    int32_t hist[H] = {1, 3, 1, 5, 2}; /* a repeated item and the target itself (6 is not there; 2 is) */
    memcpy(g.hist, hist, sizeof hist);
    g.target = 2;
    g.ws = malloc(crec__din_ws(&g.a, H) * sizeof(double));
    g.q = calloc(da, sizeof(double));
    g.tr = calloc(dr, sizeof(double));
    g.K = calloc((size_t)H * da, sizeof(double));
    g.V = calloc((size_t)H * dr, sizeof(double));
    double *GP = calloc(nP, sizeof(double)), *GA = calloc(nA, sizeof(double));
    double *GR = shared ? GA : calloc(nR, sizeof(double));
    double *dq = calloc(da, sizeof(double)), *dtr = calloc(dr, sizeof(double));
    double *dK = calloc((size_t)H * da, sizeof(double)), *dV = calloc((size_t)H * dr, sizeof(double));
    gc_logit(&g);
    crec__nn_din_backward_d(&g.a, g.P, GP, g.q, g.tr, g.K, g.V, H, g.ws, 1.0, dq, dtr, dK, dV);
    for (int c = 0; c < da; c++) GA[(size_t)g.target * da + c] += dq[c];
    for (int c = 0; c < dr; c++) GR[(size_t)g.target * dr + c] += dtr[c];
    for (int j = 0; j < H; j++) {
        for (int c = 0; c < da; c++) GA[(size_t)hist[j] * da + c] += dK[(size_t)j * da + c];
        for (int c = 0; c < dr; c++) GR[(size_t)hist[j] * dr + c] += dV[(size_t)j * dr + c];
    }
    double worst = 0;
    int checked = 0, nonzero = 0;
    struct {
        double *x, *gx;
        size_t n;
    } blocks[3] = {{g.P, GP, nP}, {g.EA, GA, nA}, {g.ER, GR, shared ? 0 : nR}};
    for (int b = 0; b < 3; b++)
        for (size_t i = 0; i < blocks[b].n; i++) {
            double keep = blocks[b].x[i], eps = 1e-6;
            blocks[b].x[i] = keep + eps;
            double up = gc_logit(&g);
            blocks[b].x[i] = keep - eps;
            double dn = gc_logit(&g);
            blocks[b].x[i] = keep;
            double fd = (up - dn) / (2 * eps), an = blocks[b].gx[i];
            /* relative, with a floor of 1e-4 under the magnitudes: the differences' own rounding is ~1e-10 */
            double err = fabs(fd - an) / (1e-4 + fabs(fd) + fabs(an));
            if (err > worst) worst = err;
            nonzero += fabs(fd) > 1e-6;
            checked++;
        }
    print_message("din gradcheck att=%d softmax=%d shared=%d nl=%d: %d entries (%d with a gradient), worst relative "
                  "error %.2e\n", att, softmax, shared, nl, checked, nonzero, worst);
    assert_true(worst < 1e-5);
    assert_true(nonzero > checked / 2);
    assert_true(checked > (int)nP);
    free(g.P), free(g.EA), free(g.ws), free(g.q), free(g.tr), free(g.K), free(g.V);
    if (!shared) free(g.ER), free(GR);
    free(GP), free(GA), free(dq), free(dtr), free(dK), free(dV);
}

static void test_gradcheck(void **st) {
    (void)st;
    check_one(CREC_DIN_ATT_MLP, 0, 1, 2); /* din */
    check_one(CREC_DIN_ATT_DOT, 1, 0, 2); /* dare */
    check_one(CREC_DIN_ATT_MLP, 1, 0, 1); /* activation unit + softmax, decoupled */
    check_one(CREC_DIN_ATT_DOT, 0, 1, 0); /* dot, raw weights, shared, linear output */
}

/* ---- a planted rule: users lean to one half of the catalogue and click exactly that half ---- */

enum { PI = 40, PU = 240, PE = 30 };

static void planted(crec_csr *x, uint64_t seed, int n_users, int8_t *group) {
    crec_rng r;
    crec__rng_seed(&r, seed);
    x->n_rows = n_users;
    x->n_cols = PI;
    x->ptr = malloc(((size_t)n_users + 1) * sizeof *x->ptr);
    x->idx = malloc((size_t)n_users * PE * sizeof *x->idx);
    x->ts = malloc((size_t)n_users * PE * sizeof *x->ts);
    x->val = malloc((size_t)n_users * PE * sizeof *x->val);
    int64_t n = 0;
    for (int u = 0; u < n_users; u++) {
        x->ptr[u] = n;
        int g = (int)crec__rng_below(&r, 2);
        group[u] = (int8_t)g;
        for (int e = 0; e < PE; e++) {
            int own = crec__rng_uniform(&r) < 0.7;
            int half = own ? g : 1 - g;
            x->idx[n] = (int32_t)(half * (PI / 2) + (int)crec__rng_below(&r, PI / 2));
            x->ts[n] = 1000 + e;
            x->val[n] = own ? 5.0f : 1.0f;
            n++;
        }
    }
    x->ptr[n_users] = n;
}

static void learn_rule(const char *model) {
    crec_csr x, y;
    int8_t g1[PU], g2[50];
    planted(&x, 5, PU, g1);
    planted(&y, 99, 50, g2);
    crec_config cfg = {0};
    crec_config_set(&cfg, "dim", "8");
    crec_config_set(&cfg, "mlp", "16");
    crec_config_set(&cfg, "att_hidden", "8");
    crec_config_set(&cfg, "epochs", "12");
    crec_config_set(&cfg, "lr", "0.01");
    crec_config_set(&cfg, "batch", "64");
    crec_config_set(&cfg, "label", "threshold");
    crec_model *m = NULL;
    char err[256];
    assert_int_equal(crec_model_new(model, &cfg, &m, err, sizeof err), 0);
    m->n_users = PU;
    m->n_items = PI;
    crec_train_input in = {.train = &x, .n_threads = 2, .seed = 3};
    assert_int_equal(crec_model_train(m, &in), 0);
    /* new users: their own half of the catalogue must score above the other half */
    float sc[PI];
    uint8_t lab[PI];
    double mean = 0;
    for (int u = 0; u < 50; u++) {
        crec_context ctx = {.user = -1, .hist = y.idx + y.ptr[u], .n_hist = PE};
        assert_int_equal(crec_model_score(m, &ctx, sc), 0);
        for (int i = 0; i < PI; i++) lab[i] = (i / (PI / 2)) == g2[u];
        mean += crec_metric_auc(sc, lab, PI) / 50;
    }
    print_message("%s: planted rule, mean per-user AUC %.3f\n", model, mean);
    assert_true(mean > 0.9);
    /* the blocked scoring path equals the per-item kernel */
    float ref[PI];
    for (int u = 0; u < 3; u++) {
        assert_int_equal(crec__din_score_items(m->state, y.idx + y.ptr[u], PE - u * 7, sc), 0);
        assert_int_equal(crec__din_score_items_ref(m->state, y.idx + y.ptr[u], PE - u * 7, ref), 0);
        for (int i = 0; i < PI; i++) assert_true(fabsf(sc[i] - ref[i]) <= 1e-4f * (1 + fabsf(ref[i])));
    }
    crec_model_free(m);
    crec_csr_free(&x);
    crec_csr_free(&y);
}

static void test_planted_din(void **st) {
    (void)st;
    learn_rule("din");
}

static void test_planted_dare(void **st) {
    (void)st;
    learn_rule("dare");
}

/* Blocked scoring = per-item scoring for the variants the planted runs do not cover (softmax on an activation
 * unit, a shared dot product, raw dot weights), on an untrained model. */
static void test_score_paths(void **st) {
    (void)st;
    crec_csr x;
    int8_t g[PU];
    planted(&x, 7, 60, g);
    const char *variants[][3] = {{"din", "softmax", "1"}, {"dare", "decoupled", "0"}, {"dare", "softmax", "0"}};
    for (int v = 0; v < 3; v++) {
        crec_config cfg = {0};
        crec_config_set(&cfg, "epochs", "1");
        crec_config_set(&cfg, "dim", "8");
        crec_config_set(&cfg, "max_len", "20");
        crec_config_set(&cfg, variants[v][1], variants[v][2]);
        crec_model *m = NULL;
        char err[256];
        assert_int_equal(crec_model_new(variants[v][0], &cfg, &m, err, sizeof err), 0);
        m->n_users = 60;
        m->n_items = PI;
        crec_train_input in = {.train = &x, .n_threads = 1, .seed = 1};
        assert_int_equal(crec_model_train(m, &in), 0);
        float sc[PI], ref[PI];
        assert_int_equal(crec__din_score_items(m->state, x.idx, 30, sc), 0);
        assert_int_equal(crec__din_score_items_ref(m->state, x.idx, 30, ref), 0);
        for (int i = 0; i < PI; i++) assert_true(fabsf(sc[i] - ref[i]) <= 1e-4f * (1 + fabsf(ref[i])));
        crec_model_free(m);
    }
    crec_csr_free(&x);
}

/* Training is the same at 1 and 2 threads (fixed gradient chunks). */
static void test_threads(void **st) {
    (void)st;
    crec_csr x;
    int8_t g[PU];
    planted(&x, 9, 80, g);
    float s[2][PI];
    for (int t = 0; t < 2; t++) {
        crec_config cfg = {0};
        crec_config_set(&cfg, "epochs", "2");
        crec_config_set(&cfg, "dim", "8");
        crec_model *m = NULL;
        char err[256];
        assert_int_equal(crec_model_new("din", &cfg, &m, err, sizeof err), 0);
        m->n_users = 80;
        m->n_items = PI;
        crec_train_input in = {.train = &x, .n_threads = t + 1, .seed = 4};
        assert_int_equal(crec_model_train(m, &in), 0);
        crec_context ctx = {.user = -1, .hist = x.idx, .n_hist = 30};
        assert_int_equal(crec_model_score(m, &ctx, s[t]), 0);
        crec_model_free(m);
    }
    assert_memory_equal(s[0], s[1], sizeof s[0]);
    crec_csr_free(&x);
}

/* user_bias=1: a known user's scores are the anonymous scores plus one learned constant, larger for users who
 * click everything than for the others. */
static void test_user_bias(void **st) {
    (void)st;
    crec_csr x;
    int8_t g[PU];
    planted(&x, 13, 80, g);
    for (int u = 0; u < 80; u += 2)
        for (int64_t p = x.ptr[u]; p < x.ptr[u + 1]; p++) x.val[p] = 5.0f; /* even users click everything */
    crec_config cfg = {0};
    crec_config_set(&cfg, "epochs", "6");
    crec_config_set(&cfg, "dim", "8");
    crec_config_set(&cfg, "lr", "0.01");
    crec_config_set(&cfg, "user_bias", "1");
    crec_config_set(&cfg, "label", "threshold");
    crec_model *m = NULL;
    char err[256];
    assert_int_equal(crec_model_new("dare", &cfg, &m, err, sizeof err), 0);
    crec_train_input in = {.train = &x, .n_threads = 2, .seed = 2};
    assert_int_equal(crec_model_train(m, &in), 0);
    float anon[PI], known[PI];
    double bias[2] = {0, 0};
    for (int u = 0; u < 20; u++) {
        crec_context a = {.user = -1, .hist = x.idx + x.ptr[u], .n_hist = 20};
        crec_context k = a;
        k.user = u;
        assert_int_equal(crec_model_score(m, &a, anon), 0);
        assert_int_equal(crec_model_score(m, &k, known), 0);
        float d0 = known[0] - anon[0];
        for (int i = 1; i < PI; i++) assert_true(fabsf((known[i] - anon[i]) - d0) < 1e-4f);
        bias[u % 2] += d0 / 10;
    }
    print_message("user bias: users who click everything %.3f, the others %.3f\n", bias[0], bias[1]);
    assert_true(bias[0] > bias[1] + 0.1);
    crec_model_free(m);
    crec_csr_free(&x);
}

/* ---- GAUC by hand ---- */

static void test_gauc(void **st) {
    (void)st;
    /* group 0: the positive 0.9 beats both negatives -> AUC 1, 3 impressions;
     * group 1: positives 0.2, 0.4 under negatives 0.8, 0.6 -> AUC 0, 4 impressions;
     * group 2: positives only -> left out; group 3: one impression -> left out.
     * GAUC = (3 * 1 + 4 * 0) / 7 */
    float s[] = {0.9f, 0.1f, 0.5f, 0.2f, 0.8f, 0.4f, 0.6f, 0.3f, 0.7f, 0.5f};
    uint8_t y[] = {1, 0, 0, 1, 0, 1, 0, 1, 1, 0};
    int64_t off[] = {0, 3, 7, 9, 10};
    int64_t used = -1;
    assert_float_equal(crec_metric_gauc(s, y, off, 4, &used), 3.0 / 7.0, 1e-12);
    assert_int_equal(used, 2);
    /* group 1 with a tie: 0.4 ties the negative 0.4 -> (0.5) / 4 = 0.125; GAUC = (3 + 4 * 0.125) / 7 */
    float s2[] = {0.9f, 0.1f, 0.5f, 0.2f, 0.8f, 0.4f, 0.4f, 0.3f, 0.7f, 0.5f};
    assert_float_equal(crec_metric_gauc(s2, y, off, 4, NULL), 3.5 / 7.0, 1e-12);
    /* no group with both classes: NaN */
    int64_t off1[] = {0, 1};
    assert_true(isnan(crec_metric_gauc(s, y, off1, 1, &used)));
    assert_int_equal(used, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck),   cmocka_unit_test(test_gauc),         cmocka_unit_test(test_score_paths),
        cmocka_unit_test(test_planted_din), cmocka_unit_test(test_planted_dare), cmocka_unit_test(test_threads),
        cmocka_unit_test(test_user_bias),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
