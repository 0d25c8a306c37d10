/* online_table.c: the collisionless embedding table (crec/online.h) against a plain open-addressing map.
 * For each size N: admit N random 64-bit ids through crec_online_table_get (into a table presized for N, then into one
 * growing from the default 1024; allocation and page faults inside the timing, for the floor too), check
 * that every id owns its own row (its bits written into its vector read back), then time on one thread:
 * uniform random lookups that read the whole vector (one at a time, and in batches of 256 with prefetch), and
 * updates (get + Adagrad/FTRL/SGD step). The floor is a linear-probing map (load <= 0.5) from id to a row index in a
 * dense array of vector + optimizer state: no id, time or flags per row, no admission, no eviction; its arrays get
 * the same huge-page advice as the table's.
 * usage: bench_online_table [--dim D] [--optim sgd|adagrad|ftrl] [--queries Q] [N...]   (default N: 1M 10M) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>
#include <sys/mman.h>

#include "cpu_peak.h"
#include "core/util.h"
#include "crec/online.h"

static uint64_t smix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- the floor: linear probing, key 0 = empty (bench ids are never 0) ---- */
typedef struct {
    uint64_t *keys;
    uint32_t *idx;
    float *rows;
    uint64_t mask, n;
    int width; /* floats per row: vector + state */
} lpmap;

