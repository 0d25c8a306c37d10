/* usersim.c: similar users by the cosine of a model's user vectors (see usersim.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "crec/rank.h"
#include "serve/usersim.h"

static double norm_of(const float *v, int d) {
    double s = 0;
    for (int j = 0; j < d; j++) s += (double)v[j] * v[j];
    return sqrt(s);
}

int crec__usersim_top(const crec_model *m, int32_t user, int k, crec__usersim_keep keep, void *ctx, int32_t *out,
                      float *cos, int *has_vec) {
    const float *q;
    int dq = 0;
    *has_vec = 0;
    int rc = crec_model_user_vector(m, user, &q, &dq);
    if (rc < 0) return rc;
    double nq = rc == 1 ? norm_of(q, dq) : 0;
    if (rc == 0 || nq == 0 || k <= 0) return 0;
    *has_vec = 1;
    int32_t n = m->n_users;
    float *score = malloc(((size_t)n + 1) * sizeof *score);
    uint8_t *skip = calloc((size_t)n + 1, 1);
    int32_t *cand = NULL;
    int got = 0;
    if (!score || !skip) {
        rc = CREC_ENOMEM;
        goto out;
    }
    for (int32_t u = 0; u < n; u++) {
        const float *v;
        int d = 0;
        int r = u == user ? 0 : crec_model_user_vector(m, u, &v, &d);
        double nv = r == 1 && d == dq ? norm_of(v, d) : 0;
        if (nv == 0) {
            skip[u] = 1;
            score[u] = 0;
            continue;
        }
        double dot = 0;
        for (int j = 0; j < d; j++) dot += (double)q[j] * v[j];
        score[u] = (float)(dot / (nq * nv));
    }
    /* top-k' and keep's verdict in order; when keep refused some, take a larger k' (each refused user is
     * masked so a retry never sees it again) */
    int want = k;
    for (;;) {
        int kk = want < n ? want : n;
        free(cand);
        if (!(cand = malloc(((size_t)kk + 1) * sizeof *cand))) {
            rc = CREC_ENOMEM;
            goto out;
        }
        int nc = crec_topk(score, n, skip, kk, cand);
        got = 0;
        int refused = 0;
        for (int c = 0; c < nc && got < k; c++) {
            if (keep && !keep(ctx, cand[c])) {
                skip[cand[c]] = 1;
                refused++;
                continue;
            }
            out[got] = cand[c];
            cos[got] = score[cand[c]];
            got++;
        }
        if (got == k || nc < kk || refused == 0) break;
        want = kk * 2; /* all refused ones are masked: the retry restarts from the best remaining */
    }
    rc = got;
out:
    free(score);
    free(skip);
    free(cand);
    return rc;
}
