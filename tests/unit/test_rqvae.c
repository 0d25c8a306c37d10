/* test_rqvae.c: the RQ-VAE of semantic IDs (src/index/rqvae.c, TIGER).
 *
 * Checked: with no quantiser levels the step is a plain autoencoder and every gradient (encoder, decoder) agrees
 * with central finite differences in double; with two levels the codes are the brute-force nearest codes level by
 * level, the loss equals reconstruction + (1 + beta) sum |r - e|^2 computed here, the decoder's gradients agree with
 * finite differences, each chosen code's gradient is -2 (r - e) / B and unchosen codes get none; training on four
 * well separated blobs lowers the loss and gives the rows of one blob one first-level code, different per blob;
 * `rq` indexing with the rqvae quantiser gives a valid index; bad sizes are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/crec.h"
#include "crec/index.h"
#include "index/rqvae.h"

static void fill(double *p, size_t n, crec_rng *r, double s) {
    for (size_t i = 0; i < n; i++) p[i] = s * (2 * crec__rng_uniform(r) - 1);
}

/* central differences of the batch loss in params idx against the analytic gradient */
static void check_fd(const rqvae_shape *sh, double *p, const double *X, int B, double beta, size_t lo, size_t hi,
                     size_t stride) {
    size_t W = crec__rqvae_work(sh, B);
    double *ws = malloc(W * sizeof *ws), *g = calloc(sh->n_params, sizeof *g), *g2 = calloc(sh->n_params, sizeof *g2);
    int32_t *codes = malloc((size_t)B * (sh->levels ? sh->levels : 1) * sizeof *codes);
    crec__rqvae_batch_d(sh, p, g, X, B, beta, ws, codes, NULL);
    double h = 1e-6;
    for (size_t i = lo; i < hi; i += stride) {
        double keep = p[i];
        p[i] = keep + h;
        double lp = crec__rqvae_batch_d(sh, p, g2, X, B, beta, ws, codes, NULL);
        p[i] = keep - h;
        double lm = crec__rqvae_batch_d(sh, p, g2, X, B, beta, ws, codes, NULL);
        p[i] = keep;
        double fd = (lp - lm) / (2 * h);
        double tol = 1e-6 + 1e-5 * fabs(fd);
        if (fabs(fd - g[i]) > tol) fail_msg("param %zu: analytic %.10g finite difference %.10g", i, g[i], fd);
    }
    free(ws), free(g), free(g2), free(codes);
}

static void test_autoencoder_gradients(void **state) {
    (void)state;
    rqvae_shape sh;
    int hidden[2] = {7, 5};
    assert_int_equal(crec__rqvae_shape(&sh, 6, hidden, 2, 3, 0, 4), 0);
    crec_rng r;
    crec__rng_seed(&r, 3);
    double *p = malloc(sh.n_params * sizeof *p), X[5 * 6];
    fill(p, sh.n_params, &r, 0.7);
    fill(X, 30, &r, 1.0);
    check_fd(&sh, p, X, 5, 0.25, 0, sh.code, 1); /* every weight and bias of both MLPs */
    free(p);
}

static void test_quantiser(void **state) {
    (void)state;
    rqvae_shape sh;
    int hidden[1] = {8};
    const int B = 6, L = 2, K = 5, Z = 3;
    const double beta = 0.25;
    assert_int_equal(crec__rqvae_shape(&sh, 4, hidden, 1, Z, L, K), 0);
    crec_rng r;
    crec__rng_seed(&r, 11);
    double *p = malloc(sh.n_params * sizeof *p), X[6 * 4];
    fill(p, sh.n_params, &r, 0.8);
    fill(X, 24, &r, 1.0);
    size_t W = crec__rqvae_work(&sh, B);
    double *ws = malloc(W * sizeof *ws), *g = calloc(sh.n_params, sizeof *g), *res = malloc((size_t)L * B * Z * sizeof *res);
    int32_t codes[6 * 2];
    double loss = crec__rqvae_batch_d(&sh, p, g, X, B, beta, ws, codes, res);
    /* redo the encoder and the quantiser here */
    double want_q = 0, *gcode = calloc((size_t)L * K * Z, sizeof *gcode), *zh = calloc((size_t)B * Z, sizeof *zh);
    for (int b = 0; b < B; b++) {
        double h[8], z[3];
        for (int o = 0; o < 8; o++) {
            double s = p[sh.enc_b[0] + o];
            for (int c = 0; c < 4; c++) s += p[sh.enc_w[0] + (size_t)o * 4 + c] * X[b * 4 + c];
            h[o] = s > 0 ? s : 0;
        }
        for (int o = 0; o < Z; o++) {
            double s = p[sh.enc_b[1] + o];
            for (int c = 0; c < 8; c++) s += p[sh.enc_w[1] + (size_t)o * 8 + c] * h[c];
            z[o] = s;
        }
        for (int lv = 0; lv < L; lv++) {
            const double *E = p + sh.code + (size_t)lv * K * Z;
            int best = -1;
            double bd = 0;
            for (int k = 0; k < K; k++) {
                double d = 0;
                for (int j = 0; j < Z; j++) d += (z[j] - E[k * Z + j]) * (z[j] - E[k * Z + j]);
                if (best < 0 || d < bd) bd = d, best = k;
            }
            assert_int_equal(codes[b * L + lv], best);
            for (int j = 0; j < Z; j++) assert_true(fabs(res[((size_t)lv * B + b) * Z + j] - z[j]) < 1e-12);
            want_q += (1 + beta) * bd;
            for (int j = 0; j < Z; j++) {
                gcode[((size_t)lv * K + best) * Z + j] += -2 * (z[j] - E[best * Z + j]) / B;
                zh[b * Z + j] += E[best * Z + j];
                z[j] -= E[best * Z + j];
            }
        }
    }
    for (size_t i = 0; i < (size_t)L * K * Z; i++) assert_true(fabs(g[sh.code + i] - gcode[i]) < 1e-12);
    /* reconstruction: decoder from zh */
    double want_r = 0;
    for (int b = 0; b < B; b++) {
        double h[8];
        for (int o = 0; o < 8; o++) {
            double s = p[sh.dec_b[0] + o];
            for (int c = 0; c < Z; c++) s += p[sh.dec_w[0] + (size_t)o * Z + c] * zh[b * Z + c];
            h[o] = s > 0 ? s : 0;
        }
        for (int o = 0; o < 4; o++) {
            double s = p[sh.dec_b[1] + o];
            for (int c = 0; c < 8; c++) s += p[sh.dec_w[1] + (size_t)o * 8 + c] * h[c];
            want_r += (s - X[b * 4 + o]) * (s - X[b * 4 + o]);
        }
    }
    assert_true(fabs(loss - (want_r + want_q) / B) < 1e-10);
    check_fd(&sh, p, X, B, beta, sh.dec_w[0], sh.code, 1); /* the decoder sees z_hat: its gradients are exact */
    free(p), free(ws), free(g), free(res), free(gcode), free(zh);
}