static inline uint64_t lp_hash(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

/* Zeroed, 2 MiB aligned and advised as huge pages, like the table's own arrays (a fair floor). */
static void *huge_calloc(size_t n) {
    size_t h = (size_t)2 << 20, sz = (n + h - 1) & ~(h - 1);
    void *p = aligned_alloc(h, sz);
    if (!p) return NULL;
    madvise(p, sz, MADV_HUGEPAGE);
    memset(p, 0, sz);
    return p;
}

static int lp_init(lpmap *m, uint64_t n, int width) {
    uint64_t cap = 1;
    while (cap < 2 * n) cap <<= 1;
    m->keys = huge_calloc(cap * 8);
    m->idx = huge_calloc(cap * 4);
    m->rows = huge_calloc(n * (size_t)width * 4);
    m->mask = cap - 1;
    m->n = 0;
    m->width = width;
    return m->keys && m->idx && m->rows ? 0 : -1;
}

static inline float *lp_find(const lpmap *m, uint64_t id) {
    for (uint64_t h = lp_hash(id) & m->mask;; h = (h + 1) & m->mask) {
        if (m->keys[h] == id) return m->rows + (size_t)m->idx[h] * m->width;
        if (m->keys[h] == 0) return NULL;
    }
}

static float *lp_insert(lpmap *m, uint64_t id) {
    uint64_t h = lp_hash(id) & m->mask;
    while (m->keys[h] != 0 && m->keys[h] != id) h = (h + 1) & m->mask;
    if (m->keys[h] != id) {
        m->keys[h] = id;
        m->idx[h] = (uint32_t)m->n++;
    }
    return m->rows + (size_t)m->idx[h] * m->width;
}

static void lp_free(lpmap *m) {
    free(m->keys);
    free(m->idx);
    free(m->rows);
}

static void adagrad(float *w, float *a, const float *g, int d, float lr) {
    for (int i = 0; i < d; i++) {
        a[i] += g[i] * g[i];
        w[i] -= lr * g[i] / (sqrtf(a[i]) + 1e-7f);
    }
}

static volatile float sink;

/* This thread's CPU seconds (user + system): on a shared machine the per-core rate, time-slicing by other
 * processes left out (their cache and memory-bandwidth pressure is not). */
static double cpu_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double wall_total, cpu_total;

static void run(uint64_t n, int dim, crec_online_optim optim, uint64_t nq) {
    uint64_t s = 12345 + n;
    uint64_t *ids = malloc(n * 8), *q = malloc(nq * 8);
    if (!ids || !q) {
        printf("N=%llu: out of memory\n", (unsigned long long)n);
        exit(1);
    }
    for (uint64_t i = 0; i < n; i++) ids[i] = smix(&s) | 1; /* never 0: the floor's empty key */
    for (uint64_t i = 0; i < nq; i++) q[i] = ids[smix(&s) % n];
    float *g = malloc((size_t)dim * 4);
    for (int j = 0; j < dim; j++) g[j] = 0.01f * (float)(j % 7 - 3);

    crec_online_opts o;
    crec_online_opts_default(&o, dim);
    o.optim = optim;
    /* presized for n ids (allocation inside the timing, like the floor's) */
    double t0 = cpu_now();
    o.capacity = n;
    crec_online_table *t = crec_online_table_new(&o);
    for (uint64_t i = 0; i < n; i++) {
        float *row;
        if (crec_online_table_get(t, ids[i], 0, &row) || !row) {
            printf("admission failed\n");
            exit(1);
        }
    }
    double t_pre = cpu_now() - t0;
    crec_online_table_free(t);
    /* growing from the default 1024 */
    o.capacity = 1024;
    t0 = cpu_now();
    t = crec_online_table_new(&o);
    int sdim = crec_online_table_state_dim(t);
    for (uint64_t i = 0; i < n; i++) {
        float *row;
        if (crec_online_table_get(t, ids[i], 0, &row) || !row) {
            printf("admission failed\n");
            exit(1);
        }
    }
    double t_ins = cpu_now() - t0;
    /* check: every id owns its row (write the id's bits, then read them all back) */
    for (uint64_t i = 0; i < n; i++) memcpy((float *)crec_online_table_lookup(t, ids[i]), &ids[i], 8);
    for (uint64_t i = 0; i < n; i++)
        if (memcmp(crec_online_table_lookup(t, ids[i]), &ids[i], 8) != 0) {
            printf("CHECK FAILED: id %llu does not own its row\n", (unsigned long long)i);
            exit(1);
        }
    crec_online_stats st;
    crec_online_table_stats(t, &st);

    /* lookups, one at a time, reading the vector */
    float acc = 0;
    t0 = cpu_now();
    for (uint64_t i = 0; i < nq; i++) {
        const float *r = crec_online_table_lookup(t, q[i]);
        for (int j = 0; j < dim; j++) acc += r[j];
    }
    double t_look = cpu_now() - t0;
    /* lookups in batches of 256 */
    enum { B = 256 };
    const float *rows[B];
    t0 = cpu_now();
    for (uint64_t i = 0; i < nq; i += B) {
        size_t m = nq - i < B ? nq - i : B;
        crec_online_table_lookup_batch(t, q + i, m, rows);
        for (size_t k = 0; k < m; k++)
            for (int j = 0; j < dim; j++) acc += rows[k][j];
    }
    double t_batch = cpu_now() - t0;
    /* updates: get (touch) + the optimizer step */
    uint64_t nu = nq / 2;
    t0 = cpu_now();
    for (uint64_t i = 0; i < nu; i++) {
        float *row;
        crec_online_table_get(t, q[i], 1, &row);
        crec_online_table_update_row(t, row, g, 1);
    }
    double t_upd = cpu_now() - t0;
    crec_online_table_free(t);

    /* the floor */
    lpmap m;
    int width = dim + (sdim ? dim : 0); /* Adagrad-sized state (the floor runs Adagrad whenever crec has state) */
    t0 = cpu_now();
    if (lp_init(&m, n, width)) {
        printf("floor: out of memory\n");
        exit(1);
    }
    for (uint64_t i = 0; i < n; i++) lp_insert(&m, ids[i]);
    double f_ins = cpu_now() - t0;
    t0 = cpu_now();
    for (uint64_t i = 0; i < nq; i++) {
        const float *r = lp_find(&m, q[i]);
        for (int j = 0; j < dim; j++) acc += r[j];
    }
    double f_look = cpu_now() - t0;
    t0 = cpu_now();
    for (uint64_t i = 0; i < nu; i++) {
        float *r = lp_find(&m, q[i]);
        if (sdim) adagrad(r, r + dim, g, dim, 0.05f);
        else
            for (int j = 0; j < dim; j++) r[j] -= 0.05f * g[j];
    }
    double f_upd = cpu_now() - t0;
    double f_bytes = (double)(m.mask + 1) * 12 + (double)n * width * 4;
    lp_free(&m);
    sink = acc;

    printf("N=%-9llu crec  insert %5.2f M/s (presized %5.2f)  lookup %6.2f M/s  batch-lookup %6.2f M/s  "
           "update %5.2f M/s  %6.1f B/id (load %.2f, %llu rehashes)\n",
           (unsigned long long)n, n / t_ins / 1e6, n / t_pre / 1e6, nq / t_look / 1e6, nq / t_batch / 1e6,
           nu / t_upd / 1e6, (double)st.bytes / n, (double)st.rows / st.slots, (unsigned long long)st.rehashes);
    printf("N=%-9llu floor insert %5.2f M/s (presized)        lookup %6.2f M/s  %26s  update %5.2f M/s  %6.1f B/id "
           "(load %.2f)\n",
           (unsigned long long)n, n / f_ins / 1e6, nq / f_look / 1e6, "", nu / f_upd / 1e6, f_bytes / n,
           (double)n / (m.mask + 1));
    fflush(stdout);
    free(ids);
    free(q);
    free(g);
}

int main(int argc, char **argv) {
    int dim = 16;
    crec_online_optim optim = CREC_ONLINE_ADAGRAD;
    uint64_t nq = 10000000, sizes[16];
    int ns = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--dim") && i + 1 < argc) dim = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--queries") && i + 1 < argc) nq = strtoull(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--optim") && i + 1 < argc) {
            const char *v = argv[++i];
            optim = !strcmp(v, "sgd") ? CREC_ONLINE_SGD : !strcmp(v, "ftrl") ? CREC_ONLINE_FTRL : CREC_ONLINE_ADAGRAD;
        } else if (ns < 16 && strtoull(argv[i], NULL, 10) > 0) sizes[ns++] = strtoull(argv[i], NULL, 10);
        else
            return bench_usage(argv[i],
                               "usage: %s [--dim D] [--optim sgd|adagrad|ftrl] [--queries Q] [N...]   (N >= 1 keys, "
                               "at most 16 sizes; default 1M 10M)\n",
                               argv[0]);
    }
    if (ns == 0) {
        sizes[ns++] = 1000000;
        sizes[ns++] = 10000000;
    }
    if (dim < 2) dim = 2;
    printf("online table vs linear-probing floor: one thread, rates per thread CPU-second, dim %d, %s, %llu uniform random queries (updates: half)\n",
           dim, optim == CREC_ONLINE_SGD ? "sgd" : optim == CREC_ONLINE_FTRL ? "ftrl" : "adagrad",
           (unsigned long long)nq);
    printf("command:");
    for (int i = 0; i < argc; i++) printf(" %s", argv[i]);
    char la[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(la, sizeof la, f)) snprintf(la, sizeof la, "?");
        fclose(f);
        la[strcspn(la, "\n")] = 0;
    }
    printf("\nload average: %s\n", la);
    double w0 = crec__now(), c0 = cpu_now();
    for (int i = 0; i < ns; i++) run(sizes[i], dim, optim, nq);
    wall_total = crec__now() - w0;
    cpu_total = cpu_now() - c0;
    printf("wall %.1f s, this thread's CPU %.1f s (rates above are per CPU-second of one thread)\n", wall_total,
           cpu_total);
    printf("peak RSS %.2f GiB\n", crec__peak_rss() / 1073741824.0);
    f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fgets(la, sizeof la, f)) printf("load average after: %s", la);
        fclose(f);
    }
    return 0;
}
