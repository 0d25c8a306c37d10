/* load_crs.c: conversational-recommendation datasets (the SCPR / UNICORN / MCMIPL layout of LastFM*, Yelp*)
 * into a crec dataset with item attributes and the papers' own train / valid / test split.
 *
 * Two layouts of one folder:
 *   JSON  review_dict_{train,valid,test}.json ({"user": [item, ...]}), item_fea.json ({"item": [feature, ...]}),
 *         optional user_like.json ({"user": [feature, ...]}), user_friends.json ({"user": [user, ...]}) and, for
 *         the coarse variant, fea_large.json ({"feature": [coarse, ...]}) or feature_coarse.tsv;
 *   plain interactions.tsv ("split<TAB>user<TAB>item", split = train | valid | test), item_feature.tsv
 *         ("item<TAB>feature") and, for the coarse variant, feature_coarse.tsv ("feature<TAB>coarse").
 *
 * The one idea: the split is data, not a rule. Training events keep event type 0 ("interaction"); validation
 * and test events get the event types "valid" and "test", and the split spec "given" (split.c) puts each event
 * back where the files put it. Ids keep their text, and the catalogue (item_fea keys / item_feature items) is
 * interned first in numeric order, so dense item ids equal the papers' item ids. The JSON files hold only
 * objects of integer arrays; they are read by a small scanner that knows line numbers, so every error is
 * "file:line:column: reason". */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/crs.h"
#include "crec/dataset.h"
#include "data/linereader.h"

/* ---- a scanner for {"key": [int, ...], ...} with line numbers ---- */

typedef int (*crs_entry_fn)(void *ctx, const char *key, size_t klen, const int64_t *v, size_t n, char *err,
                            size_t errn);

typedef struct jscan {
    const char *s, *end, *p, *path;
    int line;
    const char *line_start;
} jscan;

static void js_ws(jscan *j) {
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' || *j->p == '\r' || *j->p == '\n')) {
        if (*j->p == '\n') {
            j->line++;
            j->line_start = j->p + 1;
        }
        j->p++;
    }
}

static int js_err(jscan *j, char *err, size_t errn, const char *why) {
    crec__errf(err, errn, "%s:%d:%d: %s", j->path, j->line, (int)(j->p - j->line_start) + 1, why);
    return CREC_EPARSE;
}

/* Read a whole file into a NUL-terminated buffer (caller frees). */
static int slurp(const char *path, char **out, size_t *len, char *err, size_t errn) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        crec__errf(err, errn, "%s: %s", path, strerror(errno));
        return CREC_EIO;
    }
    if (crec__is_dir(path)) {
        fclose(f);
        crec__errf(err, errn, "%s: %s", path, strerror(EISDIR));
        return CREC_EIO;
    }
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        size_t r = fread(b + n, 1, cap - n - 1, f);
        n += r;
        if (n + 1 < cap) break;
        char *nb = realloc(b, cap * 2);
        if (!nb) {
            free(b);
            b = NULL;
            break;
        }
        b = nb;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!b) {
        crec__errf(err, errn, "%s: out of memory", path);
        return CREC_ENOMEM;
    }
    if (bad) {
        free(b);
        crec__errf(err, errn, "%s: read error", path);
        return CREC_EIO;
    }
    b[n] = 0;
    *out = b;
    *len = n;
    return 0;
}

