/* index.c: the item index as data - its file format (framed, versioned, checked on load), the trie of valid codes
 * (build, child and prefix lookup) and the `crec index info` report. The methods that make codes are in build.c.
 *
 * The one idea: a code is L tokens, token l drawn from level l's K[l]; the trie is built once from the codes sorted
 * lexicographically, level by level, so the children of every node are contiguous and sorted by token, and a
 * child lookup is a binary search. */
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "crec/index.h"

#define INDEX_MAGIC "CRECIDX\1"
#define INDEX_VERSION 1u

void crec_index_opts_default(crec_index_opts *o) {
    memset(o, 0, sizeof *o);
    o->method = "rq";
    o->K = 0; /* method's default */
    o->levels = 3;
    o->N = 20;
    o->M = 500;
    o->depth = 3;
    o->base = "collaborative";
    o->iters = 25;
    o->seed = 42;
}

uint64_t crec_index_items_hash(const crec_dataset *ds) {
    crec_hash64_state st;
    crec__hash64_init(&st, 0x1dc0de);
    for (int32_t i = 0; i < ds->items.n; i++) {
        const char *s = ds->items.names[i];
        crec__hash64_update(&st, s, strlen(s) + 1);
    }
    return crec__hash64_final(&st);
}

void crec_index_free(crec_index *ix) {
    if (!ix) return;
    free(ix->codes);
    memset(ix, 0, sizeof *ix);
}

/* Order of item ids by their codes (lexicographic); ties by id. */
static int32_t *sorted_by_code(const crec_index *ix) {
    int32_t n = ix->n_items, L = ix->L;
    int32_t *ord = malloc((size_t)(n > 0 ? n : 1) * sizeof *ord);
    if (!ord) return NULL;
    for (int32_t i = 0; i < n; i++) ord[i] = i;
    /* radix sort, least significant level first (stable counting sorts): O(n L) */
    int32_t *tmp = malloc((size_t)(n > 0 ? n : 1) * sizeof *tmp);
    int32_t kmax = 1;
    for (int l = 0; l < L; l++) kmax = ix->K[l] > kmax ? ix->K[l] : kmax;
    int64_t *cnt = malloc(((size_t)kmax + 1) * sizeof *cnt);
    if (!tmp || !cnt) {
        free(ord), free(tmp), free(cnt);
        return NULL;
    }
    for (int l = L - 1; l >= 0; l--) {
        memset(cnt, 0, ((size_t)kmax + 1) * sizeof *cnt);
        for (int32_t i = 0; i < n; i++) cnt[ix->codes[(size_t)ord[i] * L + l] + 1]++;
        for (int32_t k = 0; k < kmax; k++) cnt[k + 1] += cnt[k];
        for (int32_t i = 0; i < n; i++) tmp[cnt[ix->codes[(size_t)ord[i] * L + l]]++] = ord[i];
        memcpy(ord, tmp, (size_t)n * sizeof *ord);
    }
    free(tmp);
    free(cnt);
    return ord;
}

int crec_index_check(const crec_index *ix) {
    if (ix->L < 1 || ix->L > CREC_INDEX_MAX_L || ix->n_items < 1 || !ix->codes) return CREC_EFORMAT;
    if (ix->tok_off[0] != 0) return CREC_EFORMAT;
    for (int l = 0; l < ix->L; l++) {
        /* every method uses at most n_items tokens per level plus a pad: a larger K is a corrupt file */
        if (ix->K[l] < 1 || ix->K[l] > ix->n_items + 1) return CREC_EFORMAT;
        if (ix->tok_off[l + 1] != ix->tok_off[l] + ix->K[l]) return CREC_EFORMAT;
    }
    for (int32_t i = 0; i < ix->n_items; i++)
        for (int l = 0; l < ix->L; l++) {
            int32_t c = ix->codes[(size_t)i * ix->L + l];
            if (c < 0 || c >= ix->K[l]) return CREC_EFORMAT;
        }
    int32_t *ord = sorted_by_code(ix);
    if (!ord) return CREC_ENOMEM;
    int rc = 0;
    for (int32_t i = 1; i < ix->n_items && !rc; i++)
        if (memcmp(ix->codes + (size_t)ord[i] * ix->L, ix->codes + (size_t)ord[i - 1] * ix->L,
                   (size_t)ix->L * sizeof(int32_t)) == 0)
            rc = CREC_EFORMAT;
    free(ord);
    return rc;
}

int crec_index_copy(const crec_index *src, crec_index *dst) {
    *dst = *src;
    size_t n = (size_t)src->n_items * src->L;
    dst->codes = malloc(n * sizeof *dst->codes);
    if (!dst->codes) return CREC_ENOMEM;
    memcpy(dst->codes, src->codes, n * sizeof *dst->codes);
    return 0;
}

/* ---- file ---- */

