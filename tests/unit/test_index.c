/* test_index.c: item indexing (include/crec/index.h).
 *
 * Checked: the trie (children sorted and complete, child / prefix lookup against a scan of the codes, counts); the
 * file round trip and its refusals (bad magic, a flipped byte, a duplicate code, a token out of range); every method
 * on the synthetic data: codes unique and within K, sequential = order of first appearance in the training rows,
 * random = a permutation, collaborative leaves <= M and a planted two-community graph split along its communities,
 * semantic = the most general attribute first, hybrid's last token = the item id, rq with external vectors that
 * form clear clusters (items of one cluster share their first token), content vectors (TF-IDF SVD) finite and
 * non-zero for items with attributes; the vector file reader's errors (file:line). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crec/crec.h"
#include "core/util.h"
#include "crec/index.h"
#include <unistd.h>

static crec_dataset *synth(int users, int items) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = users, o.n_items = items;
    crec_dataset *ds = NULL;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    return ds;
}

static void check_unique(const crec_index *ix) {
    assert_int_equal(crec_index_check(ix), 0);
    for (int32_t i = 0; i < ix->n_items; i++)
        for (int l = 0; l < ix->L; l++) {
            assert_true(ix->codes[(size_t)i * ix->L + l] >= 0);
            assert_true(ix->codes[(size_t)i * ix->L + l] < ix->K[l]);
        }
}

static void build(const crec_dataset *ds, const crec_csr *train, crec_index_opts *o, crec_index *ix) {
    char err[256] = "";
    int rc = crec_index_build(ds, train, o, ix, err, sizeof err);
    if (rc) fail_msg("build %s: %s", o->method, err);
    check_unique(ix);
}

/* ---- trie ---- */

static void test_trie(void **st) {
    (void)st;
    /* 7 items, 3 levels, hand-made codes */
    int32_t codes[] = {0, 1, 0, 0, 1, 1, 0, 0, 0, 2, 1, 0, 2, 0, 0, 1, 2, 3, 0, 2, 1};
    crec_index ix = {.n_items = 7, .L = 3, .K = {3, 3, 4}, .codes = codes};
    ix.tok_off[1] = 3, ix.tok_off[2] = 6, ix.tok_off[3] = 10;
    assert_int_equal(crec_index_check(&ix), 0);
    crec_trie t;
    assert_int_equal(crec_trie_build(&ix, &t), 0);
    assert_int_equal(t.count[0], 7);
    /* every item's full code leads to it; every prefix's count equals a scan */
    for (int32_t i = 0; i < 7; i++) {
        int32_t v = crec_trie_find(&t, codes + i * 3, 3);
        assert_true(v > 0);
        assert_int_equal(t.item[v], i);
        for (int len = 0; len <= 3; len++) {
            int32_t p = crec_trie_find(&t, codes + i * 3, len);
            int32_t cnt = 0;
            for (int32_t j = 0; j < 7; j++) cnt += memcmp(codes + j * 3, codes + i * 3, (size_t)len * 4) == 0;
            assert_int_equal(t.count[p], cnt);
            assert_int_equal(t.depth[p], len);
        }
    }
    /* children sorted, strictly increasing */
    for (int32_t v = 0; v < t.n_nodes; v++)
        for (int32_t c = 1; c < t.nchild[v]; c++) assert_true(t.tok[t.first[v] + c] > t.tok[t.first[v] + c - 1]);
    int32_t nope[] = {1, 0};
    assert_int_equal(crec_trie_find(&t, nope, 2), -1);
    int32_t p12[] = {1, 2}, p13[] = {1, 3};
    assert_int_equal(t.count[crec_trie_find(&t, p12, 2)], 1);
    assert_int_equal(crec_trie_find(&t, p13, 2), -1);
    int32_t p2[] = {2};
    assert_int_equal(t.count[crec_trie_find(&t, p2, 1)], 2);
    assert_int_equal(crec_trie_child(&t, 0, 5), -1);
    crec_trie_free(&t);
    /* a duplicate code is refused */
    codes[3 * 6 + 0] = 0, codes[3 * 6 + 1] = 1, codes[3 * 6 + 2] = 0;
    assert_int_equal(crec_index_check(&ix), CREC_EFORMAT);
}

