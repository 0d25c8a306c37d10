/* pointwise.c: rating and click prediction evaluation (RMSE, MAE, AUC, LogLoss) over a split's held-out events.
 *
 * The one idea: every (user, item) pair that is scored gets a fixed slot before any scoring starts (users in
 * id order, a user's positives then its negatives), so the parallel pass only fills its own slots and the
 * metrics are computed afterwards, sequentially, over arrays whose order does not depend on the thread count.
 * Each user is scored once over the whole catalog (the model's score function), and the slots read from it.
 * Click negatives are items the user has no event with in train, valid or test, drawn with replacement from
 * an RNG seeded by (seed, user). */
#include "crec/pointwise.h"

#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

int crec_pointwise_task_parse(const char *s, crec_pointwise_task *t) {
    if (!s || !t) return CREC_EINVAL;
    if (strcmp(s, "rating") == 0) *t = CREC_TASK_RATING;
    else if (strcmp(s, "click") == 0) *t = CREC_TASK_CLICK;
    else return CREC_EINVAL;
    return 0;
}

void crec_pointwise_opts_defaults(crec_pointwise_opts *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->task = CREC_TASK_RATING;
    o->target = CREC_EVAL_TEST;
    o->neg = 1;
    o->use_threshold = 0;
    o->threshold = 0;
    o->value_labels = 0;
    o->seed = 42;
    o->n_threads = omp_get_max_threads();
    o->max_users = 0;
    o->progress = 0;
}

/* ---- metrics on arrays ---- */

int crec_metric_rmse_mae(const float *pred, const float *truth, int64_t n, double *rmse, double *mae) {
    if (!pred || !truth || n < 1 || !rmse || !mae) return CREC_EINVAL;
    double se = 0, ae = 0;
    for (int64_t j = 0; j < n; j++) {
        double e = (double)pred[j] - (double)truth[j];
        se += e * e;
        ae += fabs(e);
    }
    *rmse = sqrt(se / (double)n);
    *mae = ae / (double)n;
    return 0;
}

typedef struct scored { float s; uint8_t y; } scored;

/* Ascending score, NaN lowest (and all NaN equal). */
static int cmp_scored(const void *a, const void *b) {
    float x = ((const scored *)a)->s, y = ((const scored *)b)->s;
    int nx = isnan(x), ny = isnan(y);
    if (nx || ny) return ny - nx;
    return (x > y) - (x < y);
}

static int same_score(float a, float b) { return (isnan(a) && isnan(b)) || a == b; }

double crec_metric_auc(const float *scores, const uint8_t *labels, int64_t n) {
    if (!scores || !labels || n < 1) return NAN;
    scored *v = malloc((size_t)n * sizeof *v);
    if (!v) return NAN;
    int64_t P = 0, N = 0;
    for (int64_t j = 0; j < n; j++) {
        v[j].s = scores[j];
        v[j].y = labels[j] != 0;
        P += v[j].y;
    }
    N = n - P;
    if (P == 0 || N == 0) {
        free(v);
        return NAN;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_scored);
    /* walk groups of equal scores: a positive beats every negative below its group, half of those in it */
    double wins = 0;
    int64_t neg_below = 0;
    for (int64_t a = 0; a < n;) {
        int64_t b = a, gp = 0, gn = 0;
        while (b < n && same_score(v[b].s, v[a].s)) {
            gp += v[b].y;
            gn += !v[b].y;
            b++;
        }
        wins += (double)gp * ((double)neg_below + 0.5 * (double)gn);
        neg_below += gn;
        a = b;
    }
    free(v);
    return wins / ((double)P * (double)N);
}

double crec_metric_gauc(const float *scores, const uint8_t *labels, const int64_t *off, int64_t n_groups,
                        int64_t *used) {
    if (used) *used = 0;
    if (!scores || !labels || !off || n_groups < 1) return NAN;
    double num = 0, den = 0;
    int64_t k = 0;
    for (int64_t g = 0; g < n_groups; g++) {
        int64_t n = off[g + 1] - off[g];
        if (n < 2) continue;
        double a = crec_metric_auc(scores + off[g], labels + off[g], n);
        if (isnan(a)) continue; /* one class only (or no memory: the caller's malloc check catches that) */
        num += (double)n * a;
        den += (double)n;
        k++;
    }
    if (used) *used = k;
    return den > 0 ? num / den : NAN;
}

