/* unicorn.c: a unified conversational policy learned by deep Q-learning in the simulator (after UNICORN, Deng et
 * al. SIGIR'21), on the neural core.
 *
 * The one idea, as in UNICORN: one Q-network scores every candidate action - the top attributes (by entropy
 * under the item posterior) and the top items (by the user-item-attribute model) - so what to ask, whether to
 * recommend and what come from one argmax; when an item wins, the candidate items are recommended in Q order.
 * Trained with double DQN, experience replay and UNICORN's rewards (+1 success, -0.1 failed list, +0.01 accepted
 * attribute, -0.1 rejected, -0.3 quit), gamma 0.999.
 *
 * Reduced from the paper (say so beside every number): the state is not a graph neural network over the
 * dynamic conversation graph plus a Transformer over the accepted attributes; it is the frozen embeddings of the
 * shared user-item-attribute model - the query u + sum of accepted attributes, multiplied elementwise with the
 * action's attribute / item vector - and ten conversation features (turn, candidate count, posterior mass,
 * accepted / rejected / failed-list counts, the action's entropy, share and rank). Q = W2 relu(W1 x + b1) + b2.
 * The last turn, and a consistent candidate set no larger than a list, always recommend. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/binio.h"
#include "core/util.h"
#include "crs/crs_internal.h"
#include "nn/nn.h"

#define UNI_MAGIC "CRECUNI\1"
#define UNI_VERSION 1
#define NS 10                        /* scalar features per action */
#define MAXA (CREC_CRS_SCAN_K + CREC_CRS_REC_MAX)

enum { T_W1, T_B1, T_W2, T_B2, T_N };

struct crec_crs_unicorn {
    int in, hidden, ka, dim;
    crec_nn_params net;
    int episodes;
    double train_s;
    float best_sr;
};

void crec__crs_unicorn_free(crec_crs_unicorn *u) {
    if (!u) return;
    crec__nn_params_free(&u->net);
    free(u);
}

static crec_crs_unicorn *uni_alloc(int dim, int hidden, int ka, int train) {
    crec_crs_unicorn *u = calloc(1, sizeof *u);
    if (!u) return NULL;
    u->dim = dim, u->in = dim + NS, u->hidden = hidden, u->ka = ka;
    size_t sz[T_N] = {(size_t)hidden * (size_t)u->in, (size_t)hidden, (size_t)hidden, 1};
    if (crec__nn_params_alloc(&u->net, sz, T_N, train)) {
        free(u);
        return NULL;
    }
    return u;
}

/* ---- features and the Q-network ---- */

/* Rows of X[n x in] for the scan's actions: attributes first, then items. Returns n. */
static int features(const crec_crs_unicorn *u, const crec_crs_uiam *m, const crec_crs_state *st,
                    const crec_crs_scan *sc, int32_t n_items_total, float *X) {
    int d = u->dim, n = 0;
    float qn[1024];
    double norm = 0;
    for (int x = 0; x < d; x++) norm += (double)sc->q[x] * sc->q[x];
    float inv = norm > 0 ? (float)(1.0 / sqrt(norm)) : 0;
    for (int x = 0; x < d; x++) qn[x] = sc->q[x] * inv;
    int nfail = 0;
    for (int t = 1; t <= st->turn && t < 64; t++) nfail += st->history[t] == CREC_CRS_H_REC_FAIL;
    float common[6] = {
        (float)st->turn / (float)(st->last_turn > 0 ? st->last_turn : 1),
        (float)(log1p((double)sc->n_stat) / log1p((double)n_items_total)),
        (float)sc->mass,
        (float)st->n_acc / 10.0f,
        (float)st->n_rej / 10.0f,
        (float)nfail / 5.0f,
    };
    for (int k = 0; k < sc->n_attr + sc->n_item; k++, n++) {
        int is_item = k >= sc->n_attr;
        const float *e = is_item ? m->V + (size_t)sc->item[k - sc->n_attr] * d : m->A + (size_t)sc->attr[k] * d;
        double en = 0;
        for (int x = 0; x < d; x++) en += (double)e[x] * e[x];
        float ei = en > 0 ? (float)(sqrt((double)d) / sqrt(en)) : 0;
        float *row = X + (size_t)n * u->in;
        for (int x = 0; x < d; x++) row[x] = qn[x] * e[x] * ei;
        float *f = row + d;
        memcpy(f, common, sizeof common);
        f[6] = (float)is_item;
        f[7] = is_item ? 0 : sc->attr_h[k];
        f[8] = is_item ? sc->item_w[k - sc->n_attr] * 10.0f : sc->attr_p[k];
        f[9] = is_item ? (float)(k - sc->n_attr) / 10.0f : (float)k / 10.0f;
    }
    return n;
}

