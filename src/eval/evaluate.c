/* evaluate.c: the evaluation protocol: score every evaluated user, rank its targets, average the metrics.
 *
 * The one idea: results must not depend on the thread count. Users are processed in chunks; inside a
 * chunk the users are scored in parallel (OpenMP, dynamic schedule, per-thread scratch) and each writes
 * its own record; then the records are summed sequentially in user order. Recommendation counts per item
 * are integers (atomic adds), so they are exact in any order. Same model + same split + same options
 * gives bit-identical numbers at every thread count.
 *
 * A model type with a score_batch hook (CREC_CAP_BATCH: a factor model whose scores are one matrix product) is
 * scored in blocks of users instead: each block with one call (the model's own OpenMP at the evaluation's
 * thread count, BLAS on one thread), then its users ranked in parallel as above. The blocks are fixed runs of
 * the evaluated users (eval_block: a function of the catalog size only), so these numbers too are the same at
 * every thread count; against user-by-user scoring they differ only by the float rounding of the product.
 *
 * Full ranking over the catalog is the default. The exclusion mask never depends on the target: with
 * filter_seen every history item is excluded, so a target that repeats a history item (repeat
 * consumption) is a miss, and the report counts the users it affected; without it nothing is excluded
 * (repeat-aware evaluation). Sampled ranking (sampled = N) keeps only the targets plus N negatives drawn
 * per user among the items the user has not seen, and every report then says SAMPLED. */
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/eval.h"
#include "nn/nn.h"

#define EVAL_CHUNK 2048
#define EVAL_BLOCK 256            /* users per score_batch call (a divisor of EVAL_CHUNK) */
#define EVAL_BLOCK_FLOATS (1 << 24) /* at most this many scores per block (64 MiB) */

enum { MARK_HIST = 1, MARK_TARGET = 2, MARK_NEG = 4 };

/* Fills the caller's *o: K = 5, 10, 20, seen items excluded, full ranking, seed 42, target test,
 * every OpenMP thread, all users, no per-user file, no progress bar. */
void crec_eval_opts_defaults(crec_eval_opts *o) {
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->ks[0] = 5;
    o->ks[1] = 10;
    o->ks[2] = 20;
    o->n_ks = 3;
    o->filter_seen = 1;
    o->sampled = 0;
    o->seed = 42;
    o->target = CREC_EVAL_TEST;
    o->n_threads = omp_get_max_threads();
    o->max_users = 0;
    o->per_user = NULL;
    o->progress = 0;
}

/* Read-only state shared by all threads during one evaluation. */
typedef struct eval_shared {
    const crec_model *m;
    const crec_split *s;
    const crec_eval_opts *o;
    const crec_csr *tgt;        /* test or valid */
    int use_valid_hist;         /* target = test: history = train + valid */
    int32_t n_items;
    int kmax;
    int list_model;             /* the model decodes lists (CREC_CAP_LIST): ranked from its list */
    int64_t *train_cnt;         /* [n_items] training interactions per item */
    double *self_info;          /* [n_items] -log2 p(i), p(i) = (train_cnt[i] + 1) / (train nnz + n_items) */
    int32_t *rec_cnt;           /* [n_ks * n_items] how often item i is in a top-K list (atomic adds) */
    /* item attributes for ILD (NULL when the dataset has none) */
    const int64_t *attr_ptr;
    const int32_t *attr_idx;
    int32_t attr_items;         /* items covered by attr_ptr */
} eval_shared;

/* Per-thread scratch, allocated once per evaluation. mark and exclude are all-zero between users. */
typedef struct eval_scratch {
    float *scores;      /* [n_items] */
    uint8_t *mark;      /* [n_items] MARK_* bits of the current user */
    uint8_t *exclude;   /* [n_items] */
    int32_t *hist;      /* [max history] */
    int64_t *hist_ts;
    int32_t *tgt;       /* [max targets] distinct, sorted */
    int64_t *ranks;
    int32_t *top;       /* [kmax] */
    int32_t *neg;       /* [n_items] sampled negatives / candidate pool (sampled mode only) */
} eval_scratch;

/* What one user contributes; written by exactly one thread, summed in user order. */
typedef struct user_rec {
    int32_t user, n_targets;
    int32_t n_masked;   /* targets the exclusion mask removed (repeats of history items under filter_seen) */
    int err;
    crec_metrics_at at[CREC_EVAL_MAX_K];
    double nov_sum[CREC_EVAL_MAX_K], pop_sum[CREC_EVAL_MAX_K], ild[CREC_EVAL_MAX_K];
    int32_t n_list[CREC_EVAL_MAX_K];
} user_rec;

static void scratch_free(eval_scratch *w) {
    free(w->scores);
    free(w->mark);
    free(w->exclude);
    free(w->hist);
    free(w->hist_ts);
    free(w->tgt);
    free(w->ranks);
    free(w->top);
    free(w->neg);
    memset(w, 0, sizeof *w);
}

