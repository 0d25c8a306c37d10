/* test_seqenc_shard.c: the sharded training step of the sequence encoder (src/models/seqenc.c).
 *   - a batch split into shards (runs of whole sequences, each forward and backward on one thread, the parameter
 *     gradients after one barrier) gives the same bits at 1 and 2 threads, and the same final states and parameter
 *     gradients as the batch run kernel by kernel as one shard up to the last bits of the products' rounding (their
 *     BLAS blocks start at other rows) - pre-LN and post-LN, with and without dropout at every site;
 *   - the whole model's backward through shards of one or two sequences matches finite differences (sasrec and
 *     bert4rec, pre-LN and post-LN, GELU and SiLU, with and without dropout).
 * Re-executes itself once with OMP_WAIT_POLICY=passive (see test_sasrec.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "models/bert4rec.h"
#include "models/sasrec.h"
#include "models/seqenc.h"
#include "models/seqtrain.h"
#include "nn/nn.h"

/* One step's forward (final states into h) and backward (dloss/dh fixed by the rng) of a batch of B sequences of
 * random lengths, the parameter gradients into grad; shard_rows as given, nt threads. */
static void step(int pre, float drop, size_t shard_rows, int nt, float *h, float *grad, size_t *nh, size_t *ng) {
    crec_seqenc s = {.D = 16, .L = 2, .H = 2, .F = 24, .T = 20, .pre = pre, .act = CREC_NN_GELU, .causal = 1,
                     .NI = 50, .mask = -1, .drop = drop};
    assert_int_equal(crec__seqenc_alloc(&s, 1), 0);
    crec_rng r;
    crec__rng_seed(&r, 7);
    for (size_t i = 0; i < s.p.total; i++) s.p.param[i] = (float)(0.5 * crec__rng_normal(&r));
    memset(s.p.grad, 0, s.p.total * sizeof(float));
    crec_seqtrain_net net = crec__seqenc_net(&s, "sasrec");
    enum { B = 40 };
    int32_t lens[B];
    for (int b = 0; b < B; b++) lens[b] = 1 + (int32_t)crec__rng_below(&r, (uint64_t)s.T);
    crec_seq_batch bt;
    assert_int_equal(crec__seqtrain_batch_alloc(&bt, B, B * s.T, s.T), 0);
    crec__seqtrain_batch_layout(&bt, &net, lens, B);
    for (int q = 0; q < B; q++)
        for (int t = 0; t < bt.len[q]; t++) {
            int32_t row = crec__seqtrain_row(&bt, q, t);
            bt.ids[row] = (int32_t)crec__rng_below(&r, (uint64_t)s.NI);
            bt.posid[row] = s.T - bt.len[q] + t;
            bt.tgt[row] = -1;
        }
    assert_true(bt.N > 4 * 65); /* at least 4 shards of >= 65 rows below */
    size_t af = net.acts_floats(net.ctx, bt.N, bt.att_off[bt.B]);
    float *abase = crec__aligned_alloc(af * sizeof(float)), *gbase = crec__aligned_alloc(af * sizeof(float));
    assert_non_null(abase);
    assert_non_null(gbase);
    for (size_t i = 0; i < af; i++) gbase[i] = 1e30f; /* stale values: the forward must zero what backward reads */
    size_t old_rows = crec__seqenc_shard_rows;
    int old_nt = omp_get_max_threads();
    crec__seqenc_shard_rows = shard_rows;
    omp_set_num_threads(nt);
    int prev_blas = crec__nn_blas_single();
    float *dh;
    uint64_t seed = drop > 0 ? 12345 : 0;
    const float *hf = net.forward(net.ctx, &bt, abase, gbase, seed, &dh);
    *nh = (size_t)bt.N * s.D;
    memcpy(h, hf, *nh * sizeof(float));
    for (size_t i = 0; i < *nh; i++) dh[i] = (float)crec__rng_normal(&r);
    net.backward(net.ctx, &bt, abase, gbase, seed);
    crec__nn_blas_restore(prev_blas);
    omp_set_num_threads(old_nt);
    crec__seqenc_shard_rows = old_rows;
    *ng = s.p.total;
    memcpy(grad, s.p.grad, s.p.total * sizeof(float));
    free(abase), free(gbase);
    crec__seqtrain_batch_free(&bt);
    crec__seqenc_free(&s);
}

