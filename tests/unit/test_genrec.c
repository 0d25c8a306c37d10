/* test_genrec.c: the generative retrieval model and its new neural pieces.
 *
 * Checked:
 *   1. cross-attention (nn/xattn.h) in double: forward against a naive reference, backward against central finite
 *      differences (memory rows shared by several sequences, as a causal encoder's prefixes are), float vs double;
 *      single-query attention (the KV-cache decoding step) against the packed kernel;
 *   2. the whole model's backward (encoder, decoder with cross-attention, tied output) by finite differences, causal
 *      and bidirectional encoders, with and without dropout, one row per item or per code token (enc_tokens);
 *   3. beam search against brute-force enumeration of every item's code on a small catalogue: with a beam that
 *      holds every prefix the same top items with the same scores; with a narrow beam, every returned item's score
 *      equals its brute-force score and the list is sorted; excluded items never appear;
 *   4. a planted rule (the next item is always the successor of the last one) is learnt: hit rate @1 > 0.9;
 *   5. a checkpoint round trip gives the same lists; a wrong index file is refused;
 *   6. enc_tokens=1 (TIGER's per-token encoder rows): beam search = brute force, a checkpoint round trip; the
 *      planted rule of 4 is learnt with it too;
 *   7. training at 2 and 3 threads gives the scores of training at 1, bit for bit (`mem_in`, dropout on), and
 *      leaves OpenMP's thread count as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/util.h"
#include "crec/crec.h"
#include "crec/index.h"
#include "models/genrec.h"
#include "genrectest.h"
#include "nn/nn.h"
#include "nn/xattn.h"

static crec_rng rng;

static double *dvec(size_t n, double scale) {
    double *x = calloc(n ? n : 1, sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = scale * (2 * crec__rng_uniform(&rng) - 1);
    return x;
}

/* ---- 1. cross-attention ---- */

typedef struct {
    int S, D, H, Nq, Nk;
    int32_t q_off[4], k_beg[3], k_len[3];
    int64_t att_off[4];
    double *q, *kv, *G, *out, *att;
} xctx;

static double xloss(xctx *c) {
    crec__nn_xattn_forward_d(c->out, c->att, c->q, c->kv, c->q_off, c->k_beg, c->k_len, c->att_off, c->S, c->D, c->H);
    double s = 0;
    for (int i = 0; i < c->Nq * c->D; i++) s += c->out[i] * c->G[i];
    return s;
}

static double fd_max(xctx *c, double *x, const double *an, size_t n) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double o = x[i];
        x[i] = o + 1e-5;
        double lp = xloss(c);
        x[i] = o - 1e-5;
        double lm = xloss(c);
        x[i] = o;
        double num = (lp - lm) / 2e-5;
        w = fmax(w, fabs(num - an[i]) / fmax(1, fabs(num)));
    }
    return w;
}