/* q[n] = Q of rows X[n x in]; H1[n x hidden] and A1 (post-ReLU) kept when not NULL. */
static void qforward(const crec_crs_unicorn *u, const float *w, const float *X, int n, float *H1, float *A1, float *q) {
    const crec_nn_params *p = &u->net;
    crec__nn_linear_forward(H1, X, w + p->off[T_W1], w + p->off[T_B1], n, u->in, u->hidden);
    crec__nn_act_forward(A1, H1, (size_t)n * u->hidden, CREC_NN_RELU);
    crec__nn_linear_forward(q, A1, w + p->off[T_W2], w + p->off[T_B2], n, u->hidden, 1);
}

/* ---- the policy ---- */

typedef struct uni_pol {
    crec_crs_unicorn *u;
    const crec_crs_uiam *m;
    crec_crs_policy inner; /* cpr: scoring, posterior, seen items */
    float *X, *H1, *A1, *q;
    int32_t n_items;
    /* training: epsilon-greedy and the pending transition */
    crec_rng rng;
    double eps;
    int training;
    int n_act;           /* rows in X of the current state */
    int chosen;          /* row chosen */
    int first_ok;        /* first row the policy may choose (the items' when recommending is forced) */
} uni_pol;

static int uni_begin(void *self, const crec_crs_state *st) {
    uni_pol *p = self;
    return p->inner.begin ? p->inner.begin(p->inner.self, st) : 0;
}

static int uni_act(void *self, const crec_crs_state *st, crec_crs_action *a) {
    uni_pol *p = self;
    crec_crs_scan sc;
    int rc = crec__crs_policy_scan(&p->inner, st, p->u->ka, &sc);
    if (rc) return rc;
    int n = features(p->u, p->m, st, &sc, p->n_items, p->X);
    p->n_act = n;
    p->first_ok = 0;
    if (n == 0) {
        crec__crs_policy_recommend(&p->inner, st, a);
        p->chosen = -1;
        return 0;
    }
    qforward(p->u, p->u->net.param, p->X, n, p->H1, p->A1, p->q);
    int forced = st->turn + 1 >= st->last_turn || sc.n_stat <= st->rec_k || sc.n_attr == 0;
    p->first_ok = forced ? sc.n_attr : 0;
    int best = -1;
    for (int k = forced ? sc.n_attr : 0; k < n; k++)
        if (best < 0 || p->q[k] > p->q[best]) best = k;
    if (p->training && !forced && crec__rng_uniform(&p->rng) < p->eps) best = (int)crec__rng_below(&p->rng, (uint64_t)n);
    p->chosen = best;
    if (best < sc.n_attr) {
        a->kind = CREC_CRS_ASK;
        a->attr = sc.attr[best];
        return 0;
    }
    /* recommend the candidate items in Q order (ties: the model's order) */
    a->kind = CREC_CRS_REC;
    a->n_items = sc.n_item;
    int ord[CREC_CRS_REC_MAX];
    for (int k = 0; k < sc.n_item; k++) {
        int j = k;
        while (j > 0 && p->q[sc.n_attr + k] > p->q[sc.n_attr + ord[j - 1]]) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = k;
    }
    for (int k = 0; k < sc.n_item; k++) a->items[k] = sc.item[ord[k]];
    return 0;
}

static void uni_pol_free(uni_pol *p) {
    if (!p) return;
    crec__crs_policy_free(&p->inner);
    free(p->X), free(p->H1), free(p->A1), free(p->q);
    free(p);
}

