/* build.c: the indexing methods (include/crec/index.h) - random, sequential, collaborative, semantic, hybrid, rq -
 * and the item vectors rq quantises (content TF-IDF + SVD, an external file, a fusion).
 *
 * The one idea: every method yields a tree of items (digits, cluster paths, category paths, residual codes) whose
 * leaves may still hold several items; a last level then numbers the items of each leaf (or, for hybrid, is the
 * item's own token), so every code is unique and the decoder can always end on one real item. */
#include <ctype.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/index.h"
#include "index/cluster.h"
#include "index/rqvae.h"

/* ---- helpers ---- */

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Digits needed to write 0 .. n-1 in base K. */
static int n_digits(int32_t n, int K) {
    int L = 1;
    int64_t cap = K;
    while (cap < n) cap *= K, L++;
    return L;
}

static int alloc_codes(crec_index *ix, int32_t n, int L) {
    if (L < 1 || L > CREC_INDEX_MAX_L) return CREC_EINVAL;
    ix->n_items = n;
    ix->L = L;
    ix->codes = calloc((size_t)n * L, sizeof *ix->codes);
    return ix->codes ? 0 : CREC_ENOMEM;
}

static void finish_offsets(crec_index *ix) {
    ix->tok_off[0] = 0;
    for (int l = 0; l < ix->L; l++) ix->tok_off[l + 1] = ix->tok_off[l] + ix->K[l];
}

/* Codes from numbers: item i gets num[i] in base K, most significant first. */
static int digits_index(crec_index *ix, const int32_t *num, int32_t n, int K) {
    int L = n_digits(n, K);
    int rc = alloc_codes(ix, n, L);
    if (rc) return rc;
    for (int l = 0; l < L; l++) ix->K[l] = K;
    /* the first digit only needs as many tokens as it uses */
    int64_t lower = 1;
    for (int l = 1; l < L; l++) lower *= K;
    ix->K[0] = (int32_t)((n - 1) / lower + 1);
    for (int32_t i = 0; i < n; i++) {
        int64_t v = num[i];
        for (int l = L - 1; l >= 0; l--) {
            ix->codes[(size_t)i * L + l] = (int32_t)(v % K);
            v /= K;
        }
    }
    return 0;
}

/* Path codes: item i has a path of plen[i] <= P tokens path[i*P ..] (level l token < Kp[l]); levels 0..P-1 are the
 * path, padded with token Kp[l] (the pad, counted into K only when used); level P is the index within the leaf
 * (items sharing a padded path numbered in id order) or, with iid, the item id itself. */
static int path_index(crec_index *ix, const int32_t *path, const int32_t *plen, int P, const int32_t *Kp, int32_t n,
                      int iid) {
    int L = P + 1;
    int rc = alloc_codes(ix, n, L);
    if (rc) return rc;
    int padded[CREC_INDEX_MAX_L] = {0};
    for (int32_t i = 0; i < n; i++)
        for (int l = 0; l < P; l++) {
            int32_t t = l < plen[i] ? path[(size_t)i * P + l] : Kp[l];
            if (l >= plen[i]) padded[l] = 1;
            ix->codes[(size_t)i * L + l] = t;
        }
    for (int l = 0; l < P; l++) ix->K[l] = Kp[l] + padded[l];
    if (iid) {
        for (int32_t i = 0; i < n; i++) ix->codes[(size_t)i * L + P] = i;
        ix->K[P] = n;
    } else {
        /* number the items of each leaf: items sorted by (path, id) */
        int32_t *ord = malloc((size_t)n * sizeof *ord);
        if (!ord) return CREC_ENOMEM;
        /* stable counting sort by the path, least significant level first */
        for (int32_t i = 0; i < n; i++) ord[i] = i;
        int32_t kmax = 1;
        for (int l = 0; l < P; l++) kmax = ix->K[l] > kmax ? ix->K[l] : kmax;
        int64_t *cnt = malloc(((size_t)kmax + 1) * sizeof *cnt);
        int32_t *tmpo = malloc((size_t)n * sizeof *tmpo);
        if (!cnt || !tmpo) {
            free(ord), free(cnt), free(tmpo);
            return CREC_ENOMEM;
        }
        for (int l = P - 1; l >= 0; l--) {
            memset(cnt, 0, ((size_t)kmax + 1) * sizeof *cnt);
            for (int32_t i = 0; i < n; i++) cnt[ix->codes[(size_t)ord[i] * L + l] + 1]++;
            for (int32_t k = 0; k < kmax; k++) cnt[k + 1] += cnt[k];
            for (int32_t i = 0; i < n; i++) tmpo[cnt[ix->codes[(size_t)ord[i] * L + l]]++] = ord[i];
            memcpy(ord, tmpo, (size_t)n * sizeof *ord);
        }
        int32_t within = 0, kl = 1;
        for (int32_t i = 0; i < n; i++) {
            if (i > 0 && memcmp(ix->codes + (size_t)ord[i] * L, ix->codes + (size_t)ord[i - 1] * L,
                                (size_t)P * sizeof(int32_t)) == 0)
                within++;
            else
                within = 0;
            ix->codes[(size_t)ord[i] * L + P] = within;
            if (within + 1 > kl) kl = within + 1;
        }
        ix->K[P] = kl;
        free(ord), free(cnt), free(tmpo);
    }
    return 0;
}

