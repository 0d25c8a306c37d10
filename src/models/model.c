/* model.c: the model interface: configs, lifecycle, checkpoints (.crecm).
 * A checkpoint is a framed binary file (core/binio.h): the model's identity (type, sizes, hyper-parameters,
 * split spec, dataset label, seed) followed by the type's own payload. */
#include "crec/model.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"

static const char MODEL_MAGIC[8] = {'C', 'R', 'E', 'C', 'M', 'D', 'L', 1};
#define MODEL_VERSION 1u

int crec_config_set(crec_config *c, const char *key, const char *val) {
    if (!key || !val || !*key || strlen(key) >= sizeof c->key[0] || strlen(val) >= sizeof c->val[0]) return CREC_EINVAL;
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->key[i], key) == 0) {
            snprintf(c->val[i], sizeof c->val[i], "%s", val);
            return 0;
        }
    if (c->n >= CREC_MAX_PARAMS) return CREC_EINVAL;
    snprintf(c->key[c->n], sizeof c->key[0], "%s", key);
    snprintf(c->val[c->n], sizeof c->val[0], "%s", val);
    c->n++;
    return 0;
}

int crec_config_set_kv(crec_config *c, const char *kv) {
    const char *eq = kv ? strchr(kv, '=') : NULL;
    if (!eq || eq == kv) return CREC_EINVAL;
    char key[64];
    size_t kl = (size_t)(eq - kv);
    if (kl >= sizeof key) return CREC_EINVAL;
    memcpy(key, kv, kl);
    key[kl] = 0;
    return crec_config_set(c, key, eq + 1);
}

const char *crec_config_get(const crec_config *c, const char *key) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->key[i], key) == 0) return c->val[i];
    return NULL;
}

const crec_model_type *crec_model_type_find(const char *name) {
    for (int i = 0; i < crec_model_type_count(); i++)
        if (strcmp(crec_model_type_at(i)->name, name) == 0) return crec_model_type_at(i);
    return NULL;
}

const char *crec_param_kind_name(crec_param_kind k) {
    switch (k) {
    case CREC_PARAM_INT: return "int";
    case CREC_PARAM_FLOAT: return "float";
    case CREC_PARAM_BOOL: return "bool";
    case CREC_PARAM_ENUM: return "enum";
    case CREC_PARAM_STRING: return "string";
    }
    return "?";
}

