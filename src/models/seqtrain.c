/* seqtrain.c: the one training loop of the sequence models (seqtrain.h): packed batches in the network's layout,
 * the epoch loop (shuffle, windows, forward, loss, backward, clipping, schedule, AdamW), validation with full
 * ranking (seqvalid.c) and early stopping that keeps the best parameters, scoring, the stock next-item objective,
 * and the whole-model gradient check.
 *
 * The one idea: a training step is the same for every sequence model - only the network (forward / backward over
 * a packed batch) and the objective (windows, loss) differ - so it is written once, and with it the things that
 * are easy to get subtly wrong: one RNG stream consumed in a fixed order (initialisation, then per epoch the
 * shuffle and per step the objective's draws), dropout seeds that are a pure function of (seed, step), products in
 * fixed row blocks, and BLAS on one thread while OpenMP shares the work: the same bits at any thread count. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/util.h"
#include "crec/dist.h"
#include "models/params.h"
#include "models/seqtrain.h"
#include "models/seqvalid.h"
#include "nn/kernels.h"

static int32_t row_len(const crec_csr *x, int32_t u) { return (int32_t)(x->ptr[u + 1] - x->ptr[u]); }

/* ---- hyper-parameters ---- */

int crec__seqtrain_hp(const crec_model *m, crec_seqtrain_hp *h) {
    memset(h, 0, sizeof *h);
    h->sched = crec__nn_sched_parse(crec_model_param_str(m, "schedule"));
    h->batch = (int)crec_model_param_int(m, "batch");
    h->epochs = (int)crec_model_param_int(m, "epochs");
    h->patience = (int)crec_model_param_int(m, "patience");
    h->min_epochs = (int)crec_model_param_int(m, "min_epochs");
    h->warmup = (int)crec_model_param_int(m, "warmup");
    h->lr = crec_model_param_double(m, "lr");
    h->wd = crec_model_param_double(m, "wd");
    h->beta2 = crec_model_param_double(m, "beta2");
    h->clip = crec_model_param_double(m, "clip");
    h->valid_users = (int32_t)crec_model_param_int(m, "valid_users");
    if (h->sched < 0 || h->batch < 1 || h->batch > 1024 || h->epochs < 0 || h->patience < 0 || h->warmup < 0 ||
        !(h->lr > 0) || !(h->wd >= 0) || !(h->beta2 > 0 && h->beta2 < 1) || !(h->clip >= 0) || h->valid_users < 0)
        return CREC_EINVAL;
    return 0;
}

/* ---- batches ---- */

void crec__seqtrain_batch_free(crec_seq_batch *bt) {
    free(bt->len), free(bt->src), free(bt->seq_off), free(bt->att_off), free(bt->bs), free(bt->off);
    free(bt->ids), free(bt->posid), free(bt->tgt), free(bt->ts), free(bt->key), free(bt->wl);
    memset(bt, 0, sizeof *bt);
}

