/* attrfuse.h: item attributes as side information in an item table (private API; sasrec's and genrec's attr=1).
 * While training, item i's row is E'[i] = E[i] + (1 / n_i) sum_{a in attrs(i)} F[a] (feature fusion: the attribute
 * rows F are learnt jointly with E and shared by every item carrying them, so an item seen a few times borrows from
 * its brand and categories); the backward passes E''s gradient to E unchanged and the mean's share of it to each
 * attribute row. After training E' is folded into E, so a checkpoint holds plain item rows.
 *
 * Rows are addressed through an optional map: item i's row is row[i] (NULL: i), for tables whose item rows are
 * not in item order (genrec's item-token level). */
#ifndef CREC_MODELS_ATTRFUSE_H
#define CREC_MODELS_ATTRFUSE_H

#include <stdint.h>

#include "crec/dataset.h"

typedef struct crec_attrfuse {
    int32_t NI, NA; /* items, attribute rows */
    int64_t *aptr;  /* [NI + 1] item -> its attributes in aidx (each pair of the dataset once per occurrence) */
    int32_t *aidx;
} crec_attrfuse;

/* The item -> attribute index of ds over items < NI. CREC_EINVAL with a message naming `model` when ds is NULL or
 * has no attributes; CREC_ENOMEM. */
int crec__attrfuse_init(crec_attrfuse *a, const crec_dataset *ds, int32_t NI, const char *model);
void crec__attrfuse_free(crec_attrfuse *a);

/* out[row(i)] = E[row(i)] + mean of F over i's attributes, for every item (rows of width D, stride D; out may be
 * E's own memory only when it is a different buffer). */
void crec__attrfuse_rows(const crec_attrfuse *a, float *out, const float *E, const float *F, const int32_t *row,
                         int D);
/* dF[a] += dE'[row(i)] / n_i for every item whose row has a non-zero gradient (items in order: the same sums at any
 * thread count). */
void crec__attrfuse_back(const crec_attrfuse *a, const float *dE, float *dF, const int32_t *row, int D);

#endif
