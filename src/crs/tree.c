/* tree.c: a decision-tree conversational policy after FacT-CRS ("Rethinking Conversational Recommendations: Is
 * Decision Tree All You Need?"): a forest of binary trees over item attributes, built on the training pairs,
 * chooses the questions; when the tree runs out of questions (a leaf) or few candidates remain, it recommends;
 * after a rejected list it moves to the next tree of the forest and walks it from the root.
 *
 * The one idea: a conversation is a walk down a tree whose node questions split the training targets in two as
 * evenly as possible; answers the user already gave (the opening attribute, earlier questions) and answers the
 * candidates imply (every candidate has the attribute, or none does) move down without spending a turn.
 *
 * Reduced from the paper (say so beside every number): splits maximise balance (min(yes, no) of the node's
 * training targets, ID3-like) instead of FacT's factorisation-loss reduction; each tree sees a seeded half of the
 * attributes (the forest's diversity); items are ranked by the shared user-item-attribute model (uiam.c) rather
 * than by learned tree-node embeddings. The forest is built when the policy starts (a second on LastFM*). */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crs/crs_internal.h"

typedef struct tnode {
    int32_t attr;     /* -1: leaf */
    int32_t yes, no;  /* children */
} tnode;

typedef struct tree {
    tnode *nodes;
    int32_t n, cap;
} tree;

typedef struct tree_pol {
    const crec_crs_catalog *c;
    crec_crs_policy inner; /* cpr: scoring and lists */
    tree *trees;
    int n_trees, cur_tree;
    int32_t cur_node;
    int rec_below;
    int32_t *cnt, *touched; /* build scratch */
} tree_pol;

static int32_t node_add(tree *t) {
    if (t->n == t->cap) {
        int32_t cap = t->cap ? t->cap * 2 : 256;
        tnode *q = realloc(t->nodes, (size_t)cap * sizeof *q);
        if (!q) return CREC_ENOMEM;
        t->nodes = q;
        t->cap = cap;
    }
    t->nodes[t->n] = (tnode){-1, -1, -1};
    return t->n++;
}

/* Build the subtree over samples s[0..n) (target items); returns its node or a negative error. */
static int32_t build(tree_pol *p, tree *t, int32_t *s, int32_t n, int depth, const uint8_t *allowed, int max_depth,
                     int min_leaf) {
    const crec_crs_catalog *c = p->c;
    int32_t me = node_add(t);
    if (me < 0 || depth >= max_depth || n < 2 * min_leaf) return me;
    int nt = 0;
    for (int32_t k = 0; k < n; k++)
        for (int64_t j = c->ia_ptr[s[k]]; j < c->ia_ptr[s[k] + 1]; j++) {
            int32_t a = c->ia_idx[j];
            if (!allowed[a]) continue;
            if (p->cnt[a]++ == 0) p->touched[nt++] = a;
        }
    int32_t best = -1, bal = min_leaf - 1;
    for (int k = 0; k < nt; k++) {
        int32_t a = p->touched[k], y = p->cnt[a], b = y < n - y ? y : n - y;
        if (b > bal || (b == bal && best >= 0 && a < best)) bal = b, best = a;
        p->cnt[a] = 0;
    }
    if (best < 0) return me;
    /* partition: samples with best first */
    int32_t lo = 0, hi = n - 1;
    while (lo <= hi) {
        if (crec_crs_item_has(c, s[lo], best)) lo++;
        else {
            int32_t x = s[lo];
            s[lo] = s[hi];
            s[hi--] = x;
        }
    }
    t->nodes[me].attr = best;
    int32_t y = build(p, t, s, lo, depth + 1, allowed, max_depth, min_leaf);
    if (y < 0) return y;
    t->nodes[me].yes = y;
    int32_t no = build(p, t, s + lo, n - lo, depth + 1, allowed, max_depth, min_leaf);
    if (no < 0) return no;
    t->nodes[me].no = no;
    return me;
}

static int tree_begin(void *self, const crec_crs_state *st) {
    tree_pol *p = self;
    p->cur_tree = 0;
    p->cur_node = 0;
    return p->inner.begin ? p->inner.begin(p->inner.self, st) : 0;
}

/* Move down while the node's question is already answered or implied by the candidates. */
static void descend(tree_pol *p, const crec_crs_state *st) {
    const tree *t = &p->trees[p->cur_tree];
    for (;;) {
        const tnode *nd = &t->nodes[p->cur_node];
        if (nd->attr < 0) return;
        int32_t a = nd->attr;
        int go; /* 1 yes, 0 no, -1 ask */
        if (st->asked[a]) {
            go = 0;
            for (int k = 0; k < st->n_acc; k++) go |= st->acc[k] == a;
        } else {
            int32_t have = 0;
            for (int32_t k = 0; k < st->n_cand; k++) have += crec_crs_item_has(p->c, st->cand[k], a);
            go = have == st->n_cand ? 1 : have == 0 ? 0 : -1;
        }
        if (go < 0) return;
        p->cur_node = go ? nd->yes : nd->no;
    }
}

