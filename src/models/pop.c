/* pop.c: most-popular baseline: an item's score is its number of training interactions. */
#include <stdlib.h>
#include <string.h>

#include "crec/model.h"

typedef struct pop_state { float *count; } pop_state;

static const crec_param_def POP_PARAMS[] = {CREC_P_END};

static int pop_train(crec_model *m, const crec_train_input *in) {
    pop_state *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    s->count = calloc((size_t)m->n_items + 1, sizeof *s->count);
    if (!s->count) {
        free(s);
        return CREC_ENOMEM;
    }
    const crec_csr *x = in->train;
    for (int64_t k = 0; k < crec_csr_nnz(x); k++) s->count[x->idx[k]] += 1.0f;
    m->state = s;
    return 0;
}

static int pop_score(const crec_model *m, const crec_context *ctx, float *scores) {
    const pop_state *s = m->state;
    memcpy(scores, s->count, (size_t)m->n_items * sizeof *scores);
    return 0;
}

static int pop_save(const crec_model *m, crec_buf *out) {
    const pop_state *s = m->state;
    return crec_buf_write(out, s->count, (size_t)m->n_items * sizeof *s->count);
}

static int pop_load(crec_model *m, crec_buf *in) {
    if (m->n_items < 0 || crec_buf_need(in, (uint64_t)m->n_items, sizeof(float))) return CREC_EFORMAT;
    pop_state *s = calloc(1, sizeof *s);
    if (!s) return CREC_ENOMEM;
    s->count = malloc((size_t)m->n_items * sizeof *s->count + 1);
    if (!s->count) {
        free(s);
        return CREC_ENOMEM;
    }
    m->state = s;
    return crec_buf_read(in, s->count, (size_t)m->n_items * sizeof *s->count);
}

static void pop_free(crec_model *m) {
    pop_state *s = m->state;
    if (s) free(s->count);
    free(s);
    m->state = NULL;
}

const crec_model_type crec__model_pop = {
    .name = "pop",
    .summary = "most popular items (training interaction counts)",
    .params = POP_PARAMS,
    .train = pop_train,
    .score = pop_score,
    .save = pop_save,
    .load = pop_load,
    .free_state = pop_free,
};