static void test_xattn(void **st) {
    (void)st;
    xctx c = {.S = 3, .D = 4, .H = 2, .Nq = 6, .Nk = 5, .q_off = {0, 2, 5, 6}, .k_beg = {0, 0, 2},
              .k_len = {2, 4, 3}};
    int64_t tot = crec__nn_xattn_offsets(c.att_off, c.q_off, c.k_len, c.S, c.H);
    assert_int_equal(tot, 2 * (2 * 2 + 3 * 4 + 1 * 3));
    c.q = dvec((size_t)c.Nq * c.D, 1.5), c.kv = dvec((size_t)c.Nk * 2 * c.D, 1.5), c.G = dvec((size_t)c.Nq * c.D, 1);
    c.out = calloc((size_t)c.Nq * c.D, sizeof(double)), c.att = calloc((size_t)tot, sizeof(double));
    xloss(&c);
    /* reference: naive per (sequence, head, query) */
    int hd = c.D / c.H;
    for (int s = 0; s < c.S; s++)
        for (int t = c.q_off[s]; t < c.q_off[s + 1]; t++)
            for (int h = 0; h < c.H; h++) {
                double sc[8], mx = -1e300, sum = 0;
                for (int j = 0; j < c.k_len[s]; j++) {
                    double d = 0;
                    for (int i = 0; i < hd; i++)
                        d += c.q[t * c.D + h * hd + i] * c.kv[(c.k_beg[s] + j) * 2 * c.D + h * hd + i];
                    sc[j] = d / sqrt((double)hd);
                    mx = fmax(mx, sc[j]);
                }
                for (int j = 0; j < c.k_len[s]; j++) sum += exp(sc[j] - mx);
                for (int i = 0; i < hd; i++) {
                    double y = 0;
                    for (int j = 0; j < c.k_len[s]; j++)
                        y += exp(sc[j] - mx) / sum * c.kv[(c.k_beg[s] + j) * 2 * c.D + c.D + h * hd + i];
                    if (fabs(y - c.out[t * c.D + h * hd + i]) > 1e-12)
                        fail_msg("xattn forward: row %d head %d: %g vs reference %g", t, h, c.out[t * c.D + h * hd + i], y);
                }
            }
    double *dq = calloc((size_t)c.Nq * c.D, sizeof(double)), *dkv = calloc((size_t)c.Nk * 2 * c.D, sizeof(double));
    crec__nn_xattn_backward_d(dq, dkv, c.G, c.q, c.kv, c.att, c.q_off, c.k_beg, c.k_len, c.att_off, c.S, c.D, c.H);
    double eq = fd_max(&c, c.q, dq, (size_t)c.Nq * c.D), ek = fd_max(&c, c.kv, dkv, (size_t)c.Nk * 2 * c.D);
    if (eq > 1e-6 || ek > 1e-6) fail_msg("xattn backward vs finite differences: dq %g, dkv %g (tolerance 1e-6)", eq, ek);
    /* float vs double */
    float *fq = malloc((size_t)c.Nq * c.D * 4), *fkv = malloc((size_t)c.Nk * 2 * c.D * 4), *fG = malloc((size_t)c.Nq * c.D * 4);
    float *fo = calloc((size_t)c.Nq * c.D, 4), *fa = calloc((size_t)tot, 4), *fdq = calloc((size_t)c.Nq * c.D, 4);
    float *fdkv = calloc((size_t)c.Nk * 2 * c.D, 4);
    for (int i = 0; i < c.Nq * c.D; i++) fq[i] = (float)c.q[i], fG[i] = (float)c.G[i];
    for (int i = 0; i < c.Nk * 2 * c.D; i++) fkv[i] = (float)c.kv[i];
    crec__nn_xattn_forward(fo, fa, fq, fkv, c.q_off, c.k_beg, c.k_len, c.att_off, c.S, c.D, c.H);
    crec__nn_xattn_backward(fdq, fdkv, fG, fq, fkv, fa, c.q_off, c.k_beg, c.k_len, c.att_off, c.S, c.D, c.H);
    xloss(&c);
    for (int i = 0; i < c.Nq * c.D; i++) {
        assert_true(fabs(fo[i] - c.out[i]) < 1e-5);
        assert_true(fabs(fdq[i] - dq[i]) < 1e-4);
    }
    for (int i = 0; i < c.Nk * 2 * c.D; i++) assert_true(fabs(fdkv[i] - dkv[i]) < 1e-4);
    /* single-query attention = the packed kernel's row (sequence 1, its last query) */
    double o1[4], p[8];
    crec__nn_attend_one_d(o1, p, c.q + 4 * c.D, c.kv + c.k_beg[1] * 2 * c.D, c.kv + c.k_beg[1] * 2 * c.D + c.D,
                          2 * c.D, c.k_len[1], c.D, c.H);
    for (int i = 0; i < c.D; i++) assert_true(fabs(o1[i] - c.out[4 * c.D + i]) < 1e-12);
    free(fq), free(fkv), free(fG), free(fo), free(fa), free(fdq), free(fdkv);
    free(c.q), free(c.kv), free(c.G), free(c.out), free(c.att), free(dq), free(dkv);
}

/* ---- 2. whole-model gradient ---- */