static int scratch_alloc(eval_scratch *w, int32_t n_items, int64_t max_hist, int64_t max_tgt, int kmax,
                         int sampled, const uint8_t *cand) {
    memset(w, 0, sizeof *w);
    size_t n = (size_t)n_items;
    w->scores = malloc(n * sizeof *w->scores);
    w->mark = calloc(n, 1);
    w->exclude = calloc(n, 1);
    w->hist = malloc((size_t)(max_hist + 1) * sizeof *w->hist);
    w->hist_ts = malloc((size_t)(max_hist + 1) * sizeof *w->hist_ts);
    w->tgt = malloc((size_t)(max_tgt + 1) * sizeof *w->tgt);
    w->ranks = malloc((size_t)(max_tgt + 1) * sizeof *w->ranks);
    w->top = malloc((size_t)kmax * sizeof *w->top);
    if (sampled) w->neg = malloc(n * sizeof *w->neg);
    if (!w->scores || !w->mark || !w->exclude || !w->hist || !w->hist_ts || !w->tgt || !w->ranks || !w->top ||
        (sampled && !w->neg)) {
        scratch_free(w);
        return CREC_ENOMEM;
    }
    if (cand) /* the baseline of exclude between users: non-candidates */
        for (size_t i = 0; i < n; i++) w->exclude[i] = !cand[i];
    return 0;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* 1 - |A n B| / |A u B| of the (sorted, distinct) attribute sets of items a and b; two items that both
 * have no attribute are identical (distance 0). */
static double attr_distance(const eval_shared *sh, int32_t a, int32_t b) {
    const int32_t *pa = NULL, *pb = NULL;
    int64_t na = 0, nb = 0;
    if (a < sh->attr_items) {
        pa = sh->attr_idx + sh->attr_ptr[a];
        na = sh->attr_ptr[a + 1] - sh->attr_ptr[a];
    }
    if (b < sh->attr_items) {
        pb = sh->attr_idx + sh->attr_ptr[b];
        nb = sh->attr_ptr[b + 1] - sh->attr_ptr[b];
    }
    if (na + nb == 0) return 0.0;
    int64_t i = 0, j = 0, inter = 0;
    while (i < na && j < nb) {
        if (pa[i] < pb[j]) i++;
        else if (pa[i] > pb[j]) j++;
        else {
            inter++;
            i++;
            j++;
        }
    }
    return 1.0 - (double)inter / (double)(na + nb - inter);
}

/* Draw the sampled negatives of user u: N items uniformly without replacement among the items that are
 * neither history nor target (all of them when fewer than N), from an RNG seeded by (seed, u). Marks them
 * MARK_NEG and lists them in w->neg. Returns how many. */
static int32_t sample_negatives(const eval_shared *sh, eval_scratch *w, int32_t u, int32_t n_marked) {
    int32_t n = sh->n_items, pool = n - n_marked, N = sh->o->sampled;
    uint64_t key[2] = {sh->o->seed, (uint64_t)(uint32_t)u};
    crec_rng rng;
    crec__rng_seed(&rng, crec__fnv1a(key, sizeof key));
    if ((int64_t)N * 2 >= pool || (int64_t)pool * 2 < n) {
        /* dense case (many negatives, or a pool that is a small part of the catalog): list the pool and
         * take a partial Fisher-Yates prefix, O(n) like the scoring itself */
        int32_t len = 0;
        for (int32_t j = 0; j < n; j++)
            if (!w->mark[j]) w->neg[len++] = j;
        int32_t take = N < len ? N : len;
        for (int32_t i = 0; i < take; i++) {
            int32_t k = i + (int32_t)crec__rng_below(&rng, (uint64_t)(len - i));
            int32_t t = w->neg[i];
            w->neg[i] = w->neg[k];
            w->neg[k] = t;
        }
        for (int32_t i = 0; i < take; i++) w->mark[w->neg[i]] |= MARK_NEG;
        return take;
    }
    /* sparse case: rejection sampling; at least a quarter of the catalog stays free, so < 4 draws each */
    int32_t got = 0;
    while (got < N) {
        int32_t j = (int32_t)crec__rng_below(&rng, (uint64_t)n);
        if (w->mark[j]) continue;
        w->mark[j] = MARK_NEG;
        w->neg[got++] = j;
    }
    return got;
}

/* The history of user u as the model sees it: the train row, then the valid row when the target is test; time
 * order. Writes H ids (and times) to hist / hist_ts and returns H; *have_ts says whether the times are real. */
static int32_t user_history(const eval_shared *sh, int32_t u, int32_t *hist, int64_t *hist_ts, int *have_ts) {
    const crec_split *s = sh->s;
    int32_t H = 0;
    *have_ts = s->train.ts != NULL;
    for (int64_t p = s->train.ptr[u]; p < s->train.ptr[u + 1]; p++) {
        hist[H] = s->train.idx[p];
        hist_ts[H] = s->train.ts ? s->train.ts[p] : 0;
        H++;
    }
    if (sh->use_valid_hist) {
        *have_ts = *have_ts && s->valid.ts != NULL;
        for (int64_t p = s->valid.ptr[u]; p < s->valid.ptr[u + 1]; p++) {
            hist[H] = s->valid.idx[p];
            hist_ts[H] = s->valid.ts ? s->valid.ts[p] : 0;
            H++;
        }
    }
    return H;
}

/* Evaluate one user into rec. pre: the user's scores from a score_batch block, or NULL to score it here.
 * Leaves w->mark and w->exclude all-zero again. Returns 0 or the error of the model / a corrupt split (item id
 * out of range). */
static int eval_user(const eval_shared *sh, eval_scratch *w, int32_t u, user_rec *rec, const float *pre) {
    const crec_eval_opts *o = sh->o;
    int32_t n = sh->n_items;
    memset(rec, 0, sizeof *rec);
    rec->user = u;

    /* targets: distinct, sorted */
    int32_t T = 0;
    for (int64_t p = sh->tgt->ptr[u]; p < sh->tgt->ptr[u + 1]; p++) {
        int32_t i = sh->tgt->idx[p];
        if (i < 0 || i >= n) return CREC_EINVAL;
        w->tgt[T++] = i;
    }
    qsort(w->tgt, (size_t)T, sizeof *w->tgt, cmp_i32);
    int32_t D = 0;
    for (int32_t t = 0; t < T; t++)
        if (D == 0 || w->tgt[t] != w->tgt[D - 1]) w->tgt[D++] = w->tgt[t];
    T = D;
    rec->n_targets = T;

    /* history: train row, then valid row when the target is test; time order */
    int have_ts;
    int32_t H = user_history(sh, u, w->hist, w->hist_ts, &have_ts);
    for (int32_t h = 0; h < H; h++)
        if (w->hist[h] < 0 || w->hist[h] >= n) return CREC_EINVAL;

    int32_t n_marked = 0;
    for (int32_t h = 0; h < H; h++) {
        if (!w->mark[w->hist[h]]) n_marked++;
        w->mark[w->hist[h]] |= MARK_HIST;
    }
    for (int32_t t = 0; t < T; t++) {
        if (!w->mark[w->tgt[t]]) n_marked++;
        w->mark[w->tgt[t]] |= MARK_TARGET;
    }

    int32_t n_neg = 0;
    if (o->sampled > 0) {
        /* candidates = targets + negatives; everything else excluded */
        n_neg = sample_negatives(sh, w, u, n_marked);
        memset(w->exclude, 1, (size_t)n);
        for (int32_t t = 0; t < T; t++) w->exclude[w->tgt[t]] = 0;
        for (int32_t j = 0; j < n_neg; j++) w->exclude[w->neg[j]] = 0;
    }
    if (o->filter_seen) /* every history item, a target among them or not */
        for (int32_t h = 0; h < H; h++) w->exclude[w->hist[h]] = 1;
    for (int32_t t = 0; t < T; t++) rec->n_masked += w->exclude[w->tgt[t]] != 0;

    const float *sc = pre;
    int rc = 0, L = -1;
    if (!sc && sh->list_model) {
        /* a list model decodes its top kmax under the mask; ranked honestly: listed items in list order, every
         * other candidate after all of them, tied (pessimistic: a target outside the list ranks last) */
        crec_context ctx = {.user = u, .hist = w->hist, .n_hist = H, .hist_ts = have_ts ? w->hist_ts : NULL};
        int got = crec_model_recommend(sh->m, &ctx, w->exclude, sh->kmax, w->top, NULL, NULL);
        if (got < 0) rc = got;
        for (int32_t i = 0; rc == 0 && i < n; i++) w->scores[i] = -INFINITY;
        L = 0;
        for (int j = 0; rc == 0 && j < got && j < sh->kmax; j++) {
            int32_t it = w->top[j];
            /* an out-of-range, excluded or repeated item is not a recommendation: dropped */
            if (it < 0 || it >= n || w->exclude[it] || w->scores[it] != -INFINITY) continue;
            w->scores[it] = (float)(sh->kmax - L);
            w->top[L++] = it;
        }
        sc = w->scores;
    } else if (!sc) {
        crec_context ctx = {.user = u, .hist = w->hist, .n_hist = H, .hist_ts = have_ts ? w->hist_ts : NULL};
        rc = crec_model_score(sh->m, &ctx, w->scores);
        sc = w->scores;
    }
    if (rc == 0) rc = crec_rank_targets(sc, n, w->exclude, w->tgt, T, w->ranks);
    if (rc == 0 && L < 0) {
        L = crec_topk(sc, n, w->exclude, sh->kmax, w->top);
        if (L < 0) rc = L;
    }
    if (rc == 0) {
        for (int ki = 0; ki < o->n_ks; ki++) {
            int K = o->ks[ki];
            crec_metrics_from_ranks(w->ranks, T, K, &rec->at[ki]);
            int LK = K < L ? K : L;
            rec->n_list[ki] = LK;
            int32_t *cnt = sh->rec_cnt + (size_t)ki * (size_t)n;
            for (int j = 0; j < LK; j++) {
                int32_t it = w->top[j];
                rec->nov_sum[ki] += sh->self_info[it];
                rec->pop_sum[ki] += (double)sh->train_cnt[it];
#pragma omp atomic update
                cnt[it]++;
            }
            rec->ild[ki] = NAN;
        }
        if (sh->attr_ptr) {
            /* ILD of every prefix length that is some K: pairs (i, j), i < j, added as j grows */
            double sum = 0;
            for (int j = 0; j < L; j++) {
                for (int i = 0; i < j; i++) sum += attr_distance(sh, w->top[i], w->top[j]);
                int len = j + 1;
                if (len < 2) continue;
                for (int ki = 0; ki < o->n_ks; ki++)
                    if (rec->n_list[ki] == len) rec->ild[ki] = sum / (0.5 * len * (len - 1));
            }
        }
    }

    /* reset the scratch for the next user */
    if (o->sampled > 0) {
        memset(w->exclude, 0, (size_t)n);
        for (int32_t j = 0; j < n_neg; j++) w->mark[w->neg[j]] = 0;
    }
    const uint8_t *cand = o->candidates;
    for (int32_t h = 0; h < H; h++) {
        w->mark[w->hist[h]] = 0;
        w->exclude[w->hist[h]] = cand ? !cand[w->hist[h]] : 0;
    }
    for (int32_t t = 0; t < T; t++) {
        w->mark[w->tgt[t]] = 0;
        w->exclude[w->tgt[t]] = cand ? !cand[w->tgt[t]] : 0;
    }
    return rc;
}

/* Users per score_batch block: EVAL_BLOCK, halved until the block's scores fit EVAL_BLOCK_FLOATS. A power of two
 * (so blocks never straddle chunks) that depends on the catalog size only. */
static int eval_block(int32_t n_items) {
    int b = EVAL_BLOCK;
    while (b > 1 && (int64_t)b * n_items > EVAL_BLOCK_FLOATS) b /= 2;
    return b;
}

/* Score the nb users of one block with one score_batch call into scores[nb x n_items]; their histories are
 * gathered into hist / ts (room for the block's total). CREC_EINVAL for a history item out of range (a corrupt
 * split, as eval_user reports it), else the model's return. */
static int score_block(const eval_shared *sh, const int32_t *users, int nb, crec_context *ctx, int32_t *hist,
                       int64_t *ts, float *scores) {
    int64_t off = 0;
    for (int c = 0; c < nb; c++) {
        int have_ts;
        int32_t H = user_history(sh, users[c], hist + off, ts + off, &have_ts);
        for (int32_t h = 0; h < H; h++)
            if (hist[off + h] < 0 || hist[off + h] >= sh->n_items) return CREC_EINVAL;
        ctx[c] = (crec_context){.user = users[c], .hist = hist + off, .n_hist = H, .hist_ts = have_ts ? ts + off : NULL};
        off += H;
    }
    return crec_model_score_batch(sh->m, ctx, nb, scores);
}

static void write_per_user_header(FILE *f, const crec_eval_opts *o) {
    fputs("user\tn_targets", f);
    for (int ki = 0; ki < o->n_ks; ki++) {
        int K = o->ks[ki];
        fprintf(f, "\tHR@%d\tNDCG@%d\tMRR@%d\tRecall@%d\tPrecision@%d\tMAP@%d", K, K, K, K, K, K);
    }
    fputc('\n', f);
}

static void write_per_user_line(FILE *f, const crec_eval_opts *o, const crec_dataset *ds, const user_rec *rec) {
    if (ds && ds->users.names && rec->user < ds->users.n) fputs(ds->users.names[rec->user], f);
    else fprintf(f, "%d", rec->user);
    fprintf(f, "\t%d", rec->n_targets);
    for (int ki = 0; ki < o->n_ks; ki++) {
        const crec_metrics_at *a = &rec->at[ki];
        fprintf(f, "\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g", a->hr, a->ndcg, a->mrr, a->recall, a->precision, a->map);
    }
    fputc('\n', f);
}

/* Gini of counts x[0..n) (any order; sorted here in place): sum((2i - n - 1) x_(i)) / (n sum x), i 1-based
 * over the ascending order. 0 when nothing was counted. */
static double gini_counts(int32_t *x, int32_t n) {
    qsort(x, (size_t)n, sizeof *x, cmp_i32);
    double num = 0, tot = 0;
    for (int32_t i = 0; i < n; i++) {
        num += (2.0 * (i + 1) - n - 1) * (double)x[i];
        tot += (double)x[i];
    }
    return tot > 0 ? num / ((double)n * tot) : 0.0;
}

static int64_t count_candidates(const crec_eval_opts *o, int32_t n_items) {
    int64_t c = 0;
    for (int32_t i = 0; i < n_items; i++) c += o->candidates[i] != 0;
    return c;
}

static int kmax_of(const crec_eval_opts *o, int32_t n_items) {
    int k = 0;
    for (int ki = 0; ki < o->n_ks; ki++)
        if (o->ks[ki] > k) k = o->ks[ki];
    return k < n_items ? k : n_items;
}

static void format_protocol(char *buf, size_t n, const crec_eval_opts *o, const crec_model *m, int32_t n_items,
                            int64_t n_users, int64_t n_masked) {
    char ks[96];
    size_t kl = 0;
    ks[0] = 0;
    for (int ki = 0; ki < o->n_ks && kl < sizeof ks; ki++)
        kl += (size_t)snprintf(ks + kl, sizeof ks - kl, "%s%d", ki ? "," : "", o->ks[ki]);
    const char *split = m && m->split[0] ? m->split : "unknown";
    const char *target = o->target == CREC_EVAL_VALID ? "valid" : "test";
    if (o->sampled > 0)
        snprintf(buf, n,
                 "SAMPLED ranking: %d negatives per user (seed %llu) among %d items, split=%s, target=%s, K=%s, "
                 "users=%lld",
                 o->sampled, (unsigned long long)o->seed, (int)n_items, split, target, ks, (long long)n_users);
    else if (o->candidates)
        snprintf(buf, n,
                 "full ranking over %s (%lld of %d items), seen items %s, split=%s, target=%s, K=%s, users=%lld",
                 o->candidates_desc ? o->candidates_desc : "a candidate subset", (long long)count_candidates(o, n_items),
                 (int)n_items, o->filter_seen ? "excluded" : "kept", split, target, ks, (long long)n_users);
    else
        snprintf(buf, n, "full ranking over %d items, seen items %s, split=%s, target=%s, K=%s, users=%lld",
                 (int)n_items, o->filter_seen ? "excluded" : "kept", split, target, ks, (long long)n_users);
    size_t len = strlen(buf);
    if (m && m->type && crec_model_has(m->type, CREC_CAP_LIST) && len < n) {
        snprintf(buf + len, n - len, ", ranked from the model's top-%d list (unlisted items tie last)",
                 o->n_ks > 0 ? kmax_of(o, n_items) : 0);
        len = strlen(buf);
    }
    if (n_masked > 0 && len < n)
        snprintf(buf + len, n - len, " (%lld with a target %s counted as a miss)", (long long)n_masked,
                 o->candidates ? "that is seen or not a candidate" : "repeating a history item");
}

/* Options are checked first (CREC_EINVAL: NULL model / split / result, no K or a K < 1, more than
 * CREC_EVAL_MAX_K, negative sampled, a split whose shapes disagree with the model). r is always
 * reset; on success it holds the means over the evaluated users. CREC_EEMPTY when no user has a
 * target (r->protocol is still filled). Errors of the model's score function stop the evaluation and
 * are returned as they are. o may be NULL (defaults); ds may be NULL (dense user ids, no ILD). */
int crec_evaluate(const crec_model *m, const crec_dataset *ds, const crec_split *s, const crec_eval_opts *o,
                  crec_eval_result *r) {
    if (!r) return CREC_EINVAL;
    memset(r, 0, sizeof *r);
    crec_eval_opts defaults;
    if (!o) {
        crec_eval_opts_defaults(&defaults);
        o = &defaults;
    }
    if (!m || !s || m->n_items <= 0) return CREC_EINVAL;
    if (o->n_ks < 1 || o->n_ks > CREC_EVAL_MAX_K || o->sampled < 0) return CREC_EINVAL;
    if (o->sampled > 0 && o->candidates) return CREC_EINVAL;
    if (o->target != CREC_EVAL_TEST && o->target != CREC_EVAL_VALID) return CREC_EINVAL;
    int kmax = 0;
    for (int ki = 0; ki < o->n_ks; ki++) {
        if (o->ks[ki] < 1) return CREC_EINVAL;
        if (o->ks[ki] > kmax) kmax = o->ks[ki];
    }
    int32_t n_items = m->n_items;
    if (kmax > n_items) kmax = n_items;
    const crec_csr *tr = &s->train;
    const crec_csr *tg = o->target == CREC_EVAL_TEST ? &s->test : &s->valid;
    if (!tr->ptr || tr->n_cols != n_items) return CREC_EINVAL;
    int32_t n_rows = tr->n_rows;
    int use_valid_hist = o->target == CREC_EVAL_TEST && s->valid.ptr != NULL;
    if (use_valid_hist && s->valid.n_rows != n_rows) return CREC_EINVAL;
    if (tg->ptr && tg->n_rows != n_rows) return CREC_EINVAL;

    r->n_ks = o->n_ks;
    memcpy(r->ks, o->ks, sizeof r->ks);
    r->n_items = n_items;
    double t0 = crec__now();

    /* the evaluated users: the first max_users with a target */
    int32_t *users = malloc((size_t)(n_rows > 0 ? n_rows : 1) * sizeof *users);
    if (!users) return CREC_ENOMEM;
    int32_t n_eval = 0;
    int64_t max_hist = 0, max_tgt = 0;
    /* batched scoring: blocks of B evaluated users; block_hist = the most history events in one block */
    int batched = crec_model_has(m->type, CREC_CAP_BATCH) && !crec_model_has(m->type, CREC_CAP_LIST);
    int B = eval_block(n_items);
    int64_t block_hist = 0, cur_hist = 0;
    for (int32_t u = 0; tg->ptr && u < n_rows; u++) {
        int64_t nt = tg->ptr[u + 1] - tg->ptr[u];
        if (nt <= 0) continue;
        if (o->max_users > 0 && n_eval >= o->max_users) break;
        if (n_eval % B == 0) cur_hist = 0;
        users[n_eval++] = u;
        int64_t nh = tr->ptr[u + 1] - tr->ptr[u];
        if (use_valid_hist) nh += s->valid.ptr[u + 1] - s->valid.ptr[u];
        if (nh > max_hist) max_hist = nh;
        if (nt > max_tgt) max_tgt = nt;
        cur_hist += nh;
        if (cur_hist > block_hist) block_hist = cur_hist;
    }
    if (n_eval == 0) {
        free(users);
        format_protocol(r->protocol, sizeof r->protocol, o, m, n_items, 0, 0);
        r->seconds = crec__now() - t0;
        return CREC_EEMPTY;
    }

    int nt = o->n_threads > 0 ? o->n_threads : omp_get_max_threads();
    eval_shared sh = {.m = m, .s = s, .o = o, .tgt = tg, .use_valid_hist = use_valid_hist, .n_items = n_items,
                      .kmax = kmax, .list_model = crec_model_has(m->type, CREC_CAP_LIST)};
    sh.train_cnt = calloc((size_t)n_items, sizeof *sh.train_cnt);
    sh.self_info = malloc((size_t)n_items * sizeof *sh.self_info);
    sh.rec_cnt = calloc((size_t)o->n_ks * (size_t)n_items, sizeof *sh.rec_cnt);
    eval_scratch *ws = calloc((size_t)nt, sizeof *ws);
    user_rec *recs = malloc((size_t)EVAL_CHUNK * sizeof *recs);
    float *bscores = NULL;
    crec_context *bctx = NULL;
    int32_t *bhist = NULL;
    int64_t *bts = NULL;
    int rc = 0;
    if (batched) {
        bscores = malloc((size_t)B * (size_t)n_items * sizeof *bscores);
        bctx = malloc((size_t)B * sizeof *bctx);
        bhist = malloc((size_t)(block_hist + 1) * sizeof *bhist);
        bts = malloc((size_t)(block_hist + 1) * sizeof *bts);
        if (!bscores || !bctx || !bhist || !bts) rc = CREC_ENOMEM;
    }
    if (!sh.train_cnt || !sh.self_info || !sh.rec_cnt || !ws || !recs) rc = CREC_ENOMEM;
    for (int t = 0; rc == 0 && t < nt; t++) rc = scratch_alloc(&ws[t], n_items, max_hist, max_tgt, kmax, o->sampled > 0, o->candidates);
    if (rc != 0) goto out;

    /* popularity: p(i) = (train count + 1) / (train nnz + n_items), add-one smoothed so unseen items
     * have a finite self-information */
    int64_t nnz = crec_csr_nnz(tr);
    for (int64_t p = 0; p < nnz; p++) {
        int32_t i = tr->idx[p];
        if (i >= 0 && i < n_items) sh.train_cnt[i]++;
    }
    for (int32_t i = 0; i < n_items; i++)
        sh.self_info[i] = -log2(((double)sh.train_cnt[i] + 1.0) / ((double)nnz + (double)n_items));
    if (ds && ds->attr_ptr && ds->attr_idx) {
        sh.attr_ptr = ds->attr_ptr;
        sh.attr_idx = ds->attr_idx;
        sh.attr_items = ds->items.n < n_items ? ds->items.n : n_items;
    }

    if (o->per_user) write_per_user_header(o->per_user, o);
    crec_progress prog;
    crec__progress_start(&prog, "evaluate", n_eval, o->progress);

    double acc[CREC_EVAL_MAX_K][6], nov[CREC_EVAL_MAX_K], pop[CREC_EVAL_MAX_K], ild[CREC_EVAL_MAX_K];
    int64_t n_listed[CREC_EVAL_MAX_K], n_ild[CREC_EVAL_MAX_K];
    memset(acc, 0, sizeof acc);
    memset(nov, 0, sizeof nov);
    memset(pop, 0, sizeof pop);
    memset(ild, 0, sizeof ild);
    memset(n_listed, 0, sizeof n_listed);
    memset(n_ild, 0, sizeof n_ild);

    /* batched: the model's OpenMP loops run at nt threads and BLAS on one (crec__nn_blas_single), so the
     * products are cut the same way at every thread count */
    crec_nn_threads th = {0};
    if (batched) th = crec__nn_threads_enter(nt);
    for (int32_t c0 = 0; c0 < n_eval && rc == 0; c0 += EVAL_CHUNK) {
        int32_t cn = n_eval - c0 < EVAL_CHUNK ? n_eval - c0 : EVAL_CHUNK;
        if (batched) {
            for (int32_t b0 = 0; b0 < cn; b0 += B) {
                int nb = cn - b0 < B ? (int)(cn - b0) : B;
                int brc = score_block(&sh, users + c0 + b0, nb, bctx, bhist, bts, bscores);
                if (brc) { /* the block's users carry the error; the reduction stops at the first in user order */
                    for (int j = 0; j < nb; j++) {
                        memset(&recs[b0 + j], 0, sizeof recs[b0 + j]);
                        recs[b0 + j].user = users[c0 + b0 + j];
                        recs[b0 + j].err = brc;
                    }
                    cn = b0 + nb;
                    break;
                }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
                for (int j = 0; j < nb; j++) {
                    int tid = omp_get_thread_num();
                    recs[b0 + j].err = eval_user(&sh, &ws[tid], users[c0 + b0 + j], &recs[b0 + j],
                                                 bscores + (size_t)j * (size_t)n_items);
                }
            }
        } else {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
            for (int32_t j = 0; j < cn; j++) {
                int tid = omp_get_thread_num();
                recs[j].err = eval_user(&sh, &ws[tid], users[c0 + j], &recs[j], NULL);
            }
        }
        /* sequential reduction in user order: the sums do not depend on the thread count */
        for (int32_t j = 0; j < cn; j++) {
            const user_rec *u = &recs[j];
            if (u->err) {
                rc = u->err;
                break;
            }
            for (int ki = 0; ki < o->n_ks; ki++) {
                const crec_metrics_at *a = &u->at[ki];
                acc[ki][0] += a->hr;
                acc[ki][1] += a->ndcg;
                acc[ki][2] += a->mrr;
                acc[ki][3] += a->recall;
                acc[ki][4] += a->precision;
                acc[ki][5] += a->map;
                nov[ki] += u->nov_sum[ki];
                pop[ki] += u->pop_sum[ki];
                n_listed[ki] += u->n_list[ki];
                if (!isnan(u->ild[ki])) {
                    ild[ki] += u->ild[ki];
                    n_ild[ki]++;
                }
            }
            if (u->n_masked) {
                r->n_users_masked++;
                r->n_targets_masked += u->n_masked;
            }
            if (o->per_user) write_per_user_line(o->per_user, o, ds, u);
        }
        crec__progress_update(&prog, c0 + cn);
    }
    if (batched) crec__nn_threads_leave(th);
    crec__progress_end(&prog);
    if (rc != 0) goto out;

    r->n_users = n_eval;
    for (int ki = 0; ki < o->n_ks; ki++) {
        double nu = (double)n_eval;
        r->at[ki].hr = acc[ki][0] / nu;
        r->at[ki].ndcg = acc[ki][1] / nu;
        r->at[ki].mrr = acc[ki][2] / nu;
        r->at[ki].recall = acc[ki][3] / nu;
        r->at[ki].precision = acc[ki][4] / nu;
        r->at[ki].map = acc[ki][5] / nu;
        /* novelty and mean popularity: means over all list entries of all users */
        r->novelty[ki] = n_listed[ki] ? nov[ki] / (double)n_listed[ki] : NAN;
        r->mean_pop[ki] = n_listed[ki] ? pop[ki] / (double)n_listed[ki] : NAN;
        /* ILD: mean over users with a list of 2 or more items */
        r->ild[ki] = sh.attr_ptr && n_ild[ki] ? ild[ki] / (double)n_ild[ki] : NAN;
        int32_t *cnt = sh.rec_cnt + (size_t)ki * (size_t)n_items;
        int32_t distinct = 0;
        for (int32_t i = 0; i < n_items; i++) distinct += cnt[i] > 0;
        r->coverage[ki] = (double)distinct / (double)n_items;
        r->gini[ki] = gini_counts(cnt, n_items); /* sorts cnt in place: last use */
    }
    r->seconds = crec__now() - t0;
    format_protocol(r->protocol, sizeof r->protocol, o, m, n_items, n_eval, r->n_users_masked);

out:
    for (int t = 0; ws && t < nt; t++) scratch_free(&ws[t]);
    free(ws);
    free(recs);
    free(bscores);
    free(bctx);
    free(bhist);
    free(bts);
    free(users);
    free(sh.train_cnt);
    free(sh.self_info);
    free(sh.rec_cnt);
    return rc;
}

/* ---- reports ---- */

static int is_sampled(const crec_eval_result *r, const crec_eval_opts *o) {
    if (o) return o->sampled > 0;
    return strncmp(r->protocol, "SAMPLED", 7) == 0;
}

/* A finite number, else JSON null (jansson refuses NaN and infinities). */
static json_t *json_num(double x) { return isfinite(x) ? json_real(x) : json_null(); }

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

static int json_set(json_t *obj, const char *key, json_t *val) {
    if (!val) return CREC_ENOMEM;
    return json_object_set_new(obj, key, val) == 0 ? 0 : CREC_ENOMEM;
}

static json_t *model_json(const crec_model *m) {
    json_t *mo = json_object(), *params = json_object();
    if (!mo || !params) {
        json_decref(mo);
        json_decref(params);
        return NULL;
    }
    int rc = 0;
    /* effective hyper-parameters: the type's parameters (configured value, else default), then any
     * configured key the type does not declare */
    const crec_param_def *defs = m->type ? m->type->params : NULL;
    for (int p = 0; defs && defs[p].name && rc == 0; p++) {
        const char *v = defs[p].def;
        for (int c = 0; c < m->cfg.n; c++)
            if (strcmp(m->cfg.key[c], defs[p].name) == 0) v = m->cfg.val[c];
        rc = json_set(params, defs[p].name, json_param(v));
    }
    for (int c = 0; c < m->cfg.n && rc == 0; c++)
        if (!json_object_get(params, m->cfg.key[c])) rc = json_set(params, m->cfg.key[c], json_param(m->cfg.val[c]));
    if (rc == 0) rc = json_set(mo, "name", m->type && m->type->name ? json_string(m->type->name) : json_null());
    if (rc == 0) rc = json_set(mo, "params", params);
    else json_decref(params);
    if (rc == 0) rc = json_set(mo, "split", json_string(m->split));
    if (rc == 0) rc = json_set(mo, "data", json_string(m->data_name));
    if (rc == 0) rc = json_set(mo, "train_seconds", json_num(m->train_seconds));
    if (rc != 0) {
        json_decref(mo);
        return NULL;
    }
    return mo;
}

/* Builds the document in memory (jansson), then writes it with a trailing newline. o may be NULL
 * (defaults are reported), m may be NULL ("model": null). Returns 0, CREC_EINVAL (NULL r or f),
 * CREC_ENOMEM or CREC_EIO. */
int crec_eval_result_write_json(const crec_eval_result *r, const crec_eval_opts *o, const crec_model *m,
                                FILE *f) {
    if (!r || !f) return CREC_EINVAL;
    crec_eval_opts defaults;
    if (!o) {
        crec_eval_opts_defaults(&defaults);
        o = &defaults;
    }
    int sampled = is_sampled(r, o);
    json_t *root = json_object(), *proto = json_object(), *ks = json_array(), *met = json_object();
    int rc = (root && proto && ks && met) ? 0 : CREC_ENOMEM;
    for (int ki = 0; rc == 0 && ki < r->n_ks; ki++)
        if (json_array_append_new(ks, json_integer(r->ks[ki])) != 0) rc = CREC_ENOMEM;
    if (rc == 0) rc = json_set(proto, "ranking", json_string(sampled ? "sampled" : "full"));
    if (rc == 0) rc = json_set(proto, "negatives", json_integer(sampled ? o->sampled : 0));
    if (rc == 0) rc = json_set(proto, "filter_seen", json_boolean(o->filter_seen));
    if (rc == 0) rc = json_set(proto, "split", m && m->split[0] ? json_string(m->split) : json_null());
    if (rc == 0) rc = json_set(proto, "target", json_string(o->target == CREC_EVAL_VALID ? "valid" : "test"));
    if (rc == 0) {
        rc = json_set(proto, "ks", ks);
        ks = NULL;
    }
    if (rc == 0) {
        char seed[24];
        snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
        rc = json_set(proto, "seed", o->seed <= (uint64_t)INT64_MAX ? json_integer((json_int_t)o->seed)
                                                                    : json_string(seed));
    }
    if (rc == 0) rc = json_set(proto, "text", json_string(r->protocol));
    if (rc == 0) {
        rc = json_set(root, "protocol", proto);
        proto = NULL;
    }
    if (rc == 0 && sampled)
        rc = json_set(root, "warning", json_string("sampled-negative metrics are not comparable to full ranking"));
    if (rc == 0) rc = json_set(root, "model", m ? model_json(m) : json_null());
    for (int ki = 0; rc == 0 && ki < r->n_ks; ki++) {
        const crec_metrics_at *a = &r->at[ki];
        const struct {
            const char *name;
            double v;
        } cols[] = {{"HR", a->hr},
                    {"NDCG", a->ndcg},
                    {"MRR", a->mrr},
                    {"Recall", a->recall},
                    {"Precision", a->precision},
                    {"MAP", a->map},
                    {"Coverage", r->coverage[ki]},
                    {"Gini", r->gini[ki]},
                    {"Novelty", r->novelty[ki]},
                    {"ILD", r->ild[ki]},
                    {"MeanPop", r->mean_pop[ki]}};
        for (size_t c = 0; rc == 0 && c < sizeof cols / sizeof cols[0]; c++) {
            char key[48];
            snprintf(key, sizeof key, "%s@%d", cols[c].name, r->ks[ki]);
            rc = json_set(met, key, json_num(cols[c].v));
        }
    }
    if (rc == 0) {
        rc = json_set(root, "metrics", met);
        met = NULL;
    }
    if (rc == 0) rc = json_set(root, "users", json_integer(r->n_users));
    if (rc == 0) rc = json_set(root, "users_target_masked", json_integer(r->n_users_masked));
    if (rc == 0) rc = json_set(root, "targets_masked", json_integer(r->n_targets_masked));
    if (rc == 0) rc = json_set(root, "items", json_integer(r->n_items));
    if (rc == 0) rc = json_set(root, "seconds", json_num(r->seconds));
    if (rc == 0) {
        if (json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 || fputc('\n', f) == EOF) rc = CREC_EIO;
    }
    json_decref(root);
    json_decref(proto);
    json_decref(ks);
    json_decref(met);
    return rc;
}

/* The protocol line, then one aligned row per K. o may be NULL (sampled is then read from the protocol). */
void crec_eval_result_write_table(const crec_eval_result *r, const crec_eval_opts *o, FILE *f) {
    if (!r || !f) return;
    int sampled = is_sampled(r, o);
    fprintf(f, "%s\n", r->protocol);
    fprintf(f, "%5s %8s %8s %8s %8s %8s %8s %8s %8s %8s %8s%s\n", "K", "HR", "NDCG", "MRR", "Recall", "Prec", "MAP",
            "Cov", "Gini", "Novelty", "ILD", sampled ? "  SAMPLED (not comparable to full ranking)" : "");
    for (int ki = 0; ki < r->n_ks; ki++) {
        const crec_metrics_at *a = &r->at[ki];
        char ild[16];
        if (isnan(r->ild[ki])) snprintf(ild, sizeof ild, "%s", "-");
        else snprintf(ild, sizeof ild, "%.4f", r->ild[ki]);
        fprintf(f, "%5d %8.4f %8.4f %8.4f %8.4f %8.4f %8.4f %8.4f %8.4f %8.3f %8s%s\n", r->ks[ki], a->hr, a->ndcg,
                a->mrr, a->recall, a->precision, a->map, r->coverage[ki], r->gini[ki], r->novelty[ki], ild,
                sampled ? "  (sampled)" : "");
    }
}