int crec_index_write(const crec_index *ix, crec_buf *out) {
    int rc = crec__put_u32(out, INDEX_VERSION);
    if (!rc) rc = crec__put_str(out, ix->method);
    if (!rc) rc = crec__put_str(out, ix->source);
    if (!rc) rc = crec__put_u32(out, (uint32_t)ix->n_items);
    if (!rc) rc = crec__put_u32(out, (uint32_t)ix->L);
    if (!rc) rc = crec__put_u64(out, ix->items_hash);
    for (int l = 0; l < ix->L && !rc; l++) rc = crec__put_u32(out, (uint32_t)ix->K[l]);
    if (!rc) rc = crec_buf_write(out, ix->codes, (size_t)ix->n_items * ix->L * sizeof(int32_t));
    return rc;
}

int crec_index_read(crec_buf *in, crec_index *out) {
    memset(out, 0, sizeof *out);
    uint32_t ver, n, L;
    int rc = crec__get_u32(in, &ver);
    if (!rc && (ver < 1 || ver > INDEX_VERSION)) rc = CREC_EVERSION;
    if (!rc) rc = crec__get_str_into(in, out->method, sizeof out->method);
    if (!rc) rc = crec__get_str_into(in, out->source, sizeof out->source);
    if (!rc) rc = crec__get_u32(in, &n);
    if (!rc) rc = crec__get_u32(in, &L);
    if (!rc) rc = crec__get_u64(in, &out->items_hash);
    if (rc) return rc;
    if (L < 1 || L > CREC_INDEX_MAX_L || n < 1 || n > (1u << 30)) return CREC_EFORMAT;
    out->n_items = (int32_t)n;
    out->L = (int)L;
    for (int l = 0; l < out->L; l++) {
        uint32_t k;
        if ((rc = crec__get_u32(in, &k))) return rc;
        if (k < 1 || k > (1u << 24)) return CREC_EFORMAT;
        out->K[l] = (int32_t)k;
        out->tok_off[l + 1] = out->tok_off[l] + out->K[l];
    }
    if ((rc = crec_buf_need(in, (uint64_t)n * L, sizeof(int32_t)))) return rc;
    out->codes = malloc((size_t)n * L * sizeof(int32_t));
    if (!out->codes) return CREC_ENOMEM;
    rc = crec_buf_read(in, out->codes, (size_t)n * L * sizeof(int32_t));
    if (!rc) rc = crec_index_check(out);
    if (rc) crec_index_free(out);
    return rc;
}

int crec_index_save(const crec_index *ix, const char *path) {
    crec_buf b = {0};
    int rc = crec_index_write(ix, &b);
    if (!rc) rc = crec__binfile_write(path, INDEX_MAGIC, INDEX_VERSION, &b);
    crec_buf_free(&b);
    return rc;
}

int crec_index_load(const char *path, crec_index *out) {
    crec_buf b = {0};
    uint32_t ver;
    memset(out, 0, sizeof *out);
    int rc = crec__binfile_read(path, INDEX_MAGIC, INDEX_VERSION, &ver, &b);
    if (rc) return rc;
    rc = crec_index_read(&b, out);
    if (!rc && b.pos != b.len) {
        crec_index_free(out);
        rc = CREC_EFORMAT;
    }
    crec__binfile_release(&b);
    return rc;
}

/* ---- trie ---- */

void crec_trie_free(crec_trie *t) {
    if (!t) return;
    free(t->tok), free(t->first), free(t->nchild), free(t->item), free(t->count), free(t->depth);
    memset(t, 0, sizeof *t);
}

int crec_trie_build(const crec_index *ix, crec_trie *t) {
    memset(t, 0, sizeof *t);
    int32_t n = ix->n_items, L = ix->L;
    int32_t *ord = sorted_by_code(ix);
    if (!ord) return CREC_ENOMEM;
    /* nodes: root + for each depth d the distinct prefixes of length d (at most n each) */
    int64_t cap = 1 + (int64_t)n * L;
    t->L = L;
    t->tok = malloc((size_t)cap * sizeof(int32_t));
    t->first = calloc((size_t)cap, sizeof(int32_t));
    t->nchild = calloc((size_t)cap, sizeof(int32_t));
    t->item = malloc((size_t)cap * sizeof(int32_t));
    t->count = calloc((size_t)cap, sizeof(int32_t));
    t->depth = malloc((size_t)cap * sizeof(int32_t));
    int32_t *cur = malloc((size_t)n * sizeof(int32_t)); /* node of item ord[i] at the current depth */
    if (!t->tok || !t->first || !t->nchild || !t->item || !t->count || !t->depth || !cur) {
        free(ord), free(cur);
        crec_trie_free(t);
        return CREC_ENOMEM;
    }
    int32_t nn = 1;
    t->tok[0] = -1, t->item[0] = -1, t->depth[0] = 0, t->count[0] = n;
    for (int32_t i = 0; i < n; i++) cur[i] = 0;
    for (int d = 0; d < L; d++) {
        /* items sorted by code: within one parent, equal tokens are adjacent and children come out in order */
        for (int32_t i = 0; i < n; i++) {
            const int32_t *c = ix->codes + (size_t)ord[i] * L;
            int same = i > 0 && cur[i - 1] >= 0;
            if (same) {
                const int32_t *p = ix->codes + (size_t)ord[i - 1] * L;
                same = memcmp(c, p, (size_t)(d + 1) * sizeof *c) == 0;
            }
            int32_t parent = cur[i];
            int32_t node;
            if (same)
                node = nn - 1;
            else {
                node = nn++;
                t->tok[node] = c[d];
                t->item[node] = -1;
                t->depth[node] = d + 1;
                if (t->nchild[parent] == 0) t->first[parent] = node;
                t->nchild[parent]++;
            }
            t->count[node]++;
            if (d + 1 == L) t->item[node] = ord[i];
            cur[i] = node;
        }
    }
    t->n_nodes = nn;
    free(ord);
    free(cur);
    return 0;
}

