/* test_contract.c: the model contract, checked once for every model in the registry (instead of the same
 * blocks rewritten per model):
 *   - the parameter schema: every default passes its own declaration; values that do not parse, are out of
 *     range or are not an allowed word are refused by crec_model_new with a message naming the model, the key
 *     and the value; unknown keys too; cross-parameter rules are refused at the latest by training;
 *   - training on the synthetic default, then: save / load gives identical scores; the checkpoint holds every
 *     resolved parameter, and one written without them (an old file) still loads and scores the same;
 *   - contexts: an anonymous history, an empty history, an unknown user (CREC_ERANGE), an item id out of range
 *     (CREC_ERANGE) - no crash, finite scores where a score is promised;
 *   - the wider interface: crec_model_recommend returns k items none of them excluded, in the order of the
 *     scores; crec_model_score_batch agrees with crec_model_score. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crec/crec.h"
#include "testutil.h"

enum { NU = 300, NI = 150 };

/* Fast settings so every model trains in a moment under the sanitizers. */
static void fast_config(const crec_model_type *t, crec_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (const crec_param_def *p = t->params; p && p->name; p++) {
        if (!strcmp(p->name, "epochs")) crec_config_set(cfg, "epochs", "2");
        if (!strcmp(p->name, "iters")) crec_config_set(cfg, "iters", "2");
        if (!strcmp(p->name, "dim")) crec_config_set(cfg, "dim", "16");
        if (!strcmp(p->name, "factors")) crec_config_set(cfg, "factors", "8");
    }
}

/* crec_model_new must refuse key=v, with the model, the key and the value in the message. */
static void expect_refused_at_new(const crec_model_type *t, const char *key, const char *v) {
    crec_config cfg = {0};
    assert_int_equal(crec_config_set(&cfg, key, v), 0);
    crec_model *m = NULL;
    char err[512] = "";
    int rc = crec_model_new(t->name, &cfg, &m, err, sizeof err);
    if (rc != CREC_EINVAL || m) fail_msg("%s: %s=%s accepted (rc %d)", t->name, key, v, rc);
    char want_key[96], want_val[96];
    snprintf(want_key, sizeof want_key, "'%s'", key);
    snprintf(want_val, sizeof want_val, "'%s'", v);
    if (!strstr(err, t->name) || !strstr(err, want_key) || (strcmp(key, "nosuchkey") && !strstr(err, want_val)))
        fail_msg("%s: %s=%s: message does not name model, key and value: %s", t->name, key, v, err);
}

static void test_schema(void **st) {
    (void)st;
    for (int ti = 0; ti < crec_model_type_count(); ti++) {
        const crec_model_type *t = crec_model_type_at(ti);
        crec_model *m = NULL;
        char err[512] = "";
        if (crec_model_new(t->name, NULL, &m, err, sizeof err) != 0) fail_msg("%s: defaults refused: %s", t->name, err);
        /* every declared parameter resolved into the model's config */
        int n = 0;
        for (const crec_param_def *p = t->params; p && p->name; p++, n++) {
            const char *v = crec_config_get(&m->cfg, p->name);
            if (!v) fail_msg("%s: %s not resolved", t->name, p->name);
            assert_int_equal(crec_param_check(p, t->name, v, NULL, 0, err, sizeof err), 0);
            assert_true(p->help && *p->help);
        }
        assert_int_equal(m->cfg.n, n);
        crec_model_free(m);
        expect_refused_at_new(t, "nosuchkey", "1");
        /* values every declaration must refuse */
        for (const crec_param_def *p = t->params; p && p->name; p++) {
            char buf[64];
            switch (p->kind) {
            case CREC_PARAM_INT:
                expect_refused_at_new(t, p->name, "6x");
                expect_refused_at_new(t, p->name, "abc");
                expect_refused_at_new(t, p->name, "1.5");
                expect_refused_at_new(t, p->name, "");
                expect_refused_at_new(t, p->name, " 3");
                snprintf(buf, sizeof buf, "%.0f", p->hi + 1);
                if (p->hi < 1e15) expect_refused_at_new(t, p->name, buf);
                snprintf(buf, sizeof buf, "%.0f", p->lo - 1);
                if (p->lo > -1e15) expect_refused_at_new(t, p->name, buf);
                break;
            case CREC_PARAM_FLOAT:
                expect_refused_at_new(t, p->name, "0.2zz");
                expect_refused_at_new(t, p->name, "nan");
                expect_refused_at_new(t, p->name, "inf");
                snprintf(buf, sizeof buf, "%.17g", p->hi * 2 + 1);
                expect_refused_at_new(t, p->name, buf);
                snprintf(buf, sizeof buf, "%.17g", p->lo - fabs(p->lo) - 1);
                expect_refused_at_new(t, p->name, buf);
                break;
            case CREC_PARAM_BOOL:
                expect_refused_at_new(t, p->name, "2");
                expect_refused_at_new(t, p->name, "maybe");
                break;
            case CREC_PARAM_ENUM:
                expect_refused_at_new(t, p->name, "sideways");
                expect_refused_at_new(t, p->name, "");
                break;
            case CREC_PARAM_STRING: break;
            }
        }
    }
}

