/* test_gru4rec.c: the gru4rec model.
 *   - its complete backward pass against finite differences (1 and 2 layers, tied and separate output tables,
 *     full CE, BPR-max and sampled softmax with log-Q, with and without dropout under fixed masks), and the packed
 *     GRU layer against a plain per-sequence loop of the GRU cell; the sequence trainer's packed batches (both
 *     layouts: the same windows, rows addressed by sequence and position, timestamps from the training matrix);
 *   - on the synthetic default (1500 users x 800 items), a few epochs beat pop and item-kNN by far;
 *   - a checkpoint round trip gives bit-identical scores; an anonymous history scores exactly as the same user's
 *     history; a history longer than max_len scores as its last max_len items (and not as one item fewer); an
 *     empty one as popularity;
 *   - training is bit-reproducible for a seed, at 1 and 2 threads alike, and another seed gives another model;
 *   - every loss (ce, ssm, bprmax, bce) and the 2-layer untied form train to something better than popularity;
 *   - bad hyper-parameters are refused with CREC_EINVAL.
 * Trainings run on one thread, and the program re-executes itself once with OMP_WAIT_POLICY=passive when the
 * variable is unset (as test_sasrec: libgomp's spinning barriers crawl on an oversubscribed machine). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/util.h"
#include "crec/crec.h"
#include "models/gru4rec.h"
#include "models/seqtrain.h"
#include "nn/nn.h"
#include "modeltest.h"
#include "testutil.h"

static void test_gradcheck(void **st) {
    static const char *const LOSS[] = {"ce", "bprmax", "ssm", "bce"};
    struct {
        int layers, tied, loss;
        float drop;
    } cfg[] = {{1, 1, 0, 0.0f}, {1, 1, 0, 0.3f}, {2, 0, 0, 0.3f}, {2, 1, 1, 0.0f},
               {1, 0, 1, 0.3f}, {1, 1, 2, 0.0f}, {2, 0, 2, 0.2f}, {1, 1, 3, 0.0f}};
    for (size_t c = 0; c < sizeof cfg / sizeof cfg[0]; c++) {
        double worst;
        int n;
        assert_int_equal(crec__gru4rec_gradcheck(cfg[c].layers, cfg[c].tied, cfg[c].loss, cfg[c].drop, 5 + c, &worst,
                                                 &n),
                         0);
        print_message("  %d layer(s) %s %-6s dropout %.1f: %d parameters, worst relative gradient error %.2e\n",
                      cfg[c].layers, cfg[c].tied ? "tied  " : "untied", LOSS[cfg[c].loss], cfg[c].drop, n, worst);
        assert_true(n >= (cfg[c].tied ? 60 : 72));
        assert_true(worst < 5e-3); /* float loss, eps 0.01; a wrong term gives O(1) */
    }
}

/* The packed layer equals running the cell over each sequence alone (B = 1), whatever the batch's sorting. */
static void test_packed_layer(void **st) {
    enum { C = 5, H = 4, B = 3 };
    int32_t lens[B] = {4, 2, 1}, bs[4] = {3, 2, 1, 1}, off[5] = {0, 3, 5, 6, 7};
    crec_nn_pack pk = {.B = B, .T = 4, .N = 7, .bs = bs, .off = off};
    crec_rng r;
    crec__rng_seed(&r, 3);
    float x[7 * C], wih[3 * H * C], whh[3 * H * H], bih[3 * H], bhh[3 * H], h0[B * H];
    float *arrs[] = {x, wih, whh, bih, bhh, h0};
    size_t ns[] = {7 * C, 3 * H * C, 3 * H * H, 3 * H, 3 * H, B * H};
    for (int a = 0; a < 6; a++)
        for (size_t i = 0; i < ns[a]; i++) arrs[a][i] = (float)(0.5 * crec__rng_normal(&r));
    float h[7 * H], cache[7 * 3 * H], gx[7 * 3 * H], gh[7 * 3 * H], hp[7 * H];
    crec__nn_gru_forward(h, cache, gx, gh, hp, x, h0, wih, bih, whh, bhh, &pk, C, H);
    for (int b = 0; b < B; b++) {
        float xs[4 * C], hs[4 * H], cs[4 * 3 * H], gxs[4 * 3 * H], ghs[4 * 3 * H], hps[4 * H];
        int32_t bs1[4] = {1, 1, 1, 1}, off1[5] = {0, 1, 2, 3, 4};
        for (int t = 0; t < lens[b]; t++) memcpy(xs + t * C, x + (off[t] + b) * C, C * sizeof(float));
        crec_nn_pack p1 = {.B = 1, .T = lens[b], .N = lens[b], .bs = bs1, .off = off1};
        crec__nn_gru_forward(hs, cs, gxs, ghs, hps, xs, h0 + b * H, wih, bih, whh, bhh, &p1, C, H);
        for (int t = 0; t < lens[b]; t++)
            for (int d = 0; d < H; d++) assert_float_equal(h[(off[t] + b) * H + d], hs[t * H + d], 1e-6);
    }
}