/* Scan path, calling fn once per key with its integers. */
static int scan_json(const char *path, crs_entry_fn fn, void *ctx, char *err, size_t errn) {
    char *buf;
    size_t len;
    int rc = slurp(path, &buf, &len, err, errn);
    if (rc) return rc;
    jscan j = {buf, buf + len, buf, path, 1, buf};
    if (len >= 3 && (unsigned char)buf[0] == 0xEF && (unsigned char)buf[1] == 0xBB && (unsigned char)buf[2] == 0xBF)
        j.p += 3, j.line_start += 3;
    int64_t *v = NULL;
    int64_t vcap = 0;
    size_t nv;
    js_ws(&j);
    if (j.p >= j.end || *j.p != '{') {
        rc = js_err(&j, err, errn, "expected a JSON object {\"id\": [id, ...], ...}");
        goto out;
    }
    j.p++;
    js_ws(&j);
    if (j.p < j.end && *j.p == '}') {
        j.p++;
        goto tail;
    }
    for (;;) {
        js_ws(&j);
        if (j.p >= j.end || *j.p != '"') {
            rc = js_err(&j, err, errn, "expected a quoted key");
            goto out;
        }
        const char *key = ++j.p;
        while (j.p < j.end && *j.p != '"' && *j.p != '\\' && *j.p != '\n') j.p++;
        if (j.p >= j.end || *j.p != '"') {
            rc = js_err(&j, err, errn, "unterminated key (escapes are not expected in ids)");
            goto out;
        }
        size_t klen = (size_t)(j.p - key);
        const char *key_at = key - 1; /* errors about the key point at its opening quote */
        j.p++;
        if (klen == 0) {
            j.p = key_at;
            rc = js_err(&j, err, errn, "empty key");
            goto out;
        }
        js_ws(&j);
        if (j.p >= j.end || *j.p != ':') {
            rc = js_err(&j, err, errn, "expected ':' after the key");
            goto out;
        }
        j.p++;
        js_ws(&j);
        if (j.p >= j.end || *j.p != '[') {
            rc = js_err(&j, err, errn, "expected an array of integer ids");
            goto out;
        }
        j.p++;
        nv = 0;
        js_ws(&j);
        if (j.p < j.end && *j.p == ']') j.p++;
        else
            for (;;) {
                js_ws(&j);
                const char *q = j.p;
                while (q < j.end && ((*q >= '0' && *q <= '9') || *q == '-')) q++;
                int64_t x;
                if (q == j.p || crec__parse_i64(j.p, (size_t)(q - j.p), &x) || x < 0 || x > INT32_MAX) {
                    rc = js_err(&j, err, errn, "expected a non-negative integer id");
                    goto out;
                }
                void *pv = v;
                if (crec__grow(&pv, &vcap, (int64_t)nv + 1, sizeof *v)) {
                    rc = CREC_ENOMEM;
                    crec__errf(err, errn, "%s: out of memory", path);
                    goto out;
                }
                v = pv;
                v[nv++] = x;
                j.p = q;
                js_ws(&j);
                if (j.p < j.end && *j.p == ',') {
                    j.p++;
                    continue;
                }
                if (j.p < j.end && *j.p == ']') {
                    j.p++;
                    break;
                }
                rc = js_err(&j, err, errn, "expected ',' or ']' in the array");
                goto out;
            }
        char why[256];
        why[0] = 0;
        if ((rc = fn(ctx, key, klen, v, nv, why, sizeof why))) {
            const char *save = j.p;
            j.p = key_at;
            if (rc == CREC_ENOMEM) crec__errf(err, errn, "%s: out of memory", path);
            else js_err(&j, err, errn, why[0] ? why : "bad entry");
            j.p = save;
            goto out;
        }
        js_ws(&j);
        if (j.p < j.end && *j.p == ',') {
            j.p++;
            continue;
        }
        if (j.p < j.end && *j.p == '}') {
            j.p++;
            break;
        }
        rc = js_err(&j, err, errn, "expected ',' or '}' after an entry");
        goto out;
    }
tail:
    js_ws(&j);
    if (j.p != j.end) rc = js_err(&j, err, errn, "unexpected text after the JSON object");
out:
    free(v);
    free(buf);
    return rc;
}

/* ---- building the dataset ---- */

typedef struct crs_ctx {
    crec_dataset *ds;
    uint8_t type;        /* event type of the interactions being read */
    int64_t *coarse_ptr; /* coarse variant: feature f -> coarse ids coarse_idx[coarse_ptr[f] .. coarse_ptr[f+1]) */
    int32_t *coarse_idx;
    int64_t n_feat;      /* features covered by the coarse map */
    const char *prefix;  /* user attribute prefix ("like:", "friend:") */
    int coarse;
} crs_ctx;

static int is_uint(const char *s, size_t n) {
    if (n == 0 || n > 10) return 0;
    for (size_t k = 0; k < n; k++)
        if (s[k] < '0' || s[k] > '9') return 0;
    return 1;
}

static int add_feature(crs_ctx *c, int32_t i, int64_t f) {
    char num[32];
    if (!c->coarse) return crec_dataset_add_attr(c->ds, i, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)f));
    if (f >= c->n_feat) return 0; /* a feature without a coarse category */
    for (int64_t k = c->coarse_ptr[f]; k < c->coarse_ptr[f + 1]; k++) {
        int rc = crec_dataset_add_attr(c->ds, i, num, (size_t)snprintf(num, sizeof num, "%d", c->coarse_idx[k]));
        if (rc) return rc;
    }
    return 0;
}

