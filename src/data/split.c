/* split.c: by-user time-ordered matrices and the train / validation / test splits.
 * Every split starts from the same by-user view (rows sorted by (timestamp, log position)) and assigns
 * each event to exactly one part, so no test or validation event can reach training. */
#include "crec/split.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

void crec_csr_free(crec_csr *m) {
    if (!m) return;
    free(m->ptr);
    free(m->idx);
    free(m->ts);
    free(m->val);
    memset(m, 0, sizeof *m);
}

static int csr_alloc(crec_csr *m, int32_t rows, int32_t cols, int64_t nnz) {
    memset(m, 0, sizeof *m);
    m->n_rows = rows;
    m->n_cols = cols;
    m->ptr = calloc((size_t)rows + 1, sizeof *m->ptr);
    m->idx = malloc((size_t)(nnz ? nnz : 1) * sizeof *m->idx);
    m->ts = malloc((size_t)(nnz ? nnz : 1) * sizeof *m->ts);
    m->val = malloc((size_t)(nnz ? nnz : 1) * sizeof *m->val);
    if (!m->ptr || !m->idx || !m->ts || !m->val) {
        crec_csr_free(m);
        return CREC_ENOMEM;
    }
    return 0;
}

static int cmp_tkey(const void *a, const void *b) {
    const int64_t *x = a, *y = b; /* (ts, pos) pairs */
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

/* Log positions grouped by user, each group sorted by (ts, position). ptr[n_users+1], ord[n]. */
static int by_user_order(const crec_dataset *ds, int64_t **ptr_out, int64_t **ord_out) {
    int32_t nu = ds->users.n;
    int64_t *ptr = calloc((size_t)nu + 1, sizeof *ptr);
    int64_t *ord = malloc((size_t)(ds->n ? ds->n : 1) * sizeof *ord);
    int64_t *fill = malloc(((size_t)nu + 1) * sizeof *fill);
    if (!ptr || !ord || !fill) {
        free(ptr);
        free(ord);
        free(fill);
        return CREC_ENOMEM;
    }
    for (int64_t k = 0; k < ds->n; k++) ptr[ds->user[k] + 1]++;
    for (int32_t u = 0; u < nu; u++) ptr[u + 1] += ptr[u];
    memcpy(fill, ptr, ((size_t)nu + 1) * sizeof *fill);
    for (int64_t k = 0; k < ds->n; k++) ord[fill[ds->user[k]]++] = k;
    free(fill);
    /* positions ascend within a user; sort each row by (ts, position) unless it is already in time order */
    struct tkey { int64_t ts, pos; } *keys = NULL;
    int64_t keys_cap = 0;
    for (int32_t u = 0; u < nu; u++) {
        int64_t b = ptr[u], e = ptr[u + 1], sorted = 1;
        for (int64_t i = b + 1; i < e && sorted; i++) sorted = ds->ts[ord[i - 1]] <= ds->ts[ord[i]];
        if (sorted) continue;
        void *p = keys;
        if (crec__grow(&p, &keys_cap, e - b, sizeof *keys)) {
            free(keys);
            free(ptr);
            free(ord);
            return CREC_ENOMEM;
        }
        keys = p;
        for (int64_t i = b; i < e; i++) keys[i - b] = (struct tkey){ds->ts[ord[i]], ord[i]};
        qsort(keys, (size_t)(e - b), sizeof *keys, cmp_tkey);
        for (int64_t i = b; i < e; i++) ord[i] = keys[i - b].pos;
    }
    free(keys);
    *ptr_out = ptr;
    *ord_out = ord;
    return 0;
}

int crec_csr_from_dataset(const crec_dataset *ds, crec_csr *out) {
    int64_t *ptr, *ord;
    int rc = by_user_order(ds, &ptr, &ord);
    if (rc) return rc;
    if ((rc = csr_alloc(out, ds->users.n, ds->items.n, ds->n))) goto done;
    memcpy(out->ptr, ptr, ((size_t)ds->users.n + 1) * sizeof *ptr);
    for (int64_t k = 0; k < ds->n; k++) {
        out->idx[k] = ds->item[ord[k]];
        out->ts[k] = ds->ts[ord[k]];
        out->val[k] = ds->value[ord[k]];
    }
done:
    free(ptr);
    free(ord);
    return rc;
}

int crec_csr_transpose(const crec_csr *m, crec_csr *out) {
    int64_t nnz = crec_csr_nnz(m);
    int rc = csr_alloc(out, m->n_cols, m->n_rows, nnz);
    if (rc) return rc;
    for (int64_t k = 0; k < nnz; k++) out->ptr[m->idx[k] + 1]++;
    for (int32_t i = 0; i < m->n_cols; i++) out->ptr[i + 1] += out->ptr[i];
    int64_t *fill = malloc(((size_t)m->n_cols + 1) * sizeof *fill);
    if (!fill) {
        crec_csr_free(out);
        return CREC_ENOMEM;
    }
    memcpy(fill, out->ptr, ((size_t)m->n_cols + 1) * sizeof *fill);
    for (int32_t r = 0; r < m->n_rows; r++)
        for (int64_t k = m->ptr[r]; k < m->ptr[r + 1]; k++) {
            int64_t d = fill[m->idx[k]]++;
            out->idx[d] = r;
            out->ts[d] = m->ts[k];
            out->val[d] = m->val[k];
        }
    free(fill);
    return 0;
}

int crec_split_spec_parse(const char *s, crec_split_spec *spec) {
    memset(spec, 0, sizeof *spec);
    spec->min_train = 1;
    spec->seed = 42;
    if (!s || strcmp(s, "loo") == 0 || strcmp(s, "leave-one-out") == 0) {
        spec->kind = CREC_SPLIT_LOO;
        return 0;
    }
    if (strcmp(s, "given") == 0) {
        spec->kind = CREC_SPLIT_GIVEN;
        return 0;
    }
    double a = 0.2, b = 0.1;
    unsigned long long seed = 42;
    char tail;
    if (strncmp(s, "temporal", 8) == 0) {
        spec->kind = CREC_SPLIT_TEMPORAL;
        s += 8;
    } else if (strncmp(s, "random", 6) == 0) {
        spec->kind = CREC_SPLIT_RANDOM;
        s += 6;
    } else if (strncmp(s, "cold-items", 10) == 0) {
        spec->kind = CREC_SPLIT_COLD_ITEMS;
        s += 10;
    } else if (strncmp(s, "cold-users", 10) == 0) {
        spec->kind = CREC_SPLIT_COLD_USERS;
        s += 10;
    } else {
        return CREC_EINVAL;
    }
    if (*s) {
        int n = sscanf(s, ":%lf:%lf:%llu%c", &a, &b, &seed, &tail);
        if (n < 1 || n > 3) return CREC_EINVAL;
        if (n == 1) {
            b = a / 2; /* "random:0.2" -> valid 0.1 */
            if (sscanf(s, ":%lf%c", &a, &tail) != 1) return CREC_EINVAL;
        }
    }
    if (!(a > 0 && a < 1) || !(b >= 0 && b < 1) || a + b >= 1) return CREC_EINVAL;
    spec->test_frac = a;
    spec->valid_frac = b;
    spec->seed = seed;
    return 0;
}

void crec_split_spec_format(const crec_split_spec *spec, char *buf, size_t n) {
    switch (spec->kind) {
    case CREC_SPLIT_LOO: snprintf(buf, n, "loo"); break;
    case CREC_SPLIT_GIVEN: snprintf(buf, n, "given"); break;
    case CREC_SPLIT_TEMPORAL: snprintf(buf, n, "temporal:%g:%g", spec->test_frac, spec->valid_frac); break;
    case CREC_SPLIT_RANDOM:
        snprintf(buf, n, "random:%g:%g:%llu", spec->test_frac, spec->valid_frac, (unsigned long long)spec->seed);
        break;
    case CREC_SPLIT_COLD_ITEMS:
    case CREC_SPLIT_COLD_USERS:
        snprintf(buf, n, "%s:%g:%g:%llu", spec->kind == CREC_SPLIT_COLD_ITEMS ? "cold-items" : "cold-users",
                 spec->test_frac, spec->valid_frac, (unsigned long long)spec->seed);
        break;
    }
}

void crec_split_free(crec_split *s) {
    if (!s) return;
    crec_csr_free(&s->train);
    crec_csr_free(&s->valid);
    crec_csr_free(&s->test);
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int crec_split_make(const crec_dataset *ds, const crec_split_spec *spec, crec_split *out) {
    memset(out, 0, sizeof *out);
    out->spec = *spec;
    if (ds->n == 0) return CREC_EEMPTY;
    int64_t *ptr, *ord;
    int rc = by_user_order(ds, &ptr, &ord);
    if (rc) return rc;
    int32_t nu = ds->users.n;
    /* part[k] for the k-th entry of the by-user order: 0 train, 1 valid, 2 test */
    uint8_t *part = calloc((size_t)ds->n + 1, 1);
    if (!part) {
        rc = CREC_ENOMEM;
        goto done;
    }
    if (spec->kind == CREC_SPLIT_LOO) {
        int min_len = (spec->min_train > 0 ? spec->min_train : 1) + 2;
        for (int32_t u = 0; u < nu; u++) {
            int64_t b = ptr[u], e = ptr[u + 1];
            if (e - b < min_len) continue;
            part[e - 1] = 2;
            part[e - 2] = 1;
        }
    } else if (spec->kind == CREC_SPLIT_GIVEN) {
        /* the data's own split: event types named "valid" and "test"; every other event trains */
        int32_t tv = crec_idmap_get(&ds->event_types, "valid", 5), tt = crec_idmap_get(&ds->event_types, "test", 4);
        if (tt < 0) {
            rc = CREC_EINVAL;
            goto done;
        }
        for (int64_t k = 0; k < ds->n; k++) {
            int32_t ty = ds->type ? ds->type[ord[k]] : 0;
            part[k] = ty == tt ? 2 : (ty == tv ? 1 : 0);
        }
    } else if (spec->kind == CREC_SPLIT_TEMPORAL) {
        /* global cut: the last test_frac of events by (ts, position) go to test, the valid_frac before to valid */
        int64_t *key = malloc((size_t)ds->n * sizeof *key);
        if (!key) {
            rc = CREC_ENOMEM;
            goto done;
        }
        for (int64_t k = 0; k < ds->n; k++) key[k] = ds->ts[k];
        qsort(key, (size_t)ds->n, sizeof *key, cmp_i64);
        int64_t n_test = (int64_t)(spec->test_frac * (double)ds->n);
        int64_t n_valid = (int64_t)(spec->valid_frac * (double)ds->n);
        int64_t t_test = key[ds->n - 1 - (n_test > 0 ? n_test - 1 : 0)];
        int64_t t_valid = key[ds->n - 1 - (n_test + n_valid > 0 ? n_test + n_valid - 1 : 0)];
        free(key);
        /* events at or after t_test -> test; at or after t_valid -> valid (by timestamp, so one
         * moment never straddles two parts) */
        for (int64_t k = 0; k < ds->n; k++) {
            int64_t t = ds->ts[ord[k]];
            part[k] = t >= t_test ? 2 : (n_valid > 0 && t >= t_valid ? 1 : 0);
        }
    } else if (spec->kind == CREC_SPLIT_COLD_ITEMS || spec->kind == CREC_SPLIT_COLD_USERS) {
        /* a seeded permutation of the items (users): the first test_frac are test, the next valid_frac valid */
        int cold_items = spec->kind == CREC_SPLIT_COLD_ITEMS;
        int32_t m = cold_items ? ds->items.n : nu;
        int32_t *perm = malloc(((size_t)m + 1) * sizeof *perm);
        uint8_t *grp = calloc((size_t)m + 1, 1);
        if (!perm || !grp) {
            free(perm);
            free(grp);
            rc = CREC_ENOMEM;
            goto done;
        }
        crec_rng rng;
        crec__rng_seed(&rng, spec->seed);
        for (int32_t i = 0; i < m; i++) perm[i] = i;
        for (int32_t i = m - 1; i > 0; i--) {
            int32_t j = (int32_t)crec__rng_below(&rng, (uint64_t)i + 1), t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        int32_t n_test = (int32_t)(spec->test_frac * m), n_valid = (int32_t)(spec->valid_frac * m);
        for (int32_t i = 0; i < n_test && i < m; i++) grp[perm[i]] = 2;
        for (int32_t i = n_test; i < n_test + n_valid && i < m; i++) grp[perm[i]] = 1;
        for (int64_t k = 0; k < ds->n; k++) part[k] = grp[cold_items ? ds->item[ord[k]] : ds->user[ord[k]]];
        free(perm);
        free(grp);
    } else {
        crec_rng rng;
        crec__rng_seed(&rng, spec->seed);
        for (int64_t k = 0; k < ds->n; k++) {
            double r = crec__rng_uniform(&rng);
            part[k] = r < spec->test_frac ? 2 : (r < spec->test_frac + spec->valid_frac ? 1 : 0);
        }
    }
    int64_t cnt[3] = {0, 0, 0};
    for (int64_t k = 0; k < ds->n; k++) cnt[part[k]]++;
    crec_csr *dst[3] = {&out->train, &out->valid, &out->test};
    for (int p = 0; p < 3; p++)
        if ((rc = csr_alloc(dst[p], nu, ds->items.n, cnt[p]))) goto done;
    int64_t w[3] = {0, 0, 0};
    for (int32_t u = 0; u < nu; u++) {
        for (int64_t k = ptr[u]; k < ptr[u + 1]; k++) {
            int p = part[k];
            int64_t src = ord[k];
            dst[p]->idx[w[p]] = ds->item[src];
            dst[p]->ts[w[p]] = ds->ts[src];
            dst[p]->val[w[p]] = ds->value[src];
            w[p]++;
        }
        for (int p = 0; p < 3; p++) dst[p]->ptr[u + 1] = w[p];
    }
done:
    free(part);
    free(ptr);
    free(ord);
    if (rc) crec_split_free(out);
    return rc;
}
