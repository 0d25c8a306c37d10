/* util.c: RNG, timing, progress bar, checksums, growth helpers. See util.h. */
#include "core/util.h"

#include <math.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void crec__rng_seed(crec_rng *r, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t crec__rng_next(crec_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t crec__rng_below(crec_rng *r, uint64_t n) {
    if (n <= 1) return 0;
    /* Lemire's multiply-shift with rejection: unbiased */
    uint64_t x = crec__rng_next(r);
    __uint128_t m = (__uint128_t)x * n;
    uint64_t l = (uint64_t)m;
    if (l < n) {
        uint64_t t = -n % n;
        while (l < t) {
            x = crec__rng_next(r);
            m = (__uint128_t)x * n;
            l = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

double crec__rng_uniform(crec_rng *r) { return (crec__rng_next(r) >> 11) * 0x1.0p-53; }

double crec__rng_normal(crec_rng *r) {
    double u1 = crec__rng_uniform(r), u2 = crec__rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

double crec__now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int64_t crec__peak_rss(void) {
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0) return 0;
    return (int64_t)ru.ru_maxrss * 1024;
}

int crec__progress_wanted(void) {
    const char *e = getenv("CREC_NO_PROGRESS");
    if (e && *e && strcmp(e, "0") != 0) return 0;
    return isatty(STDERR_FILENO);
}

void crec__progress_start(crec_progress *p, const char *label, int64_t total, int enabled) {
    p->label = label;
    p->total = total > 0 ? total : 1;
    p->done = 0;
    p->t0 = p->last = crec__now();
    p->enabled = enabled && crec__progress_wanted();
}

static void progress_draw(crec_progress *p, int final) {
    double frac = (double)p->done / (double)p->total;
    if (frac > 1) frac = 1;
    int w = 30, fill = (int)(frac * w);
    char bar[64];
    for (int i = 0; i < w; i++) bar[i] = i < fill ? '#' : '.';
    bar[w] = 0;
    double el = crec__now() - p->t0;
    double eta = frac > 0 ? el * (1 - frac) / frac : 0;
    fprintf(stderr, "\r%-14s [%s] %5.1f%%  %.1fs%s", p->label, bar, frac * 100, final ? el : eta,
            final ? "      \n" : " left");
    fflush(stderr);
}

void crec__progress_update(crec_progress *p, int64_t done) {
    p->done = done;
    if (!p->enabled) return;
    double t = crec__now();
    if (t - p->last < 0.1) return;
    p->last = t;
    progress_draw(p, 0);
}

void crec__progress_end(crec_progress *p) {
    if (!p->enabled) return;
    p->done = p->total;
    progress_draw(p, 1);
}

uint32_t crec__crc32(uint32_t crc, const void *data, size_t n) {
    const unsigned char *b = data;
    while (n > 0) { /* zlib takes uInt lengths */
        uInt chunk = n > (1u << 30) ? (1u << 30) : (uInt)n;
        crc = (uint32_t)crc32(crc, b, chunk);
        b += chunk;
        n -= chunk;
    }
    return crc;
}

uint64_t crec__fnv1a(const void *data, size_t n) {
    const unsigned char *b = data;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

#define H64_P1 0x9E3779B185EBCA87ull
#define H64_P2 0xC2B2AE3D27D4EB4Full
#define H64_P3 0x165667B19E3779F9ull
#define H64_P4 0x85EBCA77C2B2AE63ull
#define H64_P5 0x27D4EB2F165667C5ull

static inline uint64_t h64_rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
static inline uint64_t h64_round(uint64_t acc, uint64_t w) { return h64_rotl(acc + w * H64_P2, 31) * H64_P1; }
static inline uint64_t h64_load(const unsigned char *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return w;
}

/* The streaming form: the lanes run over whole 32-byte stripes as bytes arrive; a partial stripe waits in buf.
 * crec__hash64_final gives exactly crec__hash64 of the concatenated input. */
void crec__hash64_init(crec_hash64_state *st, uint64_t seed) {
    memset(st, 0, sizeof *st);
    st->seed = seed;
    st->v[0] = seed + H64_P1 + H64_P2;
    st->v[1] = seed + H64_P2;
    st->v[2] = seed;
    st->v[3] = seed - H64_P1;
}

void crec__hash64_update(crec_hash64_state *st, const void *data, size_t n) {
    const unsigned char *p = data, *end = p + n;
    st->n += n;
    if (st->nbuf) { /* complete the waiting stripe */
        size_t take = 32 - st->nbuf < n ? 32 - st->nbuf : n;
        memcpy(st->buf + st->nbuf, p, take);
        st->nbuf += take;
        p += take;
        if (st->nbuf < 32) return;
        for (int k = 0; k < 4; k++) st->v[k] = h64_round(st->v[k], h64_load(st->buf + 8 * k));
        st->nbuf = 0;
    }
    for (; p + 32 <= end; p += 32)
        for (int k = 0; k < 4; k++) st->v[k] = h64_round(st->v[k], h64_load(p + 8 * k));
    st->nbuf = (size_t)(end - p);
    if (st->nbuf) memcpy(st->buf, p, st->nbuf);
}

uint64_t crec__hash64_final(const crec_hash64_state *st) {
    uint64_t h;
    if (st->n >= 32) {
        const uint64_t *v = st->v;
        h = h64_rotl(v[0], 1) + h64_rotl(v[1], 7) + h64_rotl(v[2], 12) + h64_rotl(v[3], 18);
        for (int k = 0; k < 4; k++) h = (h ^ h64_round(0, v[k])) * H64_P1 + H64_P4;
    } else {
        h = st->seed + H64_P5;
    }
    h += st->n;
    const unsigned char *p = st->buf, *end = p + st->nbuf;
    for (; p + 8 <= end; p += 8) h = h64_rotl(h ^ h64_round(0, h64_load(p)), 27) * H64_P1 + H64_P4;
    for (; p < end; p++) h = h64_rotl(h ^ (*p * H64_P5), 11) * H64_P1;
    h ^= h >> 33;
    h *= H64_P2;
    h ^= h >> 29;
    h *= H64_P3;
    h ^= h >> 32;
    return h;
}

uint64_t crec__hash64(const void *data, size_t n, uint64_t seed) {
    crec_hash64_state st;
    crec__hash64_init(&st, seed);
    crec__hash64_update(&st, data, n);
    return crec__hash64_final(&st);
}

int crec__grow(void **p, int64_t *cap, int64_t need, size_t esz) {
    if (need <= *cap) return 0;
    int64_t nc = *cap ? *cap : 16;
    while (nc < need) nc *= 2;
    void *q = realloc(*p, (size_t)nc * esz);
    if (!q) return CREC_ENOMEM;
    *p = q;
    *cap = nc;
    return 0;
}

void *crec__aligned_alloc(size_t n) {
    size_t sz = (n + 63) & ~(size_t)63;
    if (sz == 0) sz = 64;
    void *p = aligned_alloc(64, sz);
    if (p) memset(p, 0, sz);
    return p;
}

char *crec__strndup(const char *s, size_t n) {
    char *d = malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

void crec__errf(char *buf, size_t n, const char *fmt, ...) {
    if (!buf || n == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, n, fmt, ap);
    va_end(ap);
}

void crec__log(const char *fmt, ...) {
    const char *q = getenv("CREC_QUIET");
    if (q && *q && strcmp(q, "0") != 0) return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

int crec__replace_open(crec__replace *r, const char *path, const char *mode) {
    r->f = NULL, r->tmp = NULL, r->path = path;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) { /* a device or a FIFO: write it, never replace it */
        if (S_ISDIR(st.st_mode)) return CREC_EIO;
        return (r->f = fopen(path, mode)) ? 0 : CREC_EIO;
    }
    size_t n = strlen(path) + 5;
    if (!(r->tmp = malloc(n))) return CREC_ENOMEM;
    snprintf(r->tmp, n, "%s.tmp", path);
    if (!(r->f = fopen(r->tmp, mode))) {
        free(r->tmp);
        r->tmp = NULL;
        return CREC_EIO;
    }
    return 0;
}

int crec__replace_close(crec__replace *r, int ok) {
    if (r->f && fclose(r->f) != 0) ok = 0;
    r->f = NULL;
    if (r->tmp) {
        if (!ok || rename(r->tmp, r->path) != 0) ok = 0, remove(r->tmp);
        free(r->tmp);
        r->tmp = NULL;
    }
    return ok ? 0 : CREC_EIO;
}