/* ---- co-occurrence graph of the training histories (the last 200 items of each user): w_ij = number of users
 * whose window holds both i and j (i != j); CSR, rows sorted by column ---- */

typedef struct graph {
    int64_t *ptr;
    int32_t *idx;
    float *w;
} graph;

static void graph_free(graph *g) { free(g->ptr), free(g->idx), free(g->w); }

static int cooc_graph(const crec_csr *x, int32_t n, graph *g) {
    memset(g, 0, sizeof *g);
    const int W = 200;
    /* item -> users (windows) */
    int64_t *uptr = calloc((size_t)n + 1, sizeof *uptr);
    if (!uptr) return CREC_ENOMEM;
    for (int32_t u = 0; u < x->n_rows; u++) {
        int64_t s = x->ptr[u + 1] - W > x->ptr[u] ? x->ptr[u + 1] - W : x->ptr[u];
        for (int64_t p = s; p < x->ptr[u + 1]; p++)
            if (x->idx[p] < n) uptr[x->idx[p] + 1]++;
    }
    for (int32_t i = 0; i < n; i++) uptr[i + 1] += uptr[i];
    int32_t *uidx = malloc((size_t)(uptr[n] > 0 ? uptr[n] : 1) * sizeof *uidx);
    int64_t *fill = malloc((size_t)n * sizeof *fill);
    float *acc = calloc((size_t)n, sizeof *acc);
    int32_t *touched = malloc((size_t)n * sizeof *touched);
    g->ptr = calloc((size_t)n + 1, sizeof *g->ptr);
    int64_t cap = 1 << 20, nnz = 0;
    g->idx = malloc((size_t)cap * sizeof *g->idx);
    g->w = malloc((size_t)cap * sizeof *g->w);
    int rc = 0;
    if (!uidx || !fill || !acc || !touched || !g->ptr || !g->idx || !g->w) rc = CREC_ENOMEM;
    if (!rc) {
        memcpy(fill, uptr, (size_t)n * sizeof *fill);
        for (int32_t u = 0; u < x->n_rows; u++) {
            int64_t s = x->ptr[u + 1] - W > x->ptr[u] ? x->ptr[u + 1] - W : x->ptr[u];
            for (int64_t p = s; p < x->ptr[u + 1]; p++)
                if (x->idx[p] < n) uidx[fill[x->idx[p]]++] = u;
        }
    }
    for (int32_t i = 0; i < n && !rc; i++) {
        int32_t nt = 0;
        int32_t lastu = -1;
        for (int64_t q = uptr[i]; q < uptr[i + 1]; q++) {
            int32_t u = uidx[q];
            if (u == lastu) continue; /* a user who repeats item i counts once */
            lastu = u;
            int64_t s = x->ptr[u + 1] - W > x->ptr[u] ? x->ptr[u + 1] - W : x->ptr[u];
            for (int64_t p = s; p < x->ptr[u + 1]; p++) {
                int32_t j = x->idx[p];
                if (j == i || j >= n) continue;
                if (acc[j] == 0) touched[nt++] = j;
                acc[j] += 1;
            }
        }
        /* a user with j twice adds 2: clamp to the user count by recounting would cost more; such repeats are rare */
        if (nnz + nt > cap) {
            while (nnz + nt > cap) cap *= 2;
            int32_t *ni = realloc(g->idx, (size_t)cap * sizeof *ni);
            if (ni) g->idx = ni;
            float *nw = realloc(g->w, (size_t)cap * sizeof *nw);
            if (nw) g->w = nw;
            if (!ni || !nw) {
                rc = CREC_ENOMEM;
                break;
            }
        }
        /* sorted columns: a sort of the touched list */
        for (int32_t a = 1; a < nt; a++) { /* insertion sort is fine for short rows; long rows use qsort below */
            if (nt > 64) break;
            int32_t v = touched[a], b = a - 1;
            while (b >= 0 && touched[b] > v) touched[b + 1] = touched[b], b--;
            touched[b + 1] = v;
        }
        if (nt > 64) qsort(touched, (size_t)nt, sizeof *touched, cmp_i32);
        for (int32_t a = 0; a < nt; a++) {
            g->idx[nnz] = touched[a];
            g->w[nnz++] = acc[touched[a]];
            acc[touched[a]] = 0;
        }
        g->ptr[i + 1] = nnz;
    }
    free(uptr), free(uidx), free(fill), free(acc), free(touched);
    if (rc) graph_free(g);
    return rc;
}