/* log(1 + e^x) without overflow. */
static double softplus(double x) { return (x > 0 ? x : 0) + log1p(exp(-fabs(x))); }

double crec_metric_logloss(const float *logits, const uint8_t *labels, int64_t n) {
    if (!logits || !labels || n < 1) return NAN;
    double sum = 0;
    for (int64_t j = 0; j < n; j++) sum += labels[j] ? softplus(-(double)logits[j]) : softplus((double)logits[j]);
    return sum / (double)n;
}

/* ---- the protocol ---- */

typedef struct pw_shared {
    const crec_model *m;
    const crec_split *s;
    const crec_pointwise_opts *o;
    const crec_csr *tgt;
    int use_valid_hist;
    int32_t n_items;
    const int32_t *users;     /* evaluated users */
    const int64_t *off;       /* [n_eval + 1] first slot of each evaluated user */
    const int32_t *n_pos;     /* [n_eval] its positives (rating: events) */
    float *score;             /* [slots] the model's score */
    float *truth;             /* [slots] rating: the event's value */
    uint8_t *label;           /* [slots] click: 1 positive, 0 negative */
} pw_shared;

typedef struct pw_scratch {
    float *scores;      /* [n_items] */
    uint8_t *mark;      /* [n_items] items the current user touched; zero between users */
    int32_t *hist, *pool;
} pw_scratch;

static int value_labels(const crec_pointwise_opts *o) {
    return o->task == CREC_TASK_CLICK && o->use_threshold && o->value_labels;
}

static int keep_event(const crec_pointwise_opts *o, float value) {
    return o->task == CREC_TASK_RATING || !o->use_threshold || value_labels(o) || value >= o->threshold;
}

/* Mark every item of u's train, valid and test rows; returns how many distinct ones. */
static int32_t mark_user(const crec_split *s, int32_t u, int32_t n_items, uint8_t *mark) {
    const crec_csr *parts[3] = {&s->train, &s->valid, &s->test};
    int32_t n = 0;
    for (int p = 0; p < 3; p++) {
        const crec_csr *c = parts[p];
        if (!c->ptr || u >= c->n_rows) continue;
        for (int64_t q = c->ptr[u]; q < c->ptr[u + 1]; q++) {
            int32_t i = c->idx[q];
            if (i < 0 || i >= n_items || mark[i]) continue;
            mark[i] = 1;
            n++;
        }
    }
    return n;
}

static void unmark_user(const crec_split *s, int32_t u, int32_t n_items, uint8_t *mark) {
    const crec_csr *parts[3] = {&s->train, &s->valid, &s->test};
    for (int p = 0; p < 3; p++) {
        const crec_csr *c = parts[p];
        if (!c->ptr || u >= c->n_rows) continue;
        for (int64_t q = c->ptr[u]; q < c->ptr[u + 1]; q++)
            if (c->idx[q] >= 0 && c->idx[q] < n_items) mark[c->idx[q]] = 0;
    }
}

