/* filter.c: dataset filters: minimum rating (explicit -> implicit), deduplication, k-core, compaction.
 * Each works in place on the log and keeps load order; compaction renumbers users/items densely. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/dataset.h"
#include "crec/split.h"

/* Keep log entries with keep[k] != 0, preserving order. */
static void keep_entries(crec_dataset *ds, const uint8_t *keep) {
    int64_t w = 0;
    for (int64_t k = 0; k < ds->n; k++) {
        if (!keep[k]) continue;
        ds->user[w] = ds->user[k];
        ds->item[w] = ds->item[k];
        ds->ts[w] = ds->ts[k];
        ds->value[w] = ds->value[k];
        ds->type[w] = ds->type[k];
        w++;
    }
    ds->n = w;
}

int crec_dataset_filter_min_value(crec_dataset *ds, float min_value) {
    uint8_t *keep = malloc((size_t)ds->n + 1);
    if (!keep) return CREC_ENOMEM;
    for (int64_t k = 0; k < ds->n; k++) keep[k] = ds->value[k] >= min_value;
    keep_entries(ds, keep);
    free(keep);
    for (int64_t k = 0; k < ds->n; k++) ds->value[k] = 1.0f;
    ds->has_value = 0;
    return crec_dataset_compact(ds, 1);
}

/* Sort key of one log entry for deduplication. */
typedef struct dedup_key { int32_t user, item; int64_t ts, pos; } dedup_key;

static int dedup_cmp(const void *a, const void *b) {
    const dedup_key *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    if (x->item != y->item) return x->item < y->item ? -1 : 1;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

int crec_dataset_dedup(crec_dataset *ds, int keep_last) {
    int64_t n = ds->n;
    dedup_key *keys = malloc((size_t)(n ? n : 1) * sizeof *keys);
    uint8_t *keep = calloc((size_t)n + 1, 1);
    if (!keys || !keep) {
        free(keys);
        free(keep);
        return CREC_ENOMEM;
    }
    for (int64_t k = 0; k < n; k++) keys[k] = (dedup_key){ds->user[k], ds->item[k], ds->ts[k], k};
    qsort(keys, (size_t)n, sizeof *keys, dedup_cmp);
    for (int64_t k = 0; k < n; k++) {
        int first = k == 0 || keys[k].user != keys[k - 1].user || keys[k].item != keys[k - 1].item;
        int last = k == n - 1 || keys[k].user != keys[k + 1].user || keys[k].item != keys[k + 1].item;
        if (keep_last ? last : first) keep[keys[k].pos] = 1;
    }
    keep_entries(ds, keep);
    free(keys);
    free(keep);
    return 0;
}

int crec_dataset_kcore(crec_dataset *ds, int k_user, int k_item) {
    int64_t *uc = malloc(((size_t)ds->users.n + 1) * sizeof *uc);
    int64_t *ic = malloc(((size_t)ds->items.n + 1) * sizeof *ic);
    uint8_t *keep = malloc((size_t)ds->n + 1);
    if (!uc || !ic || !keep) {
        free(uc);
        free(ic);
        free(keep);
        return CREC_ENOMEM;
    }
    for (;;) {
        memset(uc, 0, ((size_t)ds->users.n + 1) * sizeof *uc);
        memset(ic, 0, ((size_t)ds->items.n + 1) * sizeof *ic);
        for (int64_t k = 0; k < ds->n; k++) {
            uc[ds->user[k]]++;
            ic[ds->item[k]]++;
        }
        int64_t removed = 0;
        for (int64_t k = 0; k < ds->n; k++) {
            keep[k] = uc[ds->user[k]] >= k_user && ic[ds->item[k]] >= k_item;
            removed += !keep[k];
        }
        if (!removed) break;
        keep_entries(ds, keep);
    }
    free(uc);
    free(ic);
    free(keep);
    return crec_dataset_compact(ds, 0);
}

int crec_dataset_compact(crec_dataset *ds, int keep_empty_items) {
    int32_t nu = ds->users.n, ni = ds->items.n;
    int32_t *umap = malloc(((size_t)nu + 1) * sizeof *umap);
    int32_t *imap = malloc(((size_t)ni + 1) * sizeof *imap);
    if (!umap || !imap) {
        free(umap);
        free(imap);
        return CREC_ENOMEM;
    }
    for (int32_t u = 0; u < nu; u++) umap[u] = -1;
    for (int32_t i = 0; i < ni; i++) imap[i] = keep_empty_items ? 0 : -1;
    for (int64_t k = 0; k < ds->n; k++) {
        umap[ds->user[k]] = 0;
        imap[ds->item[k]] = 0;
    }
    int rc = 0;
    crec_idmap nu_map, ni_map;
    crec_idmap_init(&nu_map);
    crec_idmap_init(&ni_map);
    for (int32_t u = 0; u < nu && !rc; u++)
        if (umap[u] == 0) {
            int32_t id = crec_idmap_intern(&nu_map, ds->users.names[u], strlen(ds->users.names[u]));
            if (id < 0) rc = id;
            umap[u] = id;
        }
    for (int32_t i = 0; i < ni && !rc; i++)
        if (imap[i] == 0) {
            int32_t id = crec_idmap_intern(&ni_map, ds->items.names[i], strlen(ds->items.names[i]));
            if (id < 0) rc = id;
            imap[i] = id;
        }
    if (rc) {
        crec_idmap_free(&nu_map);
        crec_idmap_free(&ni_map);
        free(umap);
        free(imap);
        return rc;
    }
    for (int64_t k = 0; k < ds->n; k++) {
        ds->user[k] = umap[ds->user[k]];
        ds->item[k] = imap[ds->item[k]];
    }
    /* metadata: move titles/texts to new ids (new id <= old id, so ascending order is safe) */
    for (int32_t i = 0; i < ni && i < ds->meta_cap; i++) {
        int32_t j = imap[i];
        if (j == i) continue;
        if (j >= 0) {
            ds->title[j] = ds->title[i];
            ds->text[j] = ds->text[i];
        } else {
            free(ds->title[i]);
            free(ds->text[i]);
        }
        ds->title[i] = ds->text[i] = NULL;
    }
    int64_t w = 0;
    for (int64_t k = 0; k < ds->n_attr_pairs; k++) {
        int32_t j = imap[ds->attr_item[k]];
        if (j < 0) continue;
        ds->attr_item[w] = j;
        ds->attr_id[w] = ds->attr_id[k];
        w++;
    }
    ds->n_attr_pairs = w;
    w = 0;
    for (int64_t k = 0; k < ds->n_uattr_pairs; k++) {
        int32_t v = umap[ds->uattr_user[k]];
        if (v < 0) continue;
        ds->uattr_user[w] = v;
        ds->uattr_id[w] = ds->uattr_id[k];
        w++;
    }
    ds->n_uattr_pairs = w;
    free(ds->uattr_ptr);
    free(ds->uattr_idx);
    ds->uattr_ptr = NULL;
    ds->uattr_idx = NULL;
    free(ds->attr_ptr);
    free(ds->attr_idx);
    ds->attr_ptr = NULL;
    ds->attr_idx = NULL;
    crec_idmap_free(&ds->users);
    crec_idmap_free(&ds->items);
    ds->users = nu_map;
    ds->items = ni_map;
    free(umap);
    free(imap);
    return 0;
}
