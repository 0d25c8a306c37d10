/* test_models.c: the model interface and the first models: hand-computed scores for pop, itemknn and
 * markov, checkpoint round trips with identical scores, corrupt checkpoints, bad hyper-parameters, and the
 * quality order random < pop < itemknn < markov on the synthetic default (where it must hold). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "crec/crec.h"
#include "testutil.h"

/* users: 0: A B C, 1: A B, 2: B C, 3: D  (items A=0 B=1 C=2 D=3) */
static crec_dataset *tiny(void) {
    crec_dataset *ds = crec_dataset_new();
    const char *ev[][2] = {{"0", "A"}, {"0", "B"}, {"0", "C"}, {"1", "A"}, {"1", "B"}, {"2", "B"}, {"2", "C"}, {"3", "D"}};
    for (int k = 0; k < 8; k++) crec_dataset_add(ds, ev[k][0], 1, ev[k][1], 1, k, 1, 0);
    return ds;
}

static crec_model *train(const char *name, const crec_csr *x, const char *kv) {
    crec_config cfg = {0};
    if (kv) assert_int_equal(crec_config_set_kv(&cfg, kv), 0);
    crec_model *m;
    char err[256];
    assert_int_equal(crec_model_new(name, &cfg, &m, err, sizeof err), 0);
    crec_train_input in = {.train = x, .n_threads = 2, .seed = 1};
    assert_int_equal(crec_model_train(m, &in), 0);
    return m;
}

static void test_pop_and_knn_by_hand(void **st) {
    crec_dataset *ds = tiny();
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(ds, &x), 0);
    float s[4];
    int32_t h[] = {0};
    crec_context ctx = {.user = 1, .hist = h, .n_hist = 1};

    crec_model *pop = train("pop", &x, NULL);
    assert_int_equal(crec_model_score(pop, &ctx, s), 0);
    assert_true(s[0] == 2 && s[1] == 3 && s[2] == 2 && s[3] == 1);

    /* cosine: |U_A| = 2, |U_B| = 3, |U_C| = 2; A∩B = {0,1} -> 2/sqrt(6); A∩C = {0} -> 1/2; A∩D = 0 */
    crec_model *knn = train("itemknn", &x, NULL);
    assert_int_equal(crec_model_score(knn, &ctx, s), 0);
    assert_true(fabsf(s[1] - 2.0f / sqrtf(6.0f)) < 1e-6f);
    assert_true(fabsf(s[2] - 0.5f) < 1e-6f);
    assert_true(s[0] == 0 && s[3] == 0); /* no self-similarity, nothing shared with D */
    /* shrink enters the denominator: A~C = 1 / (2 + 1) */
    crec_model *knn_s = train("itemknn", &x, "shrink=1");
    assert_int_equal(crec_model_score(knn_s, &ctx, s), 0);
    assert_true(fabsf(s[2] - 1.0f / 3.0f) < 1e-6f);
    /* k=1 keeps only the best neighbour (B) */
    crec_model *knn1 = train("itemknn", &x, "k=1");
    assert_int_equal(crec_model_score(knn1, &ctx, s), 0);
    assert_true(s[1] > 0 && s[2] == 0);

    /* markov: transitions A->B (users 0, 1), B->C (users 0, 2): P(B|A) = 1, P(C|B) = 1 */
    crec_model *mk = train("markov", &x, "backoff=0");
    int32_t h2[] = {0, 1}; /* ... A, B: last B votes 1 for C, A (decay 0.5) votes 0.5 for B */
    crec_context c2 = {.user = -1, .hist = h2, .n_hist = 2};
    assert_int_equal(crec_model_score(mk, &c2, s), 0);
    assert_true(fabsf(s[2] - 1.0f) < 1e-6f && fabsf(s[1] - 0.5f) < 1e-6f && s[0] == 0 && s[3] == 0);

    /* out-of-range history item is rejected, not read */
    int32_t bad[] = {7};
    crec_context cb = {.user = 0, .hist = bad, .n_hist = 1};
    assert_int_equal(crec_model_score(knn, &cb, s), CREC_ERANGE);

    crec_model_free(pop);
    crec_model_free(knn);
    crec_model_free(knn_s);
    crec_model_free(knn1);
    crec_model_free(mk);
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