/* ---- collaborative: recursive spectral clustering ---- */

typedef struct cid_job {
    int32_t *items; /* global ids */
    int32_t n;
    int depth;
} cid_job;

static int collaborative_paths(const crec_csr *train, int32_t n, int N, int M, uint64_t seed, int verbose,
                               int32_t **path_out, int32_t **plen_out, int *P_out) {
    graph g;
    int rc = cooc_graph(train, n, &g);
    if (rc) return rc;
    const int PMAX = CREC_INDEX_MAX_L - 1;
    int32_t *path = calloc((size_t)n * PMAX, sizeof *path), *plen = calloc((size_t)n, sizeof *plen);
    int32_t *loc = malloc((size_t)n * sizeof *loc); /* global -> local id of the current subset, -1 outside */
    int64_t jcap = 64, nj = 0;
    cid_job *jobs = malloc((size_t)jcap * sizeof *jobs);
    int32_t *all = malloc((size_t)n * sizeof *all);
    if (!path || !plen || !loc || !jobs || !all) rc = CREC_ENOMEM;
    if (!rc) {
        for (int32_t i = 0; i < n; i++) all[i] = i, loc[i] = -1;
        jobs[nj++] = (cid_job){all, n, 0};
        all = NULL;
    }
    int P = 0;
    int64_t nclust = 0;
    while (!rc && nj > 0) {
        cid_job jb = jobs[--nj];
        if (jb.n <= M || jb.depth >= PMAX) {
            if (jb.depth > P) P = jb.depth;
            free(jb.items);
            continue;
        }
        nclust++;
        /* the subgraph on jb.items */
        for (int32_t a = 0; a < jb.n; a++) loc[jb.items[a]] = a;
        int64_t *sp = calloc((size_t)jb.n + 1, sizeof *sp);
        int64_t cnt = 0;
        for (int32_t a = 0; a < jb.n; a++) {
            int32_t i = jb.items[a];
            for (int64_t p = g.ptr[i]; p < g.ptr[i + 1]; p++) cnt += loc[g.idx[p]] >= 0;
        }
        int32_t *si = malloc((size_t)(cnt > 0 ? cnt : 1) * sizeof *si);
        float *sw = malloc((size_t)(cnt > 0 ? cnt : 1) * sizeof *sw);
        int32_t *as = malloc((size_t)jb.n * sizeof *as);
        if (!sp || !si || !sw || !as) rc = CREC_ENOMEM;
        if (!rc) {
            int64_t q = 0;
            for (int32_t a = 0; a < jb.n; a++) {
                int32_t i = jb.items[a];
                for (int64_t p = g.ptr[i]; p < g.ptr[i + 1]; p++)
                    if (loc[g.idx[p]] >= 0) si[q] = loc[g.idx[p]], sw[q++] = g.w[p];
                sp[a + 1] = q;
            }
            rc = crec__spectral(sp, si, sw, jb.n, N, 60, seed + (uint64_t)nclust, as);
        }
        for (int32_t a = 0; a < jb.n; a++) loc[jb.items[a]] = -1;
        if (!rc) {
            /* a split that leaves one cluster with everything cannot recurse: split it evenly instead */
            int32_t *csz = calloc((size_t)N, sizeof *csz);
            if (!csz) rc = CREC_ENOMEM;
            if (!rc) {
                for (int32_t a = 0; a < jb.n; a++) csz[as[a]]++;
                int32_t big = 0;
                for (int c = 0; c < N; c++) big = csz[c] > big ? csz[c] : big;
                if (big == jb.n)
                    for (int32_t a = 0; a < jb.n; a++) as[a] = (int32_t)((int64_t)a * N / jb.n);
                memset(csz, 0, (size_t)N * sizeof *csz);
                for (int32_t a = 0; a < jb.n; a++) csz[as[a]]++;
                for (int c = 0; c < N && !rc; c++) {
                    if (csz[c] == 0) continue;
                    int32_t *sub = malloc((size_t)csz[c] * sizeof *sub);
                    if (!sub) {
                        rc = CREC_ENOMEM;
                        break;
                    }
                    int32_t k = 0;
                    for (int32_t a = 0; a < jb.n; a++)
                        if (as[a] == c) {
                            int32_t i = jb.items[a];
                            sub[k++] = i;
                            path[(size_t)i * PMAX + jb.depth] = c;
                            plen[i] = jb.depth + 1;
                        }
                    if (nj == jcap) {
                        cid_job *nw = realloc(jobs, (size_t)(jcap *= 2) * sizeof *nw);
                        if (!nw) {
                            free(sub);
                            rc = CREC_ENOMEM;
                            break;
                        }
                        jobs = nw;
                    }
                    jobs[nj++] = (cid_job){sub, k, jb.depth + 1};
                }
            }
            free(csz);
        }
        if (verbose && jb.depth == 0) crec__log("index: collaborative: top split of %d items done", jb.n);
        free(sp), free(si), free(sw), free(as), free(jb.items);
    }
    for (int64_t j = 0; j < nj; j++) free(jobs[j].items);
    free(jobs), free(loc), free(all);
    graph_free(&g);
    if (rc) {
        free(path), free(plen);
        return rc;
    }
    /* compact the path array to P columns */
    int32_t *pp = calloc((size_t)n * (P > 0 ? P : 1), sizeof *pp);
    if (!pp) {
        free(path), free(plen);
        return CREC_ENOMEM;
    }
    for (int32_t i = 0; i < n; i++)
        for (int l = 0; l < P; l++) pp[(size_t)i * (P > 0 ? P : 1) + l] = path[(size_t)i * PMAX + l];
    free(path);
    *path_out = pp;
    *plen_out = plen;
    *P_out = P;
    return 0;
}

