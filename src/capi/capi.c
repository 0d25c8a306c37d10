/* capi.c: the flat C API for foreign-function callers (include/crec/capi.h), over the public library.
 *
 * The one idea: every entry point does what the matching `crec` command does (cli_open_dataset, crec train,
 * crec eval, crec recommend) with the same library calls in the same order, so a Python caller gets the
 * CLI's numbers; options arrive as key / value text and are checked strictly, and a failure leaves a
 * message naming the key for crec_capi_errmsg(). */
#include "crec/capi.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crec/eval.h"
#include "crec/service.h"

static _Thread_local char g_msg[1024];

const char *crec_capi_errmsg(void) { return g_msg; }
void crec_capi_free(void *p) { free(p); }
int crec_capi_version(void) { return 1; }

/* Record the message of a failure and return rc. */
static int fail(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int rc, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(g_msg, sizeof g_msg, fmt, ap);
    va_end(ap);
    return rc;
}
/* A library error without a message of its own: "what: reason". */
static int fail_rc(int rc, const char *what) { return fail(rc, "%s: %s", what, crec_strerror(rc)); }
static void ok(void) { g_msg[0] = 0; }

/* ---- key / value options ---- */

typedef struct opts {
    const char *const *keys, *const *vals;
    int n;
    const char *what; /* "synth", "load", "evaluate": prefixes messages */
} opts;

/* Every key is one of the '|'-separated words of allowed, and none is given twice. */
static int opts_check(const opts *o, const char *allowed) {
    if (o->n < 0 || (o->n > 0 && (!o->keys || !o->vals))) return fail(CREC_EINVAL, "%s: bad option arrays", o->what);
    for (int i = 0; i < o->n; i++) {
        const char *k = o->keys[i];
        if (!k || !o->vals[i]) return fail(CREC_EINVAL, "%s: option %d has no key or value", o->what, i);
        size_t kl = strlen(k);
        int found = 0;
        for (const char *p = allowed; *p && !found;) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            found = len == kl && strncmp(p, k, len) == 0;
            p = bar ? bar + 1 : p + len;
        }
        if (!found) {
            char list[512];
            snprintf(list, sizeof list, "%s", allowed);
            for (char *c = list; *c; c++)
                if (*c == '|') *c = ',';
            return fail(CREC_EINVAL, "%s: unknown option '%s' (options: %s)", o->what, k, list);
        }
        for (int j = 0; j < i; j++)
            if (strcmp(o->keys[j], k) == 0) return fail(CREC_EINVAL, "%s: option '%s' given twice", o->what, k);
    }
    return 0;
}

static const char *opts_get(const opts *o, const char *key) {
    for (int i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0) return o->vals[i];
    return NULL;
}

/* Integer option in [lo, hi]: 0 when absent (out unchanged) or valid, else CREC_EINVAL naming the key. */
static int opts_int(const opts *o, const char *key, long long lo, long long hi, long long *out) {
    const char *v = opts_get(o, key);
    if (!v) return 0;
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        return fail(CREC_EINVAL, "%s: option '%s' = '%s': an integer in [%lld, %lld]", o->what, key, v, lo, hi);
    *out = x;
    return 0;
}

static int opts_double(const opts *o, const char *key, double lo, double hi, double *out) {
    const char *v = opts_get(o, key);
    if (!v) return 0;
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !isfinite(x) || x < lo || x > hi)
        return fail(CREC_EINVAL, "%s: option '%s' = '%s': a number in [%g, %g]", o->what, key, v, lo, hi);
    *out = x;
    return 0;
}

static int opts_bool(const opts *o, const char *key, int *out) {
    const char *v = opts_get(o, key);
    if (!v) return 0;
    if (strcmp(v, "0") == 0 || strcmp(v, "1") == 0) {
        *out = v[0] == '1';
        return 0;
    }
    return fail(CREC_EINVAL, "%s: option '%s' = '%s': 0 or 1", o->what, key, v);
}

/* ---- datasets ---- */

int crec_capi_dataset_synth(const char *const *keys, const char *const *vals, int n, crec_dataset **out) {
    ok();
    if (!out) return fail(CREC_EINVAL, "synth: no output handle");
    *out = NULL;
    opts o = {keys, vals, n, "synth"};
    int rc = opts_check(&o, "users|items|topics|attrs|min_len|max_len|alpha|p_seq|p_taste|p_repeat|seed");
    if (rc) return rc;
    crec_synth_opts so;
    crec_synth_defaults(&so);
    /* the ranges of `crec data synth` */
    long long users = so.n_users, items = so.n_items, topics = so.n_topics, attrs = so.n_attrs, min_len = so.min_len,
              max_len = so.max_len, seed = (long long)so.seed;
    if ((rc = opts_int(&o, "users", 1, 50000000, &users)) || (rc = opts_int(&o, "items", 4, 50000000, &items)) ||
        (rc = opts_int(&o, "topics", 1, 100000, &topics)) || (rc = opts_int(&o, "attrs", 0, 1000000, &attrs)) ||
        (rc = opts_int(&o, "min_len", 1, 100000, &min_len)) || (rc = opts_int(&o, "max_len", 1, 100000, &max_len)) ||
        (rc = opts_int(&o, "seed", 0, (long long)1 << 62, &seed)) ||
        (rc = opts_double(&o, "alpha", 0, 5, &so.pop_alpha)) || (rc = opts_double(&o, "p_seq", 0, 1, &so.p_seq)) ||
        (rc = opts_double(&o, "p_taste", 0, 1, &so.p_taste)) || (rc = opts_double(&o, "p_repeat", 0, 1, &so.p_repeat)))
        return rc;
    if (max_len < min_len) return fail(CREC_EINVAL, "synth: min_len (%lld) > max_len (%lld)", min_len, max_len);
    if (topics > items) return fail(CREC_EINVAL, "synth: topics (%lld) > items (%lld)", topics, items);
    so.n_users = (int32_t)users;
    so.n_items = (int32_t)items;
    so.n_topics = (int32_t)topics;
    so.n_attrs = (int32_t)attrs;
    so.min_len = (int32_t)min_len;
    so.max_len = (int32_t)max_len;
    so.seed = (uint64_t)seed;
    if ((rc = crec_synth_generate(&so, out))) return fail_rc(rc, "synth");
    return 0;
}