static int tree_act(void *self, const crec_crs_state *st, crec_crs_action *a) {
    tree_pol *p = self;
    descend(p, st);
    const tnode *nd = &p->trees[p->cur_tree].nodes[p->cur_node];
    crec_crs_scan sc;
    int rc = crec__crs_policy_scan(&p->inner, st, 0, &sc);
    if (rc) return rc;
    int last = st->turn + 1 >= st->last_turn;
    if (nd->attr >= 0 && !last && sc.n_stat > p->rec_below && sc.n_stat > st->rec_k) {
        a->kind = CREC_CRS_ASK;
        a->attr = nd->attr;
        return 0;
    }
    a->kind = CREC_CRS_REC;
    a->n_items = sc.n_item;
    memcpy(a->items, sc.item, (size_t)sc.n_item * sizeof *a->items);
    return 0;
}

static void tree_observe(void *self, const crec_crs_state *st, const crec_crs_action *a, int outcome) {
    (void)st, (void)a;
    tree_pol *p = self;
    if (outcome == CREC_CRS_H_REC_FAIL) { /* adapt: the next tree, from its root */
        p->cur_tree = (p->cur_tree + 1) % p->n_trees;
        p->cur_node = 0;
    }
}

static void tree_pol_free(tree_pol *p) {
    if (!p) return;
    for (int k = 0; k < p->n_trees && p->trees; k++) free(p->trees[k].nodes);
    free(p->trees);
    free(p->cnt);
    free(p->touched);
    crec__crs_policy_free(&p->inner);
    free(p);
}

void crec__crs_tree_policy_free(crec_crs_policy *pol) {
    if (!pol) return;
    tree_pol_free(pol->self);
    pol->self = NULL;
}

int crec__crs_tree_policy(const crec_crs_catalog *c, const crec_crs_policy_opts *po, int n_trees, int max_depth,
                          uint64_t seed, crec_crs_policy *out) {
    memset(out, 0, sizeof *out);
    if (!po->split || n_trees < 1 || n_trees > 64 || max_depth < 1 || max_depth > 64) return CREC_EINVAL;
    tree_pol *p = calloc(1, sizeof *p);
    if (!p) return CREC_ENOMEM;
    p->c = c;
    p->rec_below = po->rec_below;
    p->n_trees = n_trees;
    p->trees = calloc((size_t)n_trees, sizeof *p->trees);
    p->cnt = calloc((size_t)c->n_attrs + 1, sizeof *p->cnt);
    p->touched = malloc(((size_t)c->n_attrs + 1) * sizeof *p->touched);
    const crec_csr *tr = &po->split->train;
    int64_t nnz = crec_csr_nnz(tr), n = 0;
    int32_t *s = malloc((size_t)(nnz ? nnz : 1) * sizeof *s);
    uint8_t *allowed = malloc((size_t)c->n_attrs + 1);
    int rc = !p->trees || !p->cnt || !p->touched || !s || !allowed ? CREC_ENOMEM : 0;
    if (!rc) rc = crec__crs_policy_new("cpr", c, po, &p->inner);
    crec_rng rng;
    crec__rng_seed(&rng, seed);
    for (int k = 0; k < n_trees && !rc; k++) {
        n = 0;
        for (int64_t j = 0; j < nnz; j++) /* the training targets that have attributes */
            if (tr->idx[j] < c->n_items && c->ia_ptr[tr->idx[j] + 1] > c->ia_ptr[tr->idx[j]]) s[n++] = tr->idx[j];
        for (int32_t a = 0; a < c->n_attrs; a++) allowed[a] = k == 0 || crec__rng_uniform(&rng) < 0.5;
        int32_t root = build(p, &p->trees[k], s, (int32_t)n, 0, allowed, max_depth, 5);
        if (root < 0) rc = root;
        else if (p->trees[k].n == 0 && node_add(&p->trees[k]) < 0) rc = CREC_ENOMEM;
    }
    free(s);
    free(allowed);
    if (rc) {
        tree_pol_free(p);
        return rc;
    }
    out->name = "tree";
    out->self = p;
    out->begin = tree_begin;
    out->act = tree_act;
    out->observe = tree_observe;
    return 0;
}
