/* dataset_internal.h: private helpers of the dataset module shared with the .crecds reader. */
#ifndef CREC_DATASET_INTERNAL_H
#define CREC_DATASET_INTERNAL_H
#include "crec/dataset.h"

/* Build an id map over n NUL-terminated names packed in pool[0..pool_len) (which must outlive the map and
 * end in NUL); names are not copied. CREC_EFORMAT when the pool does not hold exactly n names. */
int crec__idmap_from_pool(crec_idmap *m, const char *pool, size_t pool_len, int32_t n);
#endif
