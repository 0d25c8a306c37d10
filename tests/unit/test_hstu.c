/* test_hstu.c: the hstu model and its layer's kernels (nn.h crec__nn_hstu_*).
 *   - the HSTU layer (affine-free layer norm, SiLU(x W_uvqk), pointwise causal SiLU attention with relative position
 *     and time biases, both normalisers, the gate U * LayerNorm(A V), W_o, residual) against finite differences in
 *     double, for every element of every parameter and of the input, over a packed batch of two sequences;
 *   - the time buckets against hand-computed values;
 *   - the whole network's backward (both layers, dropout masks, the L2 normalisation of states and item table, the
 *     temperature) against finite differences through the sequence trainer's check;
 *   - on the synthetic default, a few epochs beat pop clearly; a checkpoint round trip gives bit-identical scores;
 *     times change the scores (the time bias is read at scoring); an empty history scores as popularity;
 *   - training is bit-reproducible at 1 and 2 threads, and another seed gives another model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "crec/crec.h"
#include "models/hstu.h"
#include "nn/nn.h"
#include "modeltest.h"
#include "testutil.h"

/* ---- the layer in double ---- */

enum { LD = 4, LH = 2, LN = 6, LB = 2, LT = 5, NB = CREC_NN_HSTU_BUCKETS };
static const int32_t SEQ_OFF[LB + 1] = {0, 4, 6};
static const int64_t TS[LN] = {1000, 1003, 1100, 90000, 50, 5000000};

typedef struct layer {
    double x[LN * LD], w[4 * LD * LD], wo[LD * LD], bo[LD], pos[2 * LT - 1], tsw[NB];
} layer;

static void query_t(int64_t *tq) {
    for (int b = 0; b < LB; b++)
        for (int n = SEQ_OFF[b]; n < SEQ_OFF[b + 1]; n++) tq[n] = n + 1 < SEQ_OFF[b + 1] ? TS[n + 1] : TS[n];
}

/* loss = sum(y * R) of the layer's output y; with g, also the gradients of every input into g. */
static double layer_run(const layer *p, const double *R, int norm_len, int biases, layer *g) {
    int64_t att_off[LB + 1], tq[LN];
    crec__nn_attention_offsets(att_off, SEQ_OFF, LB, LH);
    query_t(tq);
    int64_t A = att_off[LB];
    double xn[LN * LD], rs1[LN], pre[LN * 4 * LD], uvqk[LN * 4 * LD], ao[LN * LD], an[LN * LD], rs2[LN];
    double gate[LN * LD], y[LN * LD], att[64];
    assert_true(A <= 64);
    const double *pos = biases ? p->pos : NULL, *tsw = biases ? p->tsw : NULL;
    crec__nn_hstu_norm_forward_d(xn, rs1, p->x, LN, LD);
    crec__nn_linear_forward_d(pre, xn, p->w, NULL, LN, LD, 4 * LD);
    crec__nn_act_forward_d(uvqk, pre, LN * 4 * LD, CREC_NN_SILU);
    crec__nn_hstu_attention_forward_d(ao, att, uvqk, pos, tsw, TS, tq, SEQ_OFF, att_off, LB, LD, LH, LT, norm_len);
    crec__nn_hstu_norm_forward_d(an, rs2, ao, LN, LD);
    crec__nn_hstu_gate_forward_d(gate, uvqk, an, LN, LD);
    crec__nn_linear_forward_d(y, gate, p->wo, p->bo, LN, LD, LD);
    double loss = 0;
    for (int i = 0; i < LN * LD; i++) y[i] += p->x[i], loss += y[i] * R[i];
    if (!g) return loss;
    memset(g, 0, sizeof *g);
    double dgate[LN * LD] = {0}, duvqk[LN * 4 * LD] = {0}, dan[LN * LD] = {0}, dao[LN * LD] = {0};
    double dpre[LN * 4 * LD] = {0}, dxn[LN * LD] = {0}, dS[64];
    for (int i = 0; i < LN * LD; i++) g->x[i] = R[i];
    crec__nn_linear_backward_d(dgate, g->wo, g->bo, R, gate, p->wo, LN, LD, LD);
    crec__nn_hstu_gate_backward_d(duvqk, dan, dgate, uvqk, an, LN, LD);
    crec__nn_hstu_norm_backward_d(dao, dan, an, rs2, LN, LD);
    crec__nn_hstu_attention_backward_d(duvqk, biases ? g->pos : NULL, biases ? g->tsw : NULL, dS, dao, uvqk, att, TS,
                                       tq, SEQ_OFF, att_off, LB, LD, LH, LT, norm_len);
    crec__nn_act_backward_d(dpre, duvqk, pre, LN * 4 * LD, CREC_NN_SILU);
    crec__nn_linear_backward_d(dxn, g->w, NULL, dpre, xn, p->w, LN, LD, 4 * LD);
    crec__nn_hstu_norm_backward_d(g->x, dxn, xn, rs1, LN, LD);
    return loss;
}