static void test_gradcheck(void **st) {
    (void)st;
    /* 9 items, codes 3 x 3 (a full grid) */
    int32_t codes[27];
    for (int i = 0; i < 9; i++) codes[i * 3] = i / 3, codes[i * 3 + 1] = i % 3, codes[i * 3 + 2] = (i * 7) % 2;
    crec_index ix = {.n_items = 9, .L = 3, .K = {3, 3, 2}, .codes = codes, .tok_off = {0, 3, 6, 8}};
    assert_int_equal(crec_index_check(&ix), 0);
    for (int variant = 0; variant < 8; variant++) {
        double worst = 0;
        int checked = 0;
        /* variant 3: with the per-item input embedding; 4 (causal) and 5 (bidirectional): P5-style multi-task with
         * user tokens (task and user prefix rows, direct-recommendation examples in the batch) */
        /* variant 6: TIGER's per-token encoder rows (enc_tokens) with the per-item embedding, causal; 7: per-token
         * rows, bidirectional, multi-task, dropout */
        int causal = (variant != 1 && variant != 5 && variant != 7) | (variant == 3 || variant == 6 ? 2 : 0) |
                     (variant == 4 || variant == 5 || variant == 7 ? 4 : 0) | (variant >= 6 ? 8 : 0);
        float drop = variant == 2 || variant == 7 ? 0.2f : 0;
        assert_int_equal(crec__genrec_gradcheck(&ix, causal, drop, 11 + variant, &worst, &checked), 0);
        if (worst > 0.02)
            fail_msg("genrec whole-model gradient (%s encoder%s%s%s): worst relative error %g over %d elements "
                     "(tolerance 0.02)",
                     causal & 1 ? "causal" : "bidirectional", drop > 0 ? ", dropout" : "",
                     causal & 4 ? ", multi-task" : "", causal & 8 ? ", per-token encoder rows" : "", worst, checked);
        assert_true(checked > 200);
    }
}

/* ---- helpers: data, training ---- */

static crec_dataset *small_synth(int users, int items) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = users, o.n_items = items, o.max_len = 20;
    crec_dataset *ds = NULL;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    return ds;
}

/* The leave-one-out split of ds into sp. */
static void loo_split(const crec_dataset *ds, crec_split *sp) {
    crec_split_spec spec;
    assert_int_equal(crec_split_spec_parse("loo", &spec), 0);
    assert_int_equal(crec_split_make(ds, &spec, sp), 0);
}

static crec_model *train_threads(const crec_dataset *ds, const crec_split *sp, const char *kv[], int nkv, int nt) {
    crec_config cfg = {0};
    for (int i = 0; i < nkv; i++) assert_int_equal(crec_config_set_kv(&cfg, kv[i]), 0);
    crec_model *m = NULL;
    char err[256] = "";
    int rc = crec_model_new("genrec", &cfg, &m, err, sizeof err);
    if (rc) fail_msg("genrec: %s", err);
    m->n_users = ds->users.n, m->n_items = ds->items.n;
    crec_train_input in = {.ds = ds, .train = &sp->train, .valid = &sp->valid, .n_threads = nt, .seed = 5, .verbose = getenv("GENREC_VERBOSE") != NULL};
    rc = crec_model_train(m, &in);
    if (rc) fail_msg("genrec training: %s", crec_strerror(rc));
    return m;
}

static crec_model *train_on(const crec_dataset *ds, const crec_split *sp, const char *kv[], int nkv) {
    return train_threads(ds, sp, kv, nkv, 1);
}

/* ---- 3. beam search vs brute force ---- */

static int cmp_desc(const void *a, const void *b) {
    float x = ((const float *)a)[0], y = ((const float *)b)[0];
    return x > y ? -1 : x < y;
}

