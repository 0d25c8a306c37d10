/* prequential.c: test-then-train replay of a time-ordered log (crec/stream.h).
 *
 * The one idea: one loop over the replay owns everything a test may depend on - the catalogue known so far, each
 * user's history so far - and updates it right after the event is tested, so no mode can see the future. The
 * model is only asked to score (crec_model_score) and to learn (crec_model_update for ONLINE, crec_model_train on
 * the replay's prefix for STATIC / PERIODIC). Ranks come from crec_rank_targets with the mask "unknown items +
 * the user's seen items", which never depends on the target. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/svgplot.h"
#include "core/util.h"
#include "crec/stream.h"
#include "crec/online.h"
#include "crec/rank.h"

const char *crec_stream_mode_name(crec_stream_mode m) {
    return m == CREC_STREAM_ONLINE ? "online" : m == CREC_STREAM_STATIC ? "static" : "periodic";
}

void crec_stream_opts_defaults(crec_stream_opts *o) {
    memset(o, 0, sizeof *o);
    o->mode = CREC_STREAM_ONLINE;
    o->model = "onlinemf";
    o->prefix = 1;
    o->warm = 0.5;
    o->eval_every = 1;
    o->user_frac = 1;
    o->batch = 1;
    o->n_windows = 10;
    o->k = 10;
    o->filter_seen = 1;
    o->seed = 42;
    o->n_threads = 1;
    o->errmem_dim = 64;
    o->errmem_hist = 10;
}

typedef struct {
    int64_t ts, pos;
} order_key;

static int order_cmp(const void *a, const void *b) {
    const order_key *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* The training matrix of the replay's first t events (ord[0..t)): rows in replay order, values 1. */
static int prefix_csr(const crec_dataset *ds, const int64_t *ord, int64_t t, crec_csr *c) {
    memset(c, 0, sizeof *c);
    c->n_rows = ds->users.n;
    c->n_cols = ds->items.n;
    c->ptr = calloc((size_t)c->n_rows + 1, sizeof *c->ptr);
    c->idx = malloc(((size_t)t + 1) * sizeof *c->idx);
    c->ts = malloc(((size_t)t + 1) * sizeof *c->ts);
    c->val = malloc(((size_t)t + 1) * sizeof *c->val);
    int64_t *fill = calloc((size_t)c->n_rows + 1, sizeof *fill);
    if (!c->ptr || !c->idx || !c->ts || !c->val || !fill) {
        free(fill);
        crec_csr_free(c);
        return CREC_ENOMEM;
    }
    for (int64_t k = 0; k < t; k++) c->ptr[ds->user[ord[k]] + 1]++;
    for (int32_t u = 0; u < c->n_rows; u++) c->ptr[u + 1] += c->ptr[u];
    for (int64_t k = 0; k < t; k++) {
        int64_t e = ord[k];
        int32_t u = ds->user[e];
        int64_t q = c->ptr[u] + fill[u]++;
        c->idx[q] = ds->item[e];
        c->ts[q] = ds->ts[e];
        c->val[q] = 1;
    }
    free(fill);
    return 0;
}

static int retrain(crec_model *m, const crec_dataset *ds, const int64_t *ord, int64_t t, const crec_stream_opts *o) {
    crec_csr c;
    int rc = prefix_csr(ds, ord, t, &c);
    if (rc) return rc;
    crec_train_input in = {.ds = ds, .train = &c, .valid = NULL, .n_threads = o->n_threads, .seed = o->seed};
    rc = crec_model_train(m, &in);
    crec_csr_free(&c);
    return rc;
}

static int user_selected(uint64_t seed, int32_t u, double frac) {
    if (frac >= 1) return 1;
    uint64_t h = crec__hash64(&u, sizeof u, seed ^ 0x5e1ec7edull);
    return (double)(h >> 11) * 0x1.0p-53 < frac;
}

