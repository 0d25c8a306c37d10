/* test_crs.c: conversational recommendation: the metrics against hand-computed values, the simulator's rules on
 * a hand-made catalogue (opening attribute, accept / reject, candidate narrowing, rejected lists, quitting,
 * refusals of invalid moves), the crs loader (both layouts, the given split, the coarse variant, file:line
 * errors), the user-item-attribute model (learns a planted preference, save / load round trip) and the
 * policies (valid moves; on the tiny catalogue every policy finds the target). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "crec/crec.h"
#include "crec/crs.h"
#include "crs/crs_internal.h"
#include "testutil.h"

/* ---- metrics ---- */

static void test_hdcg_values(void **st) {
    (void)st;
    assert_float_equal(crec_crs_hdcg(1, 1), 1.0, 1e-12);
    assert_float_equal(crec_crs_hdcg(2, 3), 0.5654648767857288, 1e-12);
    assert_float_equal(crec_crs_hdcg(3, 1), 0.5, 1e-12);
    assert_float_equal(crec_crs_hdcg(7, 2), 0.3267386176720112, 1e-12);
    assert_float_equal(crec_crs_hdcg(0, 1), 0.0, 0);
}

static void test_metrics_hand(void **st) {
    (void)st;
    crec_crs_result r[4] = {
        {.success = 1, .turns = 3, .rank = 1, .n_asks = 2, .n_recs = 1},
        {.success = 1, .turns = 7, .rank = 2, .n_asks = 4, .n_recs = 3},
        {.success = 0, .turns = 15, .rank = 0, .n_asks = 14, .n_recs = 0},
        {.success = 1, .turns = 12, .rank = 10, .n_asks = 10, .n_recs = 2},
    };
    crec_crs_metrics m;
    crec_crs_metrics_compute(r, 4, &m);
    assert_int_equal(m.n, 4);
    assert_float_equal(m.sr5, 0.25, 1e-12);
    assert_float_equal(m.sr10, 0.5, 1e-12);
    assert_float_equal(m.sr15, 0.75, 1e-12);
    assert_float_equal(m.at, 9.25, 1e-12);
    assert_float_equal(m.hdcg, 0.272895438913801, 1e-12);
    assert_float_equal(m.asks, 7.5, 1e-12);
    assert_float_equal(m.recs, 1.5, 1e-12);
}

/* ---- a hand-made catalogue ----
 * items i0..i5, attributes a b c d e:
 *   i0: a b    i1: a c    i2: a b c    i3: a    i4: b d    i5: c e
 * users u0 (train i0 i1, test i2) and u1 (train i3 i4, valid i0, test i5). */
static crec_dataset *tiny(void) {
    crec_dataset *ds = crec_dataset_new();
    static const char *const attrs[6] = {"a b", "a c", "a b c", "a", "b d", "c e"};
    char name[16];
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "i%d", i);
        int32_t d = crec_dataset_item(ds, name, strlen(name));
        const char *p = attrs[i];
        while (*p) {
            if (*p != ' ') crec_dataset_add_attr(ds, d, p, 1);
            p++;
        }
    }
    int32_t tv = crec_idmap_intern(&ds->event_types, "valid", 5), tt = crec_idmap_intern(&ds->event_types, "test", 4);
    crec_dataset_add(ds, "u0", 2, "i0", 2, 0, 1, 0);
    crec_dataset_add(ds, "u0", 2, "i1", 2, 1, 1, 0);
    crec_dataset_add(ds, "u0", 2, "i2", 2, 2, 1, (uint8_t)tt);
    crec_dataset_add(ds, "u1", 2, "i3", 2, 3, 1, 0);
    crec_dataset_add(ds, "u1", 2, "i4", 2, 4, 1, 0);
    crec_dataset_add(ds, "u1", 2, "i0", 2, 5, 1, (uint8_t)tv);
    crec_dataset_add(ds, "u1", 2, "i5", 2, 6, 1, (uint8_t)tt);
    crec_dataset_attr_csr(ds);
    return ds;
}

static int32_t attr(const crec_dataset *ds, const char *n) { return crec_idmap_get(&ds->attrs, n, strlen(n)); }
static int32_t item(const crec_dataset *ds, const char *n) { return crec_idmap_get(&ds->items, n, strlen(n)); }

