/* nbrtab.c: top-k neighbour tables (see nbrtab.h). */
#include "models/nbrtab.h"

#include <stdlib.h>
#include <string.h>

#include "core/binio.h"

/* min-heap on (val, then larger id = worse) for top-k selection */
static int worse(float va, int32_t ia, float vb, int32_t ib) { return va < vb || (va == vb && ia > ib); }

static void sift_down(int32_t *hi, float *hv, int n, int p) {
    for (;;) {
        int l = 2 * p + 1, r = l + 1, m = p;
        if (l < n && worse(hv[l], hi[l], hv[m], hi[m])) m = l;
        if (r < n && worse(hv[r], hi[r], hv[m], hi[m])) m = r;
        if (m == p) return;
        float tv = hv[p];
        int32_t ti = hi[p];
        hv[p] = hv[m];
        hi[p] = hi[m];
        hv[m] = tv;
        hi[m] = ti;
        p = m;
    }
}

int crec__nbr_select(const float *acc, int32_t n, int32_t self, int k, int32_t *hi, float *hv) {
    int cnt = 0;
    for (int32_t j = 0; j < n; j++) {
        float v = acc[j];
        if (!(v > 0) || j == self) continue;
        if (cnt < k) {
            hi[cnt] = j;
            hv[cnt] = v;
            cnt++;
            if (cnt == k)
                for (int p = k / 2 - 1; p >= 0; p--) sift_down(hi, hv, k, p);
        } else if (worse(hv[0], hi[0], v, j)) {
            hi[0] = j;
            hv[0] = v;
            sift_down(hi, hv, k, 0);
        }
    }
    if (cnt < k)
        for (int p = cnt / 2 - 1; p >= 0; p--) sift_down(hi, hv, cnt, p);
    /* heap-sort into descending order */
    for (int end = cnt - 1; end > 0; end--) {
        float tv = hv[0];
        int32_t ti = hi[0];
        hv[0] = hv[end];
        hi[0] = hi[end];
        hv[end] = tv;
        hi[end] = ti;
        sift_down(hi, hv, end, 0);
    }
    return cnt;
}

int crec__nbrtab_from_rows(crec_nbrtab *t, int32_t n, int k, const int32_t *cnt, const int32_t *idx_rows,
                           const float *val_rows) {
    memset(t, 0, sizeof *t);
    t->n = n;
    t->ptr = calloc((size_t)n + 1, sizeof *t->ptr);
    if (!t->ptr) return CREC_ENOMEM;
    for (int32_t i = 0; i < n; i++) t->ptr[i + 1] = t->ptr[i] + cnt[i];
    int64_t nnz = t->ptr[n];
    t->idx = malloc((size_t)(nnz ? nnz : 1) * sizeof *t->idx);
    t->val = malloc((size_t)(nnz ? nnz : 1) * sizeof *t->val);
    if (!t->idx || !t->val) {
        crec__nbrtab_free(t);
        return CREC_ENOMEM;
    }
    for (int32_t i = 0; i < n; i++) {
        memcpy(t->idx + t->ptr[i], idx_rows + (size_t)i * k, (size_t)cnt[i] * sizeof *t->idx);
        memcpy(t->val + t->ptr[i], val_rows + (size_t)i * k, (size_t)cnt[i] * sizeof *t->val);
    }
    return 0;
}

void crec__nbrtab_free(crec_nbrtab *t) {
    free(t->ptr);
    free(t->idx);
    free(t->val);
    memset(t, 0, sizeof *t);
}

int crec__nbrtab_save(const crec_nbrtab *t, crec_buf *b) {
    int64_t nnz = t->ptr[t->n];
    int rc = crec_buf_write(b, t->ptr, ((size_t)t->n + 1) * sizeof *t->ptr);
    if (!rc) rc = crec_buf_write(b, t->idx, (size_t)nnz * sizeof *t->idx);
    if (!rc) rc = crec_buf_write(b, t->val, (size_t)nnz * sizeof *t->val);
    return rc;
}

int crec__nbrtab_load(crec_nbrtab *t, int32_t n, crec_buf *b) {
    memset(t, 0, sizeof *t);
    t->n = n;
    if (n < 0 || crec_buf_need(b, (uint64_t)n + 1, sizeof *t->ptr)) return CREC_EFORMAT;
    t->ptr = malloc(((size_t)n + 1) * sizeof *t->ptr);
    if (!t->ptr) return CREC_ENOMEM;
    int rc = crec_buf_read(b, t->ptr, ((size_t)n + 1) * sizeof *t->ptr);
    if (rc) goto fail;
    rc = CREC_EFORMAT;
    if (t->ptr[0] != 0) goto fail;
    for (int32_t i = 0; i < n; i++)
        if (t->ptr[i + 1] < t->ptr[i]) goto fail;
    int64_t nnz = t->ptr[n];
    if ((uint64_t)nnz > (b->len - b->pos) / 8) goto fail;
    rc = CREC_ENOMEM;
    t->idx = malloc((size_t)(nnz ? nnz : 1) * sizeof *t->idx);
    t->val = malloc((size_t)(nnz ? nnz : 1) * sizeof *t->val);
    if (!t->idx || !t->val) goto fail;
    rc = crec_buf_read(b, t->idx, (size_t)nnz * sizeof *t->idx);
    if (!rc) rc = crec_buf_read(b, t->val, (size_t)nnz * sizeof *t->val);
    if (rc) goto fail;
    for (int64_t k = 0; k < nnz; k++)
        if (t->idx[k] < 0 || t->idx[k] >= n) {
            rc = CREC_EFORMAT;
            goto fail;
        }
    return 0;
fail:
    crec__nbrtab_free(t);
    return rc;
}

void crec__nbrtab_accumulate(const crec_nbrtab *t, int32_t i, float w, float *scores) {
    for (int64_t k = t->ptr[i]; k < t->ptr[i + 1]; k++) scores[t->idx[k]] += w * t->val[k];
}
