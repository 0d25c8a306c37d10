/* test_pointwise.c: rating and click prediction metrics against hand-computed values (RMSE, MAE, AUC with ties
 * at half credit and NaN scores lowest, LogLoss from logits), and the protocol end to end on a tiny dataset with
 * the popularity model, whose scores are known: the events scored, negatives drawn only from items the user
 * never touched, the threshold, thread-count independence, the JSON report, and the error cases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "crec/crec.h"
#include "testutil.h"

static void test_metrics_by_hand(void **st) {
    /* errors -1, 0, -2: RMSE sqrt(5/3), MAE 1 */
    float pred[] = {1, 2, 3}, truth[] = {2, 2, 5};
    double rmse, mae;
    assert_int_equal(crec_metric_rmse_mae(pred, truth, 3, &rmse, &mae), 0);
    assert_true(fabs(rmse - sqrt(5.0 / 3.0)) < 1e-12 && fabs(mae - 1.0) < 1e-12);
    assert_int_equal(crec_metric_rmse_mae(pred, truth, 0, &rmse, &mae), CREC_EINVAL);

    /* positives 0.9 and 0.5, negatives 0.5, 0.1, 0.7: 0.9 beats 3; 0.5 beats 0.1 and ties 0.5 -> 1.5; 4.5 / 6 */
    float sc[] = {0.9f, 0.5f, 0.5f, 0.1f, 0.7f};
    uint8_t lab[] = {1, 1, 0, 0, 0};
    assert_true(fabs(crec_metric_auc(sc, lab, 5) - 0.75) < 1e-12);
    /* all tied: 0.5; perfectly separated: 1; reversed: 0 */
    float flat[] = {2, 2, 2, 2};
    uint8_t l2[] = {1, 0, 1, 0};
    assert_true(fabs(crec_metric_auc(flat, l2, 4) - 0.5) < 1e-12);
    float sep[] = {3, 1, 4, 0};
    assert_true(crec_metric_auc(sep, l2, 4) == 1.0);
    float rev[] = {0, 3, 1, 4};
    assert_true(crec_metric_auc(rev, l2, 4) == 0.0);
    /* a NaN score ranks below everything: a NaN positive wins nothing, ties another NaN */
    float nan1[] = {NAN, 0.2f, -5.0f, NAN};
    uint8_t l3[] = {1, 1, 0, 0};
    /* pos NaN: ties neg NaN -> 0.5; pos 0.2: beats -5 and NaN -> 2; 2.5 / 4 */
    assert_true(fabs(crec_metric_auc(nan1, l3, 4) - 0.625) < 1e-12);
    /* one class only: undefined */
    uint8_t ones[] = {1, 1, 1};
    assert_true(isnan(crec_metric_auc(sc, ones, 3)));

    /* logits 0, ln 3, -ln 3 with labels 1, 1, 0: p = 0.5, 0.75, 0.25 -> -(ln 0.5 + 2 ln 0.75) / 3 */
    float lg[] = {0.0f, (float)log(3.0), (float)-log(3.0)};
    uint8_t l4[] = {1, 1, 0};
    double want = -(log(0.5) + 2 * log(0.75)) / 3;
    double got = crec_metric_logloss(lg, l4, 3);
    print_message("logloss %.9f want %.9f\n", got, want);
    assert_true(fabs(got - want) < 1e-7);
    /* far logits stay finite: a confident mistake costs about |logit| */
    float far[] = {-200.0f};
    uint8_t one[] = {1};
    assert_true(fabs(crec_metric_logloss(far, one, 1) - 200.0) < 1e-9);
}

/* users u0 u1 u2; items A B C D touched, E F never touched (exist only in the catalog). loo per user:
 *   u0: A B D(valid) C(test, 5)   u1: A C D(valid) B(test, 2)   u2: A B C(valid) D(test, 1)
 * pop training counts: A 3, B 2, C 1, D 0, E 0, F 0. */