int32_t crec_trie_child(const crec_trie *t, int32_t v, int32_t tok) {
    if (v < 0 || v >= t->n_nodes) return -1;
    int32_t lo = t->first[v], hi = lo + t->nchild[v] - 1;
    while (lo <= hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (t->tok[mid] == tok) return mid;
        if (t->tok[mid] < tok)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return -1;
}

int32_t crec_trie_find(const crec_trie *t, const int32_t *prefix, int len) {
    if (len < 0 || len > t->L) return -1;
    int32_t v = 0;
    for (int d = 0; d < len && v >= 0; d++) v = crec_trie_child(t, v, prefix[d]);
    return v;
}

/* ---- info ---- */

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int crec_index_info(const crec_index *ix, FILE *f, int json) {
    crec_trie t;
    int rc = crec_trie_build(ix, &t);
    if (rc) return rc;
    int L = ix->L;
    int32_t *used = calloc((size_t)ix->tok_off[L], sizeof *used);
    int32_t *sizes = malloc((size_t)t.n_nodes * sizeof *sizes);
    if (!used || !sizes) {
        free(used), free(sizes);
        crec_trie_free(&t);
        return CREC_ENOMEM;
    }
    for (int32_t i = 0; i < ix->n_items; i++)
        for (int l = 0; l < L; l++) used[ix->tok_off[l] + ix->codes[(size_t)i * L + l]]++;
    /* collisions of the code without its last level: items whose (L-1)-prefix another item shares */
    int64_t coll_items = 0, coll_groups = 0;
    int32_t maxgroup = 0;
    for (int32_t v = 0; v < t.n_nodes; v++)
        if (t.depth[v] == L - 1 && L > 1) {
            if (t.count[v] > 1) coll_items += t.count[v], coll_groups++;
            maxgroup = t.count[v] > maxgroup ? t.count[v] : maxgroup;
        }
    if (json)
        fprintf(f, "{\"method\": \"%s\", \"source\": \"%s\", \"items\": %d, \"levels\": %d, \"vocab\": %d, "
                   "\"nodes\": %d, \"per_level\": [",
                ix->method, ix->source, ix->n_items, L, ix->tok_off[L], t.n_nodes);
    else {
        fprintf(f, "index: method %s (%s), %d items, %d levels, vocabulary %d tokens, trie %d nodes\n", ix->method,
                ix->source, ix->n_items, L, ix->tok_off[L], t.n_nodes);
        fprintf(f, "%-6s %8s %8s %10s %10s %10s %10s\n", "level", "K", "used", "prefixes", "min/pfx", "med/pfx",
                "max/pfx");
    }
    for (int l = 0; l < L; l++) {
        int32_t u = 0;
        for (int32_t k = 0; k < ix->K[l]; k++) u += used[ix->tok_off[l] + k] > 0;
        int32_t ns = 0;
        for (int32_t v = 0; v < t.n_nodes; v++)
            if (t.depth[v] == l + 1) sizes[ns++] = t.count[v];
        qsort(sizes, (size_t)ns, sizeof *sizes, cmp_i32);
        if (json)
            fprintf(f, "%s{\"level\": %d, \"K\": %d, \"used\": %d, \"prefixes\": %d, \"min\": %d, \"median\": %d, "
                       "\"max\": %d}",
                    l ? ", " : "", l, ix->K[l], u, ns, sizes[0], sizes[ns / 2], sizes[ns - 1]);
        else
            fprintf(f, "%-6d %8d %8d %10d %10d %10d %10d\n", l, ix->K[l], u, ns, sizes[0], sizes[ns / 2],
                    sizes[ns - 1]);
    }
    if (json)
        fprintf(f, "], \"collision_items\": %lld, \"collision_groups\": %lld, \"largest_group\": %d}\n",
                (long long)coll_items, (long long)coll_groups, maxgroup);
    else
        fprintf(f,
                "collisions without the last level: %lld items in %lld groups (largest %d); with it: none (codes "
                "unique)\n",
                (long long)coll_items, (long long)coll_groups, maxgroup);
    free(used);
    free(sizes);
    crec_trie_free(&t);
    return 0;
}