int crec__seqtrain_batch_alloc(crec_seq_batch *bt, int Bmax, int Nmax, int Tmax) {
    memset(bt, 0, sizeof *bt);
    size_t B1 = (size_t)Bmax + 1, N1 = (size_t)Nmax + 1, T1 = (size_t)Tmax + 1;
    bt->len = malloc(B1 * sizeof *bt->len);
    bt->src = malloc(B1 * sizeof *bt->src);
    bt->seq_off = malloc(B1 * sizeof *bt->seq_off);
    bt->att_off = malloc(B1 * sizeof *bt->att_off);
    bt->key = malloc(B1 * sizeof *bt->key);
    bt->wl = malloc(B1 * sizeof *bt->wl);
    bt->bs = malloc(T1 * sizeof *bt->bs);
    bt->off = malloc((T1 + 1) * sizeof *bt->off);
    bt->ids = malloc(N1 * sizeof *bt->ids);
    bt->posid = malloc(N1 * sizeof *bt->posid);
    bt->tgt = malloc(N1 * sizeof *bt->tgt);
    bt->ts = malloc(N1 * sizeof *bt->ts);
    if (!bt->len || !bt->src || !bt->seq_off || !bt->att_off || !bt->key || !bt->wl || !bt->bs || !bt->off ||
        !bt->ids || !bt->posid || !bt->tgt || !bt->ts) {
        crec__seqtrain_batch_free(bt);
        return CREC_ENOMEM;
    }
    return 0;
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

void crec__seqtrain_batch_layout(crec_seq_batch *bt, const crec_seqtrain_net *net, const int32_t *lens, int nb) {
    bt->B = nb, bt->time_major = net->time_major;
    if (!net->time_major) {
        int32_t N = 0, T = 0;
        bt->seq_off[0] = 0;
        for (int q = 0; q < nb; q++) {
            bt->src[q] = q, bt->len[q] = lens[q];
            N += lens[q], T = lens[q] > T ? lens[q] : T;
            bt->seq_off[q + 1] = N;
        }
        bt->N = N, bt->T = T;
        if (net->heads > 0) crec__nn_attention_offsets(bt->att_off, bt->seq_off, nb, net->heads);
        return;
    }
    /* time-major: sort by length, longest first, ties in list order */
    for (int i = 0; i < nb; i++) bt->key[i] = ((int64_t)(INT32_MAX - lens[i]) << 32) | (int64_t)i;
    qsort(bt->key, (size_t)nb, sizeof *bt->key, cmp_i64);
    for (int q = 0; q < nb; q++) {
        bt->src[q] = (int32_t)(bt->key[q] & 0xffffffff);
        bt->len[q] = lens[bt->src[q]];
    }
    int T = bt->len[0], k = nb;
    bt->off[0] = 0;
    for (int t = 0; t < T; t++) {
        while (k > 0 && bt->len[k - 1] <= t) k--;
        bt->bs[t] = k;
        bt->off[t + 1] = bt->off[t] + k;
    }
    bt->T = T, bt->N = bt->off[T];
    bt->pk.B = nb, bt->pk.T = T, bt->pk.N = bt->N, bt->pk.bs = bt->bs, bt->pk.off = bt->off;
}

void crec__seqtrain_batch_train(crec_seq_batch *bt, const crec_seqtrain_net *net, const crec_seqtrain_obj *obj,
                                const crec_csr *train, const int32_t *users, int nb, crec_rng *rng) {
    for (int b = 0; b < nb; b++) bt->wl[b] = obj->window(obj->ctx, net, row_len(train, users[b]));
    crec__seqtrain_batch_layout(bt, net, bt->wl, nb);
    for (int q = 0; q < nb; q++) obj->fill(obj->ctx, net, train, users[bt->src[q]], bt, q, rng);
}

void crec__seqtrain_batch_hist(crec_seq_batch *bt, const crec_seqtrain_net *net, const int32_t *const *hist,
                               const int64_t *const *ts, const int32_t *len, int nb) {
    int mk = net->mask >= 0, T = net->T;
    for (int b = 0; b < nb; b++) bt->wl[b] = (len[b] < T - mk ? len[b] : T - mk) + mk;
    crec__seqtrain_batch_layout(bt, net, bt->wl, nb);
    for (int q = 0; q < nb; q++) {
        int b = bt->src[q];
        int32_t Tw = bt->len[q], Tb = Tw - mk; /* window rows, history items in it */
        const int32_t *it = hist[b] + (len[b] - Tb);
        const int64_t *tt = ts && ts[b] ? ts[b] + (len[b] - Tb) : NULL;
        for (int t = 0; t < Tw; t++) {
            int32_t r = crec__seqtrain_row(bt, q, t);
            bt->ids[r] = t < Tb ? it[t] : net->mask;
            bt->tgt[r] = -1;
            bt->posid[r] = T - Tw + t;
            /* event times (the [mask] row takes the last one); positions when there are none */
            bt->ts[r] = tt ? tt[t < Tb ? t : Tb - 1] : (int64_t)(len[b] - Tb + (t < Tb ? t : Tb - 1));
        }
    }
}

static int cmp_desc_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x < y) - (x > y);
}

/* Largest N and sum of squared lengths over any batch of nb sequences with these lengths (each capped at T): the
 * nb longest. */