/* ---- semantic: attributes most general first ---- */

static int semantic_paths(const crec_dataset *ds, int32_t n, int depth, int32_t **path_out, int32_t **plen_out,
                          int32_t *Kp) {
    int32_t na = ds->attrs.n;
    int64_t *freq = calloc((size_t)(na > 0 ? na : 1), sizeof *freq);
    int32_t *path = calloc((size_t)n * depth, sizeof *path), *plen = calloc((size_t)n, sizeof *plen);
    int32_t *tokmap = malloc((size_t)(na > 0 ? na : 1) * depth * sizeof *tokmap);
    if (!freq || !path || !plen || !tokmap) {
        free(freq), free(path), free(plen), free(tokmap);
        return CREC_ENOMEM;
    }
    for (int64_t p = 0; p < ds->n_attr_pairs; p++)
        if (ds->attr_id[p] >= 0 && ds->attr_id[p] < na) freq[ds->attr_id[p]]++;
    /* each item's distinct attributes, most frequent first (ties: smaller id), the first depth of them */
    for (int64_t p = 0; p < ds->n_attr_pairs; p++) {
        int32_t i = ds->attr_item[p], a = ds->attr_id[p];
        if (i < 0 || i >= n || a < 0 || a >= na) continue;
        int32_t *pi = path + (size_t)i * depth;
        int dup = 0;
        for (int l = 0; l < plen[i]; l++) dup |= pi[l] == a;
        if (dup) continue;
        /* insert in order; drop the least general when full */
        int pos = plen[i];
        while (pos > 0 && (freq[pi[pos - 1]] < freq[a] || (freq[pi[pos - 1]] == freq[a] && pi[pos - 1] > a))) pos--;
        if (pos >= depth) continue;
        int end = plen[i] < depth ? plen[i] : depth - 1;
        for (int l = end; l > pos; l--) pi[l] = pi[l - 1];
        pi[pos] = a;
        if (plen[i] < depth) plen[i]++;
    }
    /* compact tokens per level: attribute -> token of level l */
    for (int l = 0; l < depth; l++) {
        for (int32_t a = 0; a < na; a++) tokmap[(size_t)l * na + a] = -1;
        Kp[l] = 0;
        for (int32_t i = 0; i < n; i++)
            if (l < plen[i]) {
                int32_t a = path[(size_t)i * depth + l];
                if (tokmap[(size_t)l * na + a] < 0) tokmap[(size_t)l * na + a] = Kp[l]++;
                path[(size_t)i * depth + l] = tokmap[(size_t)l * na + a];
            }
    }
    free(freq), free(tokmap);
    *path_out = path;
    *plen_out = plen;
    return 0;
}

/* ---- rq: residual k-means ---- */

static int rq_index(crec_index *ix, const float *vec, int dim, int32_t n, int levels, int K, int iters,
                    uint64_t seed, int iid) {
    float *res = malloc((size_t)n * dim * sizeof *res), *cent = malloc((size_t)K * dim * sizeof *cent);
    int32_t *as = malloc((size_t)n * sizeof *as);
    int32_t *path = malloc((size_t)n * levels * sizeof *path), *plen = malloc((size_t)n * sizeof *plen);
    int rc = 0;
    if (!res || !cent || !as || !path || !plen) rc = CREC_ENOMEM;
    if (!rc) memcpy(res, vec, (size_t)n * dim * sizeof *res);
    int32_t Kp[CREC_INDEX_MAX_L];
    for (int l = 0; l < levels && !rc; l++) {
        rc = crec__kmeans(res, n, dim, K, iters, seed + 7919u * (uint64_t)(l + 1), as, cent);
        Kp[l] = K < n ? K : n;
        for (int32_t i = 0; i < n && !rc; i++) {
            path[(size_t)i * levels + l] = as[i];
            for (int j = 0; j < dim; j++) res[(size_t)i * dim + j] -= cent[(size_t)as[i] * dim + j];
        }
    }
    if (!rc) {
        for (int32_t i = 0; i < n; i++) plen[i] = levels;
        rc = path_index(ix, path, plen, levels, Kp, n, iid);
    }
    free(res), free(cent), free(as), free(path), free(plen);
    return rc;
}