static void test_layer_gradcheck(void **st) {
    (void)st;
    crec_rng r;
    crec__rng_seed(&r, 11);
    layer p, g;
    double R[LN * LD];
    double *pp = (double *)&p;
    size_t n = sizeof p / sizeof(double);
    for (size_t i = 0; i < n; i++) pp[i] = 0.7 * crec__rng_normal(&r);
    for (int i = 0; i < LN * LD; i++) R[i] = crec__rng_normal(&r);
    for (int nl = 0; nl < 2; nl++)
        for (int bias = 0; bias < 2; bias++) {
            layer_run(&p, R, nl, bias, &g);
            const double *gg = (const double *)&g;
            double worst = 0;
            int nonzero = 0;
            for (size_t i = 0; i < n; i++) {
                double p0 = pp[i], eps = 1e-5;
                pp[i] = p0 + eps;
                double lp = layer_run(&p, R, nl, bias, NULL);
                pp[i] = p0 - eps;
                double lm = layer_run(&p, R, nl, bias, NULL);
                pp[i] = p0;
                double num = (lp - lm) / (2 * eps), e = fabs(num - gg[i]) / fmax(fabs(num), 1e-3);
                if (e > worst) worst = e;
                nonzero += fabs(num) > 1e-9;
            }
            print_message("  layer, norm %s, biases %s: %zu inputs, %d with a gradient, worst relative error %.2e\n",
                          nl ? "len" : "max_len", bias ? "on" : "off", n, nonzero, worst);
            assert_true(worst < 1e-6);
            /* x, W_uvqk, W_o, b_o; with biases, the T relative positions a causal window uses and several buckets */
            assert_true(nonzero >= LN * LD + 4 * LD * LD + LD * LD + LD + (bias ? 4 + 4 : 0));
        }
}

/* bucket(t, t - dt) = clamp(floor(ln(max(|dt|, 1)) / 0.301), 0, 128), by hand: ln 2 / 0.301 = 2.30, ln 3 = 3.65,
 * ln 10 = 7.65, ln 3600 = 27.2, ln 86400 = 37.8, ln 2^62 = 142.8 */
static void test_buckets(void **st) {
    (void)st;
    struct {
        int64_t dt;
        int b;
    } c[] = {{0, 0},      {1, 0},        {-1, 0},     {2, 2},         {3, 3},     {10, 7},
             {3600, 27},  {-86400, 37},  {86400, 37}, {(int64_t)1 << 62, 128}, {INT64_MIN + 1, 128}};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        int b = crec__nn_hstu_bucket(c[i].dt, 0);
        assert_int_equal(crec__nn_hstu_bucket(1700000000 + c[i].dt / 2, 1700000000 - (c[i].dt - c[i].dt / 2)), b);
        if (b != c[i].b) print_message("  bucket(%lld) = %d, expected %d\n", (long long)c[i].dt, b, c[i].b);
        assert_int_equal(b, c[i].b);
    }
    /* the widest difference of two int64 times: no overflow, the top bucket */
    assert_int_equal(crec__nn_hstu_bucket(INT64_MAX, INT64_MIN), 128);
    assert_int_equal(crec__nn_hstu_bucket(INT64_MIN, INT64_MAX), 128);
}

static void test_model_gradcheck(void **st) {
    (void)st;
    /* shard rows 0: the whole batch through each kernel; 1: every sequence its own shard (forward and backward per
     * shard, the bias sums per shard added after, dropout masks by index in the whole tensor) */
    struct {
        int nl;
        float drop;
        size_t shard;
    } cfg[] = {{0, 0.0f, 0}, {1, 0.0f, 0}, {0, 0.3f, 0}, {1, 0.0f, 1}, {0, 0.3f, 1}};
    size_t keep = crec__hstu_shard_rows;
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        double worst;
        int n;
        crec__hstu_shard_rows = cfg[c].shard;
        assert_int_equal(crec__hstu_gradcheck(cfg[c].nl, cfg[c].drop, 3 + c, &worst, &n), 0);
        print_message("  model, norm %s, dropout %.1f, shard rows %zu: %d parameters, worst relative gradient error "
                      "%.2e\n",
                      cfg[c].nl ? "len" : "max_len", cfg[c].drop, cfg[c].shard, n, worst);
        assert_true(n >= 80);
        assert_true(worst < 1e-2); /* float loss, eps 0.01; a wrong term gives O(1) */
    }
    crec__hstu_shard_rows = keep;
}

/* ---- the model ---- */

static const char *const SMALL[] = {"dim=32", "blocks=2", "epochs=10", "batch=64", "lr=0.005",
                                    "patience=3", "max_len=20", NULL};

