/* test_index_itemtok.c: rq codes with an item token as the last level (`crec index build --method rq
 * --item-token 1`, crec_index_opts.item_token).
 *
 * Checked, on vectors in 3 clear clusters (so many items share the quantised prefix): with item_token the quantised
 * levels are exactly the ones built without it (same vectors, same seed), the last level is the item's own id with
 * K = n_items, codes are unique and the source says so; without it the last level numbers the items sharing a
 * prefix (K = the largest group). Both for residual k-means and for the RQ-VAE quantiser. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/crec.h"
#include "crec/index.h"

static void run(int vae) {
    crec_synth_opts so;
    crec_synth_defaults(&so);
    so.n_users = 200, so.n_items = 60;
    crec_dataset *ds = NULL;
    assert_int_equal(crec_synth_generate(&so, &ds), 0);
    int32_t n = ds->items.n;
    float *v = malloc((size_t)n * 3 * sizeof *v);
    crec_rng r;
    crec__rng_seed(&r, 4);
    for (int32_t i = 0; i < n; i++)
        for (int j = 0; j < 3; j++) v[i * 3 + j] = (float)((i % 3 == j) * 10 + 0.1 * crec__rng_normal(&r));
    crec_index_opts o;
    crec_index_opts_default(&o);
    o.method = "rq", o.K = 3, o.levels = 2, o.vec = v, o.dim = 3, o.vec_name = "test";
    if (vae) o.quantizer = "rqvae", o.vae_epochs = 20, o.vae_latent = 4, o.vae_hidden[0] = 8, o.vae_n_hidden = 1;
    char err[256] = "";
    crec_index a, b;
    assert_int_equal(crec_index_build(ds, NULL, &o, &a, err, sizeof err), 0);
    o.item_token = 1;
    assert_int_equal(crec_index_build(ds, NULL, &o, &b, err, sizeof err), 0);
    assert_int_equal(crec_index_check(&b), 0);
    assert_int_equal(a.L, 3);
    assert_int_equal(b.L, 3);
    assert_int_equal(b.K[2], n);
    assert_true(a.K[2] > 1 && a.K[2] < n); /* clusters: several items share a prefix */
    for (int l = 0; l < 2; l++) assert_int_equal(a.K[l], b.K[l]);
    for (int32_t i = 0; i < n; i++) {
        for (int l = 0; l < 2; l++) assert_int_equal(a.codes[(size_t)i * 3 + l], b.codes[(size_t)i * 3 + l]);
        assert_int_equal(b.codes[(size_t)i * 3 + 2], i);
        assert_true(a.codes[(size_t)i * 3 + 2] < a.K[2]);
    }
    assert_non_null(strstr(b.source, "item token"));
    assert_non_null(strstr(a.source, "collision level"));
    crec_index_free(&a), crec_index_free(&b);
    free(v);
    crec_dataset_free(ds);
}

static void test_kmeans(void **st) {
    (void)st;
    run(0);
}

static void test_rqvae(void **st) {
    (void)st;
    run(1);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kmeans),
        cmocka_unit_test(test_rqvae),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