/* A scripted policy: plays moves[] in order. */
typedef struct script {
    crec_crs_action moves[16];
    int n, at;
    int outcomes[16];
    int32_t n_cand[16];
} script;

static int script_act(void *self, const crec_crs_state *st, crec_crs_action *a) {
    script *s = self;
    if (s->at >= s->n) { /* script played: recommend the candidates (the target is among them) */
        a->kind = CREC_CRS_REC;
        a->n_items = st->n_cand < st->rec_k ? st->n_cand : st->rec_k;
        memcpy(a->items, st->cand, (size_t)a->n_items * sizeof *a->items);
        s->at++;
        return 0;
    }
    *a = s->moves[s->at++];
    return 0;
}

static void script_observe(void *self, const crec_crs_state *st, const crec_crs_action *a, int outcome) {
    (void)a;
    script *s = self;
    if (s->at > 16) return;
    s->outcomes[s->at - 1] = outcome;
    s->n_cand[s->at - 1] = st->n_cand;
}

static crec_crs_action ask(int32_t a) { return (crec_crs_action){.kind = CREC_CRS_ASK, .attr = a}; }
static crec_crs_action rec2(int32_t x, int32_t y) {
    crec_crs_action a = {.kind = CREC_CRS_REC, .n_items = 2};
    a.items[0] = x, a.items[1] = y;
    return a;
}

/* Pair index whose opening attribute (for target i2) is `want`. */
static int64_t opening_index(crec_crs_sim *sim, const crec_dataset *ds, crec_crs_pair p, const char *want) {
    for (int64_t k = 0; k < 200; k++) {
        script s = {.n = 1, .moves = {ask(attr(ds, "e"))}};
        crec_crs_policy pol = {.self = &s, .act = script_act};
        crec_crs_result r;
        if (crec_crs_episode(sim, &pol, p, k, &r, NULL)) continue;
        if (crec_crs_sim_state(sim)->acc[0] == attr(ds, want)) return k;
    }
    return -1;
}