static void test_beam_bruteforce(void **st) {
    (void)st;
    crec_dataset *ds = small_synth(200, 60);
    crec_split sp;
    loo_split(ds, &sp);
    /* random index, base 4: 60 items -> 3 levels (at most 16 prefixes at depth 2) */
    const char *kv[] = {"index_method=random", "dim=16", "heads=2", "enc_blocks=1", "dec_blocks=1", "epochs=2",
                        "batch=64", "beam=64", "max_len=8"};
    crec_index ix;
    crec_index_opts o;
    crec_index_opts_default(&o);
    o.method = "random", o.K = 4;
    char err[128];
    assert_int_equal(crec_index_build(ds, NULL, &o, &ix, err, sizeof err), 0);
    char path[] = "/tmp/crec_test_genrec_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    assert_int_equal(crec_index_save(&ix, path), 0);
    char ikv[96];
    snprintf(ikv, sizeof ikv, "index=%s", path);
    const char *kv2[10];
    memcpy(kv2, kv, sizeof kv);
    kv2[9] = ikv;
    crec_model *m = train_on(ds, &sp, kv2, 10);
    int32_t NI = ds->items.n;
    float *bf = malloc((size_t)NI * sizeof *bf), (*pairs)[2] = malloc((size_t)NI * sizeof *pairs);
    uint8_t *ex = calloc((size_t)NI, 1);
    for (int32_t u = 0; u < 12; u++) {
        const int32_t *h = sp.train.idx + sp.train.ptr[u];
        int n = (int)(sp.train.ptr[u + 1] - sp.train.ptr[u]);
        if (n == 0) continue;
        assert_int_equal(crec__genrec_bruteforce(m, u, h, n, bf), 0);
        for (int32_t i = 0; i < NI; i++) pairs[i][0] = bf[i], pairs[i][1] = (float)i;
        qsort(pairs, (size_t)NI, sizeof *pairs, cmp_desc);
        crec_context ctx = {.user = u, .hist = h, .n_hist = n};
        int32_t items[10];
        float sc[10];
        int got = crec_model_recommend(m, &ctx, NULL, 10, items, sc, NULL);
        assert_int_equal(got, 10);
        for (int r = 0; r < 10; r++) {
            if (fabsf(sc[r] - pairs[r][0]) > 1e-4f || fabsf(bf[items[r]] - sc[r]) > 1e-4f)
                fail_msg("user %d rank %d: beam item %d score %g, brute force item %d score %g (beam's item: %g)", u, r,
                         items[r], sc[r], (int)pairs[r][1], pairs[r][0], bf[items[r]]);
        }
        /* excluded items never appear, the list stays sorted */
        for (int r = 0; r < 5; r++) ex[items[r]] = 1;
        int32_t it2[10];
        float sc2[10];
        got = crec_model_recommend(m, &ctx, ex, 10, it2, sc2, NULL);
        assert_int_equal(got, 10);
        for (int r = 0; r < 10; r++) {
            assert_false(ex[it2[r]]);
            if (r) assert_true(sc2[r] <= sc2[r - 1]);
        }
        memset(ex, 0, (size_t)NI);
    }
    /* a narrow beam: every returned item's score is its exact score */
    crec_model_free(m);
    kv2[7] = "beam=2";
    m = train_on(ds, &sp, kv2, 10);
    for (int32_t u = 0; u < 12; u++) {
        const int32_t *h = sp.train.idx + sp.train.ptr[u];
        int n = (int)(sp.train.ptr[u + 1] - sp.train.ptr[u]);
        if (n == 0) continue;
        assert_int_equal(crec__genrec_bruteforce(m, u, h, n, bf), 0);
        crec_context ctx = {.user = u, .hist = h, .n_hist = n};
        int32_t items[10];
        float sc[10];
        int got = crec_model_recommend(m, &ctx, NULL, 10, items, sc, NULL);
        assert_true(got >= 1 && got <= 8); /* 2 beams x at most 4 children */
        for (int r = 0; r < got; r++) {
            assert_true(fabsf(bf[items[r]] - sc[r]) < 1e-4f);
            if (r) assert_true(sc[r] <= sc[r - 1]);
        }
    }
    /* checkpoint round trip: same lists */
    char mp[] = "/tmp/crec_test_genrec_m_XXXXXX";
    fd = mkstemp(mp);
    close(fd);
    assert_int_equal(crec_model_save(m, mp), 0);
    crec_model *m2 = NULL;
    assert_int_equal(crec_model_load(mp, &m2), 0);
    for (int32_t u = 0; u < 5; u++) {
        crec_context ctx = {.user = u, .hist = sp.train.idx + sp.train.ptr[u],
                            .n_hist = (int32_t)(sp.train.ptr[u + 1] - sp.train.ptr[u])};
        int32_t a[10], b[10];
        float sa[10], sb[10];
        int ga = crec_model_recommend(m, &ctx, NULL, 10, a, sa, NULL), gb = crec_model_recommend(m2, &ctx, NULL, 10, b, sb, NULL);
        assert_int_equal(ga, gb);
        assert_memory_equal(a, b, (size_t)ga * 4);
        assert_memory_equal(sa, sb, (size_t)ga * 4);
    }
    /* an empty history falls back to popularity, still a full list */
    crec_context empty = {.user = -1, .hist = NULL, .n_hist = 0};
    int32_t items[10];
    assert_int_equal(crec_model_recommend(m2, &empty, NULL, 10, items, NULL, NULL), 10);
    crec_model_free(m2);
    crec_model_free(m);
    unlink(mp);
    /* an index for another dataset is refused */
    crec_dataset *other = small_synth(200, 61);
    crec_split sp2;
    loo_split(other, &sp2);
    crec_config cfg = {0};
    crec_config_set_kv(&cfg, ikv);
    crec_config_set_kv(&cfg, "epochs=1");
    assert_int_equal(crec_model_new("genrec", &cfg, &m, err, sizeof err), 0);
    m->n_users = other->users.n, m->n_items = other->items.n;
    crec_train_input in = {.ds = other, .train = &sp2.train, .n_threads = 1, .seed = 5};
    assert_int_equal(crec_model_train(m, &in), CREC_EINVAL);
    crec_model_free(m);
    crec_split_free(&sp2);
    crec_dataset_free(other);
    unlink(path);
    free(bf), free(pairs), free(ex);
    crec_index_free(&ix);
    crec_split_free(&sp);
    crec_dataset_free(ds);
}

