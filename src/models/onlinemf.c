/* onlinemf.c: the online factorisation model (crec_omf, src/online/mf.c) as a crec model, so training, evaluation,
 * recommendation and the service use it like any other, and crec_model_update teaches it while it serves.
 *
 * Offline training replays the training matrix's events in time order (ties by user, then the user's order),
 * `epochs` times, in mini-batches of `batch` events: the same learning rule as the stream, so a model trained
 * offline and one fed the same events by update are the same model. update grows n_users / n_items to the largest
 * ids seen. The checkpoint is the model's own serialisation (options, known items, a full table export). */
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/online.h"
#include "online/mf.h"

static const crec_param_def OMF_PARAMS[] = {
    CREC_P_INT("factors", "32", 1, 4096, "latent dimension D"),
    CREC_P_ENUM("loss", "softmax", "bpr|softmax", "per-event loss: BPR, or sampled softmax over the negatives"),
    CREC_P_INT("neg", "64", 1, 4096, "negatives per event, uniform over the items known so far"),
    CREC_P_FLOAT("lr", "0.5", 1e-9, 100, "Adagrad learning rate (per-row state in the table)"),
    CREC_P_FLOAT("reg", "0", 0, 1e6, "L2 regularisation of every touched row"),
    CREC_P_FLOAT("init_scale", "0.1", 0, 100, "a new row is uniform in [-init_scale, init_scale)"),
    CREC_P_INT("min_count", "1", 1, 65535, "events before an id gets a row (count-min admission filter)"),
    CREC_P_INT("ttl", "0", 0, 1e15, "evict rows untouched for this long (event time units); 0 never"),
    CREC_P_INT("hist", "0", 0, 256, "session tower: add the mean input embedding of the user's last hist items (0: off)"),
    CREC_P_INT("epochs", "1", 1, 10000, "offline training: passes over the training events in time order"),
    CREC_P_INT("batch", "1", 1, 1 << 20, "offline training: events per mini-batch"),
    CREC_P_END,
};

static int omf_opts_from(const crec_model *m, uint64_t seed, crec_omf_opts *o) {
    crec_omf_opts_default(o);
    o->dim = (int)crec_model_param_int(m, "factors");
    o->loss = strcmp(crec_model_param_str(m, "loss"), "softmax") ? CREC_OMF_BPR : CREC_OMF_SOFTMAX;
    o->neg = (int)crec_model_param_int(m, "neg");
    o->lr = (float)crec_model_param_double(m, "lr");
    o->reg = (float)crec_model_param_double(m, "reg");
    o->init_scale = (float)crec_model_param_double(m, "init_scale");
    o->min_count = (uint32_t)crec_model_param_int(m, "min_count");
    o->ttl = crec_model_param_int(m, "ttl");
    o->seed = seed;
    o->hist = (int)crec_model_param_int(m, "hist");
    return 0;
}

typedef struct { int64_t ts; int32_t user, pos; int32_t item; } omf_ev;

static int ev_cmp(const void *a, const void *b) {
    const omf_ev *x = a, *y = b;
    if (x->ts != y->ts) return x->ts < y->ts ? -1 : 1;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

static int omf_train(crec_model *m, const crec_train_input *in) {
    crec_omf_opts o;
    omf_opts_from(m, in->seed, &o);
    crec_omf *om = crec_omf_new(&o);
    if (!om) return CREC_EINVAL;
    const crec_csr *tr = in->train;
    int64_t nnz = crec_csr_nnz(tr), B = crec_model_param_int(m, "batch"), E = crec_model_param_int(m, "epochs");
    omf_ev *evs = malloc(((size_t)nnz + 1) * sizeof *evs);
    crec_event *buf = malloc(((size_t)(B < nnz ? B : nnz) + 1) * sizeof *buf);
    if (!evs || !buf) {
        free(evs);
        free(buf);
        crec_omf_free(om);
        return CREC_ENOMEM;
    }
    for (int32_t u = 0; u < tr->n_rows; u++)
        for (int64_t k = tr->ptr[u]; k < tr->ptr[u + 1]; k++)
            evs[k] = (omf_ev){tr->ts ? tr->ts[k] : k, u, (int32_t)(k - tr->ptr[u]), tr->idx[k]};
    qsort(evs, (size_t)nnz, sizeof *evs, ev_cmp);
    int rc = 0;
    for (int64_t ep = 0; ep < E && !rc; ep++) {
        double t0 = crec__now(), L = 0;
        int64_t nb = 0;
        for (int64_t k0 = 0; k0 < nnz && !rc; k0 += B) {
            int64_t n = nnz - k0 < B ? nnz - k0 : B;
            for (int64_t k = 0; k < n; k++)
                buf[k] = (crec_event){.user = evs[k0 + k].user, .item = evs[k0 + k].item, .ts = evs[k0 + k].ts,
                                      .value = 1};
            double l;
            rc = crec_omf_learn(om, buf, n, &l);
            L += l;
            nb++;
        }
        if (in->verbose && !rc)
            crec__log("onlinemf epoch %lld/%lld: mean batch loss %.4f (%.2f s)", (long long)ep + 1, (long long)E,
                      nb ? L / nb : 0, crec__now() - t0);
    }
    free(evs);
    free(buf);
    if (rc) {
        crec_omf_free(om);
        return rc;
    }
    m->state = om;
    return 0;
}

static int omf_score(const crec_model *m, const crec_context *ctx, float *scores) {
    return crec_omf_score(m->state, ctx->user, ctx->hist, ctx->n_hist, m->n_items, scores);
}

static int omf_update(crec_model *m, const crec_event *ev, int64_t n) {
    int rc = crec_omf_learn(m->state, ev, n, NULL);
    crec_omf_stats st;
    crec_omf_get_stats(m->state, &st);
    if (st.max_user >= m->n_users) m->n_users = st.max_user + 1;
    if (st.max_item >= m->n_items) m->n_items = st.max_item + 1;
    return rc;
}

/* The table numbers its exports, so saving advances that counter (the model's numbers are untouched). */
static int omf_save(const crec_model *m, crec_buf *out) { return crec_omf_save((crec_omf *)m->state, out); }

static int omf_load(crec_model *m, crec_buf *in) {
    crec_omf *om;
    int rc = crec__omf_load_bounded(in, m->n_users, m->n_items, &om);
    if (rc) return rc;
    crec_omf_stats st;
    crec_omf_get_stats(om, &st);
    if (st.max_user >= m->n_users || st.max_item >= m->n_items) {
        crec_omf_free(om);
        return CREC_EFORMAT;
    }
    m->state = om;
    return 0;
}

static void omf_free(crec_model *m) {
    crec_omf_free(m->state);
    m->state = NULL;
}

const crec_model_type crec__model_onlinemf = {
    .name = "onlinemf",
    .summary = "online matrix factorisation on the collisionless embedding table (BPR / sampled softmax, Adagrad per row)",
    .params = OMF_PARAMS,
    .train = omf_train,
    .score = omf_score,
    .save = omf_save,
    .load = omf_load,
    .free_state = omf_free,
    .update = omf_update,
};