static void test_sim_rules(void **st_) {
    (void)st_;
    crec_dataset *ds = tiny();
    crec_crs_catalog cat;
    assert_int_equal(crec_crs_catalog_init(&cat, ds), 0);
    assert_int_equal(cat.n_attrs, 5);
    assert_true(crec_crs_item_has(&cat, item(ds, "i2"), attr(ds, "c")));
    assert_false(crec_crs_item_has(&cat, item(ds, "i3"), attr(ds, "b")));
    crec_crs_sim_opts so;
    crec_crs_sim_defaults(&so);
    crec_crs_sim *sim = crec_crs_sim_new(&cat, &so);
    assert_non_null(sim);
    crec_crs_pair p = {0, item(ds, "i2")};
    /* the opening attribute is one of the target's, every one of them is drawn, and the draw is seeded */
    int seen[5] = {0};
    for (int64_t k = 0; k < 60; k++) {
        script s = {.n = 1, .moves = {ask(attr(ds, "e"))}};
        crec_crs_policy pol = {.self = &s, .act = script_act};
        crec_crs_result r;
        assert_int_equal(crec_crs_episode(sim, &pol, p, k, &r, NULL), 0);
        int32_t a0 = crec_crs_sim_state(sim)->acc[0];
        assert_true(crec_crs_item_has(&cat, p.item, a0));
        seen[a0]++;
    }
    assert_true(seen[attr(ds, "a")] > 0 && seen[attr(ds, "b")] > 0 && seen[attr(ds, "c")] > 0);
    assert_int_equal(seen[attr(ds, "d")] + seen[attr(ds, "e")], 0);
    int64_t ka = opening_index(sim, ds, p, "a");
    assert_true(ka >= 0);

    /* opening "a": candidates i0 i1 i2 i3. ask d (rejected: unchanged), ask b (accepted: i0 i2), recommend
     * i0 + i2 -> success at turn 3, rank 2 */
    script s = {.n = 3, .moves = {ask(attr(ds, "d")), ask(attr(ds, "b")), rec2(item(ds, "i0"), item(ds, "i2"))}};
    crec_crs_policy pol = {.self = &s, .act = script_act, .observe = script_observe};
    crec_crs_result r;
    assert_int_equal(crec_crs_episode(sim, &pol, p, ka, &r, NULL), 0);
    assert_int_equal(s.outcomes[0], CREC_CRS_H_ASK_REJ);
    assert_int_equal(s.n_cand[0], 4);
    assert_int_equal(s.outcomes[1], CREC_CRS_H_ASK_ACC);
    assert_int_equal(s.n_cand[1], 2);
    assert_int_equal(s.outcomes[2], CREC_CRS_H_REC_OK);
    assert_int_equal(r.success, 1);
    assert_int_equal(r.turns, 3);
    assert_int_equal(r.rank, 2);
    assert_int_equal(r.n_asks, 2);
    assert_int_equal(r.n_recs, 1);

    /* a rejected list leaves the candidates; recommending a non-candidate, re-asking, asking the opening
     * attribute again are refused */
    script s2 = {.n = 2, .moves = {rec2(item(ds, "i0"), item(ds, "i3")), rec2(item(ds, "i1"), item(ds, "i0"))}};
    pol.self = &s2;
    assert_int_equal(crec_crs_episode(sim, &pol, p, ka, &r, NULL), CREC_EINVAL);
    assert_int_equal(s2.outcomes[0], CREC_CRS_H_REC_FAIL);
    assert_int_equal(s2.n_cand[0], 2);
    script s3 = {.n = 2, .moves = {ask(attr(ds, "d")), ask(attr(ds, "d"))}};
    pol.self = &s3;
    assert_int_equal(crec_crs_episode(sim, &pol, p, ka, &r, NULL), CREC_EINVAL);
    script s4 = {.n = 1, .moves = {ask(attr(ds, "a"))}};
    pol.self = &s4;
    assert_int_equal(crec_crs_episode(sim, &pol, p, ka, &r, NULL), CREC_EINVAL);
    script s5 = {.n = 1, .moves = {rec2(item(ds, "i4"), item(ds, "i2"))}}; /* i4 lacks a */
    pol.self = &s5;
    assert_int_equal(crec_crs_episode(sim, &pol, p, ka, &r, NULL), CREC_EINVAL);
    script s6 = {.n = 1, .moves = {rec2(item(ds, "i2"), item(ds, "i2"))}};
    pol.self = &s6;
    assert_int_equal(crec_crs_episode(sim, &pol, p, ka, &r, NULL), CREC_EINVAL);
    crec_crs_sim_free(sim);

    /* the user quits: max_turns 3 lets the system act twice; a failure counts 3 turns */
    so.max_turns = 3;
    sim = crec_crs_sim_new(&cat, &so);
    script s7 = {.n = 3, .moves = {ask(attr(ds, "d")), ask(attr(ds, "e")), ask(attr(ds, "b"))}};
    pol.self = &s7;
    assert_int_equal(crec_crs_episode(sim, &pol, p, 0, &r, NULL), 0);
    assert_int_equal(s7.at, 2); /* two moves played, the third never asked for */
    assert_int_equal(r.success, 0);
    assert_int_equal(r.turns, 3);
    assert_int_equal(r.rank, 0);
    crec_crs_sim_free(sim);
    crec_crs_catalog_free(&cat);
    crec_dataset_free(ds);
}