static void worst_batch(const int32_t *lens, int32_t n, int nb, int T, int *Nmax, int64_t *Q2max) {
    int32_t *c = malloc(((size_t)n + 1) * sizeof *c);
    int64_t N = 0, Q = 0;
    if (c) {
        for (int32_t i = 0; i < n; i++) c[i] = lens[i] < T ? lens[i] : T;
        qsort(c, (size_t)n, sizeof *c, cmp_desc_i32);
        for (int32_t i = 0; i < n && i < nb; i++) N += c[i], Q += (int64_t)c[i] * c[i];
        free(c);
    } else {
        N = (int64_t)nb * T, Q = (int64_t)nb * T * T;
    }
    *Nmax = (int)(N > 0 ? N : 1);
    *Q2max = Q > 0 ? Q : 1;
}

/* ---- scoring ---- */

int crec__seqtrain_score(const crec_seqtrain_net *net, const float *pop, const int32_t *hist, int32_t n,
                         float *scores) {
    if (n <= 0) {
        memcpy(scores, pop, (size_t)net->NI * sizeof *scores);
        return 0;
    }
    int mk = net->mask >= 0;
    int32_t Tw = (n < net->T - mk ? n : net->T - mk) + mk; /* the window's rows */
    size_t nf = net->acts_floats(net->ctx, Tw, (int64_t)net->heads * Tw * Tw);
    float *base = malloc(nf * sizeof *base);
    crec_seq_batch bt;
    int rc = crec__seqtrain_batch_alloc(&bt, 1, Tw, Tw);
    if (rc || !base) {
        free(base);
        crec__seqtrain_batch_free(&bt);
        return CREC_ENOMEM;
    }
    const int32_t *h1[1] = {hist};
    crec__seqtrain_batch_hist(&bt, net, h1, NULL, &n, 1);
    const float *h = net->forward(net->ctx, &bt, base, NULL, 0, NULL);
    h += (size_t)crec__seqtrain_row(&bt, 0, Tw - 1) * net->D; /* the window's last row */
    crec__nn_matvec(scores, net->out_table(net->ctx, net->p->param), h, net->NI, net->D);
    free(base);
    crec__seqtrain_batch_free(&bt);
    return 0;
}

/* ---- validation (seqvalid.c): each history's last state, through the forward in packed batches ---- */

typedef struct st_vctx {
    const crec_seqtrain_net *net;
    float *abase;       /* the training activation block, reused */
    crec_seq_batch *bt; /* the training batch, reused */
} st_vctx;

static void valid_states(void *ctx, const int32_t *const *hist, const int64_t *const *ts, const int32_t *len, int k,
                         float *hl, int32_t *order) {
    st_vctx *c = ctx;
    const crec_seqtrain_net *net = c->net;
    crec_seq_batch *bt = c->bt;
    crec__seqtrain_batch_hist(bt, net, hist, ts, len, k);
    const float *h = net->forward(net->ctx, bt, c->abase, NULL, 0, NULL);
    for (int q = 0; q < k; q++) {
        memcpy(hl + (size_t)q * net->D, h + (size_t)crec__seqtrain_row(bt, q, bt->len[q] - 1) * net->D,
               (size_t)net->D * sizeof(float));
        order[q] = bt->src[q];
    }
}

/* ---- training ---- */

/* Zeroed blocks for the activations and their gradients: anonymous mappings, so the pages are the kernel's fresh
 * zero pages, faulted in only where a batch writes (the blocks are sized for the worst batch, ~8x a typical one on
 * Beauty; a memset of them and its faults were 12% of a one-epoch BCE run), and advised as huge pages where the
 * kernel allows it: 2 MiB faults instead of 4 KiB ones (HSTU on ML-1M faults in ~300 MiB, 75,000 small pages, in
 * its first epoch). 64-byte aligned (page aligned). */
static float *zalloc(size_t bytes) {
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) return NULL;
#ifdef MADV_HUGEPAGE
    if (!getenv("CREC_NO_HUGEPAGES")) madvise(p, bytes, MADV_HUGEPAGE); /* advice only: fine when refused */
