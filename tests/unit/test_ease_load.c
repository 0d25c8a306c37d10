/* test_ease_load.c: loading an EASE checkpoint whose I x I matrix spans several of the chunks ease_load copies
 * out of the mapped file (16 MiB each, the mapped pages of each given back once copied: issue 16, a load peak of
 * one matrix): 2,100 items = 17.6 MB, a whole chunk and a partial one. Rows of B, read back through the scores of
 * a one-item history, is bit-identical to the trained model's; a truncated file is still refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <unistd.h>

#include "core/util.h"
#include "crec/crec.h"
#include "testutil.h"

static void test_load_chunks(void **st) {
    (void)st;
    enum { NU = 300, NI = 2100 };
    crec_csr x = {0};
    x.n_rows = NU, x.n_cols = NI;
    x.ptr = calloc(NU + 1, sizeof *x.ptr);
    x.idx = malloc((size_t)NU * 40 * sizeof *x.idx);
    crec_rng r;
    crec__rng_seed(&r, 9);
    for (int32_t u = 0; u < NU; u++) {
        int64_t o = x.ptr[u];
        for (int k = 0; k < 30; k++) x.idx[o++] = (int32_t)(crec__rng_uniform(&r) * NI) % NI;
        x.ptr[u + 1] = o;
    }
    crec_config cfg = {0};
    assert_int_equal(crec_config_set_kv(&cfg, "lambda=20"), 0);
    crec_model *m;
    char err[256];
    assert_int_equal(crec_model_new("ease", &cfg, &m, err, sizeof err), 0);
    crec_train_input in = {.train = &x, .n_threads = 2, .seed = 1};
    assert_int_equal(crec_model_train(m, &in), 0);
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/ease.crecm", dir);
    assert_int_equal(crec_model_save(m, path), 0);
    crec_model *l;
    assert_int_equal(crec_model_load(path, &l), 0);
    float *a = malloc(NI * sizeof *a), *b = malloc(NI * sizeof *b);
    for (int32_t i = 0; i < NI; i += (i < NI - 64 ? 3 : 1)) { /* every 3rd row, and all of the last chunk's tail */
        crec_context ctx = {.user = -1, .hist = &i, .n_hist = 1};
        assert_int_equal(crec_model_score(m, &ctx, a), 0);
        assert_int_equal(crec_model_score(l, &ctx, b), 0);
        if (memcmp(a, b, NI * sizeof *a) != 0) fail_msg("row %d of B differs after loading", i);
    }
    crec_model_free(l);
    /* a truncated file (the matrix's last bytes missing) is refused, not read past its end */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fclose(f);
    assert_int_equal(truncate(path, len - 4096), 0);
    crec_model *bad = NULL;
    assert_true(crec_model_load(path, &bad) < 0);
    free(a), free(b);
    crec_model_free(m);
    tu_rmrf(dir);
    free(dir);
    crec_csr_free(&x);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_load_chunks)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