/* Settings each model's own rules refuse (many are single-value schema errors, some are cross-parameter rules
 * only training can see): refused by crec_model_new (message names the key) or by training (CREC_EINVAL, no
 * state). Collected from the models' former per-file tests. */
static const struct {
    const char *model, *kv1, *kv2;
} BAD[] = {
    {"itemknn", "k=0", NULL},        {"markov", "window=0", NULL},    {"ease", "lambda=0", NULL},
    {"ease", "lambda=-3", NULL},     {"ease", "lambda=abc", NULL},    {"ease", "gram=magic", NULL},
    {"ials", "factors=0", NULL},     {"ials", "factors=abc", NULL},   {"ials", "iters=-1", NULL},
    {"ials", "cg_steps=0", NULL},    {"ials", "reg=-1", NULL},        {"ials", "alpha0=-0.5", NULL},
    {"ials", "weighting=other", NULL}, {"ials", "nu=-1", NULL},       {"ials", "factors=2.5", NULL},
    {"ials", "reg=0", "alpha0=0"},   {"bprmf", "factors=0", NULL},    {"bprmf", "epochs=0", NULL},
    {"bprmf", "lr=0", NULL},         {"bprmf", "lr=-1", NULL},        {"bprmf", "reg=-0.1", NULL},
    {"bprmf", "neg=0", NULL},        {"bprmf", "init_std=-1", NULL},  {"bprmf", "patience=-1", NULL},
    {"cml", "features=2", NULL},     {"cml", "neg=0", NULL},          {"cml", "drop_free=1", NULL},
    {"cml", "margin=0", NULL},       {"cml", "lr=0", NULL},           {"cml", "factors=0", NULL},
    {"cml", "epochs=0", NULL},       {"fm", "factors=0", NULL},       {"fm", "factors=100000", NULL},
    {"fm", "task=regression", NULL}, {"fm", "solver=adam", NULL},     {"fm", "lr=0", NULL},
    {"fm", "reg=-1", NULL},          {"fm", "neg=0", NULL},           {"fm", "epochs=-1", NULL},
    {"fm", "use_user_features=2", NULL}, {"fm", "init_std=-0.1", NULL}, {"fm", "drop_ids=1", NULL},
    {"fm", "solver=als", "task=click"},
    {"sasrec", "heads=3", NULL},     {"sasrec", "dim=0", NULL},       {"sasrec", "max_len=2000", NULL},
    {"sasrec", "loss=mse", NULL},    {"sasrec", "norm=mid", NULL},    {"sasrec", "act=tanh", NULL},
    {"sasrec", "dropout=1", NULL},   {"sasrec", "batch=0", NULL},     {"sasrec", "lr=0", NULL},
    {"sasrec", "neg=-1", NULL},      {"sasrec", "sampler=x", NULL},   {"sasrec", "schedule=step", NULL},
    {"sasrec", "beta2=1", NULL},     {"sasrec", "gbce_t=2", NULL},    {"sasrec", "blocks=0", NULL},
    {"sasrec", "epochs=-1", NULL},   {"sasrec", "wd=-0.1", NULL},     {"sasrec", "clip=-1", NULL},
    {"sasrec", "dim=6x", NULL},      {"sasrec", "dropout=0.2zz", NULL}, {"sasrec", "norm=sideways", NULL},
    {"bert4rec", "mask_prob=0", NULL}, {"bert4rec", "mask_prob=1.5", NULL}, {"bert4rec", "last_prob=-0.1", NULL},
    {"bert4rec", "last_prob=2", NULL}, {"bert4rec", "max_len=1", NULL}, {"bert4rec", "max_len=2000", NULL},
    {"bert4rec", "heads=3", NULL},   {"bert4rec", "dim=0", NULL},     {"bert4rec", "norm=mid", NULL},
    {"bert4rec", "act=tanh", NULL},  {"bert4rec", "dropout=1", NULL}, {"bert4rec", "batch=0", NULL},
    {"bert4rec", "lr=0", NULL},      {"bert4rec", "schedule=step", NULL}, {"bert4rec", "beta2=1", NULL},
    {"bert4rec", "blocks=0", NULL},  {"bert4rec", "epochs=-1", NULL}, {"bert4rec", "wd=-0.1", NULL},
    {"bert4rec", "clip=-1", NULL},   {"gru4rec", "dim=0", NULL},      {"gru4rec", "emb=16", NULL},
    {"gru4rec", "layers=0", NULL},   {"gru4rec", "layers=9", NULL},   {"gru4rec", "tied=2", NULL},
    {"gru4rec", "max_len=0", NULL},  {"gru4rec", "loss=mse", NULL},   {"gru4rec", "neg=-1", NULL},
    {"gru4rec", "alpha=-1", NULL},   {"gru4rec", "bpreg=-1", NULL},   {"gru4rec", "lr=0", NULL},
    {"gru4rec", "wd=-0.1", NULL},    {"gru4rec", "beta2=1", NULL},    {"gru4rec", "clip=-1", NULL},
    {"gru4rec", "schedule=step", NULL}, {"gru4rec", "batch=0", NULL}, {"gru4rec", "epochs=-1", NULL},
    {"gru4rec", "dropout_emb=1", NULL}, {"gru4rec", "warmup=-1", NULL}, {"gru4rec", "patience=-1", NULL},
    {"gru4rec", "dropout_hidden=-0.1", NULL},
};