/* ---- file ---- */

static void test_file(void **st) {
    (void)st;
    crec_dataset *ds = synth(300, 200);
    crec_index_opts o;
    crec_index_opts_default(&o);
    o.method = "random";
    o.K = 8;
    crec_index ix;
    build(ds, NULL, &o, &ix);
    assert_int_equal(ix.L, 3); /* 200 items in base 8 */
    char path[] = "/tmp/crec_test_index_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(crec_index_save(&ix, path), 0);
    crec_index back;
    assert_int_equal(crec_index_load(path, &back), 0);
    assert_int_equal(back.n_items, ix.n_items);
    assert_int_equal(back.L, ix.L);
    assert_int_equal(back.items_hash, crec_index_items_hash(ds));
    assert_string_equal(back.method, "random");
    assert_memory_equal(back.codes, ix.codes, (size_t)ix.n_items * ix.L * 4);
    for (int l = 0; l <= ix.L; l++) assert_int_equal(back.tok_off[l], ix.tok_off[l]);
    crec_index_free(&back);
    /* a flipped payload byte: checksum */
    FILE *f = fopen(path, "r+b");
    fseek(f, 60, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, 60, SEEK_SET);
    fputc(ch ^ 0x5a, f);
    fclose(f);
    assert_int_equal(crec_index_load(path, &back), CREC_ECHECKSUM);
    /* not an index */
    f = fopen(path, "wb");
    fputs("hello, this is not an index file at all......", f);
    fclose(f);
    assert_true(crec_index_load(path, &back) < 0);
    assert_int_equal(crec_index_load("/nonexistent/x.crecidx", &back) < 0, 1);
    /* payload form: a code out of range is refused by read */
    crec_buf b = {0};
    ix.codes[0] = ix.K[0]; /* out of range */
    assert_int_equal(crec_index_write(&ix, &b), 0);
    b.pos = 0;
    assert_int_equal(crec_index_read(&b, &back), CREC_EFORMAT);
    crec_buf_free(&b);
    unlink(path);
    crec_index_free(&ix);
    crec_dataset_free(ds);
}

/* ---- methods ---- */

