/* random.c: uniform random baseline. Scores are a hash of (seed, user or history, item), so the same
 * request always gets the same list, and different users get independent ones. */
#include <stdlib.h>

#include "core/util.h"
#include "crec/model.h"

static const crec_param_def RANDOM_PARAMS[] = {CREC_P_END};

static int random_train(crec_model *m, const crec_train_input *in) {
    m->state = calloc(1, 1); /* no state beyond the seed; non-NULL marks the model trained */
    return m->state ? 0 : CREC_ENOMEM;
}

static int random_score(const crec_model *m, const crec_context *ctx, float *scores) {
    uint64_t key = m->seed * 0x9E3779B97F4A7C15ull + (uint64_t)(int64_t)ctx->user;
    if (ctx->user < 0 && ctx->n_hist > 0) key ^= crec__fnv1a(ctx->hist, (size_t)ctx->n_hist * sizeof *ctx->hist);
    crec_rng r;
    crec__rng_seed(&r, key);
    for (int32_t i = 0; i < m->n_items; i++) scores[i] = (float)crec__rng_uniform(&r);
    return 0;
}

static int random_save(const crec_model *m, crec_buf *out) { return 0; }

static int random_load(crec_model *m, crec_buf *in) {
    m->state = calloc(1, 1);
    return m->state ? 0 : CREC_ENOMEM;
}

static void random_free(crec_model *m) {
    free(m->state);
    m->state = NULL;
}

const crec_model_type crec__model_random = {
    .name = "random",
    .summary = "uniformly random scores (a floor for every metric)",
    .params = RANDOM_PARAMS,
    .train = random_train,
    .score = random_score,
    .save = random_save,
    .load = random_load,
    .free_state = random_free,
};