/* The interactive API (crec chat) keeps the simulator's rules with answers from outside. */
static void test_sim_interactive(void **st_) {
    (void)st_;
    crec_dataset *ds = tiny();
    crec_crs_catalog cat;
    assert_int_equal(crec_crs_catalog_init(&cat, ds), 0);
    crec_crs_sim_opts so;
    crec_crs_sim_defaults(&so);
    crec_crs_sim *sim = crec_crs_sim_new(&cat, &so);
    const crec_crs_state *st = crec_crs_sim_state(sim);
    assert_int_equal(crec_crs_sim_start(sim, -1, NULL, 0), 0);
    assert_int_equal(st->n_cand, 6);
    int32_t a = attr(ds, "a");
    assert_int_equal(crec_crs_sim_start(sim, 0, &a, 1), 0);
    assert_int_equal(st->n_cand, 4);
    assert_int_equal(crec_crs_sim_answer(sim, attr(ds, "b"), 1), 0);
    assert_int_equal(st->n_cand, 2); /* i0 i2 */
    assert_int_equal(crec_crs_sim_answer(sim, attr(ds, "b"), 0), 0); /* settled: no change */
    assert_int_equal(st->n_rej, 0);
    assert_int_equal(crec_crs_sim_answer(sim, attr(ds, "d"), 0), 0);
    assert_int_equal(st->n_rej, 1);
    assert_int_equal(st->n_cand, 2);
    int32_t i0 = item(ds, "i0");
    assert_int_equal(crec_crs_sim_reject_items(sim, &i0, 1), 0);
    assert_int_equal(st->n_cand, 1);
    assert_int_equal(st->cand[0], item(ds, "i2"));
    crec_crs_sim_end_turn(sim, CREC_CRS_H_REC_FAIL);
    assert_int_equal(st->turn, 1);
    assert_int_equal(crec_crs_sim_answer(sim, 99, 1), CREC_EINVAL);
    crec_crs_sim_free(sim);
    crec_crs_catalog_free(&cat);
    crec_dataset_free(ds);
}

static void test_pairs_given_split(void **st_) {
    (void)st_;
    crec_dataset *ds = tiny();
    crec_crs_catalog cat;
    assert_int_equal(crec_crs_catalog_init(&cat, ds), 0);
    crec_split_spec spec;
    assert_int_equal(crec_split_spec_parse("given", &spec), 0);
    char buf[32];
    crec_split_spec_format(&spec, buf, sizeof buf);
    assert_string_equal(buf, "given");
    crec_split sp;
    assert_int_equal(crec_split_make(ds, &spec, &sp), 0);
    assert_int_equal(crec_csr_nnz(&sp.train), 4);
    assert_int_equal(crec_csr_nnz(&sp.valid), 1);
    assert_int_equal(crec_csr_nnz(&sp.test), 2);
    crec_crs_pair *pp;
    int64_t n, skipped;
    assert_int_equal(crec_crs_pairs(&cat, &sp, 2, 0, 1, &pp, &n, &skipped), 0);
    assert_int_equal(n, 2);
    assert_int_equal(pp[0].item, item(ds, "i2"));
    assert_int_equal(pp[1].item, item(ds, "i5"));
    free(pp);
    assert_int_equal(crec_crs_pairs(&cat, &sp, 2, 1, 7, &pp, &n, &skipped), 0); /* a sample of one */
    assert_int_equal(n, 1);
    free(pp);
    crec_split_free(&sp);
    crec_crs_catalog_free(&cat);
    crec_dataset_free(ds);
}

/* ---- the loader ---- */