/* Score evaluated user number e into its slots. Leaves w->mark all-zero. */
static int eval_user(const pw_shared *sh, pw_scratch *w, int32_t e) {
    const crec_split *s = sh->s;
    const crec_pointwise_opts *o = sh->o;
    int32_t u = sh->users[e], n = sh->n_items, H = 0;
    for (int64_t p = s->train.ptr[u]; p < s->train.ptr[u + 1]; p++) w->hist[H++] = s->train.idx[p];
    if (sh->use_valid_hist)
        for (int64_t p = s->valid.ptr[u]; p < s->valid.ptr[u + 1]; p++) w->hist[H++] = s->valid.idx[p];
    crec_context ctx = {.user = u, .hist = w->hist, .n_hist = H};
    int rc = crec_model_score(sh->m, &ctx, w->scores);
    if (rc) return rc;
    int64_t slot = sh->off[e];
    for (int64_t p = sh->tgt->ptr[u]; p < sh->tgt->ptr[u + 1]; p++) {
        if (!keep_event(o, sh->tgt->val[p])) continue;
        sh->score[slot] = w->scores[sh->tgt->idx[p]];
        if (sh->truth) sh->truth[slot] = sh->tgt->val[p];
        if (sh->label) sh->label[slot] = value_labels(o) ? sh->tgt->val[p] >= o->threshold : 1;
        slot++;
    }
    if (o->task != CREC_TASK_CLICK || value_labels(o) || slot == sh->off[e + 1]) return 0;
    /* negatives: uniform with replacement over the items u never touched */
    int32_t touched = mark_user(s, u, n, w->mark), pool = n - touched;
    uint64_t key[2] = {o->seed, (uint64_t)(uint32_t)u};
    crec_rng rng;
    crec__rng_seed(&rng, crec__fnv1a(key, sizeof key));
    int listed = pool * 4 < n; /* few free items: list them instead of rejecting most draws */
    if (listed) {
        int32_t len = 0;
        for (int32_t j = 0; j < n; j++)
            if (!w->mark[j]) w->pool[len++] = j;
    }
    for (; slot < sh->off[e + 1]; slot++) {
        int32_t j;
        if (listed) j = w->pool[crec__rng_below(&rng, (uint64_t)pool)];
        else
            do j = (int32_t)crec__rng_below(&rng, (uint64_t)n);
            while (w->mark[j]);
        sh->score[slot] = w->scores[j];
        sh->label[slot] = 0;
    }
    unmark_user(s, u, n, w->mark);
    return 0;
}

static void format_protocol(char *buf, size_t n, const crec_pointwise_opts *o, const crec_model *m,
                            const crec_pointwise_result *r) {
    const char *split = m && m->split[0] ? m->split : "unknown";
    const char *target = o->target == CREC_EVAL_VALID ? "valid" : "test";
    if (o->task == CREC_TASK_RATING) {
        snprintf(buf, n,
                 "pointwise rating prediction: RMSE/MAE of the score at each held-out event vs its value, split=%s, "
                 "target=%s, events=%lld, users=%lld",
                 split, target, (long long)r->n_events, (long long)r->n_users);
        return;
    }
    char pos[64] = "held-out events";
    if (o->use_threshold) snprintf(pos, sizeof pos, "held-out events with value >= %g", (double)o->threshold);
    if (value_labels(o)) {
        snprintf(buf, n,
                 "pointwise click prediction: labels from the values (held-out events with value >= %g positive, "
                 "the others negative, no sampled negatives), p = sigmoid(score), GAUC weighted by events per user, "
                 "split=%s, target=%s, events=%lld (positive %lld), users=%lld",
                 (double)o->threshold, split, o->target == CREC_EVAL_VALID ? "valid" : "test",
                 (long long)r->n_events, (long long)r->n_positives, (long long)r->n_users);
        return;
    }
    snprintf(buf, n,
             "pointwise click prediction: positives = %s, %d sampled unobserved items per positive (seed %llu), "
             "p = sigmoid(score), split=%s, target=%s, positives=%lld, negatives=%lld, users=%lld",
             pos, o->neg, (unsigned long long)o->seed, split, target, (long long)r->n_events,
             (long long)r->n_negatives, (long long)r->n_users);
}