static int item_of(crec_dataset *ds, int64_t x) {
    char num[32];
    return crec_dataset_item(ds, num, (size_t)snprintf(num, sizeof num, "%lld", (long long)x));
}

/* item_fea.json, first pass: the largest item id (items are interned 0..max in numeric order). */
typedef struct maxkey { int64_t max; } maxkey;
static int on_maxkey(void *ctx, const char *key, size_t klen, const int64_t *v, size_t n, char *err, size_t errn) {
    (void)v, (void)n;
    int64_t x;
    if (!is_uint(key, klen) || crec__parse_i64(key, klen, &x) || x > INT32_MAX - 1) {
        crec__errf(err, errn, "item key must be a non-negative integer id");
        return CREC_EPARSE;
    }
    maxkey *m = ctx;
    if (x > m->max) m->max = x;
    return 0;
}

static int on_item_fea(void *ctx, const char *key, size_t klen, const int64_t *v, size_t n, char *err, size_t errn) {
    crs_ctx *c = ctx;
    (void)err, (void)errn;
    int32_t i = crec_idmap_get(&c->ds->items, key, klen);
    if (i < 0) return CREC_EINVAL; /* interned by the first pass: cannot happen */
    for (size_t k = 0; k < n; k++) {
        int rc = add_feature(c, i, v[k]);
        if (rc) return rc;
    }
    return 0;
}

static int on_review(void *ctx, const char *key, size_t klen, const int64_t *v, size_t n, char *err, size_t errn) {
    crs_ctx *c = ctx;
    if (!is_uint(key, klen)) {
        crec__errf(err, errn, "user key must be a non-negative integer id");
        return CREC_EPARSE;
    }
    int32_t u = crec_idmap_intern(&c->ds->users, key, klen);
    if (u < 0) return u;
    for (size_t k = 0; k < n; k++) {
        int32_t i = item_of(c->ds, v[k]);
        if (i < 0) return i;
        int rc = crec_dataset_add_dense(c->ds, u, i, c->ds->n, 1.0f, c->type);
        if (rc) return rc;
    }
    return 0;
}

static int on_user_attr(void *ctx, const char *key, size_t klen, const int64_t *v, size_t n, char *err,
                        size_t errn) {
    crs_ctx *c = ctx;
    (void)err, (void)errn;
    int32_t u = crec_idmap_get(&c->ds->users, key, klen);
    if (u < 0) return 0; /* a user without interactions: nothing to decorate */
    char name[64];
    for (size_t k = 0; k < n; k++) {
        int len = snprintf(name, sizeof name, "%s%lld", c->prefix, (long long)v[k]);
        int rc = crec_dataset_add_user_attr(c->ds, u, name, (size_t)len);
        if (rc) return rc;
    }
    return 0;
}

/* Coarse map from (feature, coarse) pairs: collected, then laid out as CSR over features. */
typedef struct pairs {
    int64_t n, cap;
    int64_t *a, *b;
} pairs;

static int pairs_add(pairs *p, int64_t a, int64_t b) {
    if (p->n == p->cap) {
        int64_t cap = p->cap;
        void *q = p->a;
        if (crec__grow(&q, &cap, p->n + 1, sizeof *p->a)) return CREC_ENOMEM;
        p->a = q;
        cap = p->cap;
        q = p->b;
        if (crec__grow(&q, &cap, p->n + 1, sizeof *p->b)) return CREC_ENOMEM;
        p->b = q;
        p->cap = cap;
    }
    p->a[p->n] = a;
    p->b[p->n] = b;
    p->n++;
    return 0;
}

static int on_fea_large(void *ctx, const char *key, size_t klen, const int64_t *v, size_t n, char *err,
                        size_t errn) {
    int64_t f;
    if (!is_uint(key, klen) || crec__parse_i64(key, klen, &f)) {
        crec__errf(err, errn, "feature key must be a non-negative integer id");
        return CREC_EPARSE;
    }
    for (size_t k = 0; k < n; k++)
        if (pairs_add(ctx, f, v[k])) return CREC_ENOMEM;
    return 0;
}

