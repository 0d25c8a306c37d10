/* attrfuse.c: item attributes fused into an item table (see attrfuse.h). */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/crec.h"
#include "models/attrfuse.h"

int crec__attrfuse_init(crec_attrfuse *a, const crec_dataset *ds, int32_t NI, const char *model) {
    memset(a, 0, sizeof *a);
    if (!ds || ds->n_attr_pairs == 0 || ds->attrs.n == 0) {
        if (ds)
            crec__log("%s: attr=1 needs item attributes; dataset '%s' has none\n", model, ds->name);
        else
            crec__log("%s: attr=1 needs item attributes; no dataset was given\n", model);
        return CREC_EINVAL;
    }
    a->NI = NI, a->NA = ds->attrs.n;
    a->aptr = calloc((size_t)NI + 1, sizeof *a->aptr);
    a->aidx = malloc((size_t)ds->n_attr_pairs * sizeof *a->aidx);
    int64_t *fill = malloc(((size_t)NI + 1) * sizeof *fill);
    if (!a->aptr || !a->aidx || !fill) {
        free(fill);
        crec__attrfuse_free(a);
        return CREC_ENOMEM;
    }
    for (int64_t k = 0; k < ds->n_attr_pairs; k++)
        if (ds->attr_item[k] >= 0 && ds->attr_item[k] < NI) a->aptr[ds->attr_item[k] + 1]++;
    for (int32_t i = 0; i < NI; i++) a->aptr[i + 1] += a->aptr[i];
    memcpy(fill, a->aptr, ((size_t)NI + 1) * sizeof *fill);
    for (int64_t k = 0; k < ds->n_attr_pairs; k++) {
        int32_t i = ds->attr_item[k];
        if (i >= 0 && i < NI) a->aidx[fill[i]++] = ds->attr_id[k];
    }
    free(fill);
    return 0;
}

void crec__attrfuse_free(crec_attrfuse *a) {
    free(a->aptr), free(a->aidx);
    memset(a, 0, sizeof *a);
}

void crec__attrfuse_rows(const crec_attrfuse *a, float *out, const float *E, const float *F, const int32_t *row,
                         int D) {
#pragma omp parallel for schedule(static) if ((size_t)a->NI * D > 65536)
    for (int32_t i = 0; i < a->NI; i++) {
        size_t r = (size_t)(row ? row[i] : i) * D;
        float *o = out + r;
        const float *e = E + r;
        int64_t k0 = a->aptr[i], k1 = a->aptr[i + 1];
        float w = k1 > k0 ? 1.0f / (float)(k1 - k0) : 0;
        for (int d = 0; d < D; d++) o[d] = 0;
        for (int64_t k = k0; k < k1; k++) {
            const float *f = F + (size_t)a->aidx[k] * D;
            for (int d = 0; d < D; d++) o[d] += f[d];
        }
        for (int d = 0; d < D; d++) o[d] = e[d] + w * o[d];
    }
}

void crec__attrfuse_back(const crec_attrfuse *a, const float *dE, float *dF, const int32_t *row, int D) {
    for (int32_t i = 0; i < a->NI; i++) {
        int64_t k0 = a->aptr[i], k1 = a->aptr[i + 1];
        if (k1 == k0) continue;
        const float *g = dE + (size_t)(row ? row[i] : i) * D;
        int any = 0;
        for (int d = 0; d < D && !any; d++) any = g[d] != 0;
        if (!any) continue;
        float w = 1.0f / (float)(k1 - k0);
        for (int64_t k = k0; k < k1; k++) {
            float *f = dF + (size_t)a->aidx[k] * D;
            for (int d = 0; d < D; d++) f[d] += w * g[d];
        }
    }
}