int crec_eval_pointwise(const crec_model *m, const crec_dataset *ds, const crec_split *s,
                        const crec_pointwise_opts *o, crec_pointwise_result *r) {
    (void)ds;
    if (!r) return CREC_EINVAL;
    memset(r, 0, sizeof *r);
    r->rmse = r->mae = r->auc = r->logloss = r->gauc = NAN;
    crec_pointwise_opts defaults;
    if (!o) {
        crec_pointwise_opts_defaults(&defaults);
        o = &defaults;
    }
    r->task = o->task;
    if (!m || !s || m->n_items <= 0) return CREC_EINVAL;
    if (o->task != CREC_TASK_RATING && o->task != CREC_TASK_CLICK) return CREC_EINVAL;
    if (o->target != CREC_EVAL_TEST && o->target != CREC_EVAL_VALID) return CREC_EINVAL;
    if (o->task == CREC_TASK_CLICK && (o->neg < 1 || o->neg > 100000)) return CREC_EINVAL;
    int32_t n_items = m->n_items;
    const crec_csr *tr = &s->train;
    const crec_csr *tg = o->target == CREC_EVAL_TEST ? &s->test : &s->valid;
    if (!tr->ptr || tr->n_cols != n_items || !tg->ptr || tg->n_rows != tr->n_rows) return CREC_EINVAL;
    int32_t n_rows = tr->n_rows;
    int use_valid_hist = o->target == CREC_EVAL_TEST && s->valid.ptr != NULL;
    if (use_valid_hist && s->valid.n_rows != n_rows) return CREC_EINVAL;
    for (int64_t p = 0; p < crec_csr_nnz(tg); p++)
        if (tg->idx[p] < 0 || tg->idx[p] >= n_items) return CREC_EINVAL;
    double t0 = crec__now();

    /* slots: per evaluated user its kept events, then neg per positive (none when it touched every item) */
    int32_t *users = malloc(((size_t)n_rows + 1) * sizeof *users);
    int32_t *n_pos = malloc(((size_t)n_rows + 1) * sizeof *n_pos);
    int64_t *off = malloc(((size_t)n_rows + 2) * sizeof *off);
    uint8_t *mark = calloc((size_t)n_items, 1);
    pw_scratch *ws = NULL;
    int nt = o->n_threads > 0 ? o->n_threads : omp_get_max_threads();
    pw_shared sh = {.m = m, .s = s, .o = o, .tgt = tg, .use_valid_hist = use_valid_hist, .n_items = n_items};
    int *errs = NULL;
    int rc = users && n_pos && off && mark ? 0 : CREC_ENOMEM;
    int32_t n_eval = 0;
    int64_t max_hist = 0, slots = 0;
    for (int32_t u = 0; rc == 0 && u < n_rows; u++) {
        int32_t kept = 0;
        for (int64_t p = tg->ptr[u]; p < tg->ptr[u + 1]; p++) kept += keep_event(o, tg->val[p]);
        if (kept == 0) continue;
        if (o->max_users > 0 && n_eval >= o->max_users) break;
        int64_t nneg = 0;
        if (o->task == CREC_TASK_CLICK && !value_labels(o)) {
            int32_t touched = mark_user(s, u, n_items, mark);
            unmark_user(s, u, n_items, mark);
            if (touched < n_items) nneg = (int64_t)o->neg * kept;
        }
        users[n_eval] = u;
        n_pos[n_eval] = kept;
        off[n_eval] = slots;
        slots += kept + nneg;
        r->n_events += kept;
        if (value_labels(o))
            for (int64_t p = tg->ptr[u]; p < tg->ptr[u + 1]; p++) r->n_positives += tg->val[p] >= o->threshold;
        r->n_negatives += nneg;
        int64_t nh = tr->ptr[u + 1] - tr->ptr[u];
        if (use_valid_hist) nh += s->valid.ptr[u + 1] - s->valid.ptr[u];
        if (nh > max_hist) max_hist = nh;
        n_eval++;
    }
    if (rc) goto out;
    off[n_eval] = slots;
    r->n_users = n_eval;
    if (n_eval == 0) {
        rc = CREC_EEMPTY;
        goto out;
    }
    sh.users = users;
    sh.off = off;
    sh.n_pos = n_pos;
    sh.score = malloc((size_t)slots * sizeof *sh.score);
    if (o->task == CREC_TASK_RATING) sh.truth = malloc((size_t)slots * sizeof *sh.truth);
    else sh.label = malloc((size_t)slots * sizeof *sh.label);
    ws = calloc((size_t)nt, sizeof *ws);
    errs = calloc((size_t)n_eval, sizeof *errs);
    if (!sh.score || (!sh.truth && !sh.label) || !ws || !errs) rc = CREC_ENOMEM;
    for (int t = 0; rc == 0 && t < nt; t++) {
        ws[t].scores = malloc((size_t)n_items * sizeof *ws[t].scores);
        ws[t].mark = calloc((size_t)n_items, 1);
        ws[t].hist = malloc(((size_t)max_hist + 1) * sizeof *ws[t].hist);
        ws[t].pool = malloc((size_t)n_items * sizeof *ws[t].pool);
        if (!ws[t].scores || !ws[t].mark || !ws[t].hist || !ws[t].pool) rc = CREC_ENOMEM;
    }
    if (rc) goto out;

    crec_progress prog;
    crec__progress_start(&prog, "evaluate", n_eval, o->progress);
    int64_t done = 0;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
    for (int32_t e = 0; e < n_eval; e++) {
        errs[e] = eval_user(&sh, &ws[omp_get_thread_num()], e);
        if (omp_get_thread_num() == 0) {
            int64_t d;
#pragma omp atomic read
            d = done;
            crec__progress_update(&prog, d);
        }
#pragma omp atomic
        done++;
    }
    crec__progress_end(&prog);
    for (int32_t e = 0; e < n_eval && rc == 0; e++) rc = errs[e];
    if (rc) goto out;

    if (o->task == CREC_TASK_RATING) {
        rc = crec_metric_rmse_mae(sh.score, sh.truth, slots, &r->rmse, &r->mae);
    } else {
        r->auc = crec_metric_auc(sh.score, sh.label, slots);
        r->logloss = crec_metric_logloss(sh.score, sh.label, slots);
        r->gauc = crec_metric_gauc(sh.score, sh.label, off, n_eval, &r->gauc_users);
        if (!value_labels(o) && r->n_negatives > 0 && isnan(r->auc)) rc = CREC_ENOMEM; /* only malloc fails */
    }
out:
    r->seconds = crec__now() - t0;
    format_protocol(r->protocol, sizeof r->protocol, o, m, r);
    for (int t = 0; ws && t < nt; t++) {
        free(ws[t].scores);
        free(ws[t].mark);
        free(ws[t].hist);
        free(ws[t].pool);
    }
    free(ws);
    free(errs);
    free(users);
    free(n_pos);
    free(off);
    free(mark);
    free(sh.score);
    free(sh.truth);
    free(sh.label);
    return rc;
}