static int coarse_build(crs_ctx *c, pairs *p) {
    int64_t nf = 0;
    for (int64_t k = 0; k < p->n; k++)
        if (p->a[k] + 1 > nf) nf = p->a[k] + 1;
    c->n_feat = nf;
    c->coarse_ptr = calloc((size_t)nf + 1, sizeof *c->coarse_ptr);
    c->coarse_idx = malloc((size_t)(p->n ? p->n : 1) * sizeof *c->coarse_idx);
    if (!c->coarse_ptr || !c->coarse_idx) return CREC_ENOMEM;
    for (int64_t k = 0; k < p->n; k++) c->coarse_ptr[p->a[k] + 1]++;
    for (int64_t f = 0; f < nf; f++) c->coarse_ptr[f + 1] += c->coarse_ptr[f];
    int64_t *fill = malloc(((size_t)nf + 1) * sizeof *fill);
    if (!fill) return CREC_ENOMEM;
    memcpy(fill, c->coarse_ptr, ((size_t)nf + 1) * sizeof *fill);
    for (int64_t k = 0; k < p->n; k++) c->coarse_idx[fill[p->a[k]]++] = (int32_t)p->b[k];
    free(fill);
    return 0;
}

/* A TSV of two (or three) columns with a header line. Calls row(ctx, fields, lr) for every data row; a header
 * is recognised by its first field not being one of the expected words' values (it must name the columns). */
typedef int (*tsv_row_fn)(void *ctx, crec__field *f, int nf, crec_load_opts *o, crec_linereader *lr);

static int read_tsv(const char *path, int want, const char *const *header, tsv_row_fn row, void *ctx,
                    crec_load_opts *o) {
    crec_linereader lr;
    int rc = crec__lr_open(&lr, path, o);
    if (rc) return rc;
    int first = 1;
    crec__field f[8];
    while ((rc = crec__lr_next_usable(&lr, o)) > 0) {
        int nf = crec__split_char(lr.line, lr.len, '\t', f, 8);
        if (first) {
            first = 0;
            int hdr = nf == want;
            for (int k = 0; hdr && k < want; k++) hdr = crec__ieq(f[k].s, f[k].len, header[k]);
            if (hdr) continue;
            if (nf >= 1 && !is_uint(f[0].s, f[0].len) && !crec__ieq(f[0].s, f[0].len, "train") &&
                !crec__ieq(f[0].s, f[0].len, "valid") && !crec__ieq(f[0].s, f[0].len, "test")) {
                char hb[256];
                size_t n = 0;
                for (int k = 0; k < want; k++)
                    n += (size_t)snprintf(hb + n, sizeof hb - n, "%s%s", k ? "<TAB>" : "", header[k]);
                if ((rc = crec__load_bad(o, &lr, "expected the header '%s'", hb))) break;
                continue;
            }
        }
        if (nf != want) {
            if ((rc = crec__load_bad(o, &lr, "expected %d tab-separated fields, got %d", want, nf))) break;
            continue;
        }
        if ((rc = row(ctx, f, nf, o, &lr))) break;
    }
    if (rc == CREC_EIO) crec__load_eio(o, &lr);
    if (rc == CREC_ENOMEM) crec__errf(o->err, sizeof o->err, "%s:%lld: out of memory", path, (long long)lr.lineno);
    crec__lr_close(&lr, o);
    return rc < 0 ? rc : 0;
}

static int id_field(crec__field *f, int64_t *x) {
    return is_uint(f->s, f->len) && crec__parse_i64(f->s, f->len, x) == 0 && *x <= INT32_MAX - 1 ? 0 : -1;
}

static int row_coarse(void *ctx, crec__field *f, int nf, crec_load_opts *o, crec_linereader *lr) {
    (void)nf;
    int64_t a, b;
    if (id_field(&f[0], &a)) return crec__load_bad(o, lr, "feature must be a non-negative integer id");
    if (id_field(&f[1], &b)) return crec__load_bad(o, lr, "coarse feature must be a non-negative integer id");
    return pairs_add(ctx, a, b);
}

typedef struct item_rows {
    crs_ctx *c;
    int pass; /* 0: collect the largest item id; 1: attach features */
    int64_t max;
} item_rows;

