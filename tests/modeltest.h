/* modeltest.h: helpers shared by the model unit tests (include after cmocka.h): train a model from key=value
 * settings, NDCG@10 with crec's full-ranking evaluation, a synthetic dataset with its leave-one-out split. */
#ifndef CREC_MODELTEST_H
#define CREC_MODELTEST_H

#include <stdio.h>

#include "crec/crec.h"

static inline crec_model *train_cfg(const char *name, const crec_split *s, const char *const *kv, int threads,
                                    uint64_t seed, int with_valid) {
    crec_config cfg = {0};
    for (int i = 0; kv && kv[i]; i++) assert_int_equal(crec_config_set_kv(&cfg, kv[i]), 0);
    crec_model *m;
    char err[256];
    assert_int_equal(crec_model_new(name, &cfg, &m, err, sizeof err), 0);
    crec_train_input in = {
        .train = &s->train, .valid = with_valid ? &s->valid : NULL, .n_threads = threads, .seed = seed};
    assert_int_equal(crec_model_train(m, &in), 0);
    snprintf(m->split, sizeof m->split, "loo");
    return m;
}

static inline double ndcg10(const crec_model *m, const crec_dataset *ds, const crec_split *s) {
    crec_eval_opts eo;
    crec_eval_opts_defaults(&eo);
    eo.n_ks = 1;
    eo.ks[0] = 10;
    eo.n_threads = 2;
    crec_eval_result r;
    assert_int_equal(crec_evaluate(m, ds, s, &eo, &r), 0);
    return r.at[0].ndcg;
}

static inline void synth(int users, int items, crec_dataset **ds, crec_split *s) {
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = users;
    o.n_items = items;
    assert_int_equal(crec_synth_generate(&o, ds), 0);
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    assert_int_equal(crec_split_make(*ds, &sp, s), 0);
}

/* An empty anonymous history scores by training popularity: 1 when item 0's score is its training count
 * (scores: n_items floats of scratch). */
static inline int mt_empty_history_is_pop(const crec_model *m, const crec_split *s, float *scores) {
    crec_context c0 = {.user = -1, .hist = NULL, .n_hist = 0};
    if (crec_model_score(m, &c0, scores) != 0) return 0;
    int64_t cnt0 = 0;
    for (int64_t q = 0; q < crec_csr_nnz(&s->train); q++) cnt0 += s->train.idx[q] == 0;
    return scores[0] == (float)cnt0;
}

/* A checkpoint whose hyper-parameters disagree with its payload (dim changed to 16) is refused with CREC_EFORMAT:
 * 1 when it is. Changes l's config. */
static inline int mt_mismatched_checkpoint_refused(crec_model *l, const char *path) {
    crec_config_set(&l->cfg, "dim", "16");
    if (crec_model_save(l, path) != 0) return 0;
    crec_model *bad = NULL;
    return crec_model_load(path, &bad) == CREC_EFORMAT && bad == NULL;
}

#endif