static void test_load_json_layout(void **st_) {
    (void)st_;
    char *d = tu_tmpdir(), p[512];
    snprintf(p, sizeof p, "%s/review_dict_train.json", d);
    tu_write(p, "{\"0\": [2, 1],\n \"1\": [0]}\n");
    snprintf(p, sizeof p, "%s/review_dict_valid.json", d);
    tu_write(p, "{\"0\": [3]}");
    snprintf(p, sizeof p, "%s/review_dict_test.json", d);
    tu_write(p, "{\"1\": [3, 2]}");
    snprintf(p, sizeof p, "%s/item_fea.json", d);
    tu_write(p, "{\"0\": [5, 6], \"1\": [6], \"2\": [7], \"3\": [5, 7, 8]}");
    snprintf(p, sizeof p, "%s/user_like.json", d);
    tu_write(p, "{\"0\": [5], \"1\": [7, 8]}");
    snprintf(p, sizeof p, "%s/fea_large.json", d);
    tu_write(p, "{\"5\": [0], \"6\": [0, 1], \"7\": [], \"8\": [1]}");
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o;
    memset(&o, 0, sizeof o);
    assert_int_equal(crec_load(ds, crec_format_parse("crs"), d, &o), 0);
    assert_int_equal(ds->users.n, 2);
    assert_int_equal(ds->items.n, 4);
    assert_int_equal(ds->n, 6);
    assert_int_equal(ds->attrs.n, 4);
    assert_int_equal(ds->user_attrs.n, 3);
    for (int i = 0; i < 4; i++) { /* dense ids are the papers' ids */
        char num[16];
        snprintf(num, sizeof num, "%d", i);
        assert_string_equal(ds->items.names[i], num);
    }
    assert_int_equal(ds->attr_ptr[4] - ds->attr_ptr[3], 3);
    crec_split_spec spec;
    crec_split_spec_parse("given", &spec);
    crec_split sp;
    assert_int_equal(crec_split_make(ds, &spec, &sp), 0);
    assert_int_equal(crec_csr_nnz(&sp.train), 3);
    assert_int_equal(crec_csr_nnz(&sp.valid), 1);
    assert_int_equal(crec_csr_nnz(&sp.test), 2);
    assert_int_equal(sp.test.idx[sp.test.ptr[1]], 3);
    crec_split_free(&sp);
    crec_dataset_free(ds);
    /* coarse: item 3 has features 5 7 8 -> categories 0 1 */
    ds = crec_dataset_new();
    assert_int_equal(crec_crs_load(ds, d, 1, &o), 0);
    assert_int_equal(ds->attrs.n, 2);
    assert_int_equal(ds->attr_ptr[4] - ds->attr_ptr[3], 2);
    assert_int_equal(ds->attr_ptr[3] - ds->attr_ptr[2], 0); /* feature 7 has no category */
    crec_dataset_free(ds);
    /* a malformed file names file:line:column */
    snprintf(p, sizeof p, "%s/review_dict_test.json", d);
    tu_write(p, "{\"1\": [3, 2],\n \"0\": [4, x]}");
    ds = crec_dataset_new();
    assert_int_equal(crec_crs_load(ds, d, 0, &o), CREC_EPARSE);
    assert_non_null(strstr(o.err, "review_dict_test.json:2:11"));
    crec_dataset_free(ds);
    tu_write(p, "{\"1\": [3]} x"); /* text after the object */
    ds = crec_dataset_new();
    assert_int_equal(crec_crs_load(ds, d, 0, &o), CREC_EPARSE);
    assert_non_null(strstr(o.err, "review_dict_test.json:1:12: unexpected text"));
    crec_dataset_free(ds);
    tu_write(p, "\xEF\xBB\xBF{}"); /* a BOM and an empty object load */
    ds = crec_dataset_new();
    assert_int_equal(crec_crs_load(ds, d, 0, &o), 0);
    assert_int_equal(ds->n, 4);
    crec_dataset_free(ds);
    tu_write(p, "{\"u1\": [3]}");
    ds = crec_dataset_new();
    assert_int_equal(crec_crs_load(ds, d, 0, &o), CREC_EPARSE);
    assert_non_null(strstr(o.err, "review_dict_test.json:1:2"));
    assert_non_null(strstr(o.err, "user key"));
    crec_dataset_free(ds);
    tu_rmrf(d);
    free(d);
}

static void test_load_plain_layout(void **st_) {
    (void)st_;
    char *d = tu_tmpdir(), p[512];
    snprintf(p, sizeof p, "%s/interactions.tsv", d);
    tu_write(p, "split\tuser\titem\ntrain\t0\t1\ntrain\t1\t0\nvalid\t0\t2\ntest\t1\t2\n");
    snprintf(p, sizeof p, "%s/item_feature.tsv", d);
    tu_write(p, "item\tfeature\n0\t4\n1\t4\n2\t5\n2\t4\n");
    snprintf(p, sizeof p, "%s/feature_coarse.tsv", d);
    tu_write(p, "feature\tcoarse_feature\n4\t0\n5\t1\n");
    crec_dataset *ds = crec_dataset_new();
    crec_load_opts o;
    memset(&o, 0, sizeof o);
    assert_int_equal(crec_crs_load(ds, d, 0, &o), 0);
    assert_int_equal(ds->items.n, 3);
    assert_int_equal(ds->attrs.n, 2);
    assert_int_equal(ds->n, 4);
    crec_dataset_free(ds);
    ds = crec_dataset_new();
    assert_int_equal(crec_crs_load(ds, d, 1, &o), 0);
    assert_string_equal(ds->attrs.names[0], "0");
    crec_dataset_free(ds);
    snprintf(p, sizeof p, "%s/interactions.tsv", d);
    tu_write(p, "split\tuser\titem\ntrain\t0\t1\ntest2\t1\t0\n");
    ds = crec_dataset_new();
    assert_int_equal(crec_crs_load(ds, d, 0, &o), CREC_EPARSE);
    assert_non_null(strstr(o.err, "interactions.tsv:3:"));
    assert_non_null(strstr(o.err, "split must be"));
    crec_dataset_free(ds);
    ds = crec_dataset_new();
    assert_int_equal(crec_crs_load(ds, "/nonexistent-crs-folder", 0, &o), CREC_EIO);
    crec_dataset_free(ds);
    tu_rmrf(d);
    free(d);
}