static crec_dataset *tiny(void) {
    crec_dataset *ds = crec_dataset_new();
    const char *ev[][3] = {{"u0", "A", "4"}, {"u0", "B", "3"}, {"u0", "D", "3"}, {"u0", "C", "5"},
                           {"u1", "A", "1"}, {"u1", "C", "4"}, {"u1", "D", "5"}, {"u1", "B", "2"},
                           {"u2", "A", "2"}, {"u2", "B", "4"}, {"u2", "C", "4"}, {"u2", "D", "1"}};
    for (int k = 0; k < 12; k++)
        assert_int_equal(crec_dataset_add(ds, ev[k][0], 2, ev[k][1], 1, k, (float)atof(ev[k][2]), 0), 0);
    assert_true(crec_dataset_item(ds, "E", 1) == 4 && crec_dataset_item(ds, "F", 1) == 5);
    ds->has_value = 1;
    return ds;
}

static crec_model *pop_on(const crec_split *s) {
    crec_model *m;
    char err[128];
    assert_int_equal(crec_model_new("pop", NULL, &m, err, sizeof err), 0);
    crec_train_input in = {.train = &s->train, .n_threads = 1, .seed = 1};
    assert_int_equal(crec_model_train(m, &in), 0);
    snprintf(m->split, sizeof m->split, "loo");
    return m;
}