/* ---- rq: the RQ-VAE (rqvae.c) ---- */

static int rqvae_index(crec_index *ix, const float *vec, int dim, int32_t n, const crec__rqvae_opts *vo, int iid,
                       char *err, size_t errn) {
    int32_t *path = malloc((size_t)n * vo->levels * sizeof *path), *plen = malloc((size_t)n * sizeof *plen);
    int rc = path && plen ? 0 : CREC_ENOMEM;
    double loss = 0, recon = 0;
    if (!rc) rc = crec__rqvae(vec, n, dim, vo, path, &loss, &recon);
    if (rc == CREC_EINVAL)
        crec__errf(err, errn, "rq-vae: bad sizes (latent 1..%d, at most %d hidden layers, batch >= 1, lr > 0)",
                   RQVAE_MAX_LATENT, RQVAE_MAX_LAYERS - 1);
    if (!rc && vo->verbose)
        fprintf(stderr, "rqvae: final loss %.5f (reconstruction %.5f) over %d rows\n", loss, recon, (int)n);
    int32_t Kp[CREC_INDEX_MAX_L];
    for (int l = 0; l < vo->levels; l++) Kp[l] = vo->K;
    if (!rc) {
        for (int32_t i = 0; i < n; i++) plen[i] = vo->levels;
        rc = path_index(ix, path, plen, vo->levels, Kp, n, iid);
    }
    free(path), free(plen);
    return rc;
}

/* ---- the entry point ---- */