/* ---- the model and the policies on a planted catalogue ----
 * 40 items in 4 groups of 10 (group attribute g0..g3) with 3 of 6 style attributes each; users of group k
 * consume only group k. The model must score a user's group above the others. */
static crec_dataset *planted(void) {
    crec_dataset *ds = crec_dataset_new();
    char nm[16], an[16];
    for (int i = 0; i < 40; i++) {
        snprintf(nm, sizeof nm, "i%d", i);
        int32_t d = crec_dataset_item(ds, nm, strlen(nm));
        snprintf(an, sizeof an, "g%d", i / 10);
        crec_dataset_add_attr(ds, d, an, strlen(an));
        for (int k = 0; k < 3; k++) {
            snprintf(an, sizeof an, "s%d", (i + 2 * k) % 6);
            crec_dataset_add_attr(ds, d, an, strlen(an));
        }
    }
    int32_t tt = crec_idmap_intern(&ds->event_types, "test", 4);
    uint64_t s = 7;
    int64_t ts = 0;
    for (int u = 0; u < 80; u++) {
        snprintf(nm, sizeof nm, "u%d", u);
        for (int k = 0; k < 8; k++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            int i = (u % 4) * 10 + (int)((s >> 33) % 10);
            char in[16];
            snprintf(in, sizeof in, "i%d", i);
            crec_dataset_add(ds, nm, strlen(nm), in, strlen(in), ts++, 1, k == 7 ? (uint8_t)tt : 0);
        }
    }
    crec_dataset_attr_csr(ds);
    return ds;
}

