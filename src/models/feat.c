/* feat.c: item feature lists from attributes and title/text words (see feat.h).
 * Two passes per source: collect each item's distinct raw ids (attribute ids, or token ids from a vocabulary
 * built here with crec_idmap), count in how many trained items each appears, keep those that appear at least
 * once (tokens: the max_tokens most frequent), renumber, and write one sorted CSR over items. */
#include "models/feat.h"

#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void crec__feat_free(crec_feat *f) {
    free(f->ptr);
    free(f->idx);
    memset(f, 0, sizeof *f);
}

static int is_word(unsigned char c) {
    return c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

int crec__tokenize(const char *s, void (*fn)(const char *tok, size_t len, void *ud), void *ud) {
    char w[64];
    int n = 0;
    if (!s) return 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        while (*p && !is_word(*p)) p++;
        size_t len = 0;
        int ascii_only = 1;
        while (*p && is_word(*p)) {
            unsigned char c = *p++;
            if (c >= 0x80) ascii_only = 0;
            else if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
            if (len < sizeof w - 1) w[len++] = (char)c;
        }
        if (len == 0 || (len == 1 && ascii_only)) continue;
        w[len] = 0;
        fn(w, len, ud);
        n++;
    }
    return n;
}

typedef struct tok_ctx {
    crec_idmap *voc;
    int32_t *ids;
    int64_t n, cap;
    int rc;
} tok_ctx;