static void test_methods(void **st) {
    (void)st;
    crec_dataset *ds = synth(600, 300);
    crec_split sp;
    crec_split_spec spec;
    assert_int_equal(crec_split_spec_parse("loo", &spec), 0);
    assert_int_equal(crec_split_make(ds, &spec, &sp), 0);
    crec_index_opts o;
    crec_index ix;
    /* random: a permutation written in base K */
    crec_index_opts_default(&o);
    o.method = "random", o.K = 10;
    build(ds, NULL, &o, &ix);
    assert_int_equal(ix.L, 3);
    uint8_t *seen = calloc(1000, 1);
    for (int32_t i = 0; i < ix.n_items; i++) {
        int v = ix.codes[i * 3] * 100 + ix.codes[i * 3 + 1] * 10 + ix.codes[i * 3 + 2];
        assert_true(v < ix.n_items);
        assert_false(seen[v]);
        seen[v] = 1;
    }
    free(seen);
    crec_index_free(&ix);
    /* sequential: first appearance in the training rows */
    o.method = "sequential";
    build(ds, &sp.train, &o, &ix);
    int32_t *num = malloc((size_t)ds->items.n * sizeof *num), next = 0;
    for (int32_t i = 0; i < ds->items.n; i++) num[i] = -1;
    for (int32_t u = 0; u < sp.train.n_rows; u++)
        for (int64_t p = sp.train.ptr[u]; p < sp.train.ptr[u + 1]; p++)
            if (num[sp.train.idx[p]] < 0) num[sp.train.idx[p]] = next++;
    for (int32_t i = 0; i < ds->items.n; i++)
        if (num[i] >= 0) {
            int v = ix.codes[i * 3] * 100 + ix.codes[i * 3 + 1] * 10 + ix.codes[i * 3 + 2];
            assert_int_equal(v, num[i]);
        }
    free(num);
    crec_index_free(&ix);
    /* iid: one level, the item's own token (--K ignored) */
    o.method = "iid";
    build(ds, NULL, &o, &ix);
    assert_int_equal(ix.L, 1);
    assert_int_equal(ix.K[0], ix.n_items);
    for (int32_t i = 0; i < ix.n_items; i++) assert_int_equal(ix.codes[i], i);
    assert_string_equal(ix.method, "iid");
    crec_index_free(&ix);
    /* collaborative: leaves <= M */
    crec_index_opts_default(&o);
    o.method = "collaborative", o.N = 4, o.M = 30;
    build(ds, &sp.train, &o, &ix);
    assert_true(ix.L >= 2);
    assert_true(ix.K[ix.L - 1] <= 30);
    crec_index_free(&ix);
    /* hybrid: the last token is the item */
    o.method = "hybrid";
    build(ds, &sp.train, &o, &ix);
    for (int32_t i = 0; i < ix.n_items; i++) assert_int_equal(ix.codes[(size_t)i * ix.L + ix.L - 1], i);
    assert_int_equal(ix.K[ix.L - 1], ix.n_items);
    crec_index_free(&ix);
    /* semantic: needs attributes; the synthetic items have them */
    crec_index_opts_default(&o);
    o.method = "semantic", o.depth = 2;
    build(ds, NULL, &o, &ix);
    assert_int_equal(ix.L, 3);
    crec_index_free(&ix);
    /* content vectors: finite; rq over them */
    float *v = NULL;
    assert_int_equal(crec_index_content_vectors(ds, 8, 1, &v), 0);
    double nz = 0;
    for (size_t i = 0; i < (size_t)ds->items.n * 8; i++) {
        assert_true(isfinite(v[i]));
        nz += fabs(v[i]);
    }
    assert_true(nz > 0);
    crec_index_opts_default(&o);
    o.method = "rq", o.K = 8, o.levels = 2, o.vec = v, o.dim = 8, o.vec_name = "content";
    build(ds, NULL, &o, &ix);
    assert_int_equal(ix.L, 3);
    assert_int_equal(ix.K[0], 8);
    crec_index_free(&ix);
    free(v);
    /* bad options name themselves */
    char err[256] = "";
    crec_index_opts_default(&o);
    o.method = "nosuch";
    assert_int_equal(crec_index_build(ds, NULL, &o, &ix, err, sizeof err), CREC_EINVAL);
    assert_non_null(strstr(err, "--method"));
    o.method = "rq";
    assert_int_equal(crec_index_build(ds, NULL, &o, &ix, err, sizeof err), CREC_EINVAL);
    assert_non_null(strstr(err, "vectors"));
    crec_split_free(&sp);
    crec_dataset_free(ds);
}

/* Two planted communities: users of community c only ever see items of c. The top split must separate them. */
static void test_collaborative_planted(void **st) {
    (void)st;
    crec_dataset *ds = crec_dataset_new();
    crec_rng r;
    crec__rng_seed(&r, 3);
    char u[32], it[32];
    for (int user = 0; user < 200; user++) {
        int c = user % 2;
        for (int k = 0; k < 6; k++) {
            int item = c * 40 + (int)crec__rng_below(&r, 40);
            snprintf(u, sizeof u, "u%d", user);
            snprintf(it, sizeof it, "i%d", item);
            assert_int_equal(crec_dataset_add(ds, u, strlen(u), it, strlen(it), k, 1, 0), 0);
        }
    }
    crec_split sp;
    crec_split_spec spec;
    assert_int_equal(crec_split_spec_parse("loo", &spec), 0);
    assert_int_equal(crec_split_make(ds, &spec, &sp), 0);
    crec_index_opts o;
    crec_index_opts_default(&o);
    o.method = "collaborative", o.N = 2, o.M = 50;
    crec_index ix;
    build(ds, &sp.train, &o, &ix);
    /* items of one community share the first token, the two communities differ */
    int32_t tok[2] = {-1, -1};
    for (int32_t i = 0; i < ds->items.n; i++) {
        int item = atoi(ds->items.names[i] + 1), c = item / 40;
        int32_t t0 = ix.codes[(size_t)i * ix.L];
        if (tok[c] < 0) tok[c] = t0;
        assert_int_equal(t0, tok[c]);
    }
    assert_int_not_equal(tok[0], tok[1]);
    crec_index_free(&ix);
    crec_split_free(&sp);
    crec_dataset_free(ds);
}