/* ---- reports ---- */

static json_t *json_num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

static int json_set(json_t *obj, const char *key, json_t *val) {
    if (!val) return CREC_ENOMEM;
    return json_object_set_new(obj, key, val) == 0 ? 0 : CREC_ENOMEM;
}

/* A hyper-parameter value: an integer or a number when the whole text is one, else the text. */
static json_t *json_param(const char *v) {
    if (!v) return json_null();
    char *end;
    if (*v) {
        long long iv = strtoll(v, &end, 10);
        if (*end == 0) return json_integer(iv);
        double dv = strtod(v, &end);
        if (*end == 0 && isfinite(dv)) return json_real(dv);
    }
    return json_string(v);
}

/* {"name", "params" (effective: configured else default), "split", "data", "train_seconds"}; NULL on ENOMEM. */
static json_t *model_json(const crec_model *m) {
    json_t *mo = json_object(), *params = json_object();
    int rc = mo && params ? 0 : CREC_ENOMEM;
    const crec_param_def *defs = m->type ? m->type->params : NULL;
    for (int p = 0; rc == 0 && defs && defs[p].name; p++) {
        const char *v = crec_config_get(&m->cfg, defs[p].name);
        rc = json_set(params, defs[p].name, json_param(v ? v : defs[p].def));
    }
    if (rc == 0) rc = json_set(mo, "name", m->type && m->type->name ? json_string(m->type->name) : json_null());
    if (rc == 0) {
        rc = json_set(mo, "params", params);
        params = NULL;
    }
    if (rc == 0) rc = json_set(mo, "split", json_string(m->split));
    if (rc == 0) rc = json_set(mo, "data", json_string(m->data_name));
    if (rc == 0) rc = json_set(mo, "train_seconds", json_num(m->train_seconds));
    json_decref(params);
    if (rc) {
        json_decref(mo);
        return NULL;
    }
    return mo;
}