static void test_uiam_and_policies(void **st_) {
    (void)st_;
    crec_dataset *ds = planted();
    crec_crs_catalog cat;
    assert_int_equal(crec_crs_catalog_init(&cat, ds), 0);
    crec_split_spec spec;
    crec_split_spec_parse("given", &spec);
    crec_split sp;
    assert_int_equal(crec_split_make(ds, &spec, &sp), 0);
    crec_crs_uiam_opts uo;
    crec__crs_uiam_defaults(&uo);
    uo.dim = 8;
    uo.epochs = 40;
    uo.lr = 0.05f;
    crec_crs_uiam *m;
    assert_int_equal(crec__crs_uiam_train(&cat, &sp, &uo, &m), 0);
    /* users rank their own group's items above the others' (no attribute given) */
    int good = 0, total = 0;
    for (int32_t u = 0; u < cat.n_users; u++) {
        const float *uu = m->U + (size_t)u * m->dim;
        int grp = atoi(ds->users.names[u] + 1) % 4;
        double in = 0, out = 0;
        for (int32_t i = 0; i < cat.n_items; i++) {
            double s = 0;
            for (int x = 0; x < m->dim; x++) s += uu[x] * m->V[(size_t)i * m->dim + x];
            if (atoi(ds->items.names[i] + 1) / 10 == grp) in += s / 10;
            else out += s / 30;
        }
        good += in > out;
        total++;
    }
    assert_true(good >= total * 9 / 10);
    /* save / load round trip */
    char *d = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/m.crecrs", d);
    assert_int_equal(crec__crs_uiam_save(m, path), 0);
    crec_crs_uiam *m2;
    assert_int_equal(crec__crs_uiam_load(path, &cat, &m2), 0);
    size_t nw = ((size_t)m->n_users + m->n_items + m->n_attrs) * m->dim;
    assert_memory_equal(m->w, m2->w, nw * sizeof(float));
    assert_int_equal(m2->epochs, 40);
    crec__crs_uiam_free(m2);
    /* every policy plays valid moves on every test pair; on 40 items in 15 turns it must find the target */
    static const char *const names[] = {"greedy", "maxent", "cpr"};
    crec_crs_pair *pp;
    int64_t np, skipped;
    assert_int_equal(crec_crs_pairs(&cat, &sp, 2, 0, 1, &pp, &np, &skipped), 0);
    assert_int_equal(np, 80);
    crec_crs_sim_opts so;
    crec_crs_sim_defaults(&so);
    crec_crs_sim *sim = crec_crs_sim_new(&cat, &so);
    for (int k = 0; k < 3; k++)
        for (int hard = 0; hard < 2; hard++) {
            crec_crs_policy_opts po;
            crec__crs_policy_defaults(&po);
            po.model = m;
            po.split = &sp;
            po.hard_reject = hard;
            crec_crs_policy pol;
            assert_int_equal(crec__crs_policy_new(names[k], &cat, &po, &pol), 0);
            crec_crs_result *res = calloc((size_t)np, sizeof *res);
            for (int64_t j = 0; j < np; j++) assert_int_equal(crec_crs_episode(sim, &pol, pp[j], j, &res[j], NULL), 0);
            crec_crs_metrics mt;
            crec_crs_metrics_compute(res, np, &mt);
            if (mt.sr15 < 1.0) fail_msg("%s hard_reject=%d: SR@15 %.3f on the planted catalogue", names[k], hard, mt.sr15);
            if (k == 1 && mt.asks <= 0) fail_msg("%s never asked", names[k]);
            free(res);
            crec__crs_policy_free(&pol);
        }
    assert_int_equal(crec__crs_policy_new("nope", &cat, &(crec_crs_policy_opts){0}, &(crec_crs_policy){0}),
                     CREC_ENOTFOUND);
    /* tree: the forest asks, moves to the next tree after a rejected list, and finds every target here */
    {
        crec_crs_policy_opts po;
        crec__crs_policy_defaults(&po);
        po.model = m;
        po.split = &sp;
        po.rec_below = 0; /* ask while the tree has questions */
        crec_crs_policy tp;
        assert_int_equal(crec__crs_tree_policy(&cat, &po, 3, 14, 1, &tp), 0);
        crec_crs_result *res = calloc((size_t)np, sizeof *res);
        for (int64_t j = 0; j < np; j++) assert_int_equal(crec_crs_episode(sim, &tp, pp[j], j, &res[j], NULL), 0);
        crec_crs_metrics mt;
        crec_crs_metrics_compute(res, np, &mt);
        if (mt.sr15 < 1.0 || mt.asks <= 0) fail_msg("tree: SR@15 %.3f asks %.2f", mt.sr15, mt.asks);
        free(res);
        crec__crs_tree_policy_free(&tp);
        assert_int_equal(crec__crs_tree_policy(&cat, &po, 0, 14, 1, &tp), CREC_EINVAL);
    }
    /* unicorn: a short double-DQN run plays valid moves, finds the targets, and a saved agent plays the same */
    crec_crs_policy_opts po;
    crec__crs_policy_defaults(&po);
    po.model = m;
    po.split = &sp;
    crec_crs_unicorn_opts uno;
    crec__crs_unicorn_defaults(&uno);
    uno.episodes = 150;
    uno.eval_every = 75;
    uno.n_heldout = 20;
    uno.hidden = 16;
    uno.buffer = 200;
    crec_crs_unicorn *un;
    assert_int_equal(crec__crs_unicorn_train(&cat, &po, pp, np, &so, &uno, &un), 0);
    int eps_done;
    float hsr;
    crec__crs_unicorn_info(un, &eps_done, &hsr);
    assert_int_equal(eps_done, 150);
    assert_true(hsr >= 0.9f);
    snprintf(path, sizeof path, "%s/a.crecrs", d);
    assert_int_equal(crec__crs_unicorn_save(un, path), 0);
    crec_crs_unicorn *un2;
    assert_int_equal(crec__crs_unicorn_load(path, &un2), 0);
    crec_crs_policy p1, p2;
    assert_int_equal(crec__crs_unicorn_policy(un, &cat, &po, &p1), 0);
    assert_int_equal(crec__crs_unicorn_policy(un2, &cat, &po, &p2), 0);
    for (int64_t j = 0; j < np; j++) {
        crec_crs_result r1, r2;
        assert_int_equal(crec_crs_episode(sim, &p1, pp[j], j, &r1, NULL), 0);
        assert_int_equal(crec_crs_episode(sim, &p2, pp[j], j, &r2, NULL), 0);
        assert_int_equal(r1.success, 1);
        assert_int_equal(r1.turns, r2.turns);
        assert_int_equal(r1.rank, r2.rank);
    }
    crec__crs_unicorn_policy_free(&p1);
    crec__crs_unicorn_policy_free(&p2);
    po.model = NULL; /* the unicorn state needs the model */
    assert_int_equal(crec__crs_unicorn_policy(un, &cat, &po, &p1), CREC_EINVAL);
    crec__crs_unicorn_free(un);
    crec__crs_unicorn_free(un2);
    crec_crs_sim_free(sim);
    free(pp);
    crec__crs_uiam_free(m);
    tu_rmrf(d);
    free(d);
    crec_split_free(&sp);
    crec_crs_catalog_free(&cat);
    crec_dataset_free(ds);
}

