/* markov.c: first-order Markov chain over item transitions - the simplest sequential recommender.
 * P(j | i) from consecutive pairs (i -> j) in training histories (top-k per item kept); the score of j
 * for a history h_1..h_n is sum_{d=0}^{window-1} decay^d P(j | h_{n-d}) + backoff * pop(j) / max pop.
 * It reads only order, so on data with sequential dynamics it beats item-kNN; it is the baseline any
 * neural sequential model must beat. */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "models/nbrtab.h"

static const crec_param_def MARKOV_PARAMS[] = {
    CREC_P_INT("k", "200", 1, 1000000, "successors kept per item"),
    CREC_P_INT("window", "3", 1, 1000000, "last items of the history that vote"),
    CREC_P_FLOAT("decay", "0.5", 0, 1, "weight ratio between successive history positions"),
    CREC_P_FLOAT("backoff", "0.001", 0, 1e6, "weight of normalised popularity (breaks ties, serves cold starts)"),
    CREC_P_END,
};

typedef struct markov_state {
    crec_nbrtab t;
    float *pop; /* popularity normalised to max 1 */
} markov_state;

static int markov_train(crec_model *m, const crec_train_input *in) {
    int k = (int)crec_model_param_int(m, "k");
    if (k <= 0 || crec_model_param_int(m, "window") <= 0) return CREC_EINVAL;
    int32_t ni = m->n_items;
    if (k > ni) k = ni > 0 ? ni : 1;
    const crec_csr *x = in->train;
    /* transitions grouped by source item: counting sort of (i, j) pairs */
    int64_t npairs = 0;
    for (int32_t u = 0; u < x->n_rows; u++)
        if (x->ptr[u + 1] - x->ptr[u] > 1) npairs += x->ptr[u + 1] - x->ptr[u] - 1;
    int64_t *ptr = calloc((size_t)ni + 1, sizeof *ptr);
    int32_t *dst = malloc((size_t)(npairs ? npairs : 1) * sizeof *dst);
    float *acc = calloc((size_t)ni + 1, sizeof *acc);
    int32_t *cnt = calloc((size_t)ni + 1, sizeof *cnt);
    int32_t *ridx = malloc((size_t)ni * k * sizeof *ridx + 1);
    float *rval = malloc((size_t)ni * k * sizeof *rval + 1);
    markov_state *s = calloc(1, sizeof *s);
    int rc = 0;
    if (!ptr || !dst || !acc || !cnt || !ridx || !rval || !s) {
        rc = CREC_ENOMEM;
        goto done;
    }
    s->pop = calloc((size_t)ni + 1, sizeof *s->pop);
    if (!s->pop) {
        rc = CREC_ENOMEM;
        goto done;
    }
    for (int32_t u = 0; u < x->n_rows; u++)
        for (int64_t p = x->ptr[u]; p + 1 < x->ptr[u + 1]; p++) ptr[x->idx[p] + 1]++;
    for (int32_t i = 0; i < ni; i++) ptr[i + 1] += ptr[i];
    {
        int64_t *fill = malloc(((size_t)ni + 1) * sizeof *fill);
        if (!fill) {
            rc = CREC_ENOMEM;
            goto done;
        }
        memcpy(fill, ptr, ((size_t)ni + 1) * sizeof *fill);
        for (int32_t u = 0; u < x->n_rows; u++)
            for (int64_t p = x->ptr[u]; p + 1 < x->ptr[u + 1]; p++) dst[fill[x->idx[p]]++] = x->idx[p + 1];
        free(fill);
    }
    for (int32_t i = 0; i < ni; i++) {
        int64_t b = ptr[i], e = ptr[i + 1];
        for (int64_t q = b; q < e; q++) acc[dst[q]] += 1.0f; /* transition counts i -> j */
        cnt[i] = crec__nbr_select(acc, ni, -1, k, ridx + (size_t)i * k, rval + (size_t)i * k);
        for (int32_t c = 0; c < cnt[i]; c++) rval[(size_t)i * k + c] /= (float)(e - b); /* P(j | i) */
        for (int64_t q = b; q < e; q++) acc[dst[q]] = 0;
    }
    float maxp = 0;
    for (int64_t q = 0; q < crec_csr_nnz(x); q++) s->pop[x->idx[q]] += 1.0f;
    for (int32_t i = 0; i < ni; i++) maxp = s->pop[i] > maxp ? s->pop[i] : maxp;
    for (int32_t i = 0; maxp > 0 && i < ni; i++) s->pop[i] /= maxp;
    rc = crec__nbrtab_from_rows(&s->t, ni, k, cnt, ridx, rval);
done:
    free(ptr);
    free(dst);
    free(acc);
    free(cnt);
    free(ridx);
    free(rval);
    if (rc) {
        if (s) free(s->pop);
        free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

static int markov_score(const crec_model *m, const crec_context *ctx, float *scores) {
    const markov_state *s = m->state;
    float backoff = (float)crec_model_param_double(m, "backoff");
    float decay = (float)crec_model_param_double(m, "decay");
    int64_t window = crec_model_param_int(m, "window");
    for (int32_t j = 0; j < m->n_items; j++) scores[j] = backoff * s->pop[j];
    float w = 1.0f;
    for (int64_t d = 0; d < window && d < ctx->n_hist; d++, w *= decay)
        crec__nbrtab_accumulate(&s->t, ctx->hist[ctx->n_hist - 1 - d], w, scores);
    return 0;
}

static int markov_save(const crec_model *m, crec_buf *out) {
    const markov_state *s = m->state;
    int rc = crec__nbrtab_save(&s->t, out);
    return rc ? rc : crec_buf_write(out, s->pop, (size_t)m->n_items * sizeof *s->pop);
}

static int markov_load(crec_model *m, crec_buf *in) {
    markov_state *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    int rc = crec__nbrtab_load(&s->t, m->n_items, in);
    if (!rc) {
        s->pop = malloc((size_t)m->n_items * sizeof *s->pop + 1);
        rc = s->pop ? crec_buf_read(in, s->pop, (size_t)m->n_items * sizeof *s->pop) : CREC_ENOMEM;
        if (rc) crec__nbrtab_free(&s->t);
    }
    if (rc) {
        free(s->pop);
        free(s);
        return rc;
    }
    m->state = s;
    return 0;
}

static void markov_free(crec_model *m) {
    markov_state *s = m->state;
    if (s) {
        crec__nbrtab_free(&s->t);
        free(s->pop);
    }
    free(s);
    m->state = NULL;
}

const crec_model_type crec__model_markov = {
    .name = "markov",
    .summary = "first-order Markov chain over item transitions (sequential baseline)",
    .params = MARKOV_PARAMS,
    .train = markov_train,
    .score = markov_score,
    .save = markov_save,
    .load = markov_load,
    .free_state = markov_free,
    .caps = CREC_CAP_SEQUENCE,
};
