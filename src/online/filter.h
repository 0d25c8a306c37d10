/* filter.h: the count-min sketch that gates admission to the online embedding table.
 * depth rows of width saturating 16-bit counters; an id's estimate is the minimum of its depth counters, never
 * below its true count. Updates are conservative (only the counters at the minimum grow), which keeps the
 * guarantee and lowers the overestimate. */
#ifndef CREC_ONLINE_FILTER_H
#define CREC_ONLINE_FILTER_H

#include <stdint.h>

typedef struct crec_cms {
    uint16_t *c;     /* depth * width counters */
    uint32_t width;  /* power of two */
    uint32_t depth;
    uint64_t seed;
} crec_cms;

/* 0 or CREC_ENOMEM; width must be a power of two. */
int crec__cms_init(crec_cms *f, uint32_t width, uint32_t depth, uint64_t seed);
void crec__cms_free(crec_cms *f);
/* Count one sighting; returns the new estimate. */
uint32_t crec__cms_add(crec_cms *f, uint64_t id);
uint32_t crec__cms_estimate(const crec_cms *f, uint64_t id);
uint64_t crec__cms_bytes(const crec_cms *f);
#endif