/* The sequence trainer's packed batches (seqtrain.h), the time-major layout gru4rec reads and the sequence-major one
 * of the transformers: the same next-item windows, every row once, time-major sequences sorted by length (ties in
 * list order), timestamps from the training matrix; inference windows with and without a [mask] token. */
static void test_seq_batches(void **st) {
    int32_t idx[] = {1, 5, 2, 7, 3, 4, 9, 12, 0, 11, 6, 2, 8};
    int64_t ptr[] = {0, 3, 10, 13}, ts[13];
    for (int i = 0; i < 13; i++) ts[i] = 1000 + 10 * i;
    crec_csr x = {.n_rows = 3, .n_cols = 13, .ptr = ptr, .idx = idx, .ts = ts};
    int32_t users[] = {2, 1, 0}; /* windows (max_len 4) of 2, 4 and 2 rows */
    for (int tm = 0; tm < 2; tm++) {
        crec_seqtrain_net net = {.NI = 13, .T = 4, .mask = -1, .time_major = tm, .heads = tm ? 0 : 2};
        crec_seqtrain_next o;
        memset(&o, 0, sizeof o);
        crec_seqtrain_obj obj = crec__seqtrain_next_obj(&o);
        crec_seq_batch bt;
        assert_int_equal(crec__seqtrain_batch_alloc(&bt, 3, 12, 4), 0);
        crec_rng r;
        crec__rng_seed(&r, 1);
        crec__seqtrain_batch_train(&bt, &net, &obj, &x, users, 3, &r);
        assert_int_equal(bt.B, 3);
        assert_int_equal(bt.N, 8);
        assert_int_equal(bt.T, 4);
        int seen[8] = {0};
        for (int q = 0; q < 3; q++) {
            int32_t u = users[bt.src[q]], n = (int32_t)(ptr[u + 1] - ptr[u]), w = n < 5 ? n : 5;
            int64_t o0 = ptr[u] + n - w;
            assert_int_equal(bt.len[q], w - 1);
            for (int t = 0; t < bt.len[q]; t++) {
                int32_t row = crec__seqtrain_row(&bt, q, t);
                assert_true(row >= 0 && row < 8);
                seen[row]++;
                assert_int_equal(bt.ids[row], idx[o0 + t]);
                assert_int_equal(bt.tgt[row], idx[o0 + t + 1]);
                assert_int_equal(bt.posid[row], 4 - bt.len[q] + t);
                assert_int_equal(bt.ts[row], ts[o0 + t]);
            }
        }
        for (int row = 0; row < 8; row++) assert_int_equal(seen[row], 1);
        if (tm) {
            int32_t src[] = {1, 0, 2}, bs[] = {3, 3, 1, 1}, off[] = {0, 3, 6, 7, 8};
            assert_memory_equal(bt.src, src, sizeof src);
            assert_memory_equal(bt.bs, bs, sizeof bs);
            assert_memory_equal(bt.off, off, sizeof off);
            assert_true(bt.pk.B == 3 && bt.pk.T == 4 && bt.pk.N == 8 && bt.pk.bs == bt.bs && bt.pk.off == bt.off);
        } else {
            int32_t so[] = {0, 2, 6, 8};
            assert_memory_equal(bt.seq_off, so, sizeof so);
            assert_int_equal(bt.att_off[3], 2 * (4 + 16 + 4)); /* 2 heads x sum T_b^2 */
        }
        /* inference: the last T items (gru4rec, sasrec), or the last T - 1 and [mask] (bert4rec); no targets; the
         * events' times (the [mask] row repeats the last), or positions in the history when there are none */
        int32_t h0[] = {4, 8, 1, 9, 6, 3}, h1[] = {5};
        int64_t t0[] = {100, 110, 120, 130, 140, 150}, t1[] = {7};
        const int32_t *hist[] = {h0, h1};
        const int64_t *tss[] = {t0, t1};
        int32_t len[] = {6, 1};
        for (int mk = 0; mk < 4; mk++) {
            int with_ts = mk >= 2;
            net.mask = mk % 2 ? 13 : -1;
            crec__seqtrain_batch_hist(&bt, &net, hist, with_ts ? tss : NULL, len, 2);
            assert_int_equal(bt.len[0], 4); /* the 6-item history: its last 4 rows, first in both layouts */
            for (int q = 0; q < 2; q++) {
                int b = bt.src[q], Tw = bt.len[q], Tb = Tw - mk % 2;
                assert_int_equal(Tw, b == 0 ? 4 : 1 + mk % 2);
                for (int t = 0; t < Tw; t++) {
                    int32_t row = crec__seqtrain_row(&bt, q, t), src = len[b] - Tb + (t < Tb ? t : Tb - 1);
                    assert_int_equal(bt.ids[row], t < Tb ? hist[b][len[b] - Tb + t] : 13);
                    assert_int_equal(bt.posid[row], 4 - Tw + t);
                    assert_int_equal(bt.tgt[row], -1);
                    assert_int_equal(bt.ts[row], with_ts ? tss[b][src] : src);
                }
            }
        }
        crec__seqtrain_batch_free(&bt);
    }
}