static int uni_pol_new(crec_crs_unicorn *u, const crec_crs_catalog *c, const crec_crs_policy_opts *o, uni_pol **out) {
    *out = NULL;
    if (!o->model || o->model->dim != u->dim) return CREC_EINVAL;
    uni_pol *p = calloc(1, sizeof *p);
    if (!p) return CREC_ENOMEM;
    p->u = u;
    p->m = o->model;
    p->n_items = c->n_items;
    size_t rows = MAXA;
    p->X = malloc(rows * (size_t)u->in * sizeof *p->X);
    p->H1 = malloc(rows * (size_t)u->hidden * sizeof *p->H1);
    p->A1 = malloc(rows * (size_t)u->hidden * sizeof *p->A1);
    p->q = malloc(rows * sizeof *p->q);
    int rc = !p->X || !p->H1 || !p->A1 || !p->q ? CREC_ENOMEM : crec__crs_policy_new("cpr", c, o, &p->inner);
    if (rc) {
        uni_pol_free(p);
        return rc;
    }
    *out = p;
    return 0;
}

int crec__crs_unicorn_policy(crec_crs_unicorn *u, const crec_crs_catalog *c, const crec_crs_policy_opts *o,
                             crec_crs_policy *out) {
    memset(out, 0, sizeof *out);
    uni_pol *p;
    int rc = uni_pol_new(u, c, o, &p);
    if (rc) return rc;
    out->name = "unicorn";
    out->self = p;
    out->begin = uni_begin;
    out->act = uni_act;
    return 0;
}

void crec__crs_unicorn_policy_free(crec_crs_policy *pol) {
    if (!pol) return;
    uni_pol_free(pol->self);
    pol->self = NULL;
}

/* ---- training: double DQN with replay ---- */

typedef struct replay {
    int cap, n, next, in, maxa;
    float *x;      /* [cap x in] chosen action's features */
    float *r;      /* [cap] */
    uint8_t *done;
    int *n_next;   /* [cap] actions of the next state */
    int *forced;   /* next state's first choosable row (items only when forced) */
    float *xn;     /* [cap x maxa x in] next state's action features */
} replay;

static void replay_free(replay *b) { free(b->x), free(b->r), free(b->done), free(b->n_next), free(b->forced), free(b->xn); }

typedef struct trainer {
    uni_pol *p;
    replay buf;
    float r_pending;
    int has_pending;
    float *x_pending;
} trainer;

static float reward_of(int outcome) {
    switch (outcome) {
    case CREC_CRS_H_REC_OK: return 1.0f;
    case CREC_CRS_H_REC_FAIL: return -0.1f;
    case CREC_CRS_H_ASK_ACC: return 0.01f;
    default: return -0.1f;
    }
}

static void push(trainer *t, const float *x, float r, int done, const float *xn, int n_next, int first_ok) {
    replay *b = &t->buf;
    int k = b->next;
    memcpy(b->x + (size_t)k * b->in, x, (size_t)b->in * sizeof *x);
    b->r[k] = r;
    b->done[k] = (uint8_t)done;
    b->n_next[k] = done ? 0 : n_next;
    b->forced[k] = first_ok;
    if (!done && n_next > 0) memcpy(b->xn + (size_t)k * b->maxa * b->in, xn, (size_t)n_next * b->in * sizeof *xn);
    b->next = (k + 1) % b->cap;
    if (b->n < b->cap) b->n++;
}

/* The training policy wraps uni_act: it completes the previous transition with this state's actions. */
static int tr_act(void *self, const crec_crs_state *st, crec_crs_action *a) {
    trainer *t = self;
    uni_pol *p = t->p;
    int rc = uni_act(p, st, a);
    if (rc) return rc;
    if (t->has_pending) push(t, t->x_pending, t->r_pending, 0, p->X, p->n_act, p->first_ok);
    if (p->chosen >= 0) {
        memcpy(t->x_pending, p->X + (size_t)p->chosen * p->u->in, (size_t)p->u->in * sizeof *t->x_pending);
        t->has_pending = 1;
    } else {
        t->has_pending = 0;
    }
    return 0;
}

static void tr_observe(void *self, const crec_crs_state *st, const crec_crs_action *a, int outcome) {
    (void)st, (void)a;
    trainer *t = self;
    t->r_pending = reward_of(outcome);
    if (outcome == CREC_CRS_H_REC_OK && t->has_pending) {
        push(t, t->x_pending, t->r_pending, 1, NULL, 0, 0);
        t->has_pending = 0;
    }
}

