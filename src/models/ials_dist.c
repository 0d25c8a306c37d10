/* ials_dist.c: data-parallel iALS (ials_dist.h): each rank solves its run of row blocks of a half-step with the
 * one-rank solver (crec__ials_solve_side_prec, at the model's precision, on a view of its rows), then the rows
 * are allgathered.
 *
 * The one idea: a row's CG arithmetic depends only on its block (ials.c), so a rank that solves whole blocks of
 * the one-rank solve, against the same Gram matrix and the same other side, computes the same rows; what differs
 * is only the order in which the Gram matrix sums rows (per rank, then over ranks), so two ranks give the
 * factors of one up to float rounding - tests/integration/mpi.sh checks it. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/dist.h"
#include "models/ials_dist.h"

void crec__ials_part_free(crec_ials_part *pt) {
    free(pt->ulo), free(pt->ilo);
    free(pt->tu_ptr), free(pt->ti_ptr), free(pt->tu_idx), free(pt->ti_idx);
    free(pt->tu_w), free(pt->tu_t), free(pt->ti_w), free(pt->ti_t);
    memset(pt, 0, sizeof *pt);
}

/* Bounds of P runs of whole blocks of `block` rows, balanced by cost (entries + block * ld / 8, as ials.c
 * balances its threads). lo[P] = n. */
static void split_rows(const crec_ials_rows *rows, int block, int ld, int P, int64_t *lo) {
    int32_t n = rows->n_rows;
    int64_t nblk = ((int64_t)n + block - 1) / block, b = 0;
    double total = (double)rows->ptr[n] + (double)nblk * block * ld / 8.0, acc = 0;
    lo[0] = 0;
    for (int r = 1; r <= P; r++) {
        while (b < nblk && acc < total * r / P) {
            int64_t hi = (b + 1) * block < n ? (b + 1) * block : n;
            acc += (double)(rows->ptr[hi] - rows->ptr[b * block]) + (double)block * ld / 8.0;
            b++;
        }
        lo[r] = r == P ? n : (b * block < n ? b * block : n);
    }
}

/* The other side's rows t restricted to ids [a, b), shifted to start at 0: ptr/idx (and w/t when t has them). */
static int restrict_rows(const crec_ials_rows *t, int32_t a, int32_t b, crec_ials_rows *out, int64_t **ptr,
                         int32_t **idx, float **w, float **tt) {
    int32_t n = t->n_rows;
    *ptr = malloc(((size_t)n + 1) * sizeof **ptr);
    if (!*ptr) return CREC_ENOMEM;
    (*ptr)[0] = 0;
    for (int32_t u = 0; u < n; u++) {
        int64_t k = t->ptr[u], e = t->ptr[u + 1], c = 0;
        for (; k < e; k++) c += t->idx[k] >= a && t->idx[k] < b;
        (*ptr)[u + 1] = (*ptr)[u] + c;
    }
    size_t nz = (size_t)(*ptr)[n];
    *idx = malloc((nz + 1) * sizeof **idx);
    if (t->w) *w = malloc((nz + 1) * sizeof **w), *tt = malloc((nz + 1) * sizeof **tt);
    if (!*idx || (t->w && (!*w || !*tt))) return CREC_ENOMEM;
    int64_t o = 0;
    for (int32_t u = 0; u < n; u++)
        for (int64_t k = t->ptr[u]; k < t->ptr[u + 1]; k++)
            if (t->idx[k] >= a && t->idx[k] < b) {
                (*idx)[o] = t->idx[k] - a;
                if (t->w) (*w)[o] = t->w[k], (*tt)[o] = t->t[k];
                o++;
            }
    *out = (crec_ials_rows){n, b - a, *ptr, *idx, t->w ? *w : NULL, t->w ? *tt : NULL, NULL};
    return 0;
}

/* A view of rows [a, b) of r (ptr, lam shifted; entries borrowed). */
static crec_ials_rows view_rows(const crec_ials_rows *r, int64_t a, int64_t b) {
    return (crec_ials_rows){(int32_t)(b - a), r->n_cols, r->ptr + a, r->idx, r->w, r->t, r->lam + a};
}

