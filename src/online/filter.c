/* filter.c: count-min sketch with conservative update (see filter.h). The depth positions of an id come from one
 * 64-bit mix split in two halves, h1 + i * h2 (Kirsch-Mitzenmacher double hashing). */
#include "online/filter.h"

#include <stdlib.h>
#include <string.h>

#include "crec/common.h"
#include "online/mix.h"

int crec__cms_init(crec_cms *f, uint32_t width, uint32_t depth, uint64_t seed) {
    memset(f, 0, sizeof *f);
    f->c = calloc((size_t)width * depth, sizeof *f->c);
    if (!f->c) return CREC_ENOMEM;
    f->width = width;
    f->depth = depth;
    f->seed = seed;
    return 0;
}

void crec__cms_free(crec_cms *f) {
    free(f->c);
    f->c = NULL;
}

uint64_t crec__cms_bytes(const crec_cms *f) { return (uint64_t)f->width * f->depth * sizeof *f->c; }

static inline void positions(const crec_cms *f, uint64_t id, uint32_t *pos) {
    uint64_t h = crec__mix64(id ^ f->seed);
    uint32_t h1 = (uint32_t)h, h2 = (uint32_t)(h >> 32) | 1u;
    for (uint32_t i = 0; i < f->depth; i++) pos[i] = i * f->width + ((h1 + i * h2) & (f->width - 1));
}

uint32_t crec__cms_estimate(const crec_cms *f, uint64_t id) {
    uint32_t pos[16], m = UINT16_MAX;
    positions(f, id, pos);
    for (uint32_t i = 0; i < f->depth; i++)
        if (f->c[pos[i]] < m) m = f->c[pos[i]];
    return m;
}

uint32_t crec__cms_add(crec_cms *f, uint64_t id) {
    uint32_t pos[16], m = UINT16_MAX;
    positions(f, id, pos);
    for (uint32_t i = 0; i < f->depth; i++)
        if (f->c[pos[i]] < m) m = f->c[pos[i]];
    if (m == UINT16_MAX) return m;
    for (uint32_t i = 0; i < f->depth; i++)
        if (f->c[pos[i]] == m) f->c[pos[i]] = (uint16_t)(m + 1);
    return m + 1;
}
