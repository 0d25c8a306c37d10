/* test_genrec_heads.c: genrec's item rows and scores beyond dot products: item attributes fused into the item rows
 * (models/attrfuse.h, attr=1), cosine scores with a temperature (cos=1), and the auxiliary next-item loss on the
 * encoder memory (aux > 0).
 *
 * Checked:
 *   1. the fusion itself: rows through an item -> row map against hand-computed values (an item without attributes
 *      keeps its row; rows outside the map untouched), and its backward as the adjoint of the forward
 *      (<G, fuse(F)> = <back(G), F> for random G, F), items with a zero gradient row skipped;
 *   2. genrec's whole-model backward with attr=1 by finite differences, the attribute rows included (causal and
 *      bidirectional encoders, item_emb, dropout), with cos=1 (alone, with attr, with label smoothing), and with
 *      aux = 0.7 (causal, bidirectional, with attr and dropout); mem_in (causal, bidirectional, multi-task with
 *      per-token encoder rows, with attr + aux + dropout);
 *   3. training with attr=1 (and with cos=1 or mem_in=1 on top) on the synthetic default (which has item attributes) over an index whose last level is
 *      the item's own token: better than popularity, beam search = brute force, a checkpoint round trip gives the
 *      same lists (the fused rows are saved: a plain genrec); refused without attributes (no dataset) or with an index whose last
 *      level is not one token per item. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "crec/crec.h"
#include "crec/index.h"
#include "models/attrfuse.h"
#include "models/genrec.h"
#include "genrectest.h"
#include "modeltest.h"

static void test_fuse_rows_and_adjoint(void **st) {
    (void)st;
    /* 4 items, 3 attributes, D 2; item i's row is row[i] of a 6-row table */
    int64_t aptr[5] = {0, 2, 2, 3, 6};
    int32_t aidx[6] = {0, 1, 2, 0, 1, 2}, row[4] = {5, 1, 3, 0};
    crec_attrfuse a = {.NI = 4, .NA = 3, .aptr = aptr, .aidx = aidx};
    float E[12], F[6] = {1, 2, 3, 4, 5, 6}, out[12];
    for (int k = 0; k < 12; k++) E[k] = (float)(10 * k), out[k] = -1;
    crec__attrfuse_rows(&a, out, E, F, row, 2);
    /* item 0 (row 5): E[5] + (F0 + F1) / 2 = (100, 110) + (2, 3) */
    assert_true(out[10] == 102 && out[11] == 113);
    assert_true(out[2] == 20 && out[3] == 30);   /* item 1 (row 1): no attributes */
    assert_true(out[6] == 65 && out[7] == 76);   /* item 2 (row 3): E[3] + F2 */
    assert_true(out[0] == 3 && out[1] == 14);    /* item 3 (row 0): E[0] + (F0 + F1 + F2) / 3 */
    assert_true(out[4] == -1 && out[8] == -1);   /* rows 2 and 4 belong to no item */
    /* the adjoint identity on random values, one item's gradient row zero */
    crec_rng r;
    crec__rng_seed(&r, 9);
    double G[12], lhs = 0, rhs = 0;
    float Gf[12], Ef[12] = {0}, dF[6] = {0}, Fr[6];
    for (int k = 0; k < 12; k++) Gf[k] = (float)crec__rng_normal(&r), G[k] = Gf[k];
    Gf[6] = Gf[7] = 0, G[6] = G[7] = 0; /* item 2's row */
    for (int k = 0; k < 6; k++) Fr[k] = (float)crec__rng_normal(&r);
    crec__attrfuse_rows(&a, out, Ef, Fr, row, 2); /* E = 0: out = the mean part alone, a linear map of F */
    for (int i = 0; i < 4; i++)
        for (int d = 0; d < 2; d++) lhs += G[row[i] * 2 + d] * out[row[i] * 2 + d];
    crec__attrfuse_back(&a, Gf, dF, row, 2);
    for (int k = 0; k < 6; k++) rhs += (double)dF[k] * Fr[k];
    assert_true(fabs(lhs - rhs) < 1e-5 * (1 + fabs(lhs)));
    /* attribute 2's gradient: item 3's share only (item 2's row is zero) = G[row 0] / 3 */
    assert_true(fabsf(dF[4] - Gf[0] / 3) < 1e-6f && fabsf(dF[5] - Gf[1] / 3) < 1e-6f);
}