static void test_model_rules(void **st) {
    (void)st;
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = 100;
    o.n_items = 50;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    crec_csr x;
    assert_int_equal(crec_csr_from_dataset(ds, &x), 0);
    for (size_t k = 0; k < sizeof BAD / sizeof BAD[0]; k++) {
        crec_config cfg = {0};
        assert_int_equal(crec_config_set_kv(&cfg, BAD[k].kv1), 0);
        if (BAD[k].kv2) assert_int_equal(crec_config_set_kv(&cfg, BAD[k].kv2), 0);
        crec_model *m = NULL;
        char err[512] = "";
        int rc = crec_model_new(BAD[k].model, &cfg, &m, err, sizeof err);
        if (rc == CREC_EINVAL) {
            char key[64];
            snprintf(key, sizeof key, "'%.*s'", (int)strcspn(BAD[k].kv1, "="), BAD[k].kv1);
            char key2[64] = "";
            if (BAD[k].kv2) snprintf(key2, sizeof key2, "'%.*s'", (int)strcspn(BAD[k].kv2, "="), BAD[k].kv2);
            if (!strstr(err, key) && !(key2[0] && strstr(err, key2)))
                fail_msg("%s %s: refused without naming the key: %s", BAD[k].model, BAD[k].kv1, err);
            continue;
        }
        if (rc != 0) fail_msg("%s %s: rc %d", BAD[k].model, BAD[k].kv1, rc);
        crec_train_input in = {.ds = ds, .train = &x, .n_threads = 1, .seed = 1};
        rc = crec_model_train(m, &in);
        if (rc != CREC_EINVAL) fail_msg("%s %s: expected CREC_EINVAL, got %d", BAD[k].model, BAD[k].kv1, rc);
        assert_null(m->state);
        crec_model_free(m);
    }
    crec_csr_free(&x);
    crec_dataset_free(ds);
}

