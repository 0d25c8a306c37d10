/* nbrtab.h: a sparse item x item table of top-k weighted neighbours (CSR), shared by itemknn and markov.
 * score(history) = sum over history items h (weighted) of row h. */
#ifndef CREC_NBRTAB_H
#define CREC_NBRTAB_H
#include "crec/model.h"

typedef struct crec_nbrtab {
    int32_t n;       /* rows = items */
    int64_t *ptr;    /* [n + 1] */
    int32_t *idx;    /* neighbour ids, by descending weight */
    float *val;      /* weights */
} crec_nbrtab;

/* Keep the top k of a dense row acc[0..n) (entries > 0, j != self) into row `row` of per-row buffers. */
int crec__nbr_select(const float *acc, int32_t n, int32_t self, int k, int32_t *idx_out, float *val_out);
/* Build a table from per-row selections (rows[i]: cnt[i] entries in idx_rows + i*k, val_rows + i*k). */
int crec__nbrtab_from_rows(crec_nbrtab *t, int32_t n, int k, const int32_t *cnt, const int32_t *idx_rows,
                           const float *val_rows);
void crec__nbrtab_free(crec_nbrtab *t);
int crec__nbrtab_save(const crec_nbrtab *t, crec_buf *b);
int crec__nbrtab_load(crec_nbrtab *t, int32_t n, crec_buf *b);
/* scores[j] += w * row(i)[j] */
void crec__nbrtab_accumulate(const crec_nbrtab *t, int32_t i, float w, float *scores);
#endif