/* Is w one of the '|'-separated words of list? */
static int word_in(const char *list, const char *w) {
    size_t wl = strlen(w);
    for (const char *p = list; p && *p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == wl && wl > 0 && strncmp(p, w, len) == 0) return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* "a|b|c" -> "a, b, c" into buf at o. */
static size_t list_words(char *buf, size_t n, size_t o, const char *list) {
    for (const char *p = list; p && *p && o + 3 < n; p++) {
        if (*p == '|') {
            buf[o++] = ',';
            buf[o++] = ' ';
        } else {
            buf[o++] = *p;
        }
    }
    if (o < n) buf[o] = 0;
    return o;
}

static void fmt_num(char *buf, size_t n, double x) {
    if (x >= 1e15 || x <= -1e15) snprintf(buf, n, "%g", x);
    else snprintf(buf, n, "%.10g", x);
}

void crec_param_accepts(const crec_param_def *p, char *buf, size_t n) {
    if (!buf || n == 0) return;
    buf[0] = 0;
    if (!p) return;
    char lo[32], hi[32];
    fmt_num(lo, sizeof lo, p->lo);
    fmt_num(hi, sizeof hi, p->hi);
    size_t o = 0;
    switch (p->kind) {
    case CREC_PARAM_INT: o = (size_t)snprintf(buf, n, "an integer in [%s, %s]", lo, hi); break;
    case CREC_PARAM_FLOAT: o = (size_t)snprintf(buf, n, "a number in [%s, %s]", lo, hi); break;
    case CREC_PARAM_BOOL: snprintf(buf, n, "0 or 1 (true / false, yes / no, on / off)"); return;
    case CREC_PARAM_ENUM:
        o = (size_t)snprintf(buf, n, "one of ");
        list_words(buf, n, o, p->choices);
        return;
    case CREC_PARAM_STRING: snprintf(buf, n, "text"); return;
    }
    if (p->choices && o < n) {
        o += (size_t)snprintf(buf + o, n - o, ", or ");
        list_words(buf, n, o, p->choices);
    }
}

int crec_param_check(const crec_param_def *p, const char *model, const char *v, char *canon, size_t canonn,
                     char *err, size_t errn) {
    if (!p || !v) return CREC_EINVAL;
    int ok = 0;
    const char *out = v;
    switch (p->kind) {
    case CREC_PARAM_INT:
    case CREC_PARAM_FLOAT:
        if (p->choices && word_in(p->choices, v)) {
            ok = 1;
            break;
        }
        if (!*v || isspace((unsigned char)v[0])) break;
        errno = 0;
        char *end = NULL;
        if (p->kind == CREC_PARAM_INT) {
            long long x = strtoll(v, &end, 10);
            ok = errno == 0 && *end == 0 && (double)x >= p->lo && (double)x <= p->hi;
        } else {
            double x = strtod(v, &end);
            ok = errno == 0 && *end == 0 && isfinite(x) && x >= p->lo && x <= p->hi;
        }
        break;
    case CREC_PARAM_BOOL:
        if (!strcmp(v, "1") || !strcmp(v, "true") || !strcmp(v, "yes") || !strcmp(v, "on")) {
            ok = 1;
            out = "1";
        } else if (!strcmp(v, "0") || !strcmp(v, "false") || !strcmp(v, "no") || !strcmp(v, "off")) {
            ok = 1;
            out = "0";
        }
        break;
    case CREC_PARAM_ENUM: ok = word_in(p->choices, v); break;
    case CREC_PARAM_STRING:
        ok = 1;
        for (const char *c = v; *c; c++)
            if ((unsigned char)*c < 0x20) ok = 0;
        break;
    }
    if (!ok) {
        char acc[256];
        crec_param_accepts(p, acc, sizeof acc);
        if (model)
            crec__errf(err, errn, "model '%s': parameter '%s' = '%s' is not valid: expected %s", model, p->name, v,
                       acc);
        else
            crec__errf(err, errn, "parameter '%s' = '%s' is not valid: expected %s", p->name, v, acc);
        return CREC_EINVAL;
    }
    if (canon && canonn) snprintf(canon, canonn, "%s", out);
    return 0;
}

static const crec_param_def *param_def(const crec_model_type *t, const char *key) {
    for (const crec_param_def *p = t->params; p && p->name; p++)
        if (strcmp(p->name, key) == 0) return p;
    return NULL;
}

int crec_model_new(const char *type, const crec_config *cfg, crec_model **out, char *err, size_t errn) {
    *out = NULL;
    const crec_model_type *t = crec_model_type_find(type);
    if (!t) {
        crec__errf(err, errn, "unknown model '%s' (see: crec models)", type);
        return CREC_ENOTFOUND;
    }
    if (cfg)
        for (int i = 0; i < cfg->n; i++)
            if (!param_def(t, cfg->key[i])) {
                char names[256] = "";
                size_t o = 0;
                for (const crec_param_def *p = t->params; p && p->name && o < sizeof names - 40; p++)
                    o += (size_t)snprintf(names + o, sizeof names - o, "%s%s", o ? ", " : "", p->name);
                crec__errf(err, errn, "model '%s' has no parameter '%s' (parameters: %s)", type, cfg->key[i],
                           o ? names : "none");
                return CREC_EINVAL;
            }
    /* every declared parameter, checked and resolved: the given value, else the default */
    crec_config res;
    memset(&res, 0, sizeof res);
    for (const crec_param_def *p = t->params; p && p->name; p++) {
        const char *v = cfg ? crec_config_get(cfg, p->name) : NULL;
        char canon[sizeof res.val[0]];
        int rc = crec_param_check(p, t->name, v ? v : p->def, canon, sizeof canon, err, errn);
        if (rc == 0) rc = crec_config_set(&res, p->name, canon);
        if (rc) {
            if (!v && err && errn) /* a default that fails its own declaration: a bug in the model file */
                crec__errf(err, errn, "model '%s': default of '%s' ('%s') is not valid", t->name, p->name, p->def);
            return rc;
        }
    }
    crec_model *m = calloc(1, sizeof *m);
    if (!m) return CREC_ENOMEM;
    m->type = t;
    m->cfg = res;
    if (t->check) {
        int rc = t->check(m, err, errn);
        if (rc) {
            free(m);
            return rc;
        }
    }
    *out = m;
    return 0;
}

int crec_model_train(crec_model *m, const crec_train_input *in) {
    if (!m || !in || !in->train) return CREC_EINVAL;
    if (m->state && m->type->free_state) m->type->free_state(m);
    m->state = NULL;
    m->n_users = in->train->n_rows;
    m->n_items = in->train->n_cols;
    m->seed = in->seed;
    if (in->ds) snprintf(m->data_name, sizeof m->data_name, "%s", in->ds->name);
    double t0 = crec__now();
    int rc = m->type->train(m, in);
    m->train_seconds = crec__now() - t0;
    return rc;
}

int crec_model_score(const crec_model *m, const crec_context *ctx, float *scores) {
    if (!m || !ctx || !scores || !m->state) return CREC_ESTATE;
    if (ctx->user >= m->n_users) return CREC_ERANGE;
    for (int32_t k = 0; k < ctx->n_hist; k++)
        if (ctx->hist[k] < 0 || ctx->hist[k] >= m->n_items) return CREC_ERANGE;
    if (!m->type->score) return CREC_EUNSUPPORTED; /* a list-only model: crec_model_recommend */
    return m->type->score(m, ctx, scores);
}

int crec_model_has(const crec_model_type *t, unsigned cap) {
    if (!t) return 0;
    unsigned c = t->caps;
    if (t->recommend) c |= CREC_CAP_LIST;
    if (t->update) c |= CREC_CAP_ONLINE;
    if (t->score_batch) c |= CREC_CAP_BATCH;
    return (c & cap) == cap;
}

int crec_model_score_batch(const crec_model *m, const crec_context *ctx, int n, float *scores) {
    if (!m || (n > 0 && (!ctx || !scores)) || n < 0 || !m->state) return CREC_ESTATE;
    if (!m->type->score_batch || !m->type->score) {
        for (int c = 0; c < n; c++) {
            int rc = crec_model_score(m, &ctx[c], scores + (size_t)c * (size_t)m->n_items);
            if (rc) return rc;
        }
        return 0;
    }
    for (int c = 0; c < n; c++) {
        if (ctx[c].user >= m->n_users) return CREC_ERANGE;
        for (int32_t k = 0; k < ctx[c].n_hist; k++)
            if (ctx[c].hist[k] < 0 || ctx[c].hist[k] >= m->n_items) return CREC_ERANGE;
    }
    return m->type->score_batch(m, ctx, n, scores);
}

int crec_model_recommend(const crec_model *m, const crec_context *ctx, const uint8_t *exclude, int k,
                         int32_t *items, float *scores_out, float *scratch) {
    if (!m || !ctx || !m->state) return CREC_ESTATE;
    if (k < 0 || (k > 0 && !items)) return CREC_EINVAL;
    if (ctx->user >= m->n_users) return CREC_ERANGE;
    for (int32_t j = 0; j < ctx->n_hist; j++)
        if (ctx->hist[j] < 0 || ctx->hist[j] >= m->n_items) return CREC_ERANGE;
    if (m->type->recommend) return m->type->recommend(m, ctx, exclude, k, items, scores_out);
    if (!scratch) return CREC_EINVAL;
    if (!m->type->score) return CREC_EUNSUPPORTED;
    int rc = m->type->score(m, ctx, scratch);
    if (rc) return rc;
    int got = crec_topk(scratch, m->n_items, exclude, k, items);
    if (got > 0 && scores_out)
        for (int j = 0; j < got; j++) scores_out[j] = scratch[items[j]];
    return got;
}

int crec_model_update(crec_model *m, const crec_event *ev, int64_t n) {
    if (!m || (n > 0 && !ev) || n < 0) return CREC_EINVAL;
    if (!m->type->update) return CREC_EUNSUPPORTED;
    if (!m->state) return CREC_ESTATE;
    for (int64_t k = 0; k < n; k++)
        if (ev[k].user < 0 || ev[k].item < 0) return CREC_ERANGE;
    return m->type->update(m, ev, n);
}

int crec_model_user_vector(const crec_model *m, int32_t user, const float **vec, int *dim) {
    if (!m || !vec || !dim) return CREC_EINVAL;
    if (!m->type->user_vector) return CREC_EUNSUPPORTED;
    if (!m->state) return CREC_ESTATE;
    if (user < 0 || user >= m->n_users) return CREC_ERANGE;
    return m->type->user_vector(m, user, vec, dim);
}

int crec_model_save(const crec_model *m, const char *path) {
    if (!m->state) return CREC_ESTATE;
    crec_buf b = {0};
    int rc = crec__put_str(&b, m->type->name);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)m->n_users);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)m->n_items);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)m->cfg.n);
    for (int i = 0; !rc && i < m->cfg.n; i++) {
        rc = crec__put_str(&b, m->cfg.key[i]);
        if (!rc) rc = crec__put_str(&b, m->cfg.val[i]);
    }
    if (!rc) rc = crec__put_str(&b, m->split);
    if (!rc) rc = crec__put_str(&b, m->data_name);
    if (!rc) rc = crec__put_u64(&b, m->seed);
    if (!rc) rc = crec_buf_write(&b, &m->train_seconds, sizeof m->train_seconds);
    if (!rc) rc = m->type->save(m, &b);
    if (!rc) rc = crec__binfile_write(path, MODEL_MAGIC, MODEL_VERSION, &b);
    crec_buf_free(&b);
    return rc;
}