static void test_protocol_by_hand(void **st) {
    crec_dataset *ds = tiny();
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    crec_model *m = pop_on(&s);

    /* rating: test events (u0 C 5), (u1 B 2), (u2 D 1) scored 1, 2, 0: errors -4, 0, -1 */
    crec_pointwise_opts o;
    crec_pointwise_opts_defaults(&o);
    crec_pointwise_result r;
    assert_int_equal(crec_eval_pointwise(m, ds, &s, &o, &r), 0);
    assert_int_equal(r.n_users, 3);
    assert_int_equal(r.n_events, 3);
    assert_true(fabs(r.rmse - sqrt(17.0 / 3.0)) < 1e-9 && fabs(r.mae - 5.0 / 3.0) < 1e-9);
    assert_true(isnan(r.auc));
    print_message("%s\n", r.protocol);
    assert_non_null(strstr(r.protocol, "split=loo"));

    /* valid target: (u0 D 3), (u1 D 5), (u2 C 4) scored 0, 0, 1: errors -3, -5, -3 */
    o.target = CREC_EVAL_VALID;
    assert_int_equal(crec_eval_pointwise(m, ds, &s, &o, &r), 0);
    assert_true(fabs(r.rmse - sqrt(43.0 / 3.0)) < 1e-9 && fabs(r.mae - 11.0 / 3.0) < 1e-9);

    /* click, 2 negatives per positive: every user touched A-D, so negatives are E, F (score 0) only.
     * positives score 1, 2, 0: two beat all 6 negatives, the third ties them: (6 + 6 + 3) / 18 */
    o.target = CREC_EVAL_TEST;
    o.task = CREC_TASK_CLICK;
    o.neg = 2;
    assert_int_equal(crec_eval_pointwise(m, ds, &s, &o, &r), 0);
    assert_int_equal(r.n_events, 3);
    assert_int_equal(r.n_negatives, 6);
    assert_true(fabs(r.auc - 15.0 / 18.0) < 1e-12);
    double sp1 = log1p(exp(-1.0)), sp2 = log1p(exp(-2.0)), ln2 = log(2.0);
    assert_true(fabs(r.logloss - (sp1 + sp2 + ln2 + 6 * ln2) / 9.0) < 1e-7);
    assert_true(isnan(r.rmse));
    /* the same at 1 and 4 threads, and for another seed (the pool is {E, F}, both score 0) */
    crec_pointwise_result r1, r4;
    o.n_threads = 1;
    assert_int_equal(crec_eval_pointwise(m, ds, &s, &o, &r1), 0);
    o.n_threads = 4;
    o.seed = 99;
    assert_int_equal(crec_eval_pointwise(m, ds, &s, &o, &r4), 0);
    assert_true(r1.auc == r.auc && r4.auc == r.auc && r1.logloss == r.logloss && r4.logloss == r.logloss);

    /* threshold 2: (u2 D 1) is left out; the other two positives beat all 4 negatives */
    o.use_threshold = 1;
    o.threshold = 2;
    assert_int_equal(crec_eval_pointwise(m, ds, &s, &o, &r), 0);
    assert_int_equal(r.n_users, 2);
    assert_int_equal(r.n_events, 2);
    assert_int_equal(r.n_negatives, 4);
    assert_true(r.auc == 1.0);
    assert_non_null(strstr(r.protocol, "value >= 2"));

    /* JSON: the protocol, the two metrics and the counts */
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/r.json", dir);
    FILE *f = fopen(path, "w+");
    assert_non_null(f);
    assert_int_equal(crec_pointwise_result_write_json(&r, &o, m, f), 0);
    rewind(f);
    char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    assert_non_null(strstr(buf, "\"task\": \"click\""));
    assert_non_null(strstr(buf, "\"AUC\": 1"));
    assert_non_null(strstr(buf, "\"LogLoss\": "));
    assert_non_null(strstr(buf, "\"events\": 2"));
    assert_non_null(strstr(buf, "\"negatives\": 4"));
    assert_non_null(strstr(buf, "\"threshold\": 2"));
    assert_null(strstr(buf, "RMSE"));
    tu_rmrf(dir);
    free(dir);

    /* errors: neg 0, nothing to score (threshold above every rating) */
    o.neg = 0;
    assert_int_equal(crec_eval_pointwise(m, ds, &s, &o, &r), CREC_EINVAL);
    o.neg = 1;
    o.threshold = 6;
    assert_int_equal(crec_eval_pointwise(m, ds, &s, &o, &r), CREC_EEMPTY);
    assert_int_equal(crec_eval_pointwise(NULL, ds, &s, &o, &r), CREC_EINVAL);
    crec_pointwise_task t;
    assert_int_equal(crec_pointwise_task_parse("click", &t), 0);
    assert_int_equal(t, CREC_TASK_CLICK);
    assert_int_equal(crec_pointwise_task_parse("ranking", &t), CREC_EINVAL);

    crec_model_free(m);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

/* Negatives never come from a user's own items (train, valid or test): each user here touched every item but
 * one, and all of a user's negatives must be that item.
 *   u0: F A B D(valid) C(test)   u1: E A C D(valid) B(test)   pop: A 2, B 1, C 1, D 0, E 1, F 1
 * Every positive and every allowed negative scores 1, so AUC is exactly 0.5 and LogLoss exactly known; a
 * negative drawn from A (2) or D (0) would move both. */
static void test_negatives_are_untouched(void **st) {
    crec_dataset *ds = crec_dataset_new();
    const char *ev[][2] = {{"u0", "F"}, {"u0", "A"}, {"u0", "B"}, {"u0", "D"}, {"u0", "C"},
                           {"u1", "E"}, {"u1", "A"}, {"u1", "C"}, {"u1", "D"}, {"u1", "B"}};
    for (int k = 0; k < 10; k++) assert_int_equal(crec_dataset_add(ds, ev[k][0], 2, ev[k][1], 1, k, 1, 0), 0);
    crec_split_spec sp;
    crec_split_spec_parse("loo", &sp);
    crec_split s;
    assert_int_equal(crec_split_make(ds, &sp, &s), 0);
    crec_model *m = pop_on(&s);
    crec_pointwise_opts o;
    crec_pointwise_opts_defaults(&o);
    o.task = CREC_TASK_CLICK;
    o.neg = 50;
    crec_pointwise_result r;
    assert_int_equal(crec_eval_pointwise(m, ds, &s, &o, &r), 0);
    assert_int_equal(r.n_negatives, 100);
    double want = (2 * log1p(exp(-1.0)) + 100 * log1p(exp(1.0))) / 102.0;
    print_message("AUC %.6f LogLoss %.9f (want 0.5, %.9f)\n", r.auc, r.logloss, want);
    assert_true(r.auc == 0.5);
    assert_true(fabs(r.logloss - want) < 1e-7);
    crec_model_free(m);
    crec_split_free(&s);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_by_hand),
        cmocka_unit_test(test_protocol_by_hand),
        cmocka_unit_test(test_negatives_are_untouched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