static int finite_all(const float *s, int32_t n) {
    for (int32_t i = 0; i < n; i++)
        if (!isfinite(s[i])) return 0;
    return 1;
}

static void test_every_model(void **st) {
    (void)st;
    crec_synth_opts o;
    crec_synth_defaults(&o);
    o.n_users = NU;
    o.n_items = NI;
    crec_dataset *ds;
    assert_int_equal(crec_synth_generate(&o, &ds), 0);
    crec_split_spec sp;
    assert_int_equal(crec_split_spec_parse("loo", &sp), 0);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    char *dir = tu_tmpdir();
    char path[512];
    float *a = malloc(NI * sizeof *a), *b = malloc(NI * sizeof *b), *batch = malloc(4 * NI * sizeof *batch);
    float *sc = malloc(NI * sizeof *sc);
    uint8_t *excl = calloc(NI, 1);
    for (int ti = 0; ti < crec_model_type_count(); ti++) {
        const crec_model_type *t = crec_model_type_at(ti);
        print_message("contract: %s\n", t->name);
        crec_config cfg;
        fast_config(t, &cfg);
        crec_model *m = NULL;
        char err[512] = "";
        assert_int_equal(crec_model_new(t->name, &cfg, &m, err, sizeof err), 0);
        crec_train_input in = {.ds = ds, .train = &s.train, .valid = &s.valid, .n_threads = 2, .seed = 7};
        int rc = crec_model_train(m, &in);
        if (rc) fail_msg("%s: training failed: %s", t->name, crec_strerror(rc));
        snprintf(m->split, sizeof m->split, "loo");

        /* checkpoint: identical scores; every resolved parameter stored */
        snprintf(path, sizeof path, "%s/%s.crecm", dir, t->name);
        assert_int_equal(crec_model_save(m, path), 0);
        crec_model *l = NULL;
        assert_int_equal(crec_model_load(path, &l), 0);
        for (const crec_param_def *p = t->params; p && p->name; p++)
            assert_string_equal(crec_config_get(&l->cfg, p->name), crec_config_get(&m->cfg, p->name));
        for (int32_t u = 0; u < 10; u++) {
            crec_context ctx = {.user = u, .hist = s.train.idx + s.train.ptr[u],
                                .n_hist = (int32_t)(s.train.ptr[u + 1] - s.train.ptr[u]), .hist_ts = s.train.ts ? s.train.ts + s.train.ptr[u] : NULL};
            assert_int_equal(crec_model_score(m, &ctx, a), 0);
            assert_int_equal(crec_model_score(l, &ctx, b), 0);
            if (memcmp(a, b, NI * sizeof *a)) fail_msg("%s: scores differ after load", t->name);
        }
        crec_model_free(l);
        /* an old checkpoint without the parameters at their defaults loads and scores the same: drop the keys
         * whose value is the default (as a file written before they were declared would) */
        crec_config full = m->cfg, kept = {0};
        for (int c = 0; c < full.n; c++) {
            const char *def = NULL;
            for (const crec_param_def *p = t->params; p && p->name; p++)
                if (!strcmp(p->name, full.key[c])) def = p->def;
            if (!def || strcmp(def, full.val[c])) crec_config_set(&kept, full.key[c], full.val[c]);
        }
        m->cfg = kept;
        assert_int_equal(crec_model_save(m, path), 0);
        m->cfg = full;
        assert_int_equal(crec_model_load(path, &l), 0);
        crec_context c0 = {.user = 0, .hist = s.train.idx, .n_hist = (int32_t)s.train.ptr[1]};
        assert_int_equal(crec_model_score(m, &c0, a), 0);
        assert_int_equal(crec_model_score(l, &c0, b), 0);
        if (memcmp(a, b, NI * sizeof *a)) fail_msg("%s: an old-style checkpoint scores differently", t->name);
        crec_model_free(l);

        /* contexts */
        int32_t u = 3, nh = (int32_t)(s.train.ptr[u + 1] - s.train.ptr[u]);
        crec_context anon = {.user = -1, .hist = s.train.idx + s.train.ptr[u], .n_hist = nh};
        assert_int_equal(crec_model_score(m, &anon, a), 0);
        if (!finite_all(a, NI)) fail_msg("%s: anonymous history gives non-finite scores", t->name);
        crec_context empty = {.user = -1};
        assert_int_equal(crec_model_score(m, &empty, a), 0);
        if (!finite_all(a, NI)) fail_msg("%s: empty history gives non-finite scores", t->name);
        crec_context unknown = {.user = m->n_users};
        assert_int_equal(crec_model_score(m, &unknown, a), CREC_ERANGE);
        int32_t bad_item = NI;
        crec_context badh = {.user = 0, .hist = &bad_item, .n_hist = 1};
        assert_int_equal(crec_model_score(m, &badh, a), CREC_ERANGE);

        /* recommend: k items, none excluded, best first by the model's scores */
        crec_context ctx = {.user = u, .hist = s.train.idx + s.train.ptr[u], .n_hist = nh};
        for (int32_t h = 0; h < nh; h++) excl[ctx.hist[h]] = 1;
        int32_t items[10];
        float isc[10];
        int got = crec_model_recommend(m, &ctx, excl, 10, items, isc, sc);
        assert_int_equal(got, 10);
        for (int j = 0; j < got; j++) {
            assert_false(excl[items[j]]);
            if (j) assert_true(isc[j] <= isc[j - 1]);
        }
        memset(excl, 0, NI);

        /* batch scoring agrees with one-by-one scoring */
        crec_context cs[4];
        for (int c = 0; c < 4; c++)
            cs[c] = (crec_context){.user = c, .hist = s.train.idx + s.train.ptr[c],
                                   .n_hist = (int32_t)(s.train.ptr[c + 1] - s.train.ptr[c])};
        assert_int_equal(crec_model_score_batch(m, cs, 4, batch), 0);
        for (int c = 0; c < 4; c++) {
            assert_int_equal(crec_model_score(m, &cs[c], a), 0);
            for (int32_t i = 0; i < NI; i++)
                if (fabsf(a[i] - batch[c * NI + i]) > 1e-4f * (1 + fabsf(a[i])))
                    fail_msg("%s: batch score %g != %g (user %d item %d)", t->name, batch[c * NI + i], a[i], c, i);
        }
        /* online models learn from events; the others say they cannot */
        crec_event ev = {.user = 0, .item = 1, .ts = 0, .value = 1};
        rc = crec_model_update(m, &ev, 1);
        if (crec_model_has(t, CREC_CAP_ONLINE)) assert_int_equal(rc, 0);
        else assert_int_equal(rc, CREC_EUNSUPPORTED);
        crec_model_free(m);
    }
    free(a);
    free(b);
    free(batch);
    free(sc);
    free(excl);
    tu_rmrf(dir);
    free(dir);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_model_rules),
        cmocka_unit_test(test_every_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