/* External vectors in 3 clear clusters: rq's first level follows them; the reader's errors name file:line. */
static void test_vectors(void **st) {
    (void)st;
    crec_dataset *ds = synth(300, 60);
    char path[] = "/tmp/crec_test_vec_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fprintf(f, "# id v1 v2 v3\n");
    crec_rng r;
    crec__rng_seed(&r, 9);
    for (int32_t i = 0; i < ds->items.n; i++) {
        int c = i % 3;
        fprintf(f, "%s\t%g %g %g\n", ds->items.names[i], (c == 0) * 10 + 0.1 * crec__rng_normal(&r),
                (c == 1) * 10 + 0.1 * crec__rng_normal(&r), (c == 2) * 10 + 0.1 * crec__rng_normal(&r));
    }
    fclose(f);
    float *v = NULL;
    int d = 0;
    char err[256] = "";
    assert_int_equal(crec_index_read_vectors(ds, path, &v, &d, err, sizeof err), 0);
    assert_int_equal(d, 3);
    crec_index_opts o;
    crec_index_opts_default(&o);
    o.method = "rq", o.K = 3, o.levels = 2, o.vec = v, o.dim = 3;
    crec_index ix;
    build(ds, NULL, &o, &ix);
    for (int32_t i = 3; i < ds->items.n; i++) assert_int_equal(ix.codes[(size_t)i * ix.L], ix.codes[(size_t)(i % 3) * ix.L]);
    crec_index_free(&ix);
    /* fused: rows of unit norm */
    float *fz = NULL;
    assert_int_equal(crec_index_fuse_vectors(v, 3, v, 3, ds->items.n, &fz), 0);
    double s = 0;
    for (int j = 0; j < 6; j++) s += (double)fz[j] * fz[j];
    assert_true(fabs(s - 1) < 1e-5);
    free(fz);
    free(v);
    /* a bad value, then a short row */
    f = fopen(path, "w");
    fprintf(f, "%s 1 2 3\n%s 1 x 3\n", ds->items.names[0], ds->items.names[1]);
    fclose(f);
    assert_int_equal(crec_index_read_vectors(ds, path, &v, &d, err, sizeof err), CREC_EPARSE);
    assert_non_null(strstr(err, ":2:"));
    f = fopen(path, "w");
    fprintf(f, "%s 1 2 3\n%s 1 2\n", ds->items.names[0], ds->items.names[1]);
    fclose(f);
    assert_int_equal(crec_index_read_vectors(ds, path, &v, &d, err, sizeof err), CREC_EPARSE);
    assert_non_null(strstr(err, ":2:"));
    /* missing items */
    f = fopen(path, "w");
    fprintf(f, "%s 1 2 3\n", ds->items.names[0]);
    fclose(f);
    assert_int_equal(crec_index_read_vectors(ds, path, &v, &d, err, sizeof err), CREC_EPARSE);
    assert_non_null(strstr(err, "no row"));
    unlink(path);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trie),
        cmocka_unit_test(test_file),
        cmocka_unit_test(test_methods),
        cmocka_unit_test(test_collaborative_planted),
        cmocka_unit_test(test_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
