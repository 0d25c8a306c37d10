/* ials.h: private interface of the iALS model (src/models/ials.c), for its unit tests and bench/ials_scale.c.
 *
 * Shapes: U users, I items, d factors, ld = d rounded up to 16 (the row stride: every factor row starts on a
 * 64-byte boundary; the padding columns are zero and stay zero). W is U x ld, H is I x ld, G = Y^T Y is ld x ld.
 *
 * One half-step solves, for every row r of one side with the other side Y fixed,
 *     (gscale * G + sum_k w_k y_k y_k^T + lam_r I) x_r = sum_k t_k y_k          (k over the row's items)
 * by a few conjugate-gradient steps warm-started from the current x_r. Rows are solved in blocks that run CG
 * in lock-step, so the dense Gram product of a whole block is one sgemm (B x ld by ld x ld); the sparse part
 * is, per block, either one fused pass over each row's entries (dot, then axpy, while the Y row is in L1) or
 * one pass over the other side's rows that touch the block, scattering into the block's rows. */
#ifndef CREC_MODELS_IALS_H
#define CREC_MODELS_IALS_H

#include "crec/model.h"

/* The sparse rows of one side: row r has items idx[ptr[r] .. ptr[r+1]) (unique, ascending). w and t are
 * per-entry weights (NULL = all 1); lam is the per-row ridge (never NULL). Borrowed, never freed here. */
typedef struct crec_ials_rows {
    int32_t n_rows, n_cols;
    const int64_t *ptr;
    const int32_t *idx;
    const float *w, *t;
    const float *lam;
} crec_ials_rows;

typedef struct crec_ials_params {
    int factors, iters, cg_steps;
    double reg, alpha0, nu;
    int hu;          /* 1: Hu et al. confidence c = 1 + alpha * r_ui; 0: Rendle et al. 2022 (default) */
    double alpha;    /* confidence scale (hu only) */
    double init_std; /* <= 0: 0.1 / sqrt(factors) */
    int prec;        /* the CG's sparse passes read: 0 fp32 Y, 1 mixed, 2 fp16 (crec__ials_solve_side_prec) */
} crec_ials_params;

/* Training data built from a user x item CSR: both sides deduplicated, with their weights and ridges.
 * Owns every array (free with crec__ials_data_free). */
typedef struct crec_ials_data {
    crec_ials_rows users, items;
    int64_t *uptr, *iptr;
    int32_t *uidx, *iidx;
    float *uw, *ut, *iw, *it; /* NULL in Rendle mode (all ones) */
    float *ulam, *ilam;
} crec_ials_data;

/* The trained model. W and H live in one 64-byte aligned block (W first); gram_h = H^T H (ld x ld), kept
 * for folding in new users. For the fast fold-in (crec__ials_prepare): gram_h = Q diag(geig) Q^T and
 * Ht = H Q (I x ld, the item factors in G's eigenbasis; padding columns zero); both NULL until prepared.
 * Owned by the state; free with crec__ials_state_free. */
typedef struct crec_ials_state {
    int32_t n_users, n_items;
    int d, ld;
    crec_ials_params p;
    float *block; /* W then H */
    float *W, *H;
    float *gram_h;
    float *Ht;    /* [I x ld] H Q */
    double *geig; /* [d] eigenvalues of gram_h, in Ht's column order */
} crec_ials_state;

/* Build the data from x (reads only ptr/idx; rows may repeat items: r_ui counts them). 0 or CREC_ENOMEM. */
int crec__ials_data_build(const crec_csr *x, const crec_ials_params *p, crec_ials_data *out);
void crec__ials_data_free(crec_ials_data *d);

/* Allocate W, H and draw them from N(0, init_std^2), row blocks seeded from seed (independent of threads). */
int crec__ials_state_init(crec_ials_state *s, int32_t n_users, int32_t n_items, const crec_ials_params *p,
                          uint64_t seed);
void crec__ials_state_free(crec_ials_state *s);

/* G = Y^T Y for Y (n x ld): ld x ld, full symmetric, into G (caller's). Deterministic for a thread count. */
int crec__ials_gram(const float *Y, int32_t n, int ld, float *G, int n_threads);