int crec_stream_eval(const crec_dataset *ds, const crec_stream_opts *o, crec_stream_result *r, char *err,
                     size_t errn) {
    memset(r, 0, sizeof *r);
    if (err && errn) err[0] = 0;
    if (!ds || !o || !o->model) return CREC_EINVAL;
    if (!(o->warm >= 0 && o->warm < 1) || !(o->prefix > 0 && o->prefix <= 1) || o->eval_every < 1 || !(o->user_frac > 0 && o->user_frac <= 1) ||
        o->batch < 1 || o->n_windows < 1 || o->n_windows > CREC_STREAM_MAX_WINDOWS || o->k < 1 || o->every < 0 ||
        o->every_seconds < 0 || (o->mode == CREC_STREAM_PERIODIC && !o->every && !o->every_seconds) ||
        !isfinite(o->errmem_lambda) || (o->errmem_lambda != 0 && (o->errmem_dim < 1 || o->errmem_dim > 4096 ||
                                                                    o->errmem_hist < 1))) {
        crec__errf(err, errn, "stream: bad options (warm in [0, 1), eval_every >= 1, user fraction in (0, 1], "
                              "batch >= 1, windows 1..%d, k >= 1; periodic needs every or every_seconds)",
                   CREC_STREAM_MAX_WINDOWS);
        return CREC_EINVAL;
    }
    const int64_t N = o->prefix < 1 ? (int64_t)floor(o->prefix * (double)ds->n) : ds->n;
    const int32_t NU = ds->users.n, NI = ds->items.n;
    int64_t warm_n = (int64_t)floor(o->warm * (double)N);
    if (N < 2 || warm_n >= N || NI < 1) {
        crec__errf(err, errn, "stream: %lld events leave nothing to test after a warm fraction of %g", (long long)N,
                   o->warm);
        return CREC_EINVAL;
    }
    crec_model *m = NULL;
    int rc = crec_model_new(o->model, o->cfg, &m, err, errn);
    if (rc) return rc;
    if (o->mode == CREC_STREAM_ONLINE && !crec_model_has(m->type, CREC_CAP_ONLINE)) {
        crec__errf(err, errn, "stream: model '%s' has no update hook (online mode needs one: onlinemf)", o->model);
        crec_model_free(m);
        return CREC_EINVAL;
    }
    r->mode = o->mode;
    r->k = o->k;
    snprintf(r->model, sizeof r->model, "%s", o->model);
    if (o->mode == CREC_STREAM_PERIODIC) {
        if (o->every && o->every_seconds)
            snprintf(r->label, sizeof r->label, "periodic %s every %lld ev / %lld s", o->model, (long long)o->every,
                     (long long)o->every_seconds);
        else if (o->every)
            snprintf(r->label, sizeof r->label, "periodic %s every %lld", o->model, (long long)o->every);
        else
            snprintf(r->label, sizeof r->label, "periodic %s every %lld s", o->model, (long long)o->every_seconds);
    } else {
        snprintf(r->label, sizeof r->label, "%s %s", crec_stream_mode_name(o->mode), o->model);
    }
    if (o->tag && o->tag[0]) {
        size_t ll = strlen(r->label);
        snprintf(r->label + ll, sizeof r->label - ll, " %s", o->tag);
    }
    if (o->errmem_lambda != 0) {
        size_t ll = strlen(r->label);
        snprintf(r->label + ll, sizeof r->label - ll, " +errmem %g", (double)o->errmem_lambda);
    }

    order_key *ok = malloc((size_t)ds->n * sizeof *ok);
    int64_t *ord = malloc((size_t)N * sizeof *ord);
    int64_t *uptr = calloc((size_t)NU + 1, sizeof *uptr);
    int32_t *useen = calloc((size_t)NU + 1, sizeof *useen);
    int32_t *uitems = malloc((size_t)N * sizeof *uitems);
    int64_t *uts = malloc((size_t)N * sizeof *uts);
    uint8_t *unknown = malloc((size_t)NI);
    uint8_t *excl = malloc((size_t)NI);
    float *scores = malloc((size_t)NI * sizeof *scores);
    crec_event *batch = malloc((size_t)o->batch * sizeof *batch);
    double *wsum_hr = calloc((size_t)o->n_windows, sizeof(double)), *wsum_nd = calloc((size_t)o->n_windows, sizeof(double));
    crec_errmem *em = NULL;
    float *emG = NULL, *emkey = NULL, *embase = NULL;
    if (o->errmem_lambda != 0) {
        crec_errmem_opts eo;
        crec_errmem_opts_default(&eo, o->errmem_dim);
        eo.seed = o->seed;
        if (o->errmem_tables > 0) eo.tables = o->errmem_tables;
        if (o->errmem_bits > 0) eo.bits = o->errmem_bits;
        em = crec_errmem_new(&eo);
        emG = malloc((size_t)NI * o->errmem_dim * sizeof *emG);
        emkey = malloc((size_t)o->errmem_dim * sizeof *emkey);
        embase = malloc((size_t)NI * sizeof *embase);
        if (!em || !emG || !emkey || !embase) {
            rc = CREC_ENOMEM;
            goto done;
        }
        for (int32_t i = 0; i < NI; i++)
            for (int d = 0; d < o->errmem_dim; d++) {
                uint64_t hk[2] = {(uint64_t)i, (uint64_t)d};
                emG[(size_t)i * o->errmem_dim + d] = crec__hash64(hk, sizeof hk, o->seed ^ 0x7e10092ull) & 1 ? 1.f : -1.f;
            }
    }
    if (!ok || !ord || !uptr || !useen || !uitems || !uts || !unknown || !excl || !scores || !batch || !wsum_hr ||
        !wsum_nd) {
        rc = CREC_ENOMEM;
        goto done;
    }
    for (int64_t e = 0; e < ds->n; e++) ok[e] = (order_key){ds->ts[e], e};
    qsort(ok, (size_t)ds->n, sizeof *ok, order_cmp);
    for (int64_t k = 0; k < N; k++) ord[k] = ok[k].pos;
    /* each user's events in replay order, contiguous: the first useen[u] are u's history so far */
    for (int64_t k = 0; k < N; k++) uptr[ds->user[ord[k]] + 1]++;
    for (int32_t u = 0; u < NU; u++) uptr[u + 1] += uptr[u];
    {
        int32_t *fill = useen; /* reused, zeroed again below */
        for (int64_t k = 0; k < N; k++) {
            int64_t e = ord[k];
            int32_t u = ds->user[e];
            uitems[uptr[u] + fill[u]] = ds->item[e];
            uts[uptr[u] + fill[u]] = ds->ts[e];
            fill[u]++;
        }
        memset(useen, 0, ((size_t)NU + 1) * sizeof *useen);
    }
    memset(unknown, 1, (size_t)NI);
    for (int w = 0; w < o->n_windows; w++) {
        int64_t span = N - warm_n;
        r->win[w].first = warm_n + span * w / o->n_windows;
        r->win[w].last = warm_n + span * (w + 1) / o->n_windows;
        r->win[w].ts_first = ds->ts[ord[r->win[w].first]];
        r->win[w].ts_last = r->win[w].last > r->win[w].first ? ds->ts[ord[r->win[w].last - 1]] : r->win[w].ts_first;
    }
    r->n_windows = o->n_windows;
    r->n_events = N;
    r->n_warm = warm_n;

    /* the model before the first test */
    double t0 = crec__now();
    if (o->mode == CREC_STREAM_ONLINE) {
        rc = retrain(m, ds, ord, 0, o); /* an empty model of the full id space */
    } else {
        rc = retrain(m, ds, ord, warm_n, o);
    }
    if (rc) {
        crec__errf(err, errn, "stream: training %s: %s", o->model, crec_strerror(rc));
        goto done;
    }
    if (o->mode != CREC_STREAM_ONLINE) r->warm_seconds = crec__now() - t0;
    int64_t last_train = warm_n, last_train_ts = ds->ts[ord[warm_n]], n_scored = 0;
    double hr_sum = 0, nd_sum = 0;
    crec_progress pg;
    crec__progress_start(&pg, r->label, N, o->progress);
    for (int64_t p0 = 0; p0 < N;) {
        /* one batch: ONLINE batches never straddle the warm boundary; the other modes take one event at a time */
        int64_t p1 = p0 + (o->mode == CREC_STREAM_ONLINE ? o->batch : 1);
        if (p0 < warm_n && p1 > warm_n) p1 = warm_n;
        if (p1 > N) p1 = N;
        if (o->mode == CREC_STREAM_PERIODIC && p0 > warm_n) {
            int64_t ts = ds->ts[ord[p0]];
            if ((o->every && p0 - last_train >= o->every) || (o->every_seconds && ts - last_train_ts >= o->every_seconds)) {
                double tr0 = crec__now();
                rc = retrain(m, ds, ord, p0, o);
                r->learn_seconds += crec__now() - tr0;
                if (rc) {
                    crec__errf(err, errn, "stream: retraining %s at event %lld: %s", o->model, (long long)p0,
                               crec_strerror(rc));
                    goto done;
                }
                r->n_retrains++;
                last_train = p0;
                last_train_ts = ts;
            }
        }
        for (int64_t p = p0; p < p1; p++) {
            int64_t e = ord[p];
            int32_t u = ds->user[e], it = ds->item[e];
            const int32_t *hist = uitems + uptr[u];
            int32_t nh = useen[u];
            if (p >= warm_n && (p - warm_n) % o->eval_every == 0 && user_selected(o->seed, u, o->user_frac)) {
                int64_t rank = CREC_RANK_MISS;
                int repeat = 0;
                if (o->filter_seen)
                    for (int32_t h = 0; h < nh && !repeat; h++) repeat = hist[h] == it;
                r->n_tested++;
                if (nh == 0) r->n_cold_user++;
                if (unknown[it]) {
                    r->n_new_item++;
                } else if (repeat) {
                    r->n_repeat++;
                } else {
                    double s0 = crec__now();
                    crec_context ctx = {.user = u, .hist = hist, .n_hist = nh, .hist_ts = uts + uptr[u], .now = ds->ts[e]};
                    for (int32_t i = m->n_items; i < NI; i++) scores[i] = -INFINITY;
                    rc = crec_model_score(m, &ctx, scores);
                    if (rc) {
                        crec__errf(err, errn, "stream: scoring user %d at event %lld: %s", u, (long long)p,
                                   crec_strerror(rc));
                        goto done;
                    }
                    memcpy(excl, unknown, (size_t)NI);
                    if (o->filter_seen)
                        for (int32_t h = 0; h < nh; h++) excl[hist[h]] = 1;
                    if (em && nh > 0) { /* ReLoop2: correct the scores before ranking */
                        const int ED = o->errmem_dim;
                        memset(emkey, 0, (size_t)ED * sizeof *emkey);
                        for (int32_t h = nh > o->errmem_hist ? nh - o->errmem_hist : 0; h < nh; h++)
                            for (int d = 0; d < ED; d++) emkey[d] += emG[(size_t)hist[h] * ED + d];
                        memcpy(embase, scores, (size_t)NI * sizeof *embase);
                        rc = crec_errmem_correct(em, emkey, o->errmem_lambda, scores, NI);
                        if (rc < 0) goto done;
                        rc = 0;
                    }
                    rc = crec_rank_targets(scores, NI, excl, &it, 1, &rank);
                    if (rc) goto done;
                    if (em && nh > 0) {
                        /* remember the model's own residuals (not the corrected ones): the outcome is one-hot over
                         * the candidates, the prediction the softmax of the model's scores over them */
                        double mx = -INFINITY, z = 0;
                        for (int32_t i = 0; i < NI; i++)
                            if (!excl[i] && embase[i] > mx) mx = embase[i];
                        for (int32_t i = 0; i < NI; i++)
                            if (!excl[i]) z += exp((double)embase[i] - mx);
                        double lse = mx + log(z);
                        int32_t top;
                        if (crec_topk(scores, NI, excl, 1, &top) == 1 && top != it)
                            rc = crec_errmem_add(em, emkey, top, (float)(0.0 - exp((double)embase[top] - lse)));
                        if (!rc) rc = crec_errmem_add(em, emkey, it, (float)(1.0 - exp((double)embase[it] - lse)));
                        if (rc) goto done;
                    }
                    r->rank_seconds += crec__now() - s0;
                    n_scored++;
                }
                double hr = rank <= o->k ? 1 : 0, nd = rank <= o->k ? 1.0 / log2((double)rank + 1) : 0;
                hr_sum += hr;
                nd_sum += nd;
                int w = (int)((p - warm_n) * o->n_windows / (N - warm_n));
                r->win[w].n++;
                wsum_hr[w] += hr;
                wsum_nd[w] += nd;
                if (o->per_event)
                    fprintf(o->per_event, "%lld\t%s\t%s\t%lld\n", (long long)p, ds->users.names[u], ds->items.names[it],
                            rank == CREC_RANK_MISS ? 0LL : (long long)rank);
            }
            /* the event enters the log: the catalogue and the user's history */
            unknown[it] = 0;
            useen[u]++;
            batch[p - p0] = (crec_event){.user = u, .item = it, .ts = ds->ts[e], .value = 1, .type = ds->type[e]};
        }
        if (o->mode == CREC_STREAM_ONLINE) {
            double l0 = crec__now();
            rc = crec_model_update(m, batch, p1 - p0);
            double dt = crec__now() - l0;
            if (p0 >= warm_n) r->learn_seconds += dt;
            else r->warm_seconds += dt;
            if (rc) {
                crec__errf(err, errn, "stream: update at event %lld: %s", (long long)p0, crec_strerror(rc));
                goto done;
            }
        }
        p0 = p1;
        crec__progress_update(&pg, p0);
    }
    crec__progress_end(&pg);
    r->hr = r->n_tested ? hr_sum / (double)r->n_tested : 0;
    r->ndcg = r->n_tested ? nd_sum / (double)r->n_tested : 0;
    for (int w = 0; w < o->n_windows; w++) {
        r->win[w].hr = r->win[w].n ? wsum_hr[w] / (double)r->win[w].n : NAN;
        r->win[w].ndcg = r->win[w].n ? wsum_nd[w] / (double)r->win[w].n : NAN;
    }
    r->rank_us = n_scored ? r->rank_seconds / (double)n_scored * 1e6 : 0;
    r->learn_us = r->learn_seconds / (double)(N - warm_n) * 1e6;
    {
        char sub[200] = "";
        if (o->prefix < 1)
            snprintf(sub, sizeof sub, "; replay of the first %.0f%% of the log only", 100 * o->prefix);
        if (o->eval_every > 1 || o->user_frac < 1)
            snprintf(sub + strlen(sub), sizeof sub - strlen(sub), "; SUBSAMPLED: every %lld-th event%s", (long long)o->eval_every,
                     o->user_frac < 1 ? " of a seeded user sample" : "");
        if (o->user_frac < 1)
            snprintf(sub + strlen(sub), sizeof sub - strlen(sub), " (%.0f%% of users, seed %llu)", 100 * o->user_frac,
                     (unsigned long long)o->seed);
        int pn = snprintf(r->protocol, sizeof r->protocol,
                 "prequential replay of %s: %lld events in %s, first %.0f%% (%lld) learned only, then each event "
                 "tested before it is learned; full ranking over the items seen so far (of %d), the user's seen items "
                 "%s (%lld repeated targets = misses), %lld targets never seen before = misses; pessimistic ties; "
                 "HR@%d/NDCG@%d per tested event (%lld tested, %lld from users with no history)%s",
                 ds->name[0] ? ds->name : "dataset", (long long)N, ds->has_time ? "time order" : "file order",
                 100 * o->warm, (long long)warm_n, NI, o->filter_seen ? "excluded" : "kept", (long long)r->n_repeat,
                 (long long)r->n_new_item, o->k, o->k, (long long)r->n_tested, (long long)r->n_cold_user, sub);
        if (o->errmem_lambda != 0 && pn > 0 && (size_t)pn < sizeof r->protocol)
            snprintf(r->protocol + pn, sizeof r->protocol - (size_t)pn,
                     "; ReLoop2 error memory: lambda %g, key = +-1 random projection (dim %d) of the last %d items, "
                     "LSH %d x %d bits, residuals (one-hot outcome - softmax of the model's scores over the candidates) "
                     "of the target and the top non-target after each scored test",
                     (double)o->errmem_lambda, o->errmem_dim, o->errmem_hist,
                     o->errmem_tables > 0 ? o->errmem_tables : 4, o->errmem_bits > 0 ? o->errmem_bits : 10);
    }
done:
    crec_errmem_free(em);
    free(emG);
    free(emkey);
    free(embase);
    crec_model_free(m);
    free(ok);
    free(ord);
    free(uptr);
    free(useen);
    free(uitems);
    free(uts);
    free(unknown);
    free(excl);
    free(scores);
    free(batch);
    free(wsum_hr);
    free(wsum_nd);
    return rc;
}