#endif
    return p;
}

static void zfree(float *p, size_t bytes) {
    if (p) munmap(p, bytes);
}

/* Everything training allocates, freed in one place. */
typedef struct st_train {
    crec_seq_batch bt;
    float *abase, *gbase, *best; /* abase, gbase: mapped blocks of ab, gb bytes */
    size_t ab, gb;
    int32_t *users, *lens;
    crec_seqvalid v;
} st_train;

static void train_free(st_train *t) {
    crec__seqtrain_batch_free(&t->bt);
    zfree(t->abase, t->ab), zfree(t->gbase, t->gb), free(t->best), free(t->users), free(t->lens);
    crec__seqvalid_free(&t->v);
}

int64_t crec__seqtrain_step_limit = 0;


int crec__seqtrain_run(const crec_seqtrain_net *net, const crec_seqtrain_obj *obj, const crec_seqtrain_hp *hp,
                       const crec_train_input *in, float *pop) {
    st_train tr;
    memset(&tr, 0, sizeof tr);
    const crec_csr *x = in->train;
    crec_nn_params *p = net->p;
    int32_t U = x->n_rows;
    int nt = in->n_threads > 0 ? in->n_threads : omp_get_max_threads();
    crec_nn_threads th = crec__nn_threads_enter(nt);
    int rc = 0;
    for (int64_t q = 0; q < crec_csr_nnz(x); q++) pop[x->idx[q]] += 1.0f;
    crec_rng rng;
    crec__rng_seed(&rng, in->seed);
    net->init(net->ctx, &rng);
    /* Data-parallel (crec/dist.h, P ranks): every rank draws the same initialisation and shuffles from rng, and
     * takes slice [nb r / P, nb (r + 1) / P) of each global batch; the objective's draws come from a stream of its
     * own (orng), so the shuffles stay in step. One rank: orng is rng, the same stream as always. */
    int P = crec_dist_size(), R = crec_dist_rank();
    crec_rng orng_r, *orng = &rng;
    if (P > 1) crec__rng_seed(&orng_r, in->seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(R + 1))), orng = &orng_r;

    /* training users (>= 2 training items) and the worst-case batch over training and validation windows */
    tr.users = malloc(((size_t)U + 1) * sizeof *tr.users);
    tr.lens = malloc(((size_t)U + 1) * sizeof *tr.lens);
    if (!tr.users || !tr.lens) {
        rc = CREC_ENOMEM;
        goto done;
    }
    int32_t nu = 0;
    for (int32_t u = 0; u < U; u++) {
        int32_t n = row_len(x, u);
        tr.lens[u] = n + (net->mask >= 0); /* the mask token appended at validation */
        if (n >= 2) tr.users[nu++] = u;
    }
    if (P > 1 && (nu < P || hp->batch < P)) {
        if (R == 0)
            crec__log("%s: %d ranks but %d training users and batch %d: every rank needs users in every batch "
                      "(fewer ranks, or a larger batch)", net->name, P, nu, hp->batch);
        rc = CREC_EINVAL;
        goto done;
    }
    int Bmax = hp->batch, Nmax;
    int64_t Q2max;
    worst_batch(tr.lens, U, Bmax, net->T, &Nmax, &Q2max);
    size_t af = net->acts_floats(net->ctx, Nmax, net->heads > 0 ? net->heads * Q2max : 1);
    tr.ab = tr.gb = (af + 16) * sizeof(float);
    tr.abase = zalloc(tr.ab);
    tr.gbase = zalloc(tr.gb);
    tr.best = crec__aligned_alloc(p->total * sizeof(float));
    rc = crec__seqtrain_batch_alloc(&tr.bt, Bmax, Nmax, net->T);
    if (!rc && (!tr.abase || !tr.gbase || !tr.best)) rc = CREC_ENOMEM;
    if (!rc && obj->prepare) rc = obj->prepare(obj->ctx, net, x, pop, Nmax);
    int do_valid = in->valid && crec_csr_nnz(in->valid) > 0;
    if (!rc && do_valid) {
        rc = crec__seqvalid_init(&tr.v, in->valid, hp->valid_users, Bmax, net->NI, net->D, nt);
        if (!rc && tr.v.n_users == 0) do_valid = 0;
    }
    if (rc) goto done;

    char label[64];
    snprintf(label, sizeof label, "%s epoch", net->name);
    int64_t steps_per_epoch = (nu + Bmax - 1) / Bmax, total = steps_per_epoch * hp->epochs, step = 0;
    double best = -1;
    int best_epoch = 0, since = 0;
    memcpy(tr.best, p->param, p->total * sizeof(float));
    memset(p->grad, 0, p->total * sizeof(float));
    /* the item table in the block (ranks > 1 only: a network may keep a derived table outside it, sasrec cos=1) */
    size_t w_off = P > 1 ? (size_t)(net->out_table(net->ctx, p->grad) - p->grad) : 0;
    for (int ep = 1; ep <= hp->epochs && nu > 0; ep++) {
        double t0 = crec__now(), loss_sum = 0;
        int64_t tok_sum = 0, sent_rows = 0;
        crec_dist_stats cs0;
        crec_dist_stats_get(&cs0);
        for (int32_t i = nu - 1; i > 0; i--) { /* Fisher-Yates */
            int32_t j = (int32_t)crec__rng_below(&rng, (uint64_t)i + 1), t = tr.users[i];
            tr.users[i] = tr.users[j], tr.users[j] = t;
        }
        crec_progress pg;
        crec__progress_start(&pg, label, nu, in->verbose && crec__progress_wanted());
        for (int32_t b0 = 0; b0 < nu; b0 += Bmax, step++) {
            if (crec__seqtrain_step_limit > 0 && step >= crec__seqtrain_step_limit) break; /* benches only */
            int nb = nu - b0 < Bmax ? nu - b0 : Bmax;
            int lo = (int)((int64_t)nb * R / P), nr = (int)((int64_t)nb * (R + 1) / P) - lo; /* this rank's slice */
            crec_seq_batch *bt = &tr.bt;
            /* dropout seed != 0 (on); a pure function of (seed, step, rank), the old one at one rank */
            uint64_t seed = crec__nn_hash(in->seed ^ net->salt, (uint64_t)step * (uint64_t)P + (uint64_t)R) | 1;
            /* p->grad is zero here: zeroed before the first step, then by the AdamW pass that ends each step */
            int64_t rows = 0;
            double l = 0;
            if (nr > 0) {
                crec__seqtrain_batch_train(bt, net, obj, x, tr.users + b0 + lo, nr, orng);
                float *dh;
                const float *h = net->forward(net->ctx, bt, tr.abase, tr.gbase, seed, &dh);
                l = obj->loss(obj->ctx, net, bt, h, dh, net->out_table(net->ctx, p->param),
                              net->out_table(net->ctx, p->grad), x, tr.users + b0 + lo, orng, &rows);
                net->backward(net->ctx, bt, tr.abase, tr.gbase, seed);
            }
            if (P > 1) {
                /* the losses average over their rows: weigh each rank's gradient by its share of the batch's rows,
                 * then sum over ranks (the item table's untouched rows stay home), so every rank holds the
                 * gradient of the whole batch and takes the same AdamW step */
                double st[2] = {l, (double)rows};
                rc = crec_dist_allreduce_f64(st, 2);
                float wgt = st[1] > 0 ? (float)((double)rows / st[1]) : 0.0f;
                if (!rc && wgt != 1.0f)
                    for (size_t q = 0; q < p->total; q++) p->grad[q] *= wgt;
                int64_t sent = 0;
                if (!rc) rc = crec_dist_allreduce_rows(p->grad, p->total, w_off, net->NI, net->D, &sent);
                if (rc) goto done;
                l = st[0], rows = (int64_t)st[1], sent_rows += sent;
            }
            loss_sum += l;
            tok_sum += rows;
            if (hp->clip > 0) crec__nn_clip_grad_norm(p->grad, p->total, hp->clip);
            float lr = crec__nn_lr((crec_nn_sched)hp->sched, (float)hp->lr, step, total, hp->warmup, 0.1f);
            for (int k = 0; k < p->n; k++)
                crec__nn_adamw_zero(crec__nn_tensor(p, p->param, k), crec__nn_tensor(p, p->grad, k),
                                    crec__nn_tensor(p, p->m, k), crec__nn_tensor(p, p->v, k), p->size[k], lr, 0.9f,
                                    (float)hp->beta2, 1e-8f, (net->decay >> k) & 1 ? (float)hp->wd : 0.0f, step + 1);
            crec__progress_update(&pg, b0 + nb);
        }
        crec__progress_end(&pg);
        double secs = crec__now() - t0;
        if (P > 1) {
            crec_dist_stats cs1;
            crec_dist_stats_get(&cs1);
            int64_t ns = steps_per_epoch > 0 ? steps_per_epoch : 1;
            /* the replicas must agree bit for bit (MPI_Allreduce hands every rank the same sums): checked each
             * epoch; were they ever to differ, rank 0's state is copied to all */
            uint64_t c = crec__crc32(0, p->param, p->total * sizeof(float)), cmin = c, cmax = c;
            rc = crec_dist_allreduce_minmax_u64(&cmin, &cmax);
            if (!rc && cmin != cmax) {
                if (R == 0) crec__log("%s epoch %d: replicas differ; rank 0's parameters broadcast", net->name, ep);
                rc = crec_dist_bcast(p->param, p->total * sizeof(float), 0);
                if (!rc) rc = crec_dist_bcast(p->m, p->total * sizeof(float), 0);
                if (!rc) rc = crec_dist_bcast(p->v, p->total * sizeof(float), 0);
            }
            if (rc) goto done;
            if (in->verbose)
                crec__log("%s epoch %d  dist %d ranks: %.3f MB/step sent by this rank (%.0f of %d table rows/step), "
                          "%.2fs in collectives, replicas %s",
                          net->name, ep, P, (double)(cs1.bytes - cs0.bytes) / ns / 1e6, (double)sent_rows / ns,
                          (int)net->NI, cs1.seconds - cs0.seconds, cmin == cmax ? "identical" : "re-synchronised");
        }
        if (!do_valid) {
            if (in->verbose)
                crec__log("%s epoch %d  loss %.4f  %.2fs\n", net->name, ep, tok_sum ? loss_sum / tok_sum : 0, secs);
            continue;
        }
        double t1 = crec__now();
        st_vctx vc = {net, tr.abase, &tr.bt};
        /* validation once, on rank 0; its NDCG is broadcast, so every rank takes the same early-stopping step */
        double nd = 0;
        if (R == 0)
            nd = crec__seqvalid_run(&tr.v, x, in->valid, 0, net->out_table(net->ctx, p->param), pop, valid_states,
                                    &vc);
        if (P > 1 && (rc = crec_dist_bcast(&nd, sizeof nd, 0))) goto done;
        if (in->verbose)
            crec__log("%s epoch %d  loss %.4f  valid NDCG@10 %.4f%s  train %.2fs  valid %.2fs\n", net->name, ep,
                      tok_sum ? loss_sum / tok_sum : 0, nd, nd > best ? " *" : "", secs, crec__now() - t1);
        if (nd > best) {
            best = nd, best_epoch = ep, since = 0;
            memcpy(tr.best, p->param, p->total * sizeof(float));
        } else if (crec__early_stop(ep, ++since, hp->patience, hp->min_epochs))
            break;
    }
    if (hp->best_epoch) *hp->best_epoch = do_valid && best >= 0 ? best_epoch : hp->epochs;
    if (do_valid && best >= 0) {
        memcpy(p->param, tr.best, p->total * sizeof(float));
        if (in->verbose) crec__log("%s: best validation NDCG@10 %.4f at epoch %d\n", net->name, best, best_epoch);
    }
    /* keep parameters only */
    free(p->grad), free(p->m), free(p->v);
    p->grad = p->m = p->v = NULL;