int crec_index_build(const crec_dataset *ds, const crec_csr *train, const crec_index_opts *o, crec_index *out,
                     char *err, size_t errn) {
    memset(out, 0, sizeof *out);
    int32_t n = ds->items.n;
    if (n < 1) {
        crec__errf(err, errn, "the dataset has no items");
        return CREC_EEMPTY;
    }
    const char *m = o->method ? o->method : "";
    int rc = 0;
    crec_rng r;
    crec__rng_seed(&r, o->seed);
    if (strcmp(m, "random") == 0 || strcmp(m, "sequential") == 0 || strcmp(m, "iid") == 0) {
        /* iid: the indexing paper's independent indexing, one level holding one token per item (the item's
           dense id written as one base-n digit); --K does not apply */
        int iid = m[0] == 'i';
        int K = iid ? (n > 2 ? n : 2) : o->K > 0 ? o->K : 32;
        if (K < 2) {
            crec__errf(err, errn, "--K %d: the digit base must be >= 2", K);
            return CREC_EINVAL;
        }
        int32_t *num = malloc((size_t)n * sizeof *num);
        if (!num) return CREC_ENOMEM;
        if (iid) {
            for (int32_t i = 0; i < n; i++) num[i] = i;
        } else if (m[0] == 'r') {
            for (int32_t i = 0; i < n; i++) num[i] = i;
            for (int32_t i = n - 1; i > 0; i--) {
                int32_t j = (int32_t)crec__rng_below(&r, (uint64_t)i + 1), t = num[i];
                num[i] = num[j], num[j] = t;
            }
        } else {
            if (!train) {
                free(num);
                crec__errf(err, errn, "sequential indexing needs the training histories");
                return CREC_EINVAL;
            }
            int32_t next = 0;
            for (int32_t i = 0; i < n; i++) num[i] = -1;
            for (int32_t u = 0; u < train->n_rows; u++)
                for (int64_t p = train->ptr[u]; p < train->ptr[u + 1]; p++)
                    if (train->idx[p] < n && num[train->idx[p]] < 0) num[train->idx[p]] = next++;
            for (int32_t i = 0; i < n; i++)
                if (num[i] < 0) num[i] = next++;
        }
        rc = digits_index(out, num, n, K);
        free(num);
        if (iid)
            snprintf(out->source, sizeof out->source, "one token per item");
        else
            snprintf(out->source, sizeof out->source, "base %d", K);
    } else if (strcmp(m, "collaborative") == 0 || strcmp(m, "semantic") == 0 || strcmp(m, "hybrid") == 0) {
        int sem = m[0] == 's' || (m[0] == 'h' && o->base && strcmp(o->base, "semantic") == 0);
        if (m[0] == 'h' && o->base && strcmp(o->base, "semantic") != 0 && strcmp(o->base, "collaborative") != 0) {
            crec__errf(err, errn, "--base '%s': one of collaborative, semantic", o->base);
            return CREC_EINVAL;
        }
        int32_t *path = NULL, *plen = NULL, Kp[CREC_INDEX_MAX_L] = {0};
        int P = 0;
        if (sem) {
            if (ds->n_attr_pairs == 0) {
                crec__errf(err, errn, "semantic indexing needs item attributes (import them with --items FILE)");
                return CREC_EINVAL;
            }
            if (o->depth < 1 || o->depth > CREC_INDEX_MAX_L - 1) {
                crec__errf(err, errn, "--depth %d: in [1, %d]", o->depth, CREC_INDEX_MAX_L - 1);
                return CREC_EINVAL;
            }
            P = o->depth;
            rc = semantic_paths(ds, n, P, &path, &plen, Kp);
            snprintf(out->source, sizeof out->source, "attributes, depth %d", P);
        } else {
            if (!train) {
                crec__errf(err, errn, "collaborative indexing needs the training histories");
                return CREC_EINVAL;
            }
            if (o->N < 2 || o->M < 1) {
                crec__errf(err, errn, "--N %d --M %d: N >= 2 clusters per split, M >= 1 items per leaf", o->N, o->M);
                return CREC_EINVAL;
            }
            rc = collaborative_paths(train, n, o->N, o->M, o->seed, o->verbose, &path, &plen, &P);
            for (int l = 0; l < P; l++) Kp[l] = o->N;
            snprintf(out->source, sizeof out->source, "spectral co-occurrence, N=%d M=%d", o->N, o->M);
        }
        if (!rc) rc = path_index(out, path, plen, P, Kp, n, m[0] == 'h');
        if (!rc && m[0] == 'h') {
            char s[128];
            snprintf(s, sizeof s, "%.80s + item token", out->source);
            snprintf(out->source, sizeof out->source, "%.95s", s);
        }
        free(path), free(plen);
    } else if (strcmp(m, "rq") == 0) {
        int K = o->K > 0 ? o->K : 256;
        if (!o->vec || o->dim < 1) {
            crec__errf(err, errn, "rq indexing needs item vectors (--vectors content|collaborative|external|fused)");
            return CREC_EINVAL;
        }
        if (K < 2 || o->levels < 1 || o->levels > CREC_INDEX_MAX_L - 1) {
            crec__errf(err, errn, "--K %d --levels %d: K >= 2, levels in [1, %d]", K, o->levels,
                       CREC_INDEX_MAX_L - 1);
            return CREC_EINVAL;
        }
        int vae = o->quantizer && strcmp(o->quantizer, "rqvae") == 0;
        if (o->quantizer && !vae && strcmp(o->quantizer, "kmeans") != 0) {
            crec__errf(err, errn, "--quantizer '%s': one of kmeans, rqvae", o->quantizer);
            return CREC_EINVAL;
        }
        if (vae) {
            crec__rqvae_opts vo;
            crec__rqvae_opts_default(&vo);
            vo.levels = o->levels, vo.K = K, vo.seed = o->seed, vo.verbose = o->verbose;
            if (o->vae_epochs > 0) vo.epochs = o->vae_epochs;
            if (o->vae_batch > 0) vo.batch = o->vae_batch;
            if (o->vae_latent > 0) vo.latent = o->vae_latent;
            if (o->vae_lr > 0) vo.lr = o->vae_lr;
            if (o->vae_beta > 0) vo.beta = o->vae_beta;
            if (o->vae_n_hidden > 0) {
                vo.n_hidden = o->vae_n_hidden;
                for (int h = 0; h < o->vae_n_hidden; h++) vo.hidden[h] = o->vae_hidden[h];
            }
            rc = rqvae_index(out, o->vec, o->dim, n, &vo, o->item_token != 0, err, errn);
        } else {
            rc = rq_index(out, o->vec, o->dim, n, o->levels, K, o->iters, o->seed, o->item_token != 0);
        }
        snprintf(out->source, sizeof out->source, "%s d=%d, %s %dx%d + %s", o->vec_name ? o->vec_name : "", o->dim,
                 vae ? "rq-vae" : "k-means", o->levels, K, o->item_token ? "item token" : "collision level");
    } else {
        crec__errf(err, errn, "--method '%s': one of random, sequential, iid, collaborative, semantic, hybrid, rq", m);
        return CREC_EINVAL;
    }
    if (rc) {
        crec_index_free(out);
        if (!err[0]) crec__errf(err, errn, "%s", crec_strerror(rc));
        return rc;
    }
    snprintf(out->method, sizeof out->method, "%s", m);
    finish_offsets(out);
    out->items_hash = crec_index_items_hash(ds);
    rc = crec_index_check(out);
    if (rc) {
        crec__errf(err, errn, "internal: the %s codes are not unique", m);
        crec_index_free(out);
    }
    return rc;
}

/* ---- vectors ---- */

