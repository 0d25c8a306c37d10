/* itemvec.c: the item table of a trained model as item vectors - what rq indexing quantises as the "collaborative"
 * vector source (crec index build --vectors collaborative --model M.crecm). sasrec / bert4rec: the item embedding
 * table (rows < I, the output layer); ials: the item factors H. Other types are refused by name. */
#include <stdlib.h>
#include <string.h>

#include "models/ials.h"
#include "models/itemvec.h"
#include "models/seqenc.h"

int crec__model_item_vectors(const crec_model *m, float **out, int *dim) {
    const char *t = m->type->name;
    int32_t n = m->n_items;
    if (!m->state) return CREC_ESTATE;
    if (strcmp(t, "sasrec") == 0 || strcmp(t, "bert4rec") == 0) {
        const crec_seqenc *s = m->state;
        const float *E = crec__nn_tensor(&s->p, s->p.param, SE_P_EMB);
        float *v = malloc((size_t)n * s->D * sizeof *v);
        if (!v) return CREC_ENOMEM;
        memcpy(v, E, (size_t)n * s->D * sizeof *v);
        *out = v, *dim = s->D;
        return 0;
    }
    if (strcmp(t, "ials") == 0) {
        const crec_ials_state *s = m->state;
        float *v = malloc((size_t)n * s->d * sizeof *v);
        if (!v) return CREC_ENOMEM;
        for (int32_t i = 0; i < n; i++) memcpy(v + (size_t)i * s->d, s->H + (size_t)i * s->ld, (size_t)s->d * sizeof *v);
        *out = v, *dim = s->d;
        return 0;
    }
    return CREC_EUNSUPPORTED;
}