done:
    crec__nn_threads_leave(th);
    train_free(&tr);
    return rc;
}

/* ---- the stock next-item objective ---- */

void crec__seqtrain_fill_next(const crec_seqtrain_net *net, const crec_csr *train, int32_t u, crec_seq_batch *bt,
                              int q) {
    int32_t n = row_len(train, u), w = n < net->T + 1 ? n : net->T + 1, Tb = w - 1;
    int64_t o = train->ptr[u] + (n - w);
    const int32_t *it = train->idx + o;
    for (int t = 0; t < Tb; t++) {
        int32_t r = crec__seqtrain_row(bt, q, t);
        bt->ids[r] = it[t];
        bt->tgt[r] = it[t + 1];
        bt->posid[r] = net->T - Tb + t;
        bt->ts[r] = train->ts ? train->ts[o + t] : 0;
    }
}

static int next_prepare(void *ctx, const crec_seqtrain_net *net, const crec_csr *train, const float *pop, int Nmax) {
    crec_seqtrain_next *o = ctx;
    (void)train;
    int rc = crec__nn_head_init(&o->head, &o->cfg, net->NI, net->D, Nmax, pop);
    if (!rc && crec__nn_head_per_row(&o->head)) {
        o->mark = calloc((size_t)net->NI, 1);
        if (!o->mark) rc = CREC_ENOMEM;
    }
    return rc;
}