static int row_item_feature(void *ctx, crec__field *f, int nf, crec_load_opts *o, crec_linereader *lr) {
    (void)nf;
    item_rows *r = ctx;
    int64_t i, fe;
    if (id_field(&f[0], &i)) return crec__load_bad(o, lr, "item must be a non-negative integer id");
    if (id_field(&f[1], &fe)) return crec__load_bad(o, lr, "feature must be a non-negative integer id");
    if (r->pass == 0) {
        if (i > r->max) r->max = i;
        return 0;
    }
    int32_t d = crec_idmap_get(&r->c->ds->items, f[0].s, f[0].len);
    if (d < 0) return crec__load_bad(o, lr, "item '%.*s' is not in the catalogue", (int)f[0].len, f[0].s);
    return add_feature(r->c, d, fe);
}

static int row_interaction(void *ctx, crec__field *f, int nf, crec_load_opts *o, crec_linereader *lr) {
    (void)nf;
    crs_ctx *c = ctx;
    uint8_t type;
    if (crec__ieq(f[0].s, f[0].len, "train")) type = 0;
    else if (crec__ieq(f[0].s, f[0].len, "valid") || crec__ieq(f[0].s, f[0].len, "validation")) type = 1;
    else if (crec__ieq(f[0].s, f[0].len, "test")) type = 2;
    else return crec__load_bad(o, lr, "split must be train, valid or test, got '%.*s'", (int)f[0].len, f[0].s);
    int64_t x;
    if (id_field(&f[1], &x)) return crec__load_bad(o, lr, "user must be a non-negative integer id");
    if (id_field(&f[2], &x)) return crec__load_bad(o, lr, "item must be a non-negative integer id");
    int32_t u = crec_idmap_intern(&c->ds->users, f[1].s, f[1].len);
    if (u < 0) return u;
    int32_t i = crec_dataset_item(c->ds, f[2].s, f[2].len);
    if (i < 0) return i;
    int32_t vt = crec_idmap_intern(&c->ds->event_types, "valid", 5), tt = crec_idmap_intern(&c->ds->event_types, "test", 4);
    if (vt < 0 || tt < 0) return CREC_ENOMEM;
    return crec_dataset_add_dense(c->ds, u, i, c->ds->n, 1.0f, type == 0 ? 0 : (uint8_t)(type == 1 ? vt : tt));
}

static int intern_items(crec_dataset *ds, int64_t max) {
    for (int64_t i = 0; i <= max; i++) {
        int r = item_of(ds, i);
        if (r < 0) return r;
    }
    return 0;
}

static int exists(const char *dir, const char *name) {
    char *p = crec__path_join(dir, 0, name);
    if (!p) return 0;
    FILE *f = fopen(p, "rb");
    free(p);
    if (f) fclose(f);
    return f != NULL;
}

/* Run fn over dir/name (JSON). */
static int json_file(const char *dir, const char *name, crs_entry_fn fn, void *ctx, crec_load_opts *o) {
    char *p = crec__path_join(dir, 0, name);
    if (!p) return CREC_ENOMEM;
    int rc = scan_json(p, fn, ctx, o->err, sizeof o->err);
    free(p);
    return rc;
}

static int tsv_file(const char *dir, const char *name, int want, const char *const *hdr, tsv_row_fn row, void *ctx,
                    crec_load_opts *o) {
    char *p = crec__path_join(dir, 0, name);
    if (!p) return CREC_ENOMEM;
    int rc = read_tsv(p, want, hdr, row, ctx, o);
    free(p);
    return rc;
}