/* ---- reports ---- */

void crec_stream_write_table(const crec_stream_result *r, int n, FILE *f) {
    if (n < 1) return;
    fprintf(f, "protocol: %s\n", r[0].protocol);
    for (int j = 0; j < n; j++) fprintf(f, "run %d: %s\n", j + 1, r[j].label);
    fprintf(f, "%-4s %-13s %8s", "win", "events", "tested");
    for (int j = 0; j < n; j++) {
        char h[2][24];
        snprintf(h[0], sizeof h[0], "%d:HR@%d", j + 1, r[j].k);
        snprintf(h[1], sizeof h[1], "%d:NDCG@%d", j + 1, r[j].k);
        fprintf(f, "  %-9s %-9s", h[0], h[1]);
    }
    fputc('\n', f);
    for (int w = 0; w < r[0].n_windows; w++) {
        char ev[32];
        snprintf(ev, sizeof ev, "%lld-%lld", (long long)r[0].win[w].first, (long long)r[0].win[w].last);
        fprintf(f, "%-4d %-13s %8lld", w + 1, ev, (long long)r[0].win[w].n);
        for (int j = 0; j < n; j++) fprintf(f, "  %-9.4f %-9.4f", r[j].win[w].hr, r[j].win[w].ndcg);
        fputc('\n', f);
    }
    fprintf(f, "%-4s %-13s %8lld", "all", "", (long long)r[0].n_tested);
    for (int j = 0; j < n; j++) fprintf(f, "  %-9.4f %-9.4f", r[j].hr, r[j].ndcg);
    fputc('\n', f);
    fputs("cost:\n", f);
    for (int j = 0; j < n; j++)
        fprintf(f, "  %d: %-34s rank %8.1f us/tested event, learn %8.1f us/event (amortised), first training %.2f s, "
                   "retrains %lld (%.2f s)\n",
                j + 1, r[j].label, r[j].rank_us, r[j].learn_us, r[j].warm_seconds, (long long)r[j].n_retrains,
                r[j].mode == CREC_STREAM_PERIODIC ? r[j].learn_seconds : 0.0);
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') fprintf(f, "\\%c", *c);
        else if (*c < 0x20) fprintf(f, "\\u%04x", *c);
        else fputc(*c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, double v) {
    if (isfinite(v)) fprintf(f, "%.6g", v);
    else fputs("null", f);
}

int crec_stream_write_json(const crec_stream_result *r, int n, FILE *f) {
    if (n < 1 || !f) return CREC_EINVAL;
    fputs("{\"protocol\": ", f);
    json_str(f, r[0].protocol);
    fprintf(f, ", \"events\": %lld, \"warm\": %lld, \"tested\": %lld, \"repeated_targets\": %lld, "
               "\"new_item_targets\": %lld, \"k\": %d, \"runs\": [",
            (long long)r[0].n_events, (long long)r[0].n_warm, (long long)r[0].n_tested, (long long)r[0].n_repeat,
            (long long)r[0].n_new_item, r[0].k);
    for (int j = 0; j < n; j++) {
        const crec_stream_result *x = &r[j];
        fprintf(f, "%s\n  {\"label\": ", j ? "," : "");
        json_str(f, x->label);
        fprintf(f, ", \"mode\": \"%s\", \"model\": ", crec_stream_mode_name(x->mode));
        json_str(f, x->model);
        fprintf(f, ", \"HR@%d\": ", x->k);
        json_num(f, x->hr);
        fprintf(f, ", \"NDCG@%d\": ", x->k);
        json_num(f, x->ndcg);
        fputs(", \"rank_us\": ", f);
        json_num(f, x->rank_us);
        fputs(", \"learn_us\": ", f);
        json_num(f, x->learn_us);
        fputs(", \"first_train_seconds\": ", f);
        json_num(f, x->warm_seconds);
        fprintf(f, ", \"retrains\": %lld, \"windows\": [", (long long)x->n_retrains);
        for (int w = 0; w < x->n_windows; w++) {
            fprintf(f, "%s{\"first\": %lld, \"last\": %lld, \"ts_first\": %lld, \"ts_last\": %lld, \"tested\": %lld, "
                       "\"HR\": ",
                    w ? ", " : "", (long long)x->win[w].first, (long long)x->win[w].last,
                    (long long)x->win[w].ts_first, (long long)x->win[w].ts_last, (long long)x->win[w].n);
            json_num(f, x->win[w].hr);
            fputs(", \"NDCG\": ", f);
            json_num(f, x->win[w].ndcg);
            fputc('}', f);
        }
        fputs("]}", f);
    }
    fputs("\n]}\n", f);
    return ferror(f) ? CREC_EIO : 0;
}

int crec_stream_write_svg(const crec_stream_result *r, int n, const char *metric, const char *title,
                          const char *path) {
    if (n < 1 || !path) return CREC_EINVAL;
    int hr = metric && !strcmp(metric, "hr");
    char ylab[32];
    snprintf(ylab, sizeof ylab, "%s@%d", hr ? "HR" : "NDCG", r[0].k);
    crec__svgplot *p = crec__svgplot_new(title ? title : ylab, "time window (equal event counts, after warm-up)", ylab);
    if (!p) return CREC_ENOMEM;
    crec__svgplot_set_size(p, 960, 440);
    int rc = 0;
    double x[CREC_STREAM_MAX_WINDOWS], y[CREC_STREAM_MAX_WINDOWS];
    for (int j = 0; j < n && !rc; j++) {
        for (int w = 0; w < r[j].n_windows; w++) {
            x[w] = w + 1;
            y[w] = hr ? r[j].win[w].hr : r[j].win[w].ndcg;
        }
        rc = crec__svgplot_add(p, r[j].label, x, y, r[j].n_windows);
    }
    if (!rc) rc = crec__svgplot_save(p, path);
    crec__svgplot_free(p);
    return rc;
}