static void test_quality_and_scores(void **st) {
    (void)st;
    crec_dataset *ds;
    crec_split s;
    synth(1500, 800, &ds, &s);
    double t0 = crec__now();
    crec_model *m = train_cfg("hstu", &s, SMALL, 1, 42, 1);
    double secs = crec__now() - t0;
    double q = ndcg10(m, ds, &s);
    crec_model *pm = train_cfg("pop", &s, NULL, 2, 42, 0);
    double qp = ndcg10(pm, ds, &s);
    crec_model_free(pm);
    print_message("  NDCG@10: hstu %.4f (trained in %.1fs), pop %.4f\n", q, secs, qp);
    assert_true(q > 3 * qp);
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/h.crecm", dir);
    assert_int_equal(crec_model_save(m, path), 0);
    crec_model *l;
    assert_int_equal(crec_model_load(path, &l), 0);
    int32_t ni = m->n_items;
    float *a = malloc(ni * sizeof *a), *b = malloc(ni * sizeof *b);
    int differ = 0;
    for (int32_t u = 0; u < 40; u++) {
        const int32_t *h = s.train.idx + s.train.ptr[u];
        const int64_t *ht = s.train.ts + s.train.ptr[u];
        int32_t n = (int32_t)(s.train.ptr[u + 1] - s.train.ptr[u]);
        crec_context cu = {.user = u, .hist = h, .n_hist = n, .hist_ts = ht};
        crec_context ca = {.user = -1, .hist = h, .n_hist = n, .hist_ts = ht};
        crec_context cn = {.user = u, .hist = h, .n_hist = n};
        assert_int_equal(crec_model_score(m, &cu, a), 0);
        assert_int_equal(crec_model_score(l, &cu, b), 0);
        assert_memory_equal(a, b, ni * sizeof *a);
        assert_int_equal(crec_model_score(m, &ca, b), 0);
        assert_memory_equal(a, b, ni * sizeof *a);
        assert_int_equal(crec_model_score(m, &cn, b), 0); /* positions for times: other time buckets */
        differ += n > 1 && memcmp(a, b, ni * sizeof *a) != 0;
        for (int32_t j = 0; j < ni; j++) assert_true(isfinite(a[j]) && fabsf(a[j]) <= 1 / 0.05f + 1e-3f);
    }
    assert_true(differ > 0);
    assert_true(mt_empty_history_is_pop(m, &s, a));
    assert_true(mt_mismatched_checkpoint_refused(l, path));
    free(a), free(b);
    tu_rmrf(dir);
    free(dir);
    crec_model_free(l);
    crec_model_free(m);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

static void test_reproducible(void **st) {
    (void)st;
    crec_dataset *ds;
    crec_split s;
    synth(300, 200, &ds, &s);
    const char *kv[] = {"dim=16", "heads=2", "epochs=2", "batch=32", "max_len=20", "loss=ce", "dropout=0.3", NULL};
    /* m1, m2: shards of >= 40 rows (several per batch), at 2 and 1 threads; m4 the whole batch kernel by kernel */
    size_t keep = crec__hstu_shard_rows;
    crec__hstu_shard_rows = 40;
    crec_model *m1 = train_cfg("hstu", &s, kv, 2, 7, 1), *m2 = train_cfg("hstu", &s, kv, 1, 7, 1);
    crec_model *m3 = train_cfg("hstu", &s, kv, 2, 8, 1);
    crec__hstu_shard_rows = 0;
    crec_model *m4 = train_cfg("hstu", &s, kv, 2, 7, 1);
    crec__hstu_shard_rows = keep;
    float *a = malloc(200 * sizeof *a), *b = malloc(200 * sizeof *b);
    int differ = 0;
    double worst = 0, scale = 0;
    for (int32_t u = 0; u < 30; u++) {
        crec_context c = {.user = u,
                          .hist = s.train.idx + s.train.ptr[u],
                          .hist_ts = s.train.ts + s.train.ptr[u],
                          .n_hist = (int32_t)(s.train.ptr[u + 1] - s.train.ptr[u])};
        assert_int_equal(crec_model_score(m1, &c, a), 0);
        assert_int_equal(crec_model_score(m2, &c, b), 0);
        assert_memory_equal(a, b, 200 * sizeof *a);
        assert_int_equal(crec_model_score(m3, &c, b), 0);
        differ += memcmp(a, b, 200 * sizeof *a) != 0;
        /* sharded and kernel-by-kernel: the same masks and sums up to the order of float additions */
        assert_int_equal(crec_model_score(m4, &c, b), 0);
        for (int j = 0; j < 200; j++) worst = fmax(worst, fabs((double)a[j] - b[j])), scale = fmax(scale, fabs(a[j]));
    }
    assert_int_equal(differ, 30);
    print_message("  shards of 40 rows vs one shard: max |score difference| %.2e (scores up to %.2f)\n", worst, scale);
    assert_true(worst < 1e-3 * scale);
    free(a), free(b);
    crec_model_free(m1), crec_model_free(m2), crec_model_free(m3), crec_model_free(m4);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

int main(int argc, char **argv) {
    if (argc >= 1 && !getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layer_gradcheck),    cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_model_gradcheck),    cmocka_unit_test(test_quality_and_scores),
        cmocka_unit_test(test_reproducible),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
