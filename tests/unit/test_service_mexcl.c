/* test_service_mexcl.c: the catalog's model-space mask (crec_service_catalog.model_excl, which the server keeps
 * per view so that a request copies it instead of gathering the catalog mask through from_model) gives exactly
 * the answers of the gather: random catalogs in their own ids (a permutation of the model's items, catalog ids
 * the model does not know, model items whose row is gone, two catalog ids naming one model item, hidden items),
 * random histories (seen excluded or kept), exclusions, attribute filters (which take the gather path), a
 * backup model completing short lists and the popular fallback; items, scores, source and counts must match. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "crec/crec.h"

static uint64_t next(uint64_t *x) { /* splitmix64 */
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int pop_source(void *ctx, float *scores, int32_t n) {
    memcpy(scores, ctx, (size_t)n * sizeof *scores);
    return 0;
}

static int attrs_source(void *ctx, const char *attr, crec_service_item_fn each, void *arg) {
    int32_t n = *(const int32_t *)ctx, mod = attr[0] - '0';
    for (int32_t c = 0; c < n; c++)
        if (c % mod == 0) each(arg, c);
    return 0;
}

static crec_model *train(const crec_csr *x, const char *name, const char *kv) {
    crec_config cfg = {0};
    if (kv) assert_int_equal(crec_config_set_kv(&cfg, kv), 0);
    crec_model *m;
    char err[256];
    assert_int_equal(crec_model_new(name, &cfg, &m, err, sizeof err), 0);
    crec_train_input in = {.train = x, .n_threads = 1, .seed = 1};
    assert_int_equal(crec_model_train(m, &in), 0);
    return m;
}

static void test_model_excl_matches_gather(void **st) {
    (void)st;
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = 200;
    o.n_items = 60;
    o.seed = 3;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(ds, &x), 0);
    crec_model *knn = train(&x, "itemknn", "k=4"), *mk = train(&x, "markov", NULL);
    const crec_model *chain[2] = {knn, mk};
    int32_t nm = knn->n_items, n = nm + 25;
    int32_t *to = malloc((size_t)n * sizeof *to), *from = malloc((size_t)nm * sizeof *from);
    uint8_t *allowed = malloc((size_t)n), *mex = malloc((size_t)nm);
    float *pop = malloc((size_t)n * sizeof *pop);
    crec_service_request rq;
    crec_service_request_init(&rq);
    crec_service_scratch s1, s2;
    crec_service_scratch_init(&s1);
    crec_service_scratch_init(&s2);
    uint64_t rng = 11;
    int compared = 0, with_fallback = 0, with_backup = 0;
    for (int layout = 0; layout < 20; layout++) {
        /* catalog c < nm: a permutation of the model's items; c >= nm: new; some model rows gone; one alias */
        for (int32_t c = 0; c < n; c++) to[c] = c < nm ? c : -1;
        for (int32_t c = nm - 1; c > 0; c--) {
            int32_t j = (int32_t)(next(&rng) % (uint64_t)(c + 1)), t = to[c];
            to[c] = to[j];
            to[j] = t;
        }
        for (int32_t i = 0; i < nm; i++) from[i] = -1;
        for (int32_t c = 0; c < nm; c++) from[to[c]] = c;
        for (int g = 0; g < 3; g++) { /* gone: the model item's row was deleted */
            int32_t c = (int32_t)(next(&rng) % (uint64_t)nm);
            if (to[c] >= 0) from[to[c]] = -1, to[c] = -1;
        }
        int32_t alias = nm + (int32_t)(next(&rng) % 25); /* a second catalog id naming a live model item */
        for (int32_t c = 0; c < nm; c++)
            if (to[c] >= 0) {
                to[alias] = to[c];
                break;
            }
        for (int32_t c = 0; c < n; c++) {
            allowed[c] = next(&rng) % 6 != 0;
            pop[c] = (float)(next(&rng) % 40);
        }
        for (int32_t i = 0; i < nm; i++) mex[i] = from[i] < 0 || !allowed[from[i]];
        crec_service_catalog gather = {.n_items = n, .to_model = to, .from_model = from, .allowed = allowed,
                                       .attrs = attrs_source, .attrs_ctx = &n, .popularity = pop_source,
                                       .pop_ctx = pop};
        crec_service_catalog copied = gather;
        copied.model_excl = mex;
        for (int trial = 0; trial < 60; trial++) {
            crec_service_request_reset(&rq);
            int nh = (int)(next(&rng) % 8);
            for (int h = 0; h < nh; h++) {
                int32_t c = trial % 7 == 0 && h == 0 ? alias : (int32_t)(next(&rng) % (uint64_t)n);
                assert_int_equal(crec_service_request_add_event(&rq, c, 10 * h, 0), 0);
            }
            for (int e = 0, ne = (int)(next(&rng) % 4); e < ne; e++)
                assert_int_equal(crec_service_request_exclude(&rq, (int32_t)(next(&rng) % (uint64_t)n)), 0);
            rq.keep_seen = trial % 5 == 0;
            rq.k = 1 + (int)(next(&rng) % 30);
            rq.user = trial % 3 == 0 ? (int32_t)(next(&rng) % (uint64_t)knn->n_users) : -1;
            if (trial % 11 == 0) assert_int_equal(crec_service_request_filter(&rq, "2", 1), 0);
            if (trial % 13 == 0) assert_int_equal(crec_service_request_filter(&rq, "3", 0), 0);
            int nmod = 1 + trial % 2;
            crec_service_result a, b;
            assert_int_equal(crec_service_recommend_chain(chain, nmod, &gather, &rq, &s1, &a), 0);
            assert_int_equal(crec_service_recommend_chain(chain, nmod, &copied, &rq, &s2, &b), 0);
            assert_int_equal(a.n, b.n);
            assert_int_equal(a.source, b.source);
            assert_int_equal(a.n_fallback, b.n_fallback);
            assert_int_equal(a.n_backup, b.n_backup);
            assert_int_equal(a.n_hist_model, b.n_hist_model);
            for (int32_t r = 0; r < a.n; r++) {
                assert_int_equal(a.items[r], b.items[r]);
                assert_memory_equal(&a.scores[r], &b.scores[r], sizeof(float));
            }
            compared++;
            with_fallback += a.n_fallback > 0;
            with_backup += a.n_backup > 0;
        }
    }
    assert_int_equal(compared, 20 * 60);
    assert_true(with_fallback > 20 && with_backup > 20); /* both the backup and the fallback paths ran */
    crec_service_request_free(&rq);
    crec_service_scratch_free(&s1);
    crec_service_scratch_free(&s2);
    free(to);
    free(from);
    free(allowed);
    free(mex);
    free(pop);
    crec_model_free(knn);
    crec_model_free(mk);
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_model_excl_matches_gather)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
