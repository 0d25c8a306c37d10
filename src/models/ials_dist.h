/* ials_dist.h: iALS over P ranks (crec/dist.h), private to src/models/ials.c.
 *
 * Every rank holds the whole data and both factor matrices. A half-step is solved by rows: rank r solves its run
 * of row blocks [lo[r], lo[r + 1]) of the side being updated (block boundaries those of the one-rank solve, so the
 * same CG arithmetic), then the solved rows are allgathered and the next Gram matrix is the sum over ranks of
 * each rank's rows' Gram (one allreduce of ld x ld floats). Communication per iteration: (U + I) x ld floats
 * gathered and two ld x ld sums. */
#ifndef CREC_MODELS_IALS_DIST_H
#define CREC_MODELS_IALS_DIST_H

#include "models/ials.h"

/* One rank's share of the data: its rows of each side (borrowing the data's arrays) and, for the scatter layout,
 * the other side's rows restricted to them with their ids shifted to start at 0 (owned). */
typedef struct crec_ials_part {
    int P, R, block;            /* ranks, this rank, rows per CG block */
    int64_t *ulo, *ilo;         /* [P + 1] row bounds of each rank's users and items */
    crec_ials_rows users, items;   /* this rank's rows (relative ids: row 0 is ulo[R] / ilo[R]) */
    crec_ials_rows tusers, titems; /* per item its users in this rank's run (for the user half), and per user
                                    * its items in this rank's run (item half) */
    int64_t *tu_ptr, *ti_ptr;
    int32_t *tu_idx, *ti_idx;
    float *tu_w, *tu_t, *ti_w, *ti_t;
} crec_ials_part;

/* The share of rank R of P for data d and row stride ld. 0, CREC_ENOMEM, or CREC_EINVAL (fewer users or items
 * than ranks). */
int crec__ials_part_build(const crec_ials_data *d, int ld, int P, int R, crec_ials_part *out);
void crec__ials_part_free(crec_ials_part *pt);

/* One iteration over the ranks (users, allgather, Gram, items, allgather, Gram into s->gram_h); s->gram_h must hold
 * H^T H on entry (as after crec__ials_iterate or the training's first Gram). 0 or CREC_E*. */
int crec__ials_iterate_dist(crec_ials_state *s, const crec_ials_data *dat, const crec_ials_part *pt, int n_threads);

#endif