static void tok_push(const char *tok, size_t len, void *ud) {
    tok_ctx *c = ud;
    if (c->rc) return;
    int32_t id = crec_idmap_intern(c->voc, tok, len);
    if (id < 0 || crec__grow((void **)&c->ids, &c->cap, c->n + 1, sizeof *c->ids)) {
        c->rc = CREC_ENOMEM;
        return;
    }
    c->ids[c->n++] = id;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sort and dedup v[0..n); returns the new length. */
static int64_t sort_unique(int32_t *v, int64_t n) {
    if (n <= 1) return n;
    qsort(v, (size_t)n, sizeof *v, cmp_i32);
    int64_t w = 1;
    for (int64_t k = 1; k < n; k++)
        if (v[k] != v[w - 1]) v[w++] = v[k];
    return w;
}

typedef struct tok_rank { int64_t df; int32_t id; } tok_rank;
/* more trained items first, then first appearance */
static int cmp_rank(const void *a, const void *b) {
    const tok_rank *x = a, *y = b;
    if (x->df != y->df) return x->df > y->df ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

int crec__feat_build(crec_feat *f, const crec_dataset *ds, int32_t n_items, const uint8_t *trained, int use_attrs,
                     int use_text, int32_t max_tokens) {
    memset(f, 0, sizeof *f);
    f->n_items = n_items;
    int rc = CREC_ENOMEM;
    crec_idmap voc;
    crec_idmap_init(&voc);
    tok_ctx tc = {.voc = &voc};
    int64_t *tptr = calloc((size_t)n_items + 1, sizeof *tptr);
    int64_t *aptr = calloc((size_t)n_items + 2, sizeof *aptr);
    int32_t *aidx = NULL, *amap = NULL, *tmap = NULL;
    tok_rank *order = NULL;
    int64_t *adf = NULL, *tdf = NULL;
    int32_t n_raw_attrs = ds && use_attrs ? ds->attrs.n : 0;
    f->ptr = calloc((size_t)n_items + 1, sizeof *f->ptr);
    if (!tptr || !aptr || !f->ptr) goto done;

    /* attributes: bucket the raw (item, attr) pairs by item, then sort + dedup each bucket */
    int64_t np = ds && use_attrs ? ds->n_attr_pairs : 0;
    aidx = malloc(((size_t)np + 1) * sizeof *aidx);
    adf = calloc((size_t)n_raw_attrs + 1, sizeof *adf);
    amap = malloc(((size_t)n_raw_attrs + 1) * sizeof *amap);
    if (!aidx || !adf || !amap) goto done;
    for (int64_t k = 0; k < np; k++) {
        int32_t i = ds->attr_item[k], a = ds->attr_id[k];
        if (i >= 0 && i < n_items && a >= 0 && a < n_raw_attrs) aptr[i + 2]++;
    }
    for (int32_t i = 0; i < n_items; i++) aptr[i + 2] += aptr[i + 1];
    for (int64_t k = 0; k < np; k++) {
        int32_t i = ds->attr_item[k], a = ds->attr_id[k];
        if (i >= 0 && i < n_items && a >= 0 && a < n_raw_attrs) aidx[aptr[i + 1]++] = a;
    }
    /* bucket i is now aptr[i] .. aptr[i+1]; compact the deduplicated buckets in place */
    {
        int64_t w = 0, b = 0;
        for (int32_t i = 0; i < n_items; i++) {
            int64_t e = aptr[i + 1], len = sort_unique(aidx + b, e - b);
            memmove(aidx + w, aidx + b, (size_t)len * sizeof *aidx);
            aptr[i] = w;
            if (trained[i])
                for (int64_t q = w; q < w + len; q++) adf[aidx[q]]++;
            w += len;
            b = e;
        }
        aptr[n_items] = w;
    }
    for (int32_t a = 0; a < n_raw_attrs; a++) amap[a] = adf[a] > 0 ? f->n_attrs++ : -1;

    /* tokens of title and text */
    if (ds && use_text && (ds->title || ds->text)) {
        for (int32_t i = 0; i < n_items; i++) {
            int64_t start = tc.n;
            if (i < ds->meta_cap && ds->title) crec__tokenize(ds->title[i], tok_push, &tc);
            if (i < ds->meta_cap && ds->text) crec__tokenize(ds->text[i], tok_push, &tc);
            if (tc.rc) goto done;
            tc.n = start + sort_unique(tc.ids + start, tc.n - start);
            tptr[i + 1] = tc.n;
        }
    }
    int32_t nv = voc.n;
    tdf = calloc((size_t)nv + 1, sizeof *tdf);
    tmap = malloc(((size_t)nv + 1) * sizeof *tmap);
    order = malloc(((size_t)nv + 1) * sizeof *order);
    if (!tdf || !tmap || !order) goto done;
    for (int32_t i = 0; i < n_items; i++)
        if (trained[i])
            for (int64_t q = tptr[i]; q < tptr[i + 1]; q++) tdf[tc.ids[q]]++;
    int32_t n_cand = 0;
    for (int32_t v = 0; v < nv; v++) {
        tmap[v] = -1;
        if (tdf[v] > 0) order[n_cand++] = (tok_rank){tdf[v], v};
    }
    qsort(order, (size_t)n_cand, sizeof *order, cmp_rank);
    f->n_tokens = max_tokens >= 0 && n_cand > max_tokens ? max_tokens : n_cand;
    for (int32_t r = 0; r < f->n_tokens; r++) tmap[order[r].id] = f->n_attrs + r;
    f->n_feats = f->n_attrs + f->n_tokens;

    /* the final CSR: kept attributes and kept tokens, sorted per item */
    int64_t total = 0;
    for (int32_t i = 0; i < n_items; i++) {
        for (int64_t q = aptr[i]; q < aptr[i + 1]; q++) total += amap[aidx[q]] >= 0;
        for (int64_t q = tptr[i]; q < tptr[i + 1]; q++) total += tmap[tc.ids[q]] >= 0;
    }
    f->idx = malloc(((size_t)total + 1) * sizeof *f->idx);
    if (!f->idx) goto done;
    int64_t w = 0;
    for (int32_t i = 0; i < n_items; i++) {
        int64_t start = w;
        for (int64_t q = aptr[i]; q < aptr[i + 1]; q++)
            if (amap[aidx[q]] >= 0) f->idx[w++] = amap[aidx[q]];
        for (int64_t q = tptr[i]; q < tptr[i + 1]; q++)
            if (tmap[tc.ids[q]] >= 0) f->idx[w++] = tmap[tc.ids[q]];
        qsort(f->idx + start, (size_t)(w - start), sizeof *f->idx, cmp_i32);
        f->ptr[i + 1] = w;
    }
    rc = 0;
done:
    crec_idmap_free(&voc);
    free(tc.ids);
    free(tptr);
    free(aptr);
    free(aidx);
    free(amap);
    free(adf);
    free(tdf);
    free(tmap);
    free(order);
    if (rc) crec__feat_free(f);
    return rc;
}