static void test_shards_same_bits(void **st) {
    enum { CAP = 1 << 20 };
    float *h1 = malloc(CAP * sizeof(float)), *g1 = malloc(CAP * sizeof(float));
    float *h2 = malloc(CAP * sizeof(float)), *g2 = malloc(CAP * sizeof(float));
    assert_true(h1 && g1 && h2 && g2);
    for (int pre = 0; pre < 2; pre++)
        for (int d = 0; d < 2; d++) {
            float drop = d ? 0.3f : 0.0f;
            size_t nh1, ng1, nh2, ng2;
            step(pre, drop, (size_t)1 << 30, 2, h1, g1, &nh1, &ng1); /* one shard: kernel by kernel */
            double gmax = 0;
            for (size_t i = 0; i < ng1; i++) gmax = fmax(gmax, fabs(g1[i]));
            assert_true(gmax > 0);
            float *h3 = g2 + CAP / 2, *g3 = h2 + CAP / 2; /* the sharded run at 1 thread, for the 2-thread one */
            for (int nt = 1; nt <= 2; nt++) {
                step(pre, drop, 65, nt, h2, g2, &nh2, &ng2);
                assert_true(nh2 <= CAP / 2 && ng2 <= CAP / 2);
                assert_int_equal(nh1, nh2);
                assert_int_equal(ng1, ng2);
                size_t dh = 0, dg = 0;
                double eh = 0, eg = 0;
                for (size_t i = 0; i < nh1; i++) dh += h1[i] != h2[i], eh = fmax(eh, fabs(h1[i] - h2[i]));
                for (size_t i = 0; i < ng1; i++) dg += g1[i] != g2[i], eg = fmax(eg, fabs(g1[i] - g2[i]));
                print_message("  %s-LN dropout %.1f, %d thread(s): %zu of %zu states (largest difference %.2g) and "
                              "%zu of %zu gradients (%.2g, largest gradient %.3g) differ\n",
                              pre ? "pre" : "post", drop, nt, dh, nh1, eh, dg, ng1, eg, gmax);
                /* against the kernel-by-kernel step: the products run in other BLAS blocks (a shard's rows start
                 * at its own offset), which may round differently in the last bit; nothing more */
                assert_true(eh <= 1e-5 && eg <= 1e-5 * gmax);
                if (nt == 1) {
                    memcpy(h3, h2, nh2 * sizeof(float));
                    memcpy(g3, g2, ng2 * sizeof(float));
                } else { /* shards are a function of the batch: the same bits at any thread count */
                    assert_memory_equal(h3, h2, nh2 * sizeof(float));
                    assert_memory_equal(g3, g2, ng2 * sizeof(float));
                }
            }
        }
    free(h1), free(g1), free(h2), free(g2);
}

static void test_gradcheck_sharded(void **st) {
    size_t old_rows = crec__seqenc_shard_rows;
    crec__seqenc_shard_rows = 1; /* every sequence of the check's batch its own shard */
    for (int model = 0; model < 2; model++)
        for (int pre = 0; pre < 2; pre++)
            for (int act = CREC_NN_GELU; act <= CREC_NN_SILU; act++) {
                double worst;
                int n;
                float drop = act == CREC_NN_GELU ? 0.3f : 0.0f;
                uint64_t seed = 11 + (uint64_t)act;
                int rc = model ? crec__bert4rec_gradcheck(pre, act, drop, seed, &worst, &n)
                               : crec__sasrec_gradcheck(pre, act, drop, seed, &worst, &n);
                assert_int_equal(rc, 0);
                print_message("  %s %s-LN %s dropout %.1f, one shard per sequence: %d parameters, worst relative "
                              "error %.2e\n",
                              model ? "bert4rec" : "sasrec", pre ? "pre" : "post",
                              act == CREC_NN_GELU ? "GELU" : "SiLU", drop, n, worst);
                assert_true(n >= 150);
                assert_true(worst < 5e-3); /* as test_sasrec.c: observed ~4e-4; a wrong term gives O(1) */
            }
    crec__seqenc_shard_rows = old_rows;
}

int main(int argc, char **argv) {
    if (argc >= 1 && !getenv("OMP_WAIT_POLICY")) {
        setenv("OMP_WAIT_POLICY", "passive", 1);
        execv("/proc/self/exe", argv);
    }
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_shards_same_bits),
                                       cmocka_unit_test(test_gradcheck_sharded)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