int crec_index_content_vectors(const crec_dataset *ds, int dim, uint64_t seed, float **out) {
    int32_t n = ds->items.n;
    crec_idmap terms;
    crec_idmap_init(&terms);
    /* (item, term) pairs */
    int64_t cap = 1024, np = 0;
    int32_t *pi = malloc((size_t)cap * sizeof *pi), *pt = malloc((size_t)cap * sizeof *pt);
    int rc = pi && pt ? 0 : CREC_ENOMEM;
#define ADD_PAIR(I, T)                                                                                                 \
    do {                                                                                                               \
        if (np == cap) {                                                                                               \
            cap *= 2;                                                                                                  \
            int32_t *a_ = realloc(pi, (size_t)cap * sizeof *pi);                                                       \
            if (a_) pi = a_;                                                                                           \
            int32_t *b_ = realloc(pt, (size_t)cap * sizeof *pt);                                                       \
            if (b_) pt = b_;                                                                                           \
            if (!a_ || !b_) {                                                                                          \
                rc = CREC_ENOMEM;                                                                                      \
                break;                                                                                                 \
            }                                                                                                          \
        }                                                                                                              \
        pi[np] = (I), pt[np++] = (T);                                                                                  \
    } while (0)
    char key[96];
    for (int64_t p = 0; p < ds->n_attr_pairs && !rc; p++) {
        int32_t i = ds->attr_item[p];
        if (i < 0 || i >= n) continue;
        int kl = snprintf(key, sizeof key, "a:%d", ds->attr_id[p]);
        int32_t t = crec_idmap_intern(&terms, key, (size_t)kl);
        if (t < 0) rc = CREC_ENOMEM;
        else ADD_PAIR(i, t);
    }
    for (int32_t i = 0; i < n && !rc; i++) {
        for (int f = 0; f < 2 && !rc; f++) {
            const char *s = f == 0 ? (ds->title && i < ds->meta_cap ? ds->title[i] : NULL)
                                   : (ds->text && i < ds->meta_cap ? ds->text[i] : NULL);
            while (s && *s && !rc) {
                while (*s && !isalnum((unsigned char)*s)) s++;
                int kl = 2;
                key[0] = 'w', key[1] = ':';
                while (*s && isalnum((unsigned char)*s)) {
                    if (kl < (int)sizeof key - 1) key[kl++] = (char)tolower((unsigned char)*s);
                    s++;
                }
                if (kl >= 4) {
                    int32_t t = crec_idmap_intern(&terms, key, (size_t)kl);
                    if (t < 0) rc = CREC_ENOMEM;
                    else ADD_PAIR(i, t);
                }
            }
        }
    }
#undef ADD_PAIR
    int32_t m = terms.n;
    if (!rc && (np == 0 || m == 0)) rc = CREC_EEMPTY;
    int64_t *ptr = NULL;
    int32_t *idx = NULL;
    float *val = NULL, *df = NULL;
    if (!rc) {
        ptr = calloc((size_t)n + 1, sizeof *ptr);
        idx = malloc((size_t)np * sizeof *idx);
        val = malloc((size_t)np * sizeof *val);
        df = calloc((size_t)m, sizeof *df);
        if (!ptr || !idx || !val || !df) rc = CREC_ENOMEM;
    }
    if (!rc) {
        /* CSR with duplicates merged into term counts */
        for (int64_t p = 0; p < np; p++) ptr[pi[p] + 1]++;
        for (int32_t i = 0; i < n; i++) ptr[i + 1] += ptr[i];
        int64_t *fill = malloc((size_t)n * sizeof *fill);
        if (!fill) rc = CREC_ENOMEM;
        else {
            memcpy(fill, ptr, (size_t)n * sizeof *fill);
            for (int64_t p = 0; p < np; p++) idx[fill[pi[p]]++] = pt[p];
            free(fill);
            int64_t q = 0;
            int64_t start = 0;
            for (int32_t i = 0; i < n; i++) {
                int64_t a = start, b = ptr[i + 1];
                start = b;
                qsort(idx + a, (size_t)(b - a), sizeof *idx, cmp_i32);
                int64_t row0 = q;
                for (int64_t p = a; p < b; p++) {
                    if (q > row0 && idx[q - 1] == idx[p])
                        val[q - 1] += 1;
                    else
                        idx[q] = idx[p], val[q++] = 1;
                }
                ptr[i + 1] = q;
                ptr[i] = row0;
            }
            ptr[0] = 0;
            for (int64_t p = 0; p < q; p++) df[idx[p]] += 1;
            /* tf-idf, rows L2-normalised */
            for (int32_t i = 0; i < n; i++) {
                double s = 0;
                for (int64_t p = ptr[i]; p < ptr[i + 1]; p++) {
                    val[p] = (float)((1 + log(val[p])) * log((double)n / df[idx[p]] + 1));
                    s += (double)val[p] * val[p];
                }
                s = s > 0 ? 1 / sqrt(s) : 0;
                for (int64_t p = ptr[i]; p < ptr[i + 1]; p++) val[p] = (float)(val[p] * s);
            }
        }
    }
    float *v = NULL;
    if (!rc && !(v = malloc((size_t)n * dim * sizeof *v))) rc = CREC_ENOMEM;
    if (!rc) rc = crec__sparse_svd(ptr, idx, val, n, m, dim, seed, v);
    free(pi), free(pt), free(ptr), free(idx), free(val), free(df);
    crec_idmap_free(&terms);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    return 0;
}

