/* model.c: the model interface: configs, lifecycle, checkpoints (.crecm).
 * A checkpoint is a framed binary file (core/binio.h): the model's identity (type, sizes, hyper-parameters,
 * split spec, dataset label, seed) followed by the type's own payload. */
#include "crec/model.h"

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
    crec_model *m = calloc(1, sizeof *m);
    if (!m) return CREC_ENOMEM;
    m->type = t;
    if (cfg) m->cfg = *cfg;
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
    return m->type->score(m, ctx, scores);
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
    if (!rc && nc > CREC_MAX_PARAMS) rc = CREC_EFORMAT;
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