static int32_t next_window(void *ctx, const crec_seqtrain_net *net, int32_t n) {
    (void)ctx;
    return (n < net->T + 1 ? n : net->T + 1) - 1;
}

static void next_fill(void *ctx, const crec_seqtrain_net *net, const crec_csr *train, int32_t u, crec_seq_batch *bt,
                      int q, crec_rng *rng) {
    (void)ctx, (void)rng;
    crec__seqtrain_fill_next(net, train, u, bt, q);
}

/* The loss at every row, averaged over the batch's N rows. Negatives: shared ones for the batch, or per row in the
 * network's order (sequence by sequence, position by position), none from the user's training row. */
static double next_loss(void *ctx, const crec_seqtrain_net *net, const crec_seq_batch *bt, const float *h, float *dh,
                        const float *W, float *dW, const crec_csr *train, const int32_t *users, crec_rng *rng,
                        int64_t *rows) {
    crec_seqtrain_next *o = ctx;
    crec_nn_head *hd = &o->head;
    int N = bt->N;
    (void)net;
    *rows = N;
    if (crec__nn_head_shared(hd))
        crec__nn_head_draw_shared(hd, bt->tgt, N, rng);
    else if (crec__nn_head_per_row(hd))
        for (int q = 0; q < bt->B; q++) {
            int32_t u = users[bt->src[q]];
            const int32_t *row = train->idx + train->ptr[u];
            int32_t rl = row_len(train, u);
            for (int32_t i = 0; i < rl; i++) o->mark[row[i]] = 1;
            for (int t = 0; t < bt->len[q]; t++) crec__nn_head_draw_row(hd, crec__seqtrain_row(bt, q, t), o->mark, rng);
            for (int32_t i = 0; i < rl; i++) o->mark[row[i]] = 0;
        }
    return crec__nn_head_loss(hd, dh, dW, h, W, bt->tgt, N, 1.0f / (float)N);
}