static int tr_begin(void *self, const crec_crs_state *st) {
    trainer *t = self;
    t->has_pending = 0;
    return uni_begin(t->p, st);
}

/* One gradient step on a batch of B transitions; target network weights wt. Returns the mean Huber loss. */
static double dqn_step(crec_crs_unicorn *u, replay *b, const float *wt, int B, float gamma, crec_rng *rng,
                       float lr, int64_t step, float *X, float *H1, float *A1, float *q, float *y, float *dq,
                       float *dA1, float *dH1, float *qn, float *qt) {
    crec_nn_params *p = &u->net;
    for (int k = 0; k < B; k++) {
        int j = (int)crec__rng_below(rng, (uint64_t)b->n);
        memcpy(X + (size_t)k * u->in, b->x + (size_t)j * u->in, (size_t)u->in * sizeof *X);
        float target = b->r[j];
        if (!b->done[j] && b->n_next[j] > 0) {
            const float *xn = b->xn + (size_t)j * b->maxa * u->in;
            int nn = b->n_next[j], first = b->forced[j];
            qforward(u, p->param, xn, nn, H1, A1, qn); /* online picks, target evaluates (double DQN) */
            qforward(u, wt, xn, nn, H1, A1, qt);
            int best = first;
            for (int a = first; a < nn; a++)
                if (qn[a] > qn[best]) best = a;
            target += gamma * qt[best];
        }
        y[k] = target;
    }
    qforward(u, p->param, X, B, H1, A1, q);
    double loss = 0;
    for (int k = 0; k < B; k++) {
        float e = q[k] - y[k];
        loss += fabsf(e) <= 1 ? 0.5 * e * e : fabsf(e) - 0.5;
        dq[k] = (e > 1 ? 1 : e < -1 ? -1 : e) / (float)B;
    }
    memset(p->grad, 0, p->total * sizeof *p->grad);
    memset(dA1, 0, (size_t)B * u->hidden * sizeof *dA1);
    memset(dH1, 0, (size_t)B * u->hidden * sizeof *dH1);
    float *g = p->grad;
    crec__nn_linear_backward(dA1, g + p->off[T_W2], g + p->off[T_B2], dq, A1, p->param + p->off[T_W2], B, u->hidden, 1);
    crec__nn_act_backward(dH1, dA1, H1, (size_t)B * u->hidden, CREC_NN_RELU);
    crec__nn_linear_backward(NULL, g + p->off[T_W1], g + p->off[T_B1], dH1, X, p->param + p->off[T_W1], B, u->in,
                             u->hidden);
    crec__nn_clip_grad_norm(g, p->total, 10.0);
    crec__nn_adamw(p->param, g, p->m, p->v, p->total, lr, 0.9f, 0.999f, 1e-8f, 0.0f, step);
    return loss / B;
}

void crec__crs_unicorn_defaults(crec_crs_unicorn_opts *o) {
    memset(o, 0, sizeof *o);
    o->episodes = 3000;
    o->hidden = 64;
    o->ka = 10;
    o->lr = 1e-3f;
    o->gamma = 0.999f;
    o->batch = 32;
    o->buffer = 5000;
    o->update_every = 2;
    o->target_every = 200;
    o->eval_every = 500;
    o->n_heldout = 500;
    o->seed = 42;
}