int crec__ials_part_build(const crec_ials_data *d, int ld, int P, int R, crec_ials_part *out) {
    memset(out, 0, sizeof *out);
    if (d->users.n_rows < P || d->items.n_rows < P) return CREC_EINVAL;
    crec_ials_part *pt = out;
    pt->P = P, pt->R = R;
    /* the block size of crec__ials_solve_side with block_rows = 0 (ials.c), so the blocks are the one-rank ones */
    int B = 32768 / ld;
    pt->block = B < 16 ? 16 : B > 512 ? 512 : B;
    pt->ulo = malloc(((size_t)P + 1) * sizeof *pt->ulo);
    pt->ilo = malloc(((size_t)P + 1) * sizeof *pt->ilo);
    if (!pt->ulo || !pt->ilo) goto nomem;
    split_rows(&d->users, pt->block, ld, P, pt->ulo);
    split_rows(&d->items, pt->block, ld, P, pt->ilo);
    int64_t ua = pt->ulo[R], ub = pt->ulo[R + 1], ia = pt->ilo[R], ib = pt->ilo[R + 1];
    pt->users = view_rows(&d->users, ua, ub);
    pt->items = view_rows(&d->items, ia, ib);
    if (restrict_rows(&d->items, (int32_t)ua, (int32_t)ub, &pt->titems, &pt->ti_ptr, &pt->ti_idx, &pt->ti_w,
                      &pt->ti_t) ||
        restrict_rows(&d->users, (int32_t)ia, (int32_t)ib, &pt->tusers, &pt->tu_ptr, &pt->tu_idx, &pt->tu_w,
                      &pt->tu_t))
        goto nomem;
    return 0;
nomem:
    crec__ials_part_free(pt);
    return CREC_ENOMEM;
}

/* G = the sum over ranks of the Gram matrices of each rank's rows [lo[R], lo[R + 1]) of Y. */
static int gram_dist(const float *Y, const int64_t *lo, int R, int ld, float *G, int n_threads) {
    int32_t n = (int32_t)(lo[R + 1] - lo[R]);
    int rc = 0;
    if (n > 0) rc = crec__ials_gram(Y + (size_t)lo[R] * ld, n, ld, G, n_threads);
    else memset(G, 0, (size_t)ld * ld * sizeof *G);
    return rc ? rc : crec_dist_allreduce_f32(G, (size_t)ld * ld);
}

int crec__ials_iterate_dist(crec_ials_state *s, const crec_ials_data *dat, const crec_ials_part *pt, int n_threads) {
    int ld = s->ld, R = pt->R;
    float gs = (float)s->p.alpha0;
    float *G = crec__aligned_alloc((size_t)ld * ld * sizeof *G);
    if (!G) return CREC_ENOMEM;
    (void)dat;
    /* users, H fixed (s->gram_h = H^T H) */
    int rc = crec__ials_solve_side_prec(s->W + (size_t)pt->ulo[R] * ld, s->H, ld, s->gram_h, gs, &pt->users,
                                        &pt->titems, s->p.cg_steps, pt->block, n_threads, s->p.prec);
    if (!rc) rc = crec_dist_allgather_rows(s->W, pt->ulo, ld);
    if (!rc) rc = gram_dist(s->W, pt->ulo, R, ld, G, n_threads);
    /* items, W fixed */
    if (!rc)
        rc = crec__ials_solve_side_prec(s->H + (size_t)pt->ilo[R] * ld, s->W, ld, G, gs, &pt->items, &pt->tusers,
                                        s->p.cg_steps, pt->block, n_threads, s->p.prec);
    if (!rc) rc = crec_dist_allgather_rows(s->H, pt->ilo, ld);
    if (!rc) rc = gram_dist(s->H, pt->ilo, R, ld, s->gram_h, n_threads);
    free(G);
    return rc;
}