int crec_pointwise_result_write_json(const crec_pointwise_result *r, const crec_pointwise_opts *o,
                                     const crec_model *m, FILE *f) {
    if (!r || !f) return CREC_EINVAL;
    crec_pointwise_opts defaults;
    if (!o) {
        crec_pointwise_opts_defaults(&defaults);
        defaults.task = r->task;
        o = &defaults;
    }
    int click = r->task == CREC_TASK_CLICK;
    json_t *root = json_object(), *proto = json_object(), *met = json_object();
    int rc = root && proto && met ? 0 : CREC_ENOMEM;
    if (rc == 0) rc = json_set(proto, "task", json_string(click ? "click" : "rating"));
    if (rc == 0) rc = json_set(proto, "split", m && m->split[0] ? json_string(m->split) : json_null());
    if (rc == 0) rc = json_set(proto, "target", json_string(o->target == CREC_EVAL_VALID ? "valid" : "test"));
    if (rc == 0 && click) {
        rc = json_set(proto, "negatives_per_positive", json_integer(o->neg));
        if (rc == 0) rc = json_set(proto, "threshold", o->use_threshold ? json_real(o->threshold) : json_null());
        if (rc == 0) rc = json_set(proto, "labels", json_string(value_labels(o) ? "values" : "sampled"));
        if (rc == 0)
            rc = json_set(proto, "seed", o->seed <= (uint64_t)INT64_MAX ? json_integer((json_int_t)o->seed)
                                                                        : json_real((double)o->seed));
    }
    if (rc == 0) rc = json_set(proto, "text", json_string(r->protocol));
    if (rc == 0) {
        rc = json_set(root, "protocol", proto);
        proto = NULL;
    }
    if (rc == 0) rc = json_set(root, "model", m ? model_json(m) : json_null());
    if (rc == 0) rc = json_set(met, click ? "AUC" : "RMSE", json_num(click ? r->auc : r->rmse));
    if (rc == 0) rc = json_set(met, click ? "LogLoss" : "MAE", json_num(click ? r->logloss : r->mae));
    if (rc == 0 && click) rc = json_set(met, "GAUC", json_num(r->gauc));
    if (rc == 0) {
        rc = json_set(root, "metrics", met);
        met = NULL;
    }
    if (rc == 0) rc = json_set(root, "users", json_integer(r->n_users));
    if (rc == 0) rc = json_set(root, "events", json_integer(r->n_events));
    if (rc == 0 && click) rc = json_set(root, "negatives", json_integer(r->n_negatives));
    if (rc == 0 && click) rc = json_set(root, "positives", json_integer(value_labels(o) ? r->n_positives : r->n_events));
    if (rc == 0 && click) rc = json_set(root, "gauc_users", json_integer(r->gauc_users));
    if (rc == 0) rc = json_set(root, "seconds", json_num(r->seconds));
    if (rc == 0 && (json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 || fputc('\n', f) == EOF))
        rc = CREC_EIO;
    json_decref(root);
    json_decref(proto);
    json_decref(met);
    return rc;
}

void crec_pointwise_result_write_table(const crec_pointwise_result *r, FILE *f) {
    if (!r || !f) return;
    fprintf(f, "%s\n", r->protocol);
    if (r->task == CREC_TASK_CLICK) {
        fprintf(f, "%8s %8s %8s %10s %10s %8s %8s\n", "AUC", "GAUC", "LogLoss", "events", "sampled", "users",
                "eval s");
        fprintf(f, "%8.4f %8.4f %8.4f %10lld %10lld %8lld %8.2f\n", r->auc, r->gauc, r->logloss,
                (long long)r->n_events, (long long)r->n_negatives, (long long)r->n_users, r->seconds);
    } else {
        fprintf(f, "%8s %8s %10s %8s %8s\n", "RMSE", "MAE", "events", "users", "eval s");
        fprintf(f, "%8.4f %8.4f %10lld %8lld %8.2f\n", r->rmse, r->mae, (long long)r->n_events, (long long)r->n_users,
                r->seconds);
    }
}