int crec__crs_unicorn_train(const crec_crs_catalog *c, const crec_crs_policy_opts *po, const crec_crs_pair *pairs,
                            int64_t n_pairs, const crec_crs_sim_opts *so, const crec_crs_unicorn_opts *o,
                            crec_crs_unicorn **out) {
    *out = NULL;
    if (!po->model || n_pairs < 2 || o->episodes < 1 || o->hidden < 1 || o->ka < 1 || o->ka > CREC_CRS_SCAN_K ||
        o->batch < 1 || o->buffer < o->batch)
        return CREC_EINVAL;
    int d = po->model->dim;
    crec_crs_unicorn *u = uni_alloc(d, o->hidden, o->ka, 1);
    if (!u) return CREC_ENOMEM;
    crec_rng rng;
    crec__rng_seed(&rng, o->seed);
    crec_nn_params *np = &u->net;
    float s1 = (float)(1.0 / sqrt((double)u->in)), s2 = (float)(1.0 / sqrt((double)u->hidden));
    for (size_t k = 0; k < np->size[T_W1]; k++) np->param[np->off[T_W1] + k] = (float)(crec__rng_uniform(&rng) * 2 - 1) * s1;
    for (size_t k = 0; k < np->size[T_W2]; k++) np->param[np->off[T_W2] + k] = (float)(crec__rng_uniform(&rng) * 2 - 1) * s2;
    int64_t n_held = o->n_heldout < n_pairs / 2 ? o->n_heldout : n_pairs / 2, n_train = n_pairs - n_held;
    const crec_crs_pair *held = pairs + n_train;
    int B = o->batch, maxa = MAXA;
    trainer t;
    memset(&t, 0, sizeof t);
    float *wt = malloc(np->total * sizeof *wt), *best = malloc(np->total * sizeof *best);
    float *X = malloc((size_t)(B > maxa ? B : maxa) * u->in * sizeof *X);
    size_t hb = (size_t)(B > maxa ? B : maxa) * u->hidden;
    float *H1 = malloc(hb * sizeof *H1), *A1 = malloc(hb * sizeof *A1), *dA1 = malloc(hb * sizeof *dA1),
          *dH1 = malloc(hb * sizeof *dH1);
    float *q = malloc((size_t)(B + maxa) * sizeof *q), *y = malloc((size_t)B * sizeof *y), *dq = malloc((size_t)B * sizeof *dq);
    float *qn = malloc((size_t)maxa * sizeof *qn), *qt = malloc((size_t)maxa * sizeof *qt);
    replay *b = &t.buf;
    b->cap = o->buffer, b->in = u->in, b->maxa = maxa;
    b->x = malloc((size_t)b->cap * u->in * sizeof *b->x);
    b->r = malloc((size_t)b->cap * sizeof *b->r);
    b->done = malloc((size_t)b->cap);
    b->n_next = malloc((size_t)b->cap * sizeof *b->n_next);
    b->forced = malloc((size_t)b->cap * sizeof *b->forced);
    b->xn = malloc((size_t)b->cap * maxa * u->in * sizeof *b->xn);
    t.x_pending = malloc((size_t)u->in * sizeof *t.x_pending);
    crec_crs_sim *sim = crec_crs_sim_new(c, so);
    crec_crs_result *res = malloc((size_t)(n_held ? n_held : 1) * sizeof *res);
    uni_pol *p = NULL;
    int rc = 0;
    if (!wt || !best || !X || !H1 || !A1 || !dA1 || !dH1 || !q || !y || !dq || !qn || !qt || !b->x || !b->r ||
        !b->done || !b->n_next || !b->forced || !b->xn || !t.x_pending || !sim || !res)
        rc = CREC_ENOMEM;
    if (!rc) rc = uni_pol_new(u, c, po, &p);
    if (rc) goto out;
    t.p = p;
    crec__rng_seed(&p->rng, o->seed + 1);
    memcpy(wt, np->param, np->total * sizeof *wt);
    memcpy(best, np->param, np->total * sizeof *best);
    u->best_sr = -1;
    crec_crs_policy tp = {.name = "unicorn-train", .self = &t, .begin = tr_begin, .act = tr_act, .observe = tr_observe};
    crec_crs_policy ep = {.name = "unicorn", .self = p, .begin = uni_begin, .act = uni_act};
    double t0 = crec__now(), loss_acc = 0;
    int64_t steps = 0, updates = 0, nloss = 0;
    for (int e = 0; e < o->episodes; e++) {
        p->training = 1;
        double frac = (double)e / (0.6 * o->episodes);
        p->eps = frac >= 1 ? 0.05 : 1.0 - 0.95 * frac;
        int64_t k = (int64_t)crec__rng_below(&rng, (uint64_t)n_train);
        crec_crs_result r;
        if ((rc = crec_crs_episode(sim, &tp, pairs[k], k + 1000000 * (int64_t)(e + 1), &r, NULL))) goto out;
        if (t.has_pending) { /* the user quit */
            push(&t, t.x_pending, t.r_pending - 0.3f, 1, NULL, 0, 0);
            t.has_pending = 0;
        }
        int turns = r.n_asks + r.n_recs;
        for (int s = 0; s < turns; s++) {
            steps++;
            if (b->n >= B && steps % o->update_every == 0) {
                loss_acc += dqn_step(u, b, wt, B, o->gamma, &rng, o->lr, ++updates, X, H1, A1, q, y, dq, dA1, dH1, qn, qt);
                nloss++;
                if (updates % o->target_every == 0) memcpy(wt, np->param, np->total * sizeof *wt);
            }
        }
        if ((e + 1) % o->eval_every == 0 || e + 1 == o->episodes) {
            p->training = 0;
            for (int64_t h = 0; h < n_held; h++)
                if ((rc = crec_crs_episode(sim, &ep, held[h], h, &res[h], NULL))) goto out;
            crec_crs_metrics mt;
            crec_crs_metrics_compute(res, n_held, &mt);
            if (mt.sr15 > u->best_sr) {
                u->best_sr = (float)mt.sr15;
                memcpy(best, np->param, np->total * sizeof *best);
            }
            if (o->verbose)
                fprintf(stderr, "crs unicorn: episode %d/%d  eps %.2f  loss %.4f  held-out SR@15 %.4f AT %.2f  (%.1fs)\n",
                        e + 1, o->episodes, p->eps, nloss ? loss_acc / (double)nloss : 0.0, mt.sr15, mt.at,
                        crec__now() - t0);
            loss_acc = 0, nloss = 0;
        }
    }
    memcpy(np->param, best, np->total * sizeof *best);
    u->episodes = o->episodes;
    u->train_s = crec__now() - t0;
out:
    uni_pol_free(p);
    crec_crs_sim_free(sim);
    free(res);
    replay_free(b);
    free(t.x_pending), free(wt), free(best), free(X), free(H1), free(A1), free(dA1), free(dH1), free(q), free(y);
    free(dq), free(qn), free(qt);
    if (rc) {
        crec__crs_unicorn_free(u);
        return rc;
    }
    *out = u;
    return 0;
}