static void test_gradcheck_heads(void **st) {
    (void)st;
    /* 9 items, codes 3 x 9: a cluster level, then the item's own token */
    int32_t codes[18];
    for (int i = 0; i < 9; i++) codes[i * 2] = (i * 5) % 3, codes[i * 2 + 1] = i;
    crec_index ix = {.n_items = 9, .L = 2, .K = {3, 9}, .codes = codes, .tok_off = {0, 3, 12}};
    assert_int_equal(crec_index_check(&ix), 0);
    /* bits of crec__genrec_gradcheck: 1 causal, 2 item_emb, 4 multi-task with user tokens, 8 enc_tokens, 16 ls 0.1,
     * 32 attr, 64 cos, 128 aux 0.7, 256 mem_in */
    const int variants[14] = {1 | 32,       32,          1 | 2 | 32, 1 | 2 | 32,       1 | 64,
                              64 | 32 | 2,  1 | 64 | 16, 1 | 128,    128 | 2,          1 | 2 | 32 | 128,
                              1 | 256,      256 | 2,     1 | 4 | 8 | 256, 1 | 2 | 32 | 128 | 256};
    for (int v = 0; v < 14; v++) {
        double worst = 0;
        int checked = 0;
        float drop = v == 3 || v == 5 || v == 9 || v == 13 ? 0.2f : 0;
        assert_int_equal(crec__genrec_gradcheck(&ix, variants[v], drop, 21 + (uint64_t)v, &worst, &checked), 0);
        print_message("  variant %d: %d elements, worst relative error %.2e\n", v, checked, worst);
        if (worst > 0.02) fail_msg("genrec attr / cos / aux / mem_in gradient (variant %d): worst relative error %g", v, worst);
        assert_true(checked > 200);
    }
}

/* An index over ds's items: level 0 = item mod 4, level 1 = the item's own token. */
static void item_index(const crec_dataset *ds, const char *path) {
    int32_t NI = ds->items.n;
    int32_t *codes = malloc((size_t)NI * 2 * sizeof *codes);
    assert_non_null(codes);
    for (int32_t i = 0; i < NI; i++) codes[2 * i] = i % 4, codes[2 * i + 1] = i;
    crec_index ix = {.n_items = NI, .L = 2, .K = {4, NI}, .codes = codes, .tok_off = {0, 4, 4 + NI}};
    ix.items_hash = crec_index_items_hash(ds);
    snprintf(ix.method, sizeof ix.method, "hybrid");
    assert_int_equal(crec_index_check(&ix), 0);
    assert_int_equal(crec_index_save(&ix, path), 0);
    free(codes);
}

static int train_genrec(const crec_dataset *ds, const crec_split *s, const char *index, const char *method,
                        const char *cos, crec_model **out) {
    char ib[600];
    snprintf(ib, sizeof ib, "index=%s", index);
    const char *kv[] = {"dim=16", "heads=2", "enc_blocks=1", "dec_blocks=1", "epochs=12", "batch=32", "beam=64",
                        "max_len=8", "lr=0.005", "attr=1", "temp=0.2", cos, index ? ib : method, NULL};
    crec_config cfg = {0};
    for (int i = 0; kv[i]; i++) assert_int_equal(crec_config_set_kv(&cfg, kv[i]), 0);
    char err[256];
    assert_int_equal(crec_model_new("genrec", &cfg, out, err, sizeof err), 0);
    (*out)->n_users = s->train.n_rows, (*out)->n_items = s->train.n_cols;
    crec_train_input in = {.ds = ds, .train = &s->train, .valid = &s->valid, .n_threads = 1, .seed = 3};
    int rc = crec_model_train(*out, &in);
    snprintf((*out)->split, sizeof (*out)->split, "loo");
    return rc;
}

static void test_attr_cos_train(void **st) {
    (void)st;
    crec_dataset *ds;
    crec_split s;
    synth(300, 80, &ds, &s);
    assert_true(ds->n_attr_pairs > 0);
    char ip[] = "/tmp/crec_test_genrec_attr_XXXXXX";
    int fd = mkstemp(ip);
    close(fd);
    item_index(ds, ip);
    crec_model *p = train_cfg("pop", &s, NULL, 1, 1, 0);
    double qp = ndcg10(p, ds, &s);
    crec_model_free(p);
    int32_t NI = ds->items.n;
    crec_model *m = NULL;
    for (int v = 0; v < 3; v++) { /* dot products, cosine scores, mem_in */
        const char *cos = v == 2 ? "mem_in=1" : v ? "cos=1" : "cos=0";
        assert_int_equal(train_genrec(ds, &s, ip, NULL, cos, &m), 0);
        double q = ndcg10(m, ds, &s);
        print_message("  genrec attr=1 %s: NDCG@10 %.4f (pop %.4f)\n", cos, q, qp);
        assert_true(q > 1.5 * qp);
        /* beam (64 >= every prefix's children) = brute force, and the saved model gives the same lists */
        assert_users_top10_bruteforce(m, &s.train, 6, NI);
        assert_roundtrip_same_top10(m, &s.train, 1);
        crec_model_free(m);
    }
    /* refused: an index whose last level is not one token per item, and a dataset without attributes */
    assert_int_equal(train_genrec(ds, &s, NULL, "index_method=random", "cos=0", &m), CREC_EINVAL);
    crec_model_free(m);
    assert_int_equal(train_genrec(NULL, &s, ip, NULL, "cos=0", &m), CREC_EINVAL); /* no dataset: no attributes */
    crec_model_free(m);
    unlink(ip);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fuse_rows_and_adjoint),
        cmocka_unit_test(test_gradcheck_heads),
        cmocka_unit_test(test_attr_cos_train),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