/* max_len 12: short enough that the first item of a 12-item window still moves the last state measurably */
static const char *const SMALL[] = {"dim=32",     "epochs=8",          "batch=64",           "lr=0.01",
                                    "patience=3", "dropout_emb=0.2", "dropout_hidden=0.2", "max_len=12", NULL};

/* Quality on the synthetic default, and everything a trained model must do with its scores. */
static void test_quality_and_scores(void **st) {
    crec_dataset *ds;
    crec_split s;
    synth(1500, 800, &ds, &s);
    double t0 = crec__now();
    crec_model *m = train_cfg("gru4rec", &s, SMALL, 1, 42, 1);
    double secs = crec__now() - t0;
    double q = ndcg10(m, ds, &s);
    const char *base[] = {"pop", "itemknn", "markov"};
    double qb[3];
    for (int k = 0; k < 3; k++) {
        crec_model *b = train_cfg(base[k], &s, NULL, 2, 42, 0);
        qb[k] = ndcg10(b, ds, &s);
        crec_model_free(b);
    }
    print_message("  NDCG@10: gru4rec %.4f (trained in %.1fs), pop %.4f, itemknn %.4f, markov %.4f\n", q, secs, qb[0],
                  qb[1], qb[2]);
    assert_true(q > 4 * qb[0]);
    assert_true(q > 1.5 * qb[1]);

    /* scores: checkpoint round trip, anonymous history, truncation to max_len, empty history */
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/g.crecm", dir);
    assert_int_equal(crec_model_save(m, path), 0);
    crec_model *l;
    assert_int_equal(crec_model_load(path, &l), 0);
    int32_t ni = m->n_items;
    float *a = malloc(ni * sizeof *a), *b = malloc(ni * sizeof *b);
    for (int32_t u = 0; u < 40; u++) {
        const int32_t *h = s.train.idx + s.train.ptr[u];
        int32_t n = (int32_t)(s.train.ptr[u + 1] - s.train.ptr[u]);
        crec_context cu = {.user = u, .hist = h, .n_hist = n}, ca = {.user = -1, .hist = h, .n_hist = n};
        assert_int_equal(crec_model_score(m, &cu, a), 0);
        assert_int_equal(crec_model_score(l, &cu, b), 0);
        assert_memory_equal(a, b, ni * sizeof *a);
        assert_int_equal(crec_model_score(m, &ca, b), 0);
        assert_memory_equal(a, b, ni * sizeof *a);
    }
    /* a 30-item history scores as its last 12 (max_len) items, whatever comes before them */
    int32_t longh[30], other[30];
    for (int k = 0; k < 30; k++) longh[k] = (k * 37) % ni, other[k] = k < 18 ? (k * 11 + 5) % ni : longh[k];
    crec_context c30 = {.user = -1, .hist = longh, .n_hist = 30}, c12 = {.user = -1, .hist = longh + 18, .n_hist = 12};
    crec_context co = {.user = -1, .hist = other, .n_hist = 30};
    assert_int_equal(crec_model_score(m, &c30, a), 0);
    assert_int_equal(crec_model_score(m, &c12, b), 0);
    assert_memory_equal(a, b, ni * sizeof *a);
    assert_int_equal(crec_model_score(m, &co, b), 0);
    assert_memory_equal(a, b, ni * sizeof *a);
    crec_context c11 = {.user = -1, .hist = longh + 19, .n_hist = 11};
    assert_int_equal(crec_model_score(m, &c11, b), 0);
    assert_true(memcmp(a, b, ni * sizeof *a) != 0); /* one item fewer is another history */
    /* an empty history: training popularity */
    assert_true(mt_empty_history_is_pop(m, &s, a));
    /* a checkpoint whose hyper-parameters disagree with its payload is refused */
    assert_true(mt_mismatched_checkpoint_refused(l, path));
    free(a), free(b);
    tu_rmrf(dir);
    free(dir);
    crec_model_free(l);
    crec_model_free(m);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

/* Same seed, at 2 threads and at 1: the same bits. Another seed: another model. */
static void test_reproducible(void **st) {
    crec_dataset *ds;
    crec_split s;
    synth(300, 200, &ds, &s);
    const char *kv[] = {"dim=16", "layers=2", "epochs=2", "batch=32", "max_len=20", NULL};
    crec_model *m1 = train_cfg("gru4rec", &s, kv, 2, 7, 1), *m2 = train_cfg("gru4rec", &s, kv, 1, 7, 1);
    crec_model *m3 = train_cfg("gru4rec", &s, kv, 2, 8, 1);
    float *a = malloc(200 * sizeof *a), *b = malloc(200 * sizeof *b);
    int differ = 0;
    for (int32_t u = 0; u < 30; u++) {
        crec_context c = {
            .user = u, .hist = s.train.idx + s.train.ptr[u], .n_hist = (int32_t)(s.train.ptr[u + 1] - s.train.ptr[u])};
        assert_int_equal(crec_model_score(m1, &c, a), 0);
        assert_int_equal(crec_model_score(m2, &c, b), 0);
        assert_memory_equal(a, b, 200 * sizeof *a);
        assert_int_equal(crec_model_score(m3, &c, b), 0);
        differ += memcmp(a, b, 200 * sizeof *a) != 0;
    }
    assert_int_equal(differ, 30);
    free(a), free(b);
    crec_model_free(m1), crec_model_free(m2), crec_model_free(m3);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

/* Each loss, and the 2-layer untied form, learns (beats popularity by a wide margin) on a small synthetic set. */
static void test_losses(void **st) {
    crec_dataset *ds;
    crec_split s;
    synth(600, 300, &ds, &s);
    crec_model *p = train_cfg("pop", &s, NULL, 2, 1, 0);
    double qp = ndcg10(p, ds, &s);
    crec_model_free(p);
    const char *variants[][3] = {{"loss=ssm", "neg=64", "alpha=1"},      {"loss=bprmax", "neg=64", "alpha=0.5"},
                                 {"loss=bce", "neg=1", "alpha=0"},        {"loss=ce", "layers=2", "tied=0"},
                                 {"loss=ce", "schedule=cosine", "clip=1"}};
    for (int v = 0; v < 5; v++) {
        const char *kv[] = {"dim=32",         "epochs=8",          "batch=32",     "lr=0.01",
                            "max_len=20",     "dropout_emb=0.2",   "dropout_hidden=0.2", variants[v][0],
                            variants[v][1],   variants[v][2],      NULL};
        crec_model *m = train_cfg("gru4rec", &s, kv, 1, 3, 1);
        double q = ndcg10(m, ds, &s);
        print_message("  %-11s %-15s %-9s NDCG@10 %.4f (pop %.4f)\n", variants[v][0], variants[v][1], variants[v][2],
                      q, qp);
        assert_true(q > 2 * qp);
        crec_model_free(m);
    }
    crec_split_free(&s);
    crec_dataset_free(ds);
}


int main(int argc, char **argv) {
    /* libgomp reads its wait policy once, at load: re-execute once with passive waits (see the header) */
    if (argc >= 1 && !getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gradcheck),          cmocka_unit_test(test_packed_layer),
        cmocka_unit_test(test_seq_batches),
        cmocka_unit_test(test_quality_and_scores), cmocka_unit_test(test_reproducible),
        cmocka_unit_test(test_losses),             };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
