/* util.h: private helpers shared by every area: RNG, timing, progress bar, checksums, growth, errors. */
#ifndef CREC_UTIL_H
#define CREC_UTIL_H

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "crec/common.h"

/* ---- RNG: splitmix64-seeded xoshiro256**; one state per thread, seeded seed + thread id ---- */
typedef struct crec_rng { uint64_t s[4]; } crec_rng;
void crec__rng_seed(crec_rng *r, uint64_t seed);
uint64_t crec__rng_next(crec_rng *r);
/* Uniform in [0, n). */
uint64_t crec__rng_below(crec_rng *r, uint64_t n);
/* Uniform double in [0, 1). */
double crec__rng_uniform(crec_rng *r);
double crec__rng_normal(crec_rng *r);

/* ---- time ---- */
double crec__now(void); /* monotonic seconds */
/* Peak resident set size of this process in bytes (from getrusage). */
int64_t crec__peak_rss(void);

/* ---- progress bar on stderr, drawn only when enabled and stderr is a terminal ---- */
typedef struct crec_progress {
    const char *label;
    int64_t total, done;
    double t0, last;
    int enabled;
} crec_progress;
void crec__progress_start(crec_progress *p, const char *label, int64_t total, int enabled);
void crec__progress_update(crec_progress *p, int64_t done);
void crec__progress_end(crec_progress *p);
/* 1 when stderr is a terminal and CREC_NO_PROGRESS is unset. */
int crec__progress_wanted(void);

/* ---- checksums ---- */
uint32_t crec__crc32(uint32_t crc, const void *data, size_t n); /* zlib's crc32 */
uint64_t crec__fnv1a(const void *data, size_t n);
/* Fast 64-bit checksum of a buffer (four independent multiply-rotate lanes over 32-byte stripes, in the
 * manner of xxHash64): ~5x faster than crc32 here, used for every crec binary file. */
uint64_t crec__hash64(const void *data, size_t n, uint64_t seed);
/* The same checksum over input that arrives in pieces (a file written from several buffers). */
typedef struct crec_hash64_state {
    uint64_t v[4], seed, n;
    unsigned char buf[32];
    size_t nbuf;
} crec_hash64_state;
void crec__hash64_init(crec_hash64_state *st, uint64_t seed);
void crec__hash64_update(crec_hash64_state *st, const void *data, size_t n);
uint64_t crec__hash64_final(const crec_hash64_state *st);

/* ---- memory ---- */
/* Grow *p (element size esz) so that it holds at least need elements; *cap updated. 0 or CREC_ENOMEM. */
int crec__grow(void **p, int64_t *cap, int64_t need, size_t esz);
void *crec__aligned_alloc(size_t n); /* 64-byte aligned, zeroed; free with free() */
char *crec__strndup(const char *s, size_t n);

/* ---- formatted error into a caller buffer ---- */
void crec__errf(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- logging on stderr (CREC_QUIET=1 silences info) ---- */
void crec__log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- replacing a file: write PATH.tmp, then rename it onto PATH (readers see the old or the new file) ---- */
/* Unless PATH exists and is not a regular file (/dev/null, a FIFO, /dev/stdout): renaming onto it would replace
 * the device itself (as root, /dev/null becomes a plain file), so such a PATH is written in place. */
typedef struct crec__replace { FILE *f; char *tmp; const char *path; } crec__replace;
int crec__replace_open(crec__replace *r, const char *path, const char *mode); /* 0, CREC_ENOMEM or CREC_EIO */
/* Close; ok != 0: rename into place (0, or CREC_EIO); ok == 0 or any failure: remove the temporary. */
int crec__replace_close(crec__replace *r, int ok);

#endif