crec_seqtrain_obj crec__seqtrain_next_obj(crec_seqtrain_next *o) {
    crec_seqtrain_obj obj = {
        .ctx = o, .prepare = next_prepare, .window = next_window, .fill = next_fill, .loss = next_loss};
    return obj;
}

void crec__seqtrain_next_free(crec_seqtrain_next *o) {
    crec__nn_head_free(&o->head);
    free(o->mark);
    o->mark = NULL;
}

int crec__seqtrain_run_next(const crec_seqtrain_net *net, const crec_nn_head_cfg *cfg, const crec_seqtrain_hp *hp,
                            const crec_train_input *in, float *pop) {
    crec_seqtrain_next o;
    memset(&o, 0, sizeof o);
    o.cfg = *cfg;
    crec_seqtrain_obj obj = crec__seqtrain_next_obj(&o);
    int rc = crec__seqtrain_run(net, &obj, hp, in, pop);
    crec__seqtrain_next_free(&o);
    return rc;
}

/* ---- the whole-model gradient check ---- */

double crec__seqtrain_head_loss(void *lctx, const crec_seq_batch *bt, const float *h, float *dh, const float *W,
                                float *dW) {
    const crec_nn_head *hd = lctx;
    return crec__nn_head_loss(hd, dh, dW, h, W, bt->tgt, bt->N, 1.0f / (float)bt->N) / bt->N;
}