int crec_model_load(const char *path, crec_model **out) {
    *out = NULL;
    crec_buf b;
    uint32_t version;
    int rc = crec__binfile_read(path, MODEL_MAGIC, MODEL_VERSION, &version, &b);
    if (rc) return rc;
    char tname[64];
    uint32_t nu, ni, nc;
    crec_model *m = NULL;
    rc = crec__get_str_into(&b, tname, sizeof tname);
    if (!rc) rc = crec__get_u32(&b, &nu);
    if (!rc) rc = crec__get_u32(&b, &ni);
    if (!rc) rc = crec__get_u32(&b, &nc);
    if (!rc && (nc > CREC_MAX_PARAMS || nu >= INT32_MAX || ni >= INT32_MAX)) rc = CREC_EFORMAT;
    if (!rc && !crec_model_type_find(tname)) rc = CREC_EFORMAT;
    if (!rc) {
        m = calloc(1, sizeof *m);
        if (!m) rc = CREC_ENOMEM;
    }
    if (!rc) {
        m->type = crec_model_type_find(tname);
        m->n_users = (int32_t)nu;
        m->n_items = (int32_t)ni;
        m->cfg.n = (int)nc;
    }
    for (uint32_t i = 0; !rc && i < nc; i++) {
        rc = crec__get_str_into(&b, m->cfg.key[i], sizeof m->cfg.key[i]);
        if (!rc) rc = crec__get_str_into(&b, m->cfg.val[i], sizeof m->cfg.val[i]);
    }
    if (!rc) rc = crec__get_str_into(&b, m->split, sizeof m->split);
    if (!rc) rc = crec__get_str_into(&b, m->data_name, sizeof m->data_name);
    if (!rc) rc = crec__get_u64(&b, &m->seed);
    if (!rc) rc = crec_buf_read(&b, &m->train_seconds, sizeof m->train_seconds);
    if (!rc) rc = m->type->load(m, &b);
    if (!rc && b.pos != b.len) rc = CREC_EFORMAT;
    crec__binfile_release(&b);
    if (rc) {
        crec_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void crec_model_free(crec_model *m) {
    if (!m) return;
    if (m->state && m->type && m->type->free_state) m->type->free_state(m);
    free(m);
}

const char *crec_model_param_str(const crec_model *m, const char *key) {
    const char *v = crec_config_get(&m->cfg, key);
    if (v) return v;
    const crec_param_def *p = param_def(m->type, key);
    return p ? p->def : "";
}

int64_t crec_model_param_int(const crec_model *m, const char *key) {
    return strtoll(crec_model_param_str(m, key), NULL, 10);
}

double crec_model_param_double(const crec_model *m, const char *key) {
    return strtod(crec_model_param_str(m, key), NULL);
}