/* A person's words (src/crs/words.c): names matched whatever the case, punctuation or plural, longest first, a
 * negation in front; yes / no as whole words. */
static void test_words(void **st) {
    (void)st;
    crec_dataset *ds = crec_dataset_new();
    assert_non_null(ds);
    assert_int_equal(crec_idmap_intern(&ds->items, "i1", 2), 0);
    const char *an[] = {"nail polish", "polish", "glitter", "Rock"};
    for (int k = 0; k < 4; k++) assert_int_equal(crec_dataset_add_attr(ds, 0, an[k], strlen(an[k])), 0);
    crec_crs_names nm;
    char err[200];
    assert_int_equal(crec_crs_names_init(&nm, ds, ds->attrs.n, NULL, err, sizeof err), 0);
    assert_int_equal(nm.n, 4);
    int32_t f[8];
    int ng[8];
    int n = crec_crs_find_attrs(&nm, "I'd like NAIL-POLISH, but not Glitters!", f, ng, 8);
    assert_int_equal(n, 2);
    assert_string_equal(nm.disp[f[0]], "nail polish"); /* the longest name, not also "polish" */
    assert_int_equal(ng[0], 0);
    assert_string_equal(nm.disp[f[1]], "glitter");
    assert_int_equal(ng[1], 1);
    assert_int_equal(crec_crs_find_attrs(&nm, "rocks", f, ng, 8), 1);
    assert_int_equal(crec_crs_find_attrs(&nm, "rockabilly", f, ng, 8), 0); /* whole words only */
    assert_true(crec_crs_has_word("Yes, please", crec_crs_yes));
    assert_false(crec_crs_has_word("yesterday", crec_crs_yes));
    assert_true(crec_crs_has_word("nope.", crec_crs_no));
    crec_crs_names_free(&nm);
    /* display names from a file; a line without a name is file:line */
    char *dir = tu_tmpdir(), p[600];
    assert_non_null(dir);
    snprintf(p, sizeof p, "%s/names.tsv", dir);
    tu_write(p, "Rock\tRock music\nglitter\n");
    assert_int_equal(crec_crs_names_init(&nm, ds, ds->attrs.n, p, err, sizeof err), CREC_EPARSE);
    assert_non_null(strstr(err, "names.tsv:2"));
    tu_write(p, "Rock\tRock music\n");
    assert_int_equal(crec_crs_names_init(&nm, ds, ds->attrs.n, p, err, sizeof err), 0);
    int32_t rock = crec_idmap_get(&ds->attrs, "Rock", 4);
    assert_string_equal(nm.disp[rock], "Rock music");
    assert_int_equal(crec_crs_find_attrs(&nm, "some rock music", f, ng, 8), 1);
    crec_crs_names_free(&nm);
    tu_rmrf(dir);
    free(dir);
    crec_dataset_free(ds);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_hdcg_values),       cmocka_unit_test(test_metrics_hand),
        cmocka_unit_test(test_sim_rules),         cmocka_unit_test(test_sim_interactive),
        cmocka_unit_test(test_pairs_given_split),
        cmocka_unit_test(test_load_json_layout),  cmocka_unit_test(test_load_plain_layout),
        cmocka_unit_test(test_uiam_and_policies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