int crec_index_read_vectors(const crec_dataset *ds, const char *path, float **out, int *dim, char *err,
                            size_t errn) {
    FILE *f = fopen(path, "r");
    if (!f) {
        crec__errf(err, errn, "%s: cannot open", path);
        return CREC_EIO;
    }
    int32_t n = ds->items.n;
    float *v = NULL;
    uint8_t *seen = calloc((size_t)n, 1);
    int d = 0, rc = seen ? 0 : CREC_ENOMEM;
    char *line = NULL;
    size_t lcap = 0;
    long lineno = 0;
    ssize_t len;
    float *row = NULL;
    while (!rc && (len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '#' || *s == '\n' || *s == '\r' || *s == 0) continue;
        char *id = s;
        while (*s && *s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') s++;
        size_t idlen = (size_t)(s - id);
        int32_t item = crec_idmap_get(&ds->items, id, idlen);
        /* the values */
        int k = 0;
        int rcap = d > 0 ? d : 16;
        if (!row && !(row = malloc((size_t)rcap * sizeof *row))) {
            rc = CREC_ENOMEM;
            break;
        }
        for (;;) {
            while (*s == ' ' || *s == '\t') s++;
            if (*s == 0 || *s == '\n' || *s == '\r') break;
            char *e;
            float x = strtof(s, &e);
            if (e == s || (*e && *e != ' ' && *e != '\t' && *e != '\n' && *e != '\r') || !isfinite(x)) {
                crec__errf(err, errn, "%s:%ld: value %d is not a finite number", path, lineno, k + 1);
                rc = CREC_EPARSE;
                break;
            }
            if (d > 0 && k >= d) {
                crec__errf(err, errn, "%s:%ld: more than %d values (the first row's width)", path, lineno, d);
                rc = CREC_EPARSE;
                break;
            }
            if (k == rcap) {
                float *nr = realloc(row, (size_t)(rcap *= 2) * sizeof *nr);
                if (!nr) {
                    rc = CREC_ENOMEM;
                    break;
                }
                row = nr;
            }
            row[k++] = x;
            s = e;
        }
        if (rc) break;
        if (k == 0) {
            crec__errf(err, errn, "%s:%ld: item '%.*s' has no values", path, lineno, (int)idlen, id);
            rc = CREC_EPARSE;
            break;
        }
        if (d == 0) {
            d = k;
            if (!(v = calloc((size_t)n * d, sizeof *v))) rc = CREC_ENOMEM;
        } else if (k != d) {
            crec__errf(err, errn, "%s:%ld: %d values, the first row had %d", path, lineno, k, d);
            rc = CREC_EPARSE;
        }
        if (rc || item < 0) continue; /* items not in the dataset are skipped */
        memcpy(v + (size_t)item * d, row, (size_t)d * sizeof *v);
        seen[item] = 1;
    }
    fclose(f);
    free(line), free(row);
    if (!rc) {
        int32_t miss = 0, first = -1;
        for (int32_t i = 0; i < n; i++)
            if (!seen[i]) {
                if (first < 0) first = i;
                miss++;
            }
        if (d == 0) {
            crec__errf(err, errn, "%s: no vectors", path);
            rc = CREC_EPARSE;
        } else if (miss) {
            crec__errf(err, errn, "%s: %d items have no row (first: '%s')", path, miss, ds->items.names[first]);
            rc = CREC_EPARSE;
        }
    }
    free(seen);
    if (rc) {
        free(v);
        return rc;
    }
    *out = v;
    *dim = d;
    return 0;
}

int crec_index_fuse_vectors(const float *a, int da, const float *b, int db, int32_t n, float **out) {
    int d = da + db;
    float *v = malloc((size_t)n * d * sizeof *v);
    if (!v) return CREC_ENOMEM;
    for (int32_t i = 0; i < n; i++) {
        double sa = 0, sb = 0;
        for (int j = 0; j < da; j++) sa += (double)a[(size_t)i * da + j] * a[(size_t)i * da + j];
        for (int j = 0; j < db; j++) sb += (double)b[(size_t)i * db + j] * b[(size_t)i * db + j];
        sa = sa > 0 ? 1 / sqrt(2 * sa) : 0;
        sb = sb > 0 ? 1 / sqrt(2 * sb) : 0;
        for (int j = 0; j < da; j++) v[(size_t)i * d + j] = (float)(a[(size_t)i * da + j] * sa);
        for (int j = 0; j < db; j++) v[(size_t)i * d + da + j] = (float)(b[(size_t)i * db + j] * sb);
    }
    *out = v;
    return 0;
}