static void test_bad_config(void **st) {
    crec_config cfg = {0};
    crec_model *m;
    char err[256] = "";
    assert_int_equal(crec_config_set_kv(&cfg, "neighbours=5"), 0);
    assert_int_equal(crec_model_new("itemknn", &cfg, &m, err, sizeof err), CREC_EINVAL);
    assert_non_null(strstr(err, "no parameter 'neighbours'"));
    assert_non_null(strstr(err, "k, shrink"));
    assert_int_equal(crec_model_new("nosuchmodel", NULL, &m, err, sizeof err), CREC_ENOTFOUND);
    assert_int_equal(crec_config_set_kv(&cfg, "=5"), CREC_EINVAL);
    assert_int_equal(crec_config_set_kv(&cfg, "novalue"), CREC_EINVAL);
    /* k=0 is refused when the model is created, naming model, key, value and the accepted range */
    crec_config c2 = {0};
    crec_config_set_kv(&c2, "k=0");
    assert_int_equal(crec_model_new("itemknn", &c2, &m, err, sizeof err), CREC_EINVAL);
    assert_null(m);
    assert_string_equal(err, "model 'itemknn': parameter 'k' = '0' is not valid: expected an integer in [1, 1000000]");
    /* strict parsing: trailing garbage, words for numbers; bools canonicalised */
    const crec_param_def pi = CREC_P_INT("n", "1", 1, 10, "n"), pf = CREC_P_FLOAT_OR("x", "auto", 0, 1, "auto", "x"),
                         pb = CREC_P_BOOL("b", "1", "b"), pe = CREC_P_ENUM("e", "a", "a|bb|c", "e");
    char canon[16];
    assert_int_equal(crec_param_check(&pi, NULL, "10", canon, sizeof canon, err, sizeof err), 0);
    assert_int_equal(crec_param_check(&pi, NULL, "11", NULL, 0, err, sizeof err), CREC_EINVAL);
    assert_int_equal(crec_param_check(&pi, NULL, "5 ", NULL, 0, err, sizeof err), CREC_EINVAL);
    assert_int_equal(crec_param_check(&pi, NULL, "0x5", NULL, 0, err, sizeof err), CREC_EINVAL);
    assert_int_equal(crec_param_check(&pi, NULL, "99999999999999999999", NULL, 0, err, sizeof err), CREC_EINVAL);
    assert_int_equal(crec_param_check(&pf, NULL, "auto", NULL, 0, err, sizeof err), 0);
    assert_int_equal(crec_param_check(&pf, NULL, "0.5", NULL, 0, err, sizeof err), 0);
    assert_int_equal(crec_param_check(&pf, NULL, "1e-1", NULL, 0, err, sizeof err), 0);
    assert_int_equal(crec_param_check(&pf, NULL, "autox", NULL, 0, err, sizeof err), CREC_EINVAL);
    assert_string_equal(err, "parameter 'x' = 'autox' is not valid: expected a number in [0, 1], or auto");
    assert_int_equal(crec_param_check(&pb, NULL, "yes", canon, sizeof canon, err, sizeof err), 0);
    assert_string_equal(canon, "1");
    assert_int_equal(crec_param_check(&pb, NULL, "off", canon, sizeof canon, err, sizeof err), 0);
    assert_string_equal(canon, "0");
    assert_int_equal(crec_param_check(&pe, NULL, "bb", NULL, 0, err, sizeof err), 0);
    assert_int_equal(crec_param_check(&pe, NULL, "b", NULL, 0, err, sizeof err), CREC_EINVAL);
    assert_string_equal(err, "parameter 'e' = 'b' is not valid: expected one of a, bb, c");
}


/* On the synthetic default, the models order themselves as the generator was built to make them. */
static void test_quality_order(void **st) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = 1500;
    o.n_items = 800;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    const char *names[] = {"random", "pop", "itemknn", "markov"};
    double ndcg[4];
    for (int k = 0; k < 4; k++) {
        crec_model *m = train(names[k], &s.train, NULL);
        snprintf(m->split, sizeof m->split, "loo");
        crec_eval_opts eo;
        crec_eval_opts_defaults(&eo);
        eo.n_ks = 1;
        eo.ks[0] = 10;
        crec_eval_result r;
        assert_int_equal(crec_evaluate(m, ds, &s, &eo, &r), 0);
        ndcg[k] = r.at[0].ndcg;
        print_message("%-8s NDCG@10 %.4f HR@10 %.4f\n", names[k], r.at[0].ndcg, r.at[0].hr);
        crec_model_free(m);
    }
    assert_true(ndcg[1] > 2 * ndcg[0]);
    assert_true(ndcg[2] > 1.5 * ndcg[1]);
    assert_true(ndcg[3] > 1.2 * ndcg[2]);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

/* Checkpoints written from borrowed memory (crec_buf_write_ref: EASE's matrix goes to disk without a copy): the
 * streaming checksum equals the one-shot one for any split of the input, and a framed file written as data +
 * borrowed bytes reads back as one payload. */
static void test_borrowed_payload(void **st) {
    (void)st;
    unsigned char d[300];
    for (int i = 0; i < 300; i++) d[i] = (unsigned char)(i * 37 + 11);
    for (size_t n = 0; n <= 300; n += 13)
        for (size_t cut = 0; cut <= n; cut += 5) {
            crec_hash64_state hs;
            crec__hash64_init(&hs, 7);
            crec__hash64_update(&hs, d, cut);
            crec__hash64_update(&hs, d + cut, n - cut);
            assert_true(crec__hash64_final(&hs) == crec__hash64(d, n, 7));
        }
    crec_buf b = {0};
    assert_int_equal(crec_buf_write(&b, d, 10), 0);
    assert_int_equal(crec_buf_write_ref(&b, d + 10, 290), 0);
    assert_int_equal(crec_buf_write(&b, d, 1), CREC_ESTATE); /* nothing after the borrowed tail */
    assert_int_equal(crec_buf_write_ref(&b, d, 1), CREC_ESTATE);
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/x.bin", dir);
    static const char MAGIC[8] = {'T', 'E', 'S', 'T', 'B', 'U', 'F', 1};
    assert_int_equal(crec__binfile_write(path, MAGIC, 1, &b), 0);
    crec_buf_free(&b);
    crec_buf r;
    uint32_t ver;
    assert_int_equal(crec__binfile_read(path, MAGIC, 1, &ver, &r), 0);
    assert_int_equal(r.len, 300);
    assert_memory_equal(r.data, d, 300);
    crec__binfile_release(&r);
    tu_rmrf(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pop_and_knn_by_hand), cmocka_unit_test(test_bad_config), cmocka_unit_test(test_borrowed_payload),
        cmocka_unit_test(test_quality_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
