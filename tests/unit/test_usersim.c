/* test_usersim.c: similar users from a model's learned user vectors (the model interface's user_vector hook and
 * src/serve/usersim.c). For ials and bprmf the hook hands out the very row scoring reads: writing user v's vector
 * into user u's row through it makes u score exactly like v. The server's top-k by cosine equals a brute-force
 * sort of every other user's cosine (in double), with a filter that refuses users (as an erased user is refused)
 * taking the next ones. A model without the hook says so (itemknn), a user without a vector has none (bprmf: a
 * user with no training events), and a user outside the model is a range error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crec/crec.h"
#include "serve/usersim.h"

static crec_dataset *synth(int32_t nu, int32_t ni) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = nu;
    o.n_items = ni;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    return ds;
}

static crec_csr csr_of(const crec_dataset *ds) {
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(ds, &x), 0);
    return x;
}

static crec_model *train(const char *type, const crec_csr *x, const char *kv) {
    crec_config cfg = {0};
    char buf[128];
    snprintf(buf, sizeof buf, "%s", kv ? kv : "");
    for (char *save = NULL, *p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save))
        assert_int_equal(crec_config_set_kv(&cfg, p), 0);
    crec_model *m;
    char err[256];
    if (crec_model_new(type, &cfg, &m, err, sizeof err)) fail_msg("%s", err);
    crec_train_input in = {.train = x, .n_threads = 1, .seed = 3};
    int rc = crec_model_train(m, &in);
    if (rc) fail_msg("train %s: %s", type, crec_strerror(rc));
    return m;
}

static void scores_of(const crec_model *m, int32_t u, float *out) {
    crec_context ctx = {.user = u};
    assert_int_equal(crec_model_score(m, &ctx, out), 0);
}

/* the hook's row is the one score reads: copy v's row into u's, u scores as v */
static void hook_is_the_scored_row(const char *type, const char *kv) {
    crec_dataset *ds = synth(120, 80);
    crec_csr x = csr_of(ds);
    crec_model *m = train(type, &x, kv);
    const float *vu, *vv;
    int du = 0, dv = 0;
    assert_int_equal(crec_model_user_vector(m, 3, &vu, &du), 1);
    assert_int_equal(crec_model_user_vector(m, 7, &vv, &dv), 1);
    assert_int_equal(du, dv);
    assert_true(du > 0);
    float *a = malloc((size_t)m->n_items * sizeof *a), *b = malloc((size_t)m->n_items * sizeof *b);
    scores_of(m, 3, a);
    scores_of(m, 7, b);
    assert_true(memcmp(a, b, (size_t)m->n_items * sizeof *a) != 0); /* two users differ to start with */
    memcpy((float *)vu, vv, (size_t)dv * sizeof *vv);
    scores_of(m, 3, a);
    assert_memory_equal(a, b, (size_t)m->n_items * sizeof *a);
    assert_int_equal(crec_model_user_vector(m, -1, &vu, &du), CREC_ERANGE);
    assert_int_equal(crec_model_user_vector(m, m->n_users, &vu, &du), CREC_ERANGE);
    free(a), free(b);
    crec_model_free(m);
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

static void test_hook_ials(void **st) { hook_is_the_scored_row("ials", "factors=8"); }
static void test_hook_bprmf(void **st) { hook_is_the_scored_row("bprmf", "factors=8"); }

typedef struct pair { double c; int32_t u; } pair;
static int pair_cmp(const void *x, const void *y) {
    const pair *a = x, *b = y;
    if (a->c != b->c) return a->c > b->c ? -1 : 1;
    return a->u < b->u ? -1 : a->u > b->u;
}
static int keep_odd(void *ctx, int32_t u) {
    (*(int *)ctx)++;
    return u % 2 == 1;
}

/* top-k by cosine against brute force, with and without a filter */
static void test_topk_brute_force(void **st) {
    crec_dataset *ds = synth(150, 60);
    crec_csr x = csr_of(ds);
    crec_model *m = train("ials", &x, "factors=8");
    int32_t user = 10, n = m->n_users;
    const float *q;
    int d;
    assert_int_equal(crec_model_user_vector(m, user, &q, &d), 1);
    pair *all = malloc((size_t)n * sizeof *all);
    int np = 0;
    for (int32_t u = 0; u < n; u++) {
        const float *v;
        if (u == user || crec_model_user_vector(m, u, &v, &d) != 1) continue;
        double dot = 0, a = 0, b = 0;
        for (int j = 0; j < d; j++) dot += (double)q[j] * v[j], a += (double)q[j] * q[j], b += (double)v[j] * v[j];
        if (b > 0) all[np++] = (pair){(double)(float)(dot / sqrt(a * b)), u};
    }
    qsort(all, (size_t)np, sizeof *all, pair_cmp);
    int32_t ids[20];
    float cos[20];
    int has = 0;
    int got = crec__usersim_top(m, user, 20, NULL, NULL, ids, cos, &has);
    assert_int_equal(has, 1);
    assert_int_equal(got, 20);
    for (int k = 0; k < got; k++) {
        assert_int_equal(ids[k], all[k].u);
        assert_true(fabs(cos[k] - all[k].c) < 1e-6);
        assert_true(cos[k] <= 1.0f + 1e-6f && cos[k] >= -1.0f - 1e-6f);
    }
    /* a filter refusing every even user: the odd users of the brute-force order, still 20 of them */
    int calls = 0;
    got = crec__usersim_top(m, user, 20, keep_odd, &calls, ids, cos, &has);
    assert_int_equal(got, 20);
    for (int k = 0, j = 0; k < got; k++, j++) {
        while (all[j].u % 2 == 0) j++;
        assert_int_equal(ids[k], all[j].u);
    }
    assert_true(calls >= 20);
    /* k larger than the users there are: every other user once */
    int32_t *big = malloc((size_t)n * sizeof *big);
    float *bc = malloc((size_t)n * sizeof *bc);
    got = crec__usersim_top(m, user, n, NULL, NULL, big, bc, &has);
    assert_int_equal(got, np);
    free(big), free(bc), free(all);
    crec_model_free(m);
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

/* no hook: unsupported; an untrained bprmf user: no vector; out of range: a range error */
static void test_no_vector(void **st) {
    crec_dataset *ds = synth(80, 40);
    crec_csr x = csr_of(ds);
    crec_model *knn = train("itemknn", &x, NULL);
    int32_t ids[5];
    float cos[5];
    int has = 1;
    assert_int_equal(crec__usersim_top(knn, 0, 5, NULL, NULL, ids, cos, &has), CREC_EUNSUPPORTED);
    assert_int_equal(has, 0);
    crec_model_free(knn);
    /* one more user, with no events: bprmf has no vector for a user without training events */
    crec_csr y = x;
    y.n_rows = x.n_rows + 1;
    y.ptr = malloc(((size_t)y.n_rows + 1) * sizeof *y.ptr);
    memcpy(y.ptr, x.ptr, ((size_t)x.n_rows + 1) * sizeof *y.ptr);
    y.ptr[y.n_rows] = x.ptr[x.n_rows];
    int32_t nu = y.n_rows - 1;
    crec_model *bpr = train("bprmf", &y, "factors=8,epochs=2");
    assert_int_equal(bpr->n_users, y.n_rows);
    assert_int_equal(crec__usersim_top(bpr, nu, 5, NULL, NULL, ids, cos, &has), 0);
    assert_int_equal(has, 0);
    assert_int_equal(crec__usersim_top(bpr, 1, 5, NULL, NULL, ids, cos, &has), 5);
    assert_int_equal(has, 1);
    for (int k = 0; k < 5; k++) assert_true(ids[k] != nu && ids[k] != 1);
    assert_int_equal(crec__usersim_top(bpr, bpr->n_users, 5, NULL, NULL, ids, cos, &has), CREC_ERANGE);
    crec_model_free(bpr);
    free(y.ptr);
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hook_ials),
        cmocka_unit_test(test_hook_bprmf),
        cmocka_unit_test(test_topk_brute_force),
        cmocka_unit_test(test_no_vector),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