int crec_crs_load(crec_dataset *ds, const char *path, int coarse, crec_load_opts *o) {
    crec_load_opts tmp;
    crec__load_begin(&o, &tmp);
    if (!ds || !path) return CREC_EINVAL;
    /* a file inside the folder names the folder */
    char *dir = crec__is_dir(path) ? crec__strndup(path, strlen(path)) : crec__path_join(path, 1, "");
    if (!dir) return CREC_ENOMEM;
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dir[--dl] = 0;
    int json = exists(dir, "review_dict_train.json"), plain = exists(dir, "interactions.tsv");
    int rc = 0;
    crs_ctx c = {.ds = ds, .coarse = coarse};
    pairs cp = {0};
    if (!json && !plain) {
        crec__errf(o->err, sizeof o->err,
                   "%s: not a conversational-recommendation folder: expected review_dict_train.json (SCPR/UNICORN "
                   "layout) or interactions.tsv (plain layout)",
                   dir);
        rc = CREC_EIO;
        goto out;
    }
    if (coarse) {
        static const char *const hc[] = {"feature", "coarse_feature"};
        if (json && exists(dir, "fea_large.json")) rc = json_file(dir, "fea_large.json", on_fea_large, &cp, o);
        else if (exists(dir, "feature_coarse.tsv")) rc = tsv_file(dir, "feature_coarse.tsv", 2, hc, row_coarse, &cp, o);
        else {
            crec__errf(o->err, sizeof o->err, "%s: the coarse variant needs fea_large.json or feature_coarse.tsv", dir);
            rc = CREC_EIO;
        }
        if (!rc) rc = coarse_build(&c, &cp);
        if (rc) goto out;
    }
    if (crec_idmap_intern(&ds->event_types, "valid", 5) < 0 || crec_idmap_intern(&ds->event_types, "test", 4) < 0) {
        rc = CREC_ENOMEM;
        goto out;
    }
    if (json) {
        maxkey mk = {-1};
        if (!exists(dir, "item_fea.json")) {
            crec__errf(o->err, sizeof o->err, "%s: item_fea.json (item -> features) is missing", dir);
            rc = CREC_EIO;
            goto out;
        }
        if ((rc = json_file(dir, "item_fea.json", on_maxkey, &mk, o))) goto out;
        if ((rc = intern_items(ds, mk.max))) goto out;
        if ((rc = json_file(dir, "item_fea.json", on_item_fea, &c, o))) goto out;
        static const char *const parts[] = {"review_dict_train.json", "review_dict_valid.json", "review_dict_test.json"};
        for (int p = 0; p < 3; p++) {
            c.type = (uint8_t)(p == 0 ? 0 : crec_idmap_get(&ds->event_types, p == 1 ? "valid" : "test", p == 1 ? 5 : 4));
            if (p > 0 && !exists(dir, parts[p])) {
                crec__errf(o->err, sizeof o->err, "%s: %s is missing", dir, parts[p]);
                rc = CREC_EIO;
                goto out;
            }
            if ((rc = json_file(dir, parts[p], on_review, &c, o))) goto out;
        }
        if (exists(dir, "user_like.json")) {
            c.prefix = "like:";
            if ((rc = json_file(dir, "user_like.json", on_user_attr, &c, o))) goto out;
        }
        if (exists(dir, "user_friends.json")) {
            c.prefix = "friend:";
            if ((rc = json_file(dir, "user_friends.json", on_user_attr, &c, o))) goto out;
        }
    } else {
        static const char *const hi[] = {"item", "feature"}, *const hx[] = {"split", "user", "item"};
        item_rows r = {&c, 0, -1};
        if (!exists(dir, "item_feature.tsv")) {
            crec__errf(o->err, sizeof o->err, "%s: item_feature.tsv (item<TAB>feature) is missing", dir);
            rc = CREC_EIO;
            goto out;
        }
        if ((rc = tsv_file(dir, "item_feature.tsv", 2, hi, row_item_feature, &r, o))) goto out;
        if ((rc = intern_items(ds, r.max))) goto out;
        r.pass = 1;
        int64_t skipped = o->n_skipped, lines = o->n_lines;
        if ((rc = tsv_file(dir, "item_feature.tsv", 2, hi, row_item_feature, &r, o))) goto out;
        o->n_skipped = skipped, o->n_lines = lines; /* the second pass re-reads the same lines */
        if ((rc = tsv_file(dir, "interactions.tsv", 3, hx, row_interaction, &c, o))) goto out;
    }
    if (ds->n_attr_pairs && (rc = crec_dataset_attr_csr(ds))) goto out;
    if (ds->n_uattr_pairs && (rc = crec_dataset_user_attr_csr(ds))) goto out;
    if (!ds->name[0]) {
        crec__dataset_default_name(ds, dir, 0);
        if (coarse) {
            size_t n = strlen(ds->name);
            snprintf(ds->name + n, sizeof ds->name - n, "-coarse");
        }
    }
out:
    if (rc == CREC_ENOMEM && !o->err[0]) crec__errf(o->err, sizeof o->err, "%s: out of memory", dir);
    free(cp.a);
    free(cp.b);
    free(c.coarse_ptr);
    free(c.coarse_idx);
    free(dir);
    return rc;
}

int crec_load_crs(crec_dataset *ds, const char *path, crec_load_opts *o) { return crec_crs_load(ds, path, 0, o); }