/* ---- 3b. P5-style multi-task: task and user prefix rows, direct-recommendation examples ---- */

static void test_multitask(void **st) {
    (void)st;
    crec_dataset *ds = small_synth(150, 40);
    crec_split sp;
    loo_split(ds, &sp);
    /* the direct task needs user tokens: refused by name without them */
    crec_config cfg = {0};
    crec_config_set_kv(&cfg, "tasks=seq+direct");
    crec_model *m = NULL;
    char err[256] = "";
    assert_int_equal(crec_model_new("genrec", &cfg, &m, err, sizeof err), CREC_EINVAL);
    assert_non_null(strstr(err, "user_tokens"));
    const char *kv[] = {"index_method=random", "dim=16", "heads=2", "enc_blocks=1", "dec_blocks=1", "epochs=2",
                        "batch=32", "beam=64", "max_len=6", "tasks=seq+direct", "user_tokens=50", "direct_cands=5"};
    m = train_on(ds, &sp, kv, 12);
    int32_t NI = ds->items.n;
    float *bf = malloc((size_t)NI * sizeof *bf), *bf2 = malloc((size_t)NI * sizeof *bf2);
    int differ = 0;
    for (int32_t u = 0; u < 8; u++) {
        const int32_t *h = sp.train.idx + sp.train.ptr[u];
        int n = (int)(sp.train.ptr[u + 1] - sp.train.ptr[u]);
        if (n == 0) continue;
        assert_int_equal(crec__genrec_bruteforce(m, u, h, n, bf), 0);
        assert_top10_is_bruteforce(m, u, h, n, bf, NI);
        /* the user's token is read: another user's token (same history) changes the scores */
        assert_int_equal(crec__genrec_bruteforce(m, u + 1, h, n, bf2), 0);
        for (int32_t i = 0; i < NI && !differ; i++) differ = fabsf(bf[i] - bf2[i]) > 1e-6f;
    }
    assert_true(differ);
    assert_roundtrip_same_top10(m, &sp.train, 3);
    crec_model_free(m);
    free(bf), free(bf2);
    crec_split_free(&sp);
    crec_dataset_free(ds);
}

/* ---- 3c. TIGER's per-token encoder rows ---- */

static void test_enc_tokens(void **st) {
    (void)st;
    crec_dataset *ds = small_synth(150, 40);
    crec_split sp;
    loo_split(ds, &sp);
    const char *kv[] = {"index_method=random", "dim=16", "heads=2", "enc_blocks=1", "dec_blocks=1", "epochs=2",
                        "batch=32", "beam=64", "max_len=6", "enc_tokens=1", "item_emb=1"};
    crec_model *m = train_on(ds, &sp, kv, 11);
    assert_users_top10_bruteforce(m, &sp.train, 8, ds->items.n);
    assert_roundtrip_same_top10(m, &sp.train, 2);
    crec_model_free(m);
    crec_split_free(&sp);
    crec_dataset_free(ds);
}

/* ---- 4. a planted rule: next item = successor of the last one ---- */