double crec__crs_unicorn_info(const crec_crs_unicorn *u, int *episodes, float *heldout_sr) {
    if (episodes) *episodes = u->episodes;
    if (heldout_sr) *heldout_sr = u->best_sr;
    return u->train_s;
}

int crec__crs_unicorn_save(const crec_crs_unicorn *u, const char *path) {
    crec_buf b;
    memset(&b, 0, sizeof b);
    int rc = crec__put_u32(&b, (uint32_t)u->dim);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)u->hidden);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)u->ka);
    if (!rc) rc = crec__put_u32(&b, (uint32_t)u->episodes);
    if (!rc) rc = crec__put_u64(&b, (uint64_t)(u->train_s * 1e6));
    if (!rc) rc = crec_buf_write(&b, &u->best_sr, sizeof u->best_sr);
    if (!rc) rc = crec__nn_params_save(&u->net, &b);
    if (!rc) rc = crec__binfile_write(path, UNI_MAGIC, UNI_VERSION, &b);
    crec_buf_free(&b);
    return rc;
}

int crec__crs_unicorn_load(const char *path, crec_crs_unicorn **out) {
    *out = NULL;
    crec_buf b;
    uint32_t ver, d, h, ka, ep;
    uint64_t us;
    float sr;
    int rc = crec__binfile_read(path, UNI_MAGIC, UNI_VERSION, &ver, &b);
    if (rc) return rc;
    if (crec__get_u32(&b, &d) || crec__get_u32(&b, &h) || crec__get_u32(&b, &ka) || crec__get_u32(&b, &ep) ||
        crec__get_u64(&b, &us) || crec_buf_read(&b, &sr, sizeof sr) || d < 1 || d > 1024 || h < 1 || h > 4096 ||
        ka < 1 || ka > CREC_CRS_SCAN_K) {
        crec__binfile_release(&b);
        return CREC_EFORMAT;
    }
    crec_crs_unicorn *u = uni_alloc((int)d, (int)h, (int)ka, 0);
    if (!u) {
        crec__binfile_release(&b);
        return CREC_ENOMEM;
    }
    rc = crec__nn_params_load(&u->net, &b);
    crec__binfile_release(&b);
    if (rc) {
        crec__crs_unicorn_free(u);
        return rc;
    }
    u->episodes = (int)ep;
    u->train_s = (double)us / 1e6;
    u->best_sr = sr;
    *out = u;
    return 0;
}