/* One half-step (see the top of this file): X (rows->n_rows x ld) updated in place. 0 or CREC_ENOMEM.
 * Rows are solved in blocks of block_rows (0: sized so that a block's P and Q fill half of L2; < 0: -block_rows
 * and the scatter layout for every block, for tests), each block
 * running CG in lock-step; threads take contiguous runs of blocks. trows = the transpose of rows (the other
 * side's rows) enables the scatter layout for blocks where it reads fewer Y rows: each other-side row
 * touching the block is read once per step and scattered into the block's rows; NULL: row layout only.
 * The layouts give the same CG iterates up to rounding; a fixed block_rows and thread count give the same
 * result every run. */
int crec__ials_solve_side(float *X, const float *Y, int ld, const float *G, float gscale, const crec_ials_rows *rows,
                          const crec_ials_rows *trows, int cg_steps, int block_rows, int n_threads);

/* crec__ials_solve_side with the factor rows of Y read in lower precision by the row layout's sparse passes
 * (the memory-bound part: one Y row per entry per CG step): prec 0 = fp32 (the same as crec__ials_solve_side),
 * 1 = mixed (the CG steps read an fp16 copy of Y, scaled by a power of two; the residual r = b - A x that starts
 * each half-step reads Y in fp32, so the warm-started iterates still converge to the exact system's solution),
 * 2 = fp16 (the residual too: the fixed point moves by the fp16 rounding of Y, ~5e-4 relative). The copy takes
 * rows->n_cols x ld halves for the half-step. Without AVX2 + FMA + F16C every prec runs as 0. 0 or CREC_ENOMEM. */
/* Flags or-ed into prec: */
#define CREC_IALS_PREC 3   /* the precision bits (0, 1, 2 above) */
#define CREC_IALS_GATHER 4 /* row layout: each sub-block's Y rows are gathered once into a contiguous per-thread
                            * buffer that the residual and the CG steps then read sequentially */
#define CREC_IALS_LEGACY 8 /* the row layout's passes with the AVX2 one-entry-at-a-time kernels even where the
                            * CPU has AVX-512 (the path before the four-entry kernels; for tests and benches) */
int crec__ials_solve_side_prec(float *X, const float *Y, int ld, const float *G, float gscale,
                               const crec_ials_rows *rows, const crec_ials_rows *trows, int cg_steps, int block_rows,
                               int n_threads, int prec);

/* One iteration: users (H fixed), then items (W fixed); refreshes s->gram_h at the end. */
int crec__ials_iterate(crec_ials_state *s, const crec_ials_data *dat, int n_threads);

/* Fold in an anonymous history: the exact minimiser of the user's loss given H (Cholesky, double), into
 * w[ld] (padding zeroed). 0, CREC_ENOMEM, or CREC_ERANGE if the system is not positive definite. */
int crec__ials_fold_in(const crec_ials_state *s, const int32_t *hist, int32_t n_hist, float *w);

/* scores[i] = <H_i, w> for every item. */
void crec__ials_scores(const crec_ials_state *s, const float *w, float *scores);

/* The fast fold-in. With G = Q diag(e) Q^T and the history's n distinct items y_k = rows of Ht, a user's system
 * is (diag(alpha0 e + lam) + sum_k wt_k y_k y_k^T) x = sum_k t_k y_k in the eigenbasis: a diagonal plus rank n,
 * solved by Woodbury with an n x n Cholesky (double) in O(n^2 d) instead of the d^3 / 3 of the dense solve
 * (d = 512, 9 items: ~40k against 45M multiply-adds). Scores are then Ht x (= H Q x, Q x the user's factors).
 *
 * crec__ials_prepare: eigen-decompose gram_h (LAPACK dsyevd, double) and compute Ht = H Q (one product);
 * called at the end of training and after loading; deterministic at any thread count. 0 or CREC_ENOMEM; when
 * LAPACK fails, Ht stays NULL and every fold-in takes the dense solve. */
int crec__ials_prepare(crec_ials_state *s);

/* The vector to score a history with, into v[ld] (padding zeroed): returns 1 when v is in the eigenbasis
 * (scores = Ht v) from the fast path, taken when the state is prepared, the history has at most d / 3
 * distinct items, every wt >= 0 (weighting=hu with alpha0 > 1 + alpha r gives negative ones) and
 * alpha0 e + lam is well conditioned (ratio >= 1e-7); else 0, v = the dense crec__ials_fold_in (scores = H v).
 * A negative CREC_E* on failure. Both solve the same system: they agree up to float rounding. */
int crec__ials_fold_in_basis(const crec_ials_state *s, const int32_t *hist, int32_t n_hist, float *v);

#endif