static void planted(int enc_tokens) {
    const int I = 40;
    crec_dataset *ds = crec_dataset_new();
    char u[32], it[32];
    crec__rng_seed(&rng, 17);
    /* every user's history is longer than the window, so every window position is trained */
    for (int user = 0; user < 400; user++) {
        int start = (int)crec__rng_below(&rng, (uint64_t)I), len = 10 + (int)crec__rng_below(&rng, 4);
        snprintf(u, sizeof u, "u%d", user);
        for (int k = 0; k < len; k++) {
            snprintf(it, sizeof it, "i%d", (start + k) % I);
            assert_int_equal(crec_dataset_add(ds, u, strlen(u), it, strlen(it), k, 1, 0), 0);
        }
    }
    crec_split sp;
    loo_split(ds, &sp);
    const char *kv[] = {"index_method=random", "dim=32", "heads=2", "enc_blocks=1", "dec_blocks=1", "epochs=8",
                        "batch=64", "dropout=0", "lr=0.005", "max_len=6", "patience=0",
                        enc_tokens ? "enc_tokens=1" : "enc_tokens=0"};
    crec_model *m = train_on(ds, &sp, kv, 12);
    int hits = 0, n = 0;
    for (int32_t user = 0; user < sp.test.n_rows; user++) {
        if (sp.test.ptr[user + 1] == sp.test.ptr[user]) continue;
        /* history = training + validation */
        int32_t h[24];
        int nh = 0;
        for (int64_t p = sp.train.ptr[user]; p < sp.train.ptr[user + 1]; p++) h[nh++] = sp.train.idx[p];
        for (int64_t p = sp.valid.ptr[user]; p < sp.valid.ptr[user + 1]; p++) h[nh++] = sp.valid.idx[p];
        crec_context ctx = {.user = user, .hist = h, .n_hist = nh};
        int32_t top[1];
        assert_int_equal(crec_model_recommend(m, &ctx, NULL, 1, top, NULL, NULL), 1);
        hits += top[0] == sp.test.idx[sp.test.ptr[user]];
        n++;
    }
    double hr = (double)hits / n;
    if (hr < 0.9) fail_msg("planted successor rule (enc_tokens=%d): HR@1 %.3f over %d users (want > 0.9)", enc_tokens, hr, n);
    crec_model_free(m);
    crec_split_free(&sp);
    crec_dataset_free(ds);
}

/* ---- 7. threads: training at 2 and 3 threads gives the model trained at 1, bit for bit, and leaves OpenMP's
 * thread count as it found it (genrec once ran every kernel on one thread: BLAS's one-thread switch had reset
 * OpenMP's count, docs/RESULTS.md) ---- */

static void test_threads(void **st) {
    (void)st;
    crec_dataset *ds = small_synth(300, 80);
    crec_split sp;
    loo_split(ds, &sp);
    const char *kv[] = {"index_method=random", "dim=16", "heads=2", "enc_blocks=1", "dec_blocks=1", "epochs=2",
                        "batch=64", "max_len=8", "mem_in=1", "patience=0"};
    int before = omp_get_max_threads();
    crec_model *m[3];
    for (int k = 0; k < 3; k++) {
        m[k] = train_threads(ds, &sp, kv, 10, k + 1);
        assert_int_equal(omp_get_max_threads(), before);
    }
    int I = ds->items.n;
    float *s0 = malloc((size_t)I * sizeof *s0), *s1 = malloc((size_t)I * sizeof *s1);
    assert_non_null(s0);
    assert_non_null(s1);
    for (int32_t user = 0; user < 40; user++) {
        int64_t a = sp.train.ptr[user], b = sp.train.ptr[user + 1];
        crec_context ctx = {.user = user, .hist = sp.train.idx + a, .n_hist = (int)(b - a)};
        assert_int_equal(crec_model_score(m[0], &ctx, s0), 0);
        for (int k = 1; k < 3; k++) {
            assert_int_equal(crec_model_score(m[k], &ctx, s1), 0);
            if (memcmp(s0, s1, (size_t)I * sizeof *s0))
                fail_msg("user %d: scores after training at %d threads differ from 1 thread", user, k + 1);
        }
    }
    free(s0), free(s1);
    for (int k = 0; k < 3; k++) crec_model_free(m[k]);
    crec_split_free(&sp);
    crec_dataset_free(ds);
}

static void test_planted(void **st) {
    (void)st;
    planted(0);
    planted(1);
}

int main(void) {
    crec__rng_seed(&rng, 1);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xattn),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_beam_bruteforce),
        cmocka_unit_test(test_multitask),
        cmocka_unit_test(test_enc_tokens),
        cmocka_unit_test(test_planted),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
