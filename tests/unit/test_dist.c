/* test_dist.c: the data-parallel layer without mpirun (crec/dist.h): a world of one rank whose collectives leave
 * their buffers alone, the refusal of a launch this build cannot serve, and iALS's row partition (ials_dist.c)
 * simulated in one process - each of P "ranks" solving its run of blocks against the same Gram matrix gives the
 * rows of the one-rank solve bit for bit, in both weightings and for P = 2, 3 - with the errors for more ranks
 * than rows. The 2-process runs are in tests/integration/mpi.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/crec.h"
#include "crec/dist.h"
#include "models/ials.h"
#include "models/ials_dist.h"

static void test_one_rank(void **st) {
    (void)st;
    unsetenv("OMPI_COMM_WORLD_SIZE"), unsetenv("PMIX_RANK"), unsetenv("PMI_RANK"), unsetenv("PMI_SIZE");
    char err[256];
    assert_int_equal(crec_dist_init(err, sizeof err), 0);
    assert_int_equal(crec_dist_size(), 1);
    assert_int_equal(crec_dist_rank(), 0);
    float buf[40];
    for (int i = 0; i < 40; i++) buf[i] = (float)i - 7.5f;
    float ref[40];
    memcpy(ref, buf, sizeof buf);
    int64_t sent = -1;
    assert_int_equal(crec_dist_allreduce_f32(buf, 40), 0);
    assert_int_equal(crec_dist_allreduce_rows(buf, 40, 8, 4, 8, &sent), 0);
    int64_t lo[2] = {0, 5};
    assert_int_equal(crec_dist_allgather_rows(buf, lo, 8), 0);
    assert_memory_equal(buf, ref, sizeof buf);
    assert_int_equal(sent, 0);
    crec_dist_stats s;
    crec_dist_stats_get(&s);
    assert_int_equal(s.bytes, 0); /* one rank: nothing handed to MPI */
    assert_true(crec_dist_model_supported("sasrec") && crec_dist_model_supported("ials"));
    assert_false(crec_dist_model_supported("ease"));
    crec_dist_finalize();
}

static void test_launch_without_mpi(void **st) {
    (void)st;
    if (crec_dist_built()) skip();
    setenv("OMPI_COMM_WORLD_SIZE", "2", 1);
    char err[256] = "";
    assert_int_equal(crec_dist_init(err, sizeof err), CREC_EUNSUPPORTED);
    assert_non_null(strstr(err, "built without MPI"));
    unsetenv("OMPI_COMM_WORLD_SIZE");
}

/* A random user x item CSR (every user and item with entries), owned by the caller (crec_csr_free). */
static void random_csr(int32_t nu, int32_t ni, uint64_t seed, crec_csr *x) {
    crec_rng r;
    crec__rng_seed(&r, seed);
    memset(x, 0, sizeof *x);
    x->n_rows = nu, x->n_cols = ni;
    x->ptr = calloc((size_t)nu + 1, sizeof *x->ptr);
    x->idx = malloc(((size_t)nu * 40 + (size_t)ni) * sizeof *x->idx);
    int64_t o = 0;
    for (int32_t u = 0; u < nu; u++) {
        int n = 2 + (int)crec__rng_below(&r, 30);
        for (int k = 0; k < n; k++) {
            double z = crec__rng_uniform(&r); /* popular items first */
            x->idx[o++] = (int32_t)(z * z * ni);
        }
        if (u < ni) x->idx[o++] = u; /* every item */
        x->ptr[u + 1] = o;
    }
}

static void check_partition(int hu, int P) {
    crec_csr x;
    random_csr(1500, 1100, 11 + (uint64_t)hu, &x);
    crec_ials_params p = {.factors = 16, .iters = 1, .cg_steps = 3, .reg = 0.01, .alpha0 = 0.1, .nu = 1,
                          .hu = hu, .alpha = 2};
    crec_ials_data d;
    assert_int_equal(crec__ials_data_build(&x, &p, &d), 0);
    crec_ials_state s, s2;
    assert_int_equal(crec__ials_state_init(&s, x.n_rows, x.n_cols, &p, 5), 0);
    assert_int_equal(crec__ials_state_init(&s2, x.n_rows, x.n_cols, &p, 5), 0);
    int ld = s.ld;
    float *G = crec__aligned_alloc((size_t)ld * ld * sizeof *G);
    assert_non_null(G);
    /* one rank: users then items, the way crec__ials_iterate solves them */
    assert_int_equal(crec__ials_gram(s.H, s.n_items, ld, G, 1), 0);
    assert_int_equal(crec__ials_solve_side(s.W, s.H, ld, G, 0.1f, &d.users, &d.items, 3, 0, 1), 0);
    assert_int_equal(crec__ials_gram(s.W, s.n_users, ld, G, 1), 0);
    assert_int_equal(crec__ials_solve_side(s.H, s.W, ld, G, 0.1f, &d.items, &d.users, 3, 0, 1), 0);
    /* P simulated ranks, each solving its run against the same Gram; the "allgather" is the shared arrays */
    crec_ials_part pt[3];
    for (int r = 0; r < P; r++) assert_int_equal(crec__ials_part_build(&d, ld, P, r, &pt[r]), 0);
    assert_true(pt[0].ulo[1] > 0 && pt[0].ulo[1] < x.n_rows); /* both ranks have users */
    assert_int_equal(crec__ials_gram(s2.H, s2.n_items, ld, G, 1), 0);
    for (int r = 0; r < P; r++)
        assert_int_equal(crec__ials_solve_side(s2.W + (size_t)pt[r].ulo[r] * ld, s2.H, ld, G, 0.1f, &pt[r].users,
                                               &pt[r].titems, 3, pt[r].block, 1), 0);
    assert_memory_equal(s.W, s2.W, (size_t)x.n_rows * ld * sizeof(float));
    assert_int_equal(crec__ials_gram(s2.W, s2.n_users, ld, G, 1), 0);
    for (int r = 0; r < P; r++)
        assert_int_equal(crec__ials_solve_side(s2.H + (size_t)pt[r].ilo[r] * ld, s2.W, ld, G, 0.1f, &pt[r].items,
                                               &pt[r].tusers, 3, pt[r].block, 1), 0);
    assert_memory_equal(s.H, s2.H, (size_t)x.n_cols * ld * sizeof(float));
    for (int r = 0; r < P; r++) crec__ials_part_free(&pt[r]);
    free(G);
    crec__ials_state_free(&s), crec__ials_state_free(&s2);
    crec__ials_data_free(&d);
    crec_csr_free(&x);
}

static void test_ials_partition(void **st) {
    (void)st;
    check_partition(0, 2);
    check_partition(1, 2);
    check_partition(0, 3);
}

static void test_ials_too_many_ranks(void **st) {
    (void)st;
    crec_csr x;
    random_csr(3, 40, 1, &x);
    crec_ials_params p = {.factors = 8, .iters = 1, .cg_steps = 3, .reg = 0.01, .alpha0 = 0.1, .nu = 1};
    crec_ials_data d;
    assert_int_equal(crec__ials_data_build(&x, &p, &d), 0);
    crec_ials_part pt;
    assert_int_equal(crec__ials_part_build(&d, 16, 4, 0, &pt), CREC_EINVAL);
    assert_int_equal(crec__ials_part_build(&d, 16, 3, 2, &pt), 0);
    crec__ials_part_free(&pt);
    crec__ials_data_free(&d);
    crec_csr_free(&x);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_rank),
        cmocka_unit_test(test_launch_without_mpi),
        cmocka_unit_test(test_ials_partition),
        cmocka_unit_test(test_ials_too_many_ranks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