/* The filters of `crec data import`, in its order. No attribute index (crec_dataset_attr_csr) is built here:
 * the CLI's readers do not build one either, and evaluation's ILD reads it when present. */
static int apply_filters(crec_dataset *ds, const opts *o, const char *label) {
    double min_rating = -1;
    long long kcore = 0;
    int dedup = 0, rc;
    if ((rc = opts_double(o, "min_rating", -1e30, 1e30, &min_rating)) || (rc = opts_bool(o, "dedup", &dedup)) ||
        (rc = opts_int(o, "kcore", 1, 1000000, &kcore)))
        return rc;
    if (min_rating >= 0 && (rc = crec_dataset_filter_min_value(ds, (float)min_rating)))
        return fail_rc(rc, label);
    if (dedup && (rc = crec_dataset_dedup(ds, 0))) return fail_rc(rc, label);
    if (kcore > 0 && (rc = crec_dataset_kcore(ds, (int)kcore, (int)kcore))) return fail_rc(rc, label);
    return 0;
}

int crec_capi_dataset_load(const char *path, const char *const *keys, const char *const *vals, int n,
                           crec_dataset **out) {
    ok();
    if (!out || !path) return fail(CREC_EINVAL, "load: no path or output handle");
    *out = NULL;
    opts o = {keys, vals, n, "load"};
    int rc = opts_check(&o, "format|items|skip_bad|min_rating|dedup|kcore|user_col|item_col|time_col|value_col|"
                            "delim|no_header");
    if (rc) return rc;
    const char *fmt_name = opts_get(&o, "format");
    crec_format fmt = fmt_name ? crec_format_parse(fmt_name) : CREC_FMT_AUTO;
    if (fmt == CREC_FMT_UNKNOWN)
        return fail(CREC_EINVAL, "load: option 'format' = '%s': one of auto, movielens, sequences, pairs, csv",
                    fmt_name);
    crec_load_opts lo;
    memset(&lo, 0, sizeof lo);
    if ((rc = opts_bool(&o, "skip_bad", &lo.skip_bad)) || (rc = opts_bool(&o, "no_header", &lo.no_header)))
        return rc;
    lo.col_user = opts_get(&o, "user_col");
    lo.col_item = opts_get(&o, "item_col");
    lo.col_time = opts_get(&o, "time_col");
    lo.col_value = opts_get(&o, "value_col");
    const char *delim = opts_get(&o, "delim");
    if (delim) {
        if (strcmp(delim, "tab") == 0 || strcmp(delim, "\\t") == 0) lo.delim = '\t';
        else if (strlen(delim) == 1) lo.delim = delim[0];
        else return fail(CREC_EINVAL, "load: option 'delim' = '%s': one character or 'tab'", delim);
    }
    crec_dataset *ds = NULL;
    /* as cli_open_dataset: a .crecds first (unless a text format is named), else the text import */
    rc = fmt == CREC_FMT_AUTO ? crec_dataset_load(path, &ds) : CREC_EFORMAT;
    if (rc && rc != CREC_EFORMAT) {
        if (rc == CREC_ENOTFOUND) return fail(rc, "%s: no such file", path);
        return fail_rc(rc, path);
    }
    if (rc) {
        if (!(ds = crec_dataset_new())) return fail_rc(CREC_ENOMEM, "load");
        if ((rc = crec_load(ds, fmt, path, &lo))) {
            fail(rc, "%s", lo.err[0] ? lo.err : crec_strerror(rc));
            if (rc == CREC_ENOTFOUND && !lo.err[0]) fail(rc, "%s: no such file", path);
            crec_dataset_free(ds);
            return rc;
        }
    }
    const char *items = opts_get(&o, "items");
    if (items) {
        crec_load_opts ao;
        memset(&ao, 0, sizeof ao);
        ao.skip_bad = lo.skip_bad;
        if ((rc = crec_load_item_attrs(ds, items, &ao))) {
            fail(rc, "%s", ao.err[0] ? ao.err : crec_strerror(rc));
            crec_dataset_free(ds);
            return rc;
        }
    }
    if ((rc = apply_filters(ds, &o, path))) {
        crec_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}

int crec_capi_dataset_from_events(const char *const *users, const char *const *items, const int64_t *ts,
                                  const float *values, int64_t n, const char *name, const char *const *keys,
                                  const char *const *vals, int nopt, crec_dataset **out) {
    ok();
    if (!out || n < 0 || (n > 0 && (!users || !items))) return fail(CREC_EINVAL, "from_events: bad arguments");
    *out = NULL;
    opts o = {keys, vals, nopt, "from_events"};
    int rc = opts_check(&o, "min_rating|dedup|kcore");
    if (rc) return rc;
    crec_dataset *ds = crec_dataset_new();
    if (!ds) return fail_rc(CREC_ENOMEM, "from_events");
    for (int64_t e = 0; e < n && !rc; e++) {
        if (!users[e] || !items[e] || !users[e][0] || !items[e][0]) {
            rc = fail(CREC_EINVAL, "from_events: event %lld has an empty user or item id", (long long)e);
            break;
        }
        if (values && !isfinite(values[e])) {
            rc = fail(CREC_EINVAL, "from_events: event %lld has a value that is not a finite number", (long long)e);
            break;
        }
        rc = crec_dataset_add(ds, users[e], strlen(users[e]), items[e], strlen(items[e]), ts ? ts[e] : e,
                              values ? values[e] : 1.0f, 0);
        if (rc) fail_rc(rc, "from_events");
    }
    if (!rc) {
        ds->has_time = ts != NULL;
        ds->has_value = values != NULL;
        snprintf(ds->name, sizeof ds->name, "%s", name && *name ? name : "events");
        rc = apply_filters(ds, &o, "from_events");
    }
    if (rc) {
        crec_dataset_free(ds);
        return rc;
    }
    *out = ds;
    return 0;
}

int crec_capi_dataset_save(const crec_dataset *ds, const char *path) {
    ok();
    if (!ds || !path) return fail(CREC_EINVAL, "save: no dataset or path");
    int rc = crec_dataset_save(ds, path);
    return rc ? fail_rc(rc, path) : 0;
}

void crec_capi_dataset_free(crec_dataset *ds) { crec_dataset_free(ds); }

int64_t crec_capi_dataset_size(const crec_dataset *ds, int what) {
    if (!ds) return CREC_EINVAL;
    switch (what) {
    case 0: return ds->users.n;
    case 1: return ds->items.n;
    case 2: return ds->n;
    case 3: return ds->attrs.n;
    default: return CREC_EINVAL;
    }
}

const char *crec_capi_dataset_name(const crec_dataset *ds) { return ds ? ds->name : NULL; }

/* Serialize root (stolen) into *json. */
static int dump_json(json_t *root, char **json, const char *what) {
    if (!root) return fail_rc(CREC_ENOMEM, what);
    *json = json_dumps(root, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(root);
    return *json ? 0 : fail_rc(CREC_ENOMEM, what);
}

int crec_capi_dataset_info(const crec_dataset *ds, char **json) {
    ok();
    if (!ds || !json) return fail(CREC_EINVAL, "info: no dataset");
    *json = NULL;
    crec_dataset_info in;
    int rc = crec_dataset_info_compute(ds, &in);
    if (rc) return fail_rc(rc, "info");
    /* the keys of `crec data info --json` */
    json_t *root = json_pack("{s:s, s:I, s:I, s:I, s:f, s:I, s:i, s:I, s:b, s:b, s:{s:f, s:f, s:f, s:f, s:f, s:f}, "
                             "s:f, s:I, s:I}",
                             "name", ds->name, "users", (json_int_t)in.n_users, "items", (json_int_t)in.n_items,
                             "interactions", (json_int_t)in.n_interactions, "density", in.density, "attributes",
                             (json_int_t)in.n_attrs, "user_features", (int)ds->user_attrs.n, "titled_items",
                             (json_int_t)in.n_titled, "has_time", in.has_time, "has_value", in.has_value, "seq_len",
                             "min", in.seq_q[0], "q25", in.seq_q[1], "median", in.seq_q[2], "q75", in.seq_q[3], "max",
                             in.seq_q[4], "mean", in.seq_mean, "popularity_gini", in.pop_gini, "repeat_events",
                             (json_int_t)in.n_repeats, "repeat_users", (json_int_t)in.n_repeat_users);
    return dump_json(root, json, "info");
}

int crec_capi_dataset_log(const crec_dataset *ds, const int32_t **user, const int32_t **item, const int64_t **ts,
                          const float **value, const uint8_t **type) {
    ok();
    if (!ds) return fail(CREC_EINVAL, "log: no dataset");
    if (user) *user = ds->user;
    if (item) *item = ds->item;
    if (ts) *ts = ds->ts;
    if (value) *value = ds->value;
    if (type) *type = ds->type;
    return 0;
}

const char *crec_capi_dataset_user_name(const crec_dataset *ds, int32_t i) {
    return ds && i >= 0 && i < ds->users.n ? ds->users.names[i] : NULL;
}

const char *crec_capi_dataset_item_name(const crec_dataset *ds, int32_t i) {
    return ds && i >= 0 && i < ds->items.n ? ds->items.names[i] : NULL;
}

const char *crec_capi_dataset_item_title(const crec_dataset *ds, int32_t i) {
    if (!ds || i < 0 || i >= ds->items.n || !ds->title || i >= ds->meta_cap) return NULL;
    return ds->title[i];
}

int crec_capi_dataset_item_attrs(const crec_dataset *ds, int32_t i, int32_t *out, int cap) {
    if (!ds || i < 0 || i >= ds->items.n || cap < 0 || (cap > 0 && !out)) return CREC_EINVAL;
    /* a scan of the (item, attribute) pairs, so the dataset stays as the CLI has it (no index built) */
    int n = 0;
    for (int64_t k = 0; k < ds->n_attr_pairs; k++) {
        if (ds->attr_item[k] != i) continue;
        int seen = 0;
        for (int j = 0; j < n && j < cap && !seen; j++) seen = out[j] == ds->attr_id[k];
        if (seen) continue;
        if (n < cap) out[n] = ds->attr_id[k];
        n++;
    }
    return n;
}

const char *crec_capi_dataset_attr_name(const crec_dataset *ds, int32_t a) {
    return ds && a >= 0 && a < ds->attrs.n ? ds->attrs.names[a] : NULL;
}

int64_t crec_capi_dataset_ids(const crec_dataset *ds, int which, const char *const *names, int64_t n,
                              int32_t *out) {
    ok();
    if (!ds || (which != 0 && which != 1) || n < 0 || (n > 0 && (!names || !out)))
        return fail(CREC_EINVAL, "ids: bad arguments");
    const crec_idmap *m = which ? &ds->items : &ds->users;
    int64_t unknown = 0;
    for (int64_t k = 0; k < n; k++) {
        out[k] = names[k] ? crec_idmap_get(m, names[k], strlen(names[k])) : -1;
        unknown += out[k] < 0;
    }
    return unknown;
}

/* ---- splits ---- */

int crec_capi_split_make(const crec_dataset *ds, const char *spec, crec_split **out) {
    ok();
    if (!ds || !spec || !out) return fail(CREC_EINVAL, "split: no dataset or spec");
    *out = NULL;
    crec_split_spec sp;
    if (crec_split_spec_parse(spec, &sp))
        return fail(CREC_EINVAL,
                    "split: bad spec '%s' (loo, temporal:TEST[:VALID], random:TEST[:VALID[:SEED]], "
                    "cold-items:TEST[:VALID[:SEED]], cold-users:TEST[:VALID[:SEED]])",
                    spec);
    crec_split *s = calloc(1, sizeof *s);
    if (!s) return fail_rc(CREC_ENOMEM, "split");
    int rc = crec_split_make(ds, &sp, s);
    if (rc) {
        free(s);
        return fail_rc(rc, "split");
    }
    *out = s;
    return 0;
}

void crec_capi_split_free(crec_split *s) {
    if (!s) return;
    crec_split_free(s);
    free(s);
}

int crec_capi_split_spec(const crec_split *s, char *buf, size_t n) {
    ok();
    if (!s || !buf || n == 0) return fail(CREC_EINVAL, "split: bad arguments");
    crec_split_spec_format(&s->spec, buf, n);
    return 0;
}

int crec_capi_split_part(const crec_split *s, int which, int32_t *rows, int32_t *cols, const int64_t **ptr,
                         const int32_t **idx, const int64_t **ts, const float **val) {
    ok();
    if (!s || which < 0 || which > 2) return fail(CREC_EINVAL, "split: part is 0 (train), 1 (valid) or 2 (test)");
    const crec_csr *m = which == 0 ? &s->train : which == 1 ? &s->valid : &s->test;
    if (rows) *rows = m->n_rows;
    if (cols) *cols = m->n_cols;
    if (ptr) *ptr = m->ptr;
    if (idx) *idx = m->idx;
    if (ts) *ts = m->ts;
    if (val) *val = m->val;
    return 0;
}

/* ---- models ---- */

int crec_capi_model_type_count(void) { return crec_model_type_count(); }

int crec_capi_model_type(int t, const char **name, const char **summary, unsigned *caps, int *n_params) {
    ok();
    if (t < 0 || t >= crec_model_type_count()) return fail(CREC_ERANGE, "model type %d: out of range", t);
    const crec_model_type *mt = crec_model_type_at(t);
    if (name) *name = mt->name;
    if (summary) *summary = mt->summary;
    if (caps) {
        static const unsigned ALL[] = {CREC_CAP_TIME, CREC_CAP_FEATURES, CREC_CAP_LIST,
                                       CREC_CAP_ONLINE, CREC_CAP_SEQUENCE, CREC_CAP_BATCH};
        *caps = 0;
        for (size_t c = 0; c < sizeof ALL / sizeof ALL[0]; c++)
            if (crec_model_has(mt, ALL[c])) *caps |= ALL[c];
    }
    if (n_params) {
        int k = 0;
        for (const crec_param_def *p = mt->params; p && p->name; p++) k++;
        *n_params = k;
    }
    return 0;
}

int crec_capi_model_param(int t, int p, const char **name, const char **kind, const char **def, double *lo,
                          double *hi, const char **choices, const char **help) {
    int np = 0, rc = crec_capi_model_type(t, NULL, NULL, NULL, &np);
    if (rc) return rc;
    if (p < 0 || p >= np) return fail(CREC_ERANGE, "model type %d: parameter %d out of range", t, p);
    const crec_param_def *d = &crec_model_type_at(t)->params[p];
    if (name) *name = d->name;
    if (kind) *kind = crec_param_kind_name(d->kind);
    if (def) *def = d->def;
    if (lo) *lo = d->lo;
    if (hi) *hi = d->hi;
    if (choices) *choices = d->choices;
    if (help) *help = d->help;
    return 0;
}

int crec_capi_train(const crec_dataset *ds, const char *type, const char *const *keys, const char *const *vals,
                    int n, const char *spec, uint64_t seed, int threads, int verbose, crec_model **out) {
    ok();
    if (!ds || !type || !out || n < 0 || (n > 0 && (!keys || !vals)))
        return fail(CREC_EINVAL, "train: bad arguments");
    *out = NULL;
    if (!spec) spec = "loo";
    /* the steps of cli_train_model (apps/crec/cmd_model.c) */
    crec_split_spec sp;
    if (crec_split_spec_parse(spec, &sp))
        return fail(CREC_EINVAL, "train: bad split '%s' (loo, temporal:TEST[:VALID], random:TEST[:VALID[:SEED]], "
                                 "cold-items:..., cold-users:...)", spec);
    crec_config cfg;
    memset(&cfg, 0, sizeof cfg);
    for (int i = 0; i < n; i++) {
        if (!keys[i] || !vals[i] || !keys[i][0])
            return fail(CREC_EINVAL, "model '%s': parameter %d has no key or value", type, i);
        if (strlen(keys[i]) >= sizeof cfg.key[0])
            return fail(CREC_EINVAL, "model '%s': parameter '%s': name too long", type, keys[i]);
        if (strlen(vals[i]) >= sizeof cfg.val[0])
            return fail(CREC_EINVAL, "model '%s': parameter '%s' = '%.40s...': value longer than %zu bytes", type,
                        keys[i], vals[i], sizeof cfg.val[0] - 1);
        if (crec_config_set(&cfg, keys[i], vals[i]))
            return fail(CREC_EINVAL, "model '%s': more than %d parameters", type, CREC_MAX_PARAMS);
    }
    char err[512] = "";
    crec_model *m;
    int rc = crec_model_new(type, &cfg, &m, err, sizeof err);
    if (rc) return fail(rc, "%s", err[0] ? err : crec_strerror(rc));
    crec_split s;
    if ((rc = crec_split_make(ds, &sp, &s))) {
        crec_model_free(m);
        return fail_rc(rc, "train: split");
    }
    crec_split_spec_format(&sp, m->split, sizeof m->split);
    crec_train_input in = {.ds = ds, .train = &s.train, .valid = &s.valid, .n_threads = threads > 0 ? threads : 0,
                           .seed = seed, .verbose = verbose};
    rc = crec_model_train(m, &in);
    crec_split_free(&s);
    if (rc) {
        crec_model_free(m);
        return fail(rc, "train: training %s failed: %s", type, crec_strerror(rc));
    }
    *out = m;
    return 0;
}

int crec_capi_model_save(const crec_model *m, const char *path) {
    ok();
    if (!m || !path) return fail(CREC_EINVAL, "save: no model or path");
    int rc = crec_model_save(m, path);
    return rc ? fail_rc(rc, path) : 0;
}

int crec_capi_model_load(const char *path, crec_model **out) {
    ok();
    if (!path || !out) return fail(CREC_EINVAL, "load: no path");
    *out = NULL;
    int rc = crec_model_load(path, out);
    if (rc == CREC_ENOTFOUND) return fail(rc, "%s: no such file", path);
    if (rc) return fail(rc, "%s: not a valid crec model: %s", path, crec_strerror(rc));
    return 0;
}

void crec_capi_model_free(crec_model *m) { crec_model_free(m); }

int crec_capi_model_describe(const crec_model *m, char **json) {
    ok();
    if (!m || !json) return fail(CREC_EINVAL, "describe: no model");
    *json = NULL;
    json_t *params = json_object();
    int rc = params ? 0 : CREC_ENOMEM;
    /* every declared parameter with its resolved value (crec_model_new resolved them into cfg) */
    for (const crec_param_def *p = m->type->params; p && p->name && !rc; p++) {
        const char *v = crec_config_get(&m->cfg, p->name);
        if (json_object_set_new(params, p->name, json_string(v ? v : p->def))) rc = CREC_ENOMEM;
    }
    if (rc) {
        json_decref(params);
        return fail_rc(rc, "describe");
    }
    json_t *root = json_pack("{s:s, s:i, s:i, s:s, s:s, s:I, s:f, s:o}", "type", m->type->name, "users",
                             (int)m->n_users, "items", (int)m->n_items, "split", m->split, "data", m->data_name,
                             "seed", (json_int_t)m->seed, "train_seconds", m->train_seconds, "params", params);
    return dump_json(root, json, "describe");
}

/* A dataset of the same shape as the model (the check of `crec eval` / `crec recommend`). */
static int check_pair(const char *what, const crec_model *m, const crec_dataset *ds) {
    if (m->n_items != ds->items.n || m->n_users != ds->users.n)
        return fail(CREC_EINVAL,
                    "%s: the model was trained on a different dataset (%d users x %d items; '%s') than '%s' "
                    "(%d x %d)",
                    what, m->n_users, m->n_items, m->data_name, ds->name, ds->users.n, ds->items.n);
    return 0;
}

/* "5,10,20" into o->ks, as the CLI's --k. */
static int parse_ks(const char *s, crec_eval_opts *o) {
    int n = 0;
    for (const char *p = s; *p;) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (errno || end == p || v <= 0 || v > 100000 || (*end && *end != ',') || n >= CREC_EVAL_MAX_K)
            return fail(CREC_EINVAL, "evaluate: option 'k' = '%s': comma-separated positive integers, at most %d",
                        s, CREC_EVAL_MAX_K);
        o->ks[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    if (n == 0) return fail(CREC_EINVAL, "evaluate: option 'k' is empty");
    o->n_ks = n;
    return 0;
}

int crec_capi_evaluate(const crec_model *m, const crec_dataset *ds, const char *const *keys, const char *const *vals,
                       int n, char **json) {
    ok();
    if (!m || !ds || !json) return fail(CREC_EINVAL, "evaluate: no model or dataset");
    *json = NULL;
    opts o = {keys, vals, n, "evaluate"};
    int rc = opts_check(&o, "k|target|filter_seen|sampled|seed|max_users|threads|candidates|per_user");
    if (rc) return rc;
    crec_eval_opts eo;
    crec_eval_opts_defaults(&eo);
    const char *v;
    if ((v = opts_get(&o, "k")) && (rc = parse_ks(v, &eo))) return rc;
    if ((v = opts_get(&o, "target"))) {
        if (strcmp(v, "test") == 0) eo.target = CREC_EVAL_TEST;
        else if (strcmp(v, "valid") == 0) eo.target = CREC_EVAL_VALID;
        else return fail(CREC_EINVAL, "evaluate: option 'target' = '%s': test or valid", v);
    }
    long long sampled = 0, seed = (long long)eo.seed, max_users = 0, threads = eo.n_threads;
    if ((rc = opts_bool(&o, "filter_seen", &eo.filter_seen)) || (rc = opts_int(&o, "sampled", 0, 100000000, &sampled)) ||
        (rc = opts_int(&o, "seed", 0, (long long)1 << 62, &seed)) ||
        (rc = opts_int(&o, "max_users", 0, 2000000000, &max_users)) || (rc = opts_int(&o, "threads", 0, 1024, &threads)))
        return rc;
    eo.sampled = (int)sampled;
    eo.seed = (uint64_t)seed;
    eo.max_users = (int32_t)max_users;
    if (threads > 0) eo.n_threads = (int)threads;
    const char *cands = opts_get(&o, "candidates");
    if (cands && strcmp(cands, "untrained") != 0 && strcmp(cands, "all") != 0)
        return fail(CREC_EINVAL, "evaluate: option 'candidates' = '%s': all or untrained", cands);
    if (cands && strcmp(cands, "all") == 0) cands = NULL;
    if (cands && eo.sampled) return fail(CREC_EINVAL, "evaluate: options 'candidates' and 'sampled' do not combine");
    if ((rc = check_pair("evaluate", m, ds))) return rc;
    crec_split_spec spec;
    crec_split s;
    if (crec_split_spec_parse(m->split, &spec) || crec_split_make(ds, &spec, &s))
        return fail(CREC_EINVAL, "evaluate: cannot rebuild the model's split '%s'", m->split);
    uint8_t *cmask = NULL;
    FILE *pu = NULL;
    const char *per_user = opts_get(&o, "per_user");
    if (per_user && !(pu = fopen(per_user, "w"))) rc = fail(CREC_EIO, "evaluate: cannot write %s", per_user);
    if (!rc && cands) {
        if (!(cmask = calloc((size_t)ds->items.n + 1, 1))) {
            rc = fail_rc(CREC_ENOMEM, "evaluate");
        } else {
            for (int32_t i = 0; i < ds->items.n; i++) cmask[i] = 1;
            for (int64_t k = 0; k < crec_csr_nnz(&s.train); k++) cmask[s.train.idx[k]] = 0;
            eo.candidates = cmask;
            eo.candidates_desc = "items without training events";
        }
    }
    crec_eval_result r;
    if (!rc) {
        eo.per_user = pu;
        if ((rc = crec_evaluate(m, ds, &s, &eo, &r))) fail_rc(rc, "evaluate");
    }
    if (pu && fclose(pu) && !rc) rc = fail(CREC_EIO, "evaluate: cannot write %s", per_user);
    free(cmask);
    crec_split_free(&s);
    if (rc) return rc;
    /* the JSON of `crec eval --json`, written by the same function into memory */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return fail_rc(CREC_ENOMEM, "evaluate");
    rc = crec_eval_result_write_json(&r, &eo, m, f);
    if (fclose(f) && !rc) rc = CREC_ENOMEM;
    if (rc) {
        free(buf);
        return fail_rc(rc, "evaluate: json");
    }
    *json = buf;
    return 0;
}

/* The request of `crec recommend`: a user's events in ds, or a history (times = positions when none). */
static int build_request(const char *what, const crec_model *m, const crec_dataset *ds, int32_t user,
                         const int32_t *hist, const int64_t *hist_ts, int32_t n_hist, crec_service_request *rq) {
    if (n_hist < 0 || (n_hist > 0 && !hist)) return fail(CREC_EINVAL, "%s: bad history", what);
    if (user >= 0 && n_hist > 0) return fail(CREC_EINVAL, "%s: give a user or a history, not both", what);
    if (ds) {
        int rc = check_pair(what, m, ds);
        if (rc) return rc;
    }
    if (user >= 0) {
        if (!ds) return fail(CREC_EINVAL, "%s: a user needs the dataset that holds their events", what);
        if (user >= ds->users.n) return fail(CREC_ERANGE, "%s: user %d out of range [0, %d)", what, user, ds->users.n);
        rq->user = user;
        int rc = crec_service_request_add_user(rq, ds, user);
        if (rc) return fail_rc(rc, what);
        return 0;
    }
    for (int32_t h = 0; h < n_hist; h++) {
        if (hist[h] < 0 || hist[h] >= m->n_items)
            return fail(CREC_ERANGE, "%s: history item %d out of range [0, %d)", what, hist[h], m->n_items);
        int rc = crec_service_request_add_event(rq, hist[h], hist_ts ? hist_ts[h] : h, 0);
        if (rc) return fail_rc(rc, what);
    }
    return 0;
}

int crec_capi_recommend(const crec_model *m, const crec_dataset *ds, int32_t user, const int32_t *hist,
                        const int64_t *hist_ts, int32_t n_hist, const int32_t *exclude, int32_t n_exclude,
                        const char *const *must, int n_must, const char *const *must_not, int n_must_not, int k,
                        int keep_seen, int32_t *items, float *scores, int32_t *n_out) {
    ok();
    if (!m || !items || !scores || !n_out || k < 1 || n_exclude < 0 || (n_exclude > 0 && !exclude) || n_must < 0 ||
        n_must_not < 0 || (n_must > 0 && !must) || (n_must_not > 0 && !must_not))
        return fail(CREC_EINVAL, "recommend: bad arguments");
    *n_out = 0;
    if ((n_must || n_must_not) && !ds) return fail(CREC_EINVAL, "recommend: attribute filters need the dataset");
    if (n_must > CREC_SERVICE_MAX_ATTRS || n_must_not > CREC_SERVICE_MAX_ATTRS)
        return fail(CREC_EINVAL, "recommend: at most %d must-have and %d must-not-have attributes",
                    CREC_SERVICE_MAX_ATTRS, CREC_SERVICE_MAX_ATTRS);
    crec_service_request rq;
    crec_service_scratch sc;
    crec_service_request_init(&rq);
    crec_service_scratch_init(&sc);
    rq.k = k;
    rq.keep_seen = keep_seen != 0;
    int rc = build_request("recommend", m, ds, user, hist, hist_ts, n_hist, &rq);
    for (int f = 0; !rc && f < n_must; f++)
        if (!must[f] || (rc = crec_service_request_filter(&rq, must[f], 1))) rc = fail(CREC_EINVAL, "recommend: bad filter");
    for (int f = 0; !rc && f < n_must_not; f++)
        if (!must_not[f] || (rc = crec_service_request_filter(&rq, must_not[f], 0)))
            rc = fail(CREC_EINVAL, "recommend: bad filter");
    for (int32_t e = 0; !rc && e < n_exclude; e++) {
        if (exclude[e] < 0 || exclude[e] >= m->n_items)
            rc = fail(CREC_ERANGE, "recommend: excluded item %d out of range [0, %d)", exclude[e], m->n_items);
        else if ((rc = crec_service_request_exclude(&rq, exclude[e]))) fail_rc(rc, "recommend");
    }
    if (!rc) {
        crec_service_catalog cat;
        if (ds) crec_service_catalog_dataset(&cat, m, ds); /* the model's items, ds's attributes, no fallback */
        crec_service_result res;
        if ((rc = crec_service_recommend(m, ds ? &cat : NULL, &rq, &sc, &res))) {
            fail_rc(rc, "recommend");
        } else {
            int32_t cnt = res.n < k ? res.n : k;
            memcpy(items, res.items, (size_t)cnt * sizeof *items);
            memcpy(scores, res.scores, (size_t)cnt * sizeof *scores);
            *n_out = cnt;
        }
    }
    crec_service_scratch_free(&sc);
    crec_service_request_free(&rq);
    return rc;
}

static int score_error(const crec_model *m, int rc) {
    if (rc == CREC_EUNSUPPORTED)
        return fail(rc, "score: model '%s' decodes a ranked list and does not score every item (use recommend)",
                    m->type->name);
    return fail_rc(rc, "score");
}

int crec_capi_score(const crec_model *m, const crec_dataset *ds, int32_t user, const int32_t *hist,
                    const int64_t *hist_ts, int32_t n_hist, float *out) {
    ok();
    if (!m || !out) return fail(CREC_EINVAL, "score: bad arguments");
    crec_service_request rq;
    crec_service_request_init(&rq);
    int rc = build_request("score", m, ds, user, hist, hist_ts, n_hist, &rq);
    if (!rc) {
        /* the context crec_service_recommend gives the model (catalog = the model's items) */
        crec_context ctx = {.user = rq.user, .hist = rq.hist, .n_hist = rq.n_hist,
                            .hist_ts = rq.hist_has_ts ? rq.hist_ts : NULL, .hist_type = rq.hist_type, .now = rq.now};
        if ((rc = crec_model_score(m, &ctx, out))) score_error(m, rc);
    }
    crec_service_request_free(&rq);
    return rc;
}

int crec_capi_score_users(const crec_model *m, const crec_dataset *ds, const int32_t *users, int32_t n, float *out) {
    ok();
    if (!m || !ds || n < 0 || (n > 0 && (!users || !out))) return fail(CREC_EINVAL, "score: bad arguments");
    int rc = check_pair("score", m, ds);
    if (rc || n == 0) return rc;
    for (int32_t c = 0; c < n; c++)
        if (users[c] < 0 || users[c] >= ds->users.n)
            return fail(CREC_ERANGE, "score: user %d out of range [0, %d)", users[c], ds->users.n);
    /* one pass over the log: the events of the requested users, each user's in time order (ties in load order),
     * as crec_service_request_add_user orders them */
    int32_t nu = ds->users.n;
    int64_t *slot = malloc((size_t)nu * sizeof *slot);  /* user -> its first position in the batch, or -1 */
    int64_t *ptr = calloc((size_t)n + 1, sizeof *ptr);
    crec_context *ctx = calloc((size_t)n, sizeof *ctx);
    int32_t *hist = NULL;
    int64_t *hts = NULL, *pos = NULL, *tmp = NULL, *fill = NULL;
    uint8_t *htype = NULL;
    if (!slot || !ptr || !ctx) {
        rc = fail_rc(CREC_ENOMEM, "score");
        goto out;
    }
    for (int32_t u = 0; u < nu; u++) slot[u] = -1;
    for (int32_t c = 0; c < n; c++)
        if (slot[users[c]] < 0) slot[users[c]] = c;
    for (int64_t k = 0; k < ds->n; k++)
        if (slot[ds->user[k]] >= 0) ptr[slot[ds->user[k]] + 1]++;
    for (int32_t c = 0; c < n; c++) ptr[c + 1] += ptr[c];
    int64_t tot = ptr[n];
    size_t cnt = tot > 0 ? (size_t)tot : 1;
    pos = malloc(cnt * sizeof *pos);
    tmp = malloc(cnt * sizeof *tmp);
    fill = malloc(((size_t)n + 1) * sizeof *fill);
    hist = malloc(cnt * sizeof *hist);
    hts = malloc(cnt * sizeof *hts);
    htype = malloc(cnt);
    if (!pos || !tmp || !fill || !hist || !hts || !htype) {
        rc = fail_rc(CREC_ENOMEM, "score");
        goto out;
    }
    memcpy(fill, ptr, ((size_t)n + 1) * sizeof *fill);
    for (int64_t k = 0; k < ds->n; k++)
        if (slot[ds->user[k]] >= 0) pos[fill[slot[ds->user[k]]]++] = k;
    for (int32_t c = 0; c < n; c++) {
        int64_t a = ptr[c], len = ptr[c + 1] - a;
        if (ds->ts) /* stable bottom-up merge sort by time */
            for (int64_t w = 1; w < len; w *= 2) {
                for (int64_t lo = 0; lo < len; lo += 2 * w) {
                    int64_t mid = lo + w < len ? lo + w : len, hi = lo + 2 * w < len ? lo + 2 * w : len;
                    int64_t i = lo, j = mid, o = lo;
                    while (i < mid && j < hi)
                        tmp[a + o++] = ds->ts[pos[a + j]] < ds->ts[pos[a + i]] ? pos[a + j++] : pos[a + i++];
                    while (i < mid) tmp[a + o++] = pos[a + i++];
                    while (j < hi) tmp[a + o++] = pos[a + j++];
                }
                memcpy(pos + a, tmp + a, (size_t)len * sizeof *pos);
            }
        for (int64_t q = a; q < a + len; q++) {
            int64_t k = pos[q];
            hist[q] = ds->item[k];
            hts[q] = ds->ts ? ds->ts[k] : k;
            htype[q] = ds->type ? ds->type[k] : 0;
        }
    }
    for (int32_t c = 0; c < n; c++) {
        int64_t s0 = slot[users[c]]; /* a user asked twice shares the first one's events */
        ctx[c] = (crec_context){.user = users[c], .hist = hist + ptr[s0], .n_hist = (int32_t)(ptr[s0 + 1] - ptr[s0]),
                                .hist_ts = hts + ptr[s0], .hist_type = htype + ptr[s0], .now = 0};
    }
    if ((rc = crec_model_score_batch(m, ctx, n, out))) score_error(m, rc);
out:
    free(slot);
    free(ptr);
    free(ctx);
    free(pos);
    free(tmp);
    free(fill);
    free(hist);
    free(hts);
    free(htype);
    return rc;
}

/* ---- store ---- */

int crec_capi_store_open(const char *path, int readonly, crec_store **out) {
    ok();
    if (!path || !out) return fail(CREC_EINVAL, "store: no path");
    *out = NULL;
    crec_store_opts so = {.readonly = readonly != 0, .no_create = readonly != 0};
    char err[512] = "";
    int rc = crec_store_open(path, &so, out, err, sizeof err);
    if (rc) return fail(rc, "%s: %s", path, err[0] ? err : crec_strerror(rc));
    return 0;
}

void crec_capi_store_close(crec_store *s) { crec_store_close(s); }

int crec_capi_store_import(crec_store *s, const crec_dataset *ds, char **json) {
    ok();
    if (json) *json = NULL;
    if (!s || !ds) return fail(CREC_EINVAL, "store import: no store or dataset");
    crec_store_import_result r;
    memset(&r, 0, sizeof r);
    int rc = crec_store_import(s, ds, &r);
    if (rc) return fail(rc, "store import: %s (%s)", crec_strerror(rc), crec_store_errmsg(s));
    if (!json) return 0;
    json_t *root = json_pack("{s:I, s:I, s:I, s:I, s:f}", "users_added", (json_int_t)r.users_added, "items_added",
                             (json_int_t)r.items_added, "events_added", (json_int_t)r.events_added, "attrs_added",
                             (json_int_t)r.attrs_added, "seconds", r.seconds);
    return dump_json(root, json, "store import");
}

int crec_capi_store_add_events(crec_store *s, const char *const *users, const char *const *items,
                               const char *const *types, const float *values, const int64_t *ts, int64_t n,
                               int64_t *bad) {
    ok();
    if (bad) *bad = -1;
    if (!s || n < 0 || (n > 0 && (!users || !items))) return fail(CREC_EINVAL, "store add_events: bad arguments");
    if (n == 0) return 0;
    crec_store_event *ev = calloc((size_t)n, sizeof *ev);
    if (!ev) return fail_rc(CREC_ENOMEM, "store add_events");
    int rc = 0;
    for (int64_t e = 0; e < n && !rc; e++) {
        if (!users[e] || !items[e] || !users[e][0] || !items[e][0]) {
            rc = fail(CREC_EINVAL, "store add_events: event %lld has an empty user or item id", (long long)e);
            if (bad) *bad = e;
            break;
        }
        ev[e] = (crec_store_event){.user = users[e], .item = items[e], .type = types ? types[e] : NULL,
                                   .value = values ? values[e] : 1.0f, .ts = ts ? ts[e] : 0};
    }
    int64_t b = -1;
    if (!rc && (rc = crec_store_add_events(s, ev, n, NULL, &b))) {
        if (bad) *bad = b;
        if (rc == CREC_ENOTFOUND && b >= 0 && b < n)
            fail(rc, "store add_events: event %lld: unknown item '%s' (nothing written)", (long long)b, items[b]);
        else
            fail(rc, "store add_events: %s (%s)", crec_strerror(rc), crec_store_errmsg(s));
    }
    free(ev);
    return rc;
}

int crec_capi_store_put_item(crec_store *s, const char *id, const char *title, const char *text,
                             const char *const *attrs, int n_attrs, int visible) {
    ok();
    if (!s || !id || !*id || n_attrs < 0 || (n_attrs > 0 && !attrs)) return fail(CREC_EINVAL, "store put_item: bad arguments");
    crec_store_item it = {.id = (char *)id, .title = (char *)title, .text = (char *)text, .attrs = (char **)attrs,
                          .n_attrs = n_attrs, .visible = visible != 0};
    int rc = crec_store_item_put(s, &it, CREC_STORE_REPLACE, NULL);
    return rc ? fail(rc, "store put_item '%s': %s (%s)", id, crec_strerror(rc), crec_store_errmsg(s)) : 0;
}

int crec_capi_store_stats(crec_store *s, char **json) {
    ok();
    if (!s || !json) return fail(CREC_EINVAL, "store stats: no store");
    *json = NULL;
    crec_store_stats st;
    int rc = crec_store_stats_get(s, &st);
    if (rc) return fail(rc, "store stats: %s (%s)", crec_strerror(rc), crec_store_errmsg(s));
    json_t *root = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "users", (json_int_t)st.n_users, "items",
                             (json_int_t)st.n_items, "hidden_items", (json_int_t)st.n_hidden_items, "events",
                             (json_int_t)st.n_events, "event_types", (json_int_t)st.n_event_types, "attributes",
                             (json_int_t)st.n_attrs, "min_ts", (json_int_t)st.min_ts, "max_ts", (json_int_t)st.max_ts);
    return dump_json(root, json, "store stats");
}

int crec_capi_store_snapshot(crec_store *s, crec_dataset **out) {
    ok();
    if (!s || !out) return fail(CREC_EINVAL, "store snapshot: no store");
    *out = NULL;
    int rc = crec_store_snapshot(s, out);
    if (rc) return fail(rc, "store snapshot: %s (%s)", crec_strerror(rc), crec_store_errmsg(s));
    return 0;
}

struct crec_capi_events {
    int64_t n, cap;
    int64_t *ts, *sid;
    float *value;
    char **item, **type;
};

void crec_capi_events_free(crec_capi_events *e) {
    if (!e) return;
    for (int64_t i = 0; i < e->n; i++) {
        free(e->item[i]);
        free(e->type[i]);
    }
    free(e->ts);
    free(e->sid);
    free(e->value);
    free(e->item);
    free(e->type);
    free(e);
}

static int events_grow(crec_capi_events *e) {
    int64_t nc = e->cap ? 2 * e->cap : 64;
    int64_t *ts = realloc(e->ts, (size_t)nc * sizeof *ts);
    if (ts) e->ts = ts;
    int64_t *sid = realloc(e->sid, (size_t)nc * sizeof *sid);
    if (sid) e->sid = sid;
    float *v = realloc(e->value, (size_t)nc * sizeof *v);
    if (v) e->value = v;
    char **it = realloc(e->item, (size_t)nc * sizeof *it);
    if (it) e->item = it;
    char **ty = realloc(e->type, (size_t)nc * sizeof *ty);
    if (ty) e->type = ty;
    if (!ts || !sid || !v || !it || !ty) return CREC_ENOMEM;
    e->cap = nc;
    return 0;
}

typedef struct events_ctx {
    crec_capi_events *e;
    int rc;
} events_ctx;

static int events_cb(void *arg, int64_t item_sid, const char *item, size_t item_len, const char *type, float value,
                     int64_t ts) {
    events_ctx *c = arg;
    crec_capi_events *e = c->e;
    if (e->n == e->cap && (c->rc = events_grow(e))) return 1;
    char *it = malloc(item_len + 1), *ty = strdup(type ? type : "interaction");
    if (!it || !ty) {
        free(it);
        free(ty);
        c->rc = CREC_ENOMEM;
        return 1;
    }
    memcpy(it, item, item_len);
    it[item_len] = 0;
    e->item[e->n] = it;
    e->type[e->n] = ty;
    e->ts[e->n] = ts;
    e->value[e->n] = value;
    e->sid[e->n] = item_sid;
    e->n++;
    return 0;
}

int crec_capi_store_user_events(crec_store *s, const char *user, int64_t last, crec_capi_events **out) {
    ok();
    if (!s || !user || !out) return fail(CREC_EINVAL, "store user_events: bad arguments");
    *out = NULL;
    events_ctx c = {calloc(1, sizeof(crec_capi_events)), 0};
    if (!c.e) return fail_rc(CREC_ENOMEM, "store user_events");
    int rc = crec_store_user_events(s, user, last > 0 ? last : 0, events_cb, &c, NULL);
    if (!rc) rc = c.rc;
    if (rc) {
        crec_capi_events_free(c.e);
        if (rc == CREC_ENOTFOUND) return fail(rc, "store: unknown user '%s'", user);
        return fail(rc, "store user_events: %s (%s)", crec_strerror(rc), crec_store_errmsg(s));
    }
    *out = c.e;
    return 0;
}

int64_t crec_capi_events_count(const crec_capi_events *e) { return e ? e->n : 0; }

int crec_capi_events_arrays(const crec_capi_events *e, const int64_t **ts, const float **value,
                            const int64_t **item_sid) {
    ok();
    if (!e) return fail(CREC_EINVAL, "events: no handle");
    if (ts) *ts = e->ts;
    if (value) *value = e->value;
    if (item_sid) *item_sid = e->sid;
    return 0;
}

const char *crec_capi_events_item(const crec_capi_events *e, int64_t i) {
    return e && i >= 0 && i < e->n ? e->item[i] : NULL;
}

const char *crec_capi_events_type(const crec_capi_events *e, int64_t i) {
    return e && i >= 0 && i < e->n ? e->type[i] : NULL;
}