/* The mean loss of bt under net's parameters (fixed dropout masks dseed); with grad, also the gradients. */
static double gc_loss(const crec_seqtrain_net *net, const crec_seq_batch *bt, crec_seqtrain_gc_loss loss, void *lctx,
                      float *abase, float *gbase, int grad, uint64_t dseed) {
    crec_nn_params *p = net->p;
    float *dh = NULL;
    const float *h = net->forward(net->ctx, bt, abase, grad ? gbase : NULL, dseed, grad ? &dh : NULL);
    const float *W = net->out_table(net->ctx, p->param);
    if (!grad) return loss(lctx, bt, h, NULL, W, NULL);
    memset(p->grad, 0, p->total * sizeof(float));
    double l = loss(lctx, bt, h, dh, W, net->out_table(net->ctx, p->grad));
    net->backward(net->ctx, bt, abase, gbase, dseed);
    return l;
}

int crec__seqtrain_gradcheck(const crec_seqtrain_net *net, const crec_seq_batch *bt, crec_seqtrain_gc_loss loss,
                             void *lctx, uint64_t dseed, int pin_k, size_t pin_off, size_t pin_len, crec_rng *r,
                             double *worst, int *checked) {
    crec_nn_params *p = net->p;
    int64_t A = net->heads > 0 ? bt->att_off[bt->B] : 1;
    size_t af = net->acts_floats(net->ctx, bt->N, A);
    float *abase = crec__aligned_alloc(af * sizeof(float)), *gbase = crec__aligned_alloc(af * sizeof(float));
    float *gsave = crec__aligned_alloc(p->total * sizeof(float));
    int rc = abase && gbase && gsave ? 0 : CREC_ENOMEM;
    if (!rc) {
        gc_loss(net, bt, loss, lctx, abase, gbase, 1, dseed);
        memcpy(gsave, p->grad, p->total * sizeof(float));
        double w = 0;
        int n = 0;
        const float eps = 1e-2f;
        for (int k = 0; k < p->n; k++)
            for (int c = 0; c < 12 && (size_t)c < p->size[k]; c++) {
                size_t i = p->off[k] + crec__rng_below(r, p->size[k]);
                if (k == pin_k && pin_len > 0 && c < 4) i = p->off[k] + pin_off + crec__rng_below(r, pin_len);
                float p0 = p->param[i];
                p->param[i] = p0 + eps;
                double lp = gc_loss(net, bt, loss, lctx, abase, gbase, 0, dseed);
                p->param[i] = p0 - eps;
                double lm = gc_loss(net, bt, loss, lctx, abase, gbase, 0, dseed);
                p->param[i] = p0;
                double num = (lp - lm) / (2.0 * eps), e = fabs(gsave[i] - num) / fmax(fabs(num), 0.05);
                if (e > w) w = e;
                n++;
            }
        *worst = w;
        *checked = n;
    }
    free(abase), free(gbase), free(gsave);
    return rc;
}

int crec__seqtrain_shards(const crec_seq_batch *bt, size_t rows, int *sb, int cap) {
    int ns = 0;
    sb[0] = 0;
    if (rows == 0 || bt->B + 1 > cap) {
        sb[1] = bt->B;
        return 1;
    }
    for (int b = 0; b < bt->B; b++)
        if ((size_t)(bt->seq_off[b + 1] - bt->seq_off[sb[ns]]) >= rows) sb[++ns] = b + 1;
    if (sb[ns] != bt->B) {
        if (ns > 0)
            sb[ns] = bt->B; /* a short tail joins the last shard */
        else
            sb[++ns] = bt->B;
    }
    return ns;
}