static void test_training_blobs(void **state) {
    (void)state;
    const int32_t n = 400;
    const int d = 8;
    float *X = malloc((size_t)n * d * sizeof *X);
    crec_rng r;
    crec__rng_seed(&r, 5);
    for (int32_t i = 0; i < n; i++)
        for (int j = 0; j < d; j++)
            X[(size_t)i * d + j] = (float)((j == (i % 4) ? 4.0 : 0.0) + 0.1 * crec__rng_normal(&r));
    crec__rqvae_opts o;
    crec__rqvae_opts_default(&o);
    o.levels = 2, o.K = 4, o.latent = 4, o.n_hidden = 1, o.hidden[0] = 16, o.batch = 64, o.epochs = 1;
    int32_t *path = malloc((size_t)n * 2 * sizeof *path);
    double l1, rec1, l2, rec2;
    assert_int_equal(crec__rqvae(X, n, d, &o, path, &l1, &rec1), 0);
    o.epochs = 60;
    assert_int_equal(crec__rqvae(X, n, d, &o, path, &l2, &rec2), 0);
    assert_true(l2 < 0.5 * l1);
    assert_true(rec2 >= 0 && rec2 <= l2 + 1e-9);
    int blob_code[4];
    for (int c = 0; c < 4; c++) blob_code[c] = path[(size_t)c * 2];
    int agree = 0;
    for (int32_t i = 0; i < n; i++) agree += path[(size_t)i * 2] == blob_code[i % 4];
    assert_true(agree >= n * 95 / 100);
    for (int a = 0; a < 4; a++)
        for (int b = a + 1; b < 4; b++) assert_int_not_equal(blob_code[a], blob_code[b]);
    /* deterministic for a seed */
    int32_t *again = malloc((size_t)n * 2 * sizeof *again);
    assert_int_equal(crec__rqvae(X, n, d, &o, again, NULL, NULL), 0);
    assert_memory_equal(path, again, (size_t)n * 2 * sizeof *path);
    o.latent = RQVAE_MAX_LATENT + 1;
    assert_int_equal(crec__rqvae(X, n, d, &o, again, NULL, NULL), CREC_EINVAL);
    free(X), free(path), free(again);
}

static void test_index_with_rqvae(void **state) {
    (void)state;
    crec_synth_opts so;
    crec_synth_defaults(&so);
    so.n_users = 200, so.n_items = 120;
    crec_dataset *ds = NULL;
    assert_int_equal(crec_synth_generate(&so, &ds), 0);
    int32_t n = ds->items.n;
    float *vec = malloc((size_t)n * 6 * sizeof *vec);
    crec_rng r;
    crec__rng_seed(&r, 9);
    for (size_t i = 0; i < (size_t)n * 6; i++) vec[i] = (float)crec__rng_normal(&r);
    crec_index_opts o;
    crec_index_opts_default(&o);
    o.method = "rq", o.vec = vec, o.dim = 6, o.K = 8, o.levels = 2, o.quantizer = "rqvae";
    o.vae_epochs = 5, o.vae_batch = 32, o.vae_latent = 4, o.vae_n_hidden = 1, o.vae_hidden[0] = 16;
    crec_index ix;
    char err[256] = "";
    assert_int_equal(crec_index_build(ds, NULL, &o, &ix, err, sizeof err), 0);
    assert_int_equal(crec_index_check(&ix), 0);
    assert_int_equal(ix.n_items, n);
    assert_non_null(strstr(ix.source, "rq-vae"));
    crec_index_free(&ix);
    o.quantizer = "pq";
    assert_int_not_equal(crec_index_build(ds, NULL, &o, &ix, err, sizeof err), 0);
    assert_non_null(strstr(err, "--quantizer"));
    free(vec);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_autoencoder_gradients),
        cmocka_unit_test(test_quantiser),
        cmocka_unit_test(test_training_blobs),
        cmocka_unit_test(test_index_with_rqvae),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
