/* fuzz_crecm.c: libFuzzer target for the model checkpoint reader (crec_model_load, src/models/model.c over
 * src/core/binio.c, then the model type's own load hook) and for scoring with a checkpoint it accepted.
 *
 * Input: a whole .crecm file; its length and checksum are recomputed unless bit 0 of the header's flags is
 * set (fuzz_common.h), so mutations reach the header fields and every model's payload parser. Seeds are
 * written at test time by `crec train` on a tiny synthetic dataset, one per model type (tests/fuzz/run.sh).
 * Promise checked: a bad checkpoint gives a CREC_E* code and no model; an accepted one scores (one context,
 * a batch, a top-k list) without reading out of bounds (a server loads checkpoints it is told to reload). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "crec/model.h"
#include "fuzz_common.h"

#define MAX_SCORED_ITEMS (1 << 16) /* larger (accepted) catalogs are loaded but not scored: time, not safety */

/* A checkpoint's header sizes (users, items, dims) decide allocations that model load hooks make before the
 * payload is read; a lying header then fails as CREC_ENOMEM or CREC_EFORMAT. Under ASan such a call costs
 * seconds (poisoning gigabytes), so allocations above 1 GiB fail here at once instead of stopping the run. */
const char *__asan_default_options(void) { return "max_allocation_size_mb=1024:allocator_may_return_null=1"; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fz_write_framed("in.crecm", data, size);
    crec_model *m = (crec_model *)1;
    int rc = crec_model_load(path, &m);
    if (rc != 0) {
        CHECK(fz_known_error(rc) && m == NULL);
        return 0;
    }
    CHECK(m->type != NULL);
    CHECK(m->n_users >= 0 && m->n_items >= 0); /* crec_model_load refuses sizes above INT32_MAX */
    for (const crec_param_def *p = m->type->params; p && p->name; p++) (void)crec_model_param_str(m, p->name);
    if (m->n_items > 0 && m->n_items <= MAX_SCORED_ITEMS) {
        float *scores = malloc(sizeof *scores * 2 * (size_t)m->n_items);
        int32_t hist[3] = {0, m->n_items - 1, m->n_items / 2}, top[5];
        int64_t ts[3] = {1, 2, 3};
        crec_context ctx[2] = {{.user = m->n_users > 0 ? 0 : -1, .hist = hist, .n_hist = 3, .hist_ts = ts},
                               {.user = m->n_users - 1, .hist = hist + 1, .n_hist = 1}};
        if (scores) {
            rc = crec_model_score(m, &ctx[0], scores);
            CHECK(rc == 0 || fz_known_error(rc));
            rc = crec_model_score_batch(m, ctx, 2, scores);
            CHECK(rc == 0 || fz_known_error(rc));
            rc = crec_model_recommend(m, &ctx[1], NULL, 5, top, NULL, scores);
            CHECK(rc <= 5 && (rc >= 0 || fz_known_error(rc)));
            for (int k = 0; k < rc; k++) CHECK(top[k] >= 0 && top[k] < m->n_items);
        }
        free(scores);
    }
    crec_model_free(m);
    return 0;
}
