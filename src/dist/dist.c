/* dist.c: the communication layer of data-parallel training (crec/dist.h): MPI when built with CREC_MPI and
 * launched by mpirun, a world of one rank otherwise.
 *
 * The one idea: the rest of crec never includes mpi.h. Trainers call a handful of collectives (sum allreduce of
 * floats, OR of a bitmap, allgather of row blocks, broadcast) through this file, which counts every byte it hands
 * to MPI; with one rank each call returns at once, so nothing changes for a single process. Messages longer than
 * MPI's int counts are sent in chunks of at most 2^28 elements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"
#include "crec/dist.h"

#ifdef CREC_MPI
#include <mpi.h>
#endif

#define CHUNK ((size_t)1 << 28)

static int g_init, g_mpi, g_rank, g_size = 1;
static crec_dist_stats g_stats;
static uint8_t *g_mark;   /* sparse-row scratch: bitmap, packed rows */
static float *g_pack;
static size_t g_mark_n, g_pack_n;

int crec_dist_built(void) {
#ifdef CREC_MPI
    return 1;
#else
    return 0;
#endif
}

int crec_dist_launched_size(void) {
    static const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", NULL}; /* OpenMPI, MPICH (PMI) */
    for (int k = 0; vars[k]; k++) {
        const char *v = getenv(vars[k]);
        if (v && *v) {
            long n = strtol(v, NULL, 10);
            if (n >= 1 && n < 1 << 24) return (int)n;
        }
    }
    return 1;
}

/* Launched by an MPI launcher at all (even with one process)? */
static int launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK") || getenv("PMI_SIZE");
}

int crec_dist_init(char *err, size_t errn) {
    if (g_init) return 0;
    if (err && errn) err[0] = 0;
    int want = launched();
    if (want && !crec_dist_built()) {
        if (crec_dist_launched_size() > 1) {
            if (err)
                snprintf(err, errn,
                         "launched by mpirun with %d processes, but this crec was built without MPI (CMake option "
                         "CREC_MPI; install libopenmpi-dev and rebuild): each process would train alone",
                         crec_dist_launched_size());
            return CREC_EUNSUPPORTED;
        }
        want = 0;
    }
#ifdef CREC_MPI
    if (want) {
        int provided = 0;
        if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
            if (err) snprintf(err, errn, "MPI_Init failed");
            return CREC_EIO;
        }
        MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
        MPI_Comm_size(MPI_COMM_WORLD, &g_size);
        g_mpi = 1;
    }
#endif
    g_init = 1;
    memset(&g_stats, 0, sizeof g_stats);
    return 0;
}

void crec_dist_finalize(void) {
    free(g_mark), free(g_pack);
    g_mark = NULL, g_pack = NULL, g_mark_n = g_pack_n = 0;
#ifdef CREC_MPI
    if (g_mpi) MPI_Finalize();
#endif
    g_mpi = 0, g_init = 0, g_rank = 0, g_size = 1;
}

void crec_dist_abort(int code) {
#ifdef CREC_MPI
    if (g_mpi) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    (void)code;
}

int crec_dist_rank(void) { return g_rank; }
int crec_dist_size(void) { return g_size; }

int crec_dist_model_supported(const char *name) {
    /* the sequence models share one trainer (src/models/seqtrain.c); ials splits its solves by rows */
    static const char *ok[] = {"sasrec", "bert4rec", "gru4rec", "hstu", "ials", NULL};
    for (int k = 0; name && ok[k]; k++)
        if (strcmp(name, ok[k]) == 0) return 1;
    return 0;
}

void crec_dist_stats_get(crec_dist_stats *out) { *out = g_stats; }
void crec_dist_stats_reset(void) { memset(&g_stats, 0, sizeof g_stats); }

#ifdef CREC_MPI
static double t_begin(void) { return crec__now(); }
static int t_end(double t0, size_t bytes, int ok) {
    g_stats.calls++;
    g_stats.bytes += bytes;
    g_stats.seconds += crec__now() - t0;
    return ok ? 0 : CREC_EIO;
}

static int allreduce(void *buf, size_t n, size_t esz, MPI_Datatype ty, MPI_Op op) {
    double t0 = t_begin();
    int ok = 1;
    for (size_t o = 0; o < n && ok; o += CHUNK) {
        size_t m = n - o < CHUNK ? n - o : CHUNK;
        ok = MPI_Allreduce(MPI_IN_PLACE, (char *)buf + o * esz, (int)m, ty, op, MPI_COMM_WORLD) == MPI_SUCCESS;
    }
    return t_end(t0, n * esz, ok);
}
#endif

int crec_dist_barrier(void) {
#ifdef CREC_MPI
    if (g_size > 1) {
        double t0 = t_begin();
        return t_end(t0, 0, MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS);
    }
#endif
    return 0;
}

int crec_dist_allreduce_f32(float *buf, size_t n) {
#ifdef CREC_MPI
    if (g_size > 1) return allreduce(buf, n, sizeof *buf, MPI_FLOAT, MPI_SUM);
#endif
    (void)buf, (void)n;
    return 0;
}

int crec_dist_allreduce_f64(double *buf, size_t n) {
#ifdef CREC_MPI
    if (g_size > 1) return allreduce(buf, n, sizeof *buf, MPI_DOUBLE, MPI_SUM);
#endif
    (void)buf, (void)n;
    return 0;
}

int crec_dist_allreduce_or(uint8_t *buf, size_t n) {
#ifdef CREC_MPI
    if (g_size > 1) return allreduce(buf, n, 1, MPI_UINT8_T, MPI_BOR);
#endif
    (void)buf, (void)n;
    return 0;
}

int crec_dist_allreduce_minmax_u64(uint64_t *min, uint64_t *max) {
#ifdef CREC_MPI
    if (g_size > 1) {
        int rc = allreduce(min, 1, sizeof *min, MPI_UINT64_T, MPI_MIN);
        return rc ? rc : allreduce(max, 1, sizeof *max, MPI_UINT64_T, MPI_MAX);
    }
#endif
    (void)min, (void)max;
    return 0;
}

int crec_dist_allgather_rows(float *buf, const int64_t *lo, int width) {
#ifdef CREC_MPI
    if (g_size > 1) {
        /* one broadcast per owner, in chunks: counts past INT_MAX elements stay correct (Allgatherv's are int) */
        double t0 = t_begin();
        int ok = 1;
        size_t total = 0;
        for (int r = 0; r < g_size && ok; r++) {
            size_t a = (size_t)lo[r] * width, n = (size_t)(lo[r + 1] - lo[r]) * width;
            total += n * sizeof *buf;
            for (size_t o = 0; o < n && ok; o += CHUNK) {
                size_t m = n - o < CHUNK ? n - o : CHUNK;
                ok = MPI_Bcast(buf + a + o, (int)m, MPI_FLOAT, r, MPI_COMM_WORLD) == MPI_SUCCESS;
            }
        }
        return t_end(t0, total, ok);
    }
#endif
    (void)buf, (void)lo, (void)width;
    return 0;
}

int crec_dist_bcast(void *buf, size_t bytes, int root) {
#ifdef CREC_MPI
    if (g_size > 1) {
        double t0 = t_begin();
        int ok = 1;
        for (size_t o = 0; o < bytes && ok; o += CHUNK) {
            size_t m = bytes - o < CHUNK ? bytes - o : CHUNK;
            ok = MPI_Bcast((char *)buf + o, (int)m, MPI_BYTE, root, MPI_COMM_WORLD) == MPI_SUCCESS;
        }
        return t_end(t0, bytes, ok);
    }
#endif
    (void)buf, (void)bytes, (void)root;
    return 0;
}

/* Grow *p to at least n elements of esz bytes. */
static int grow(void **p, size_t *cap, size_t n, size_t esz) {
    if (n <= *cap) return 0;
    void *q = realloc(*p, n * esz);
    if (!q) return CREC_ENOMEM;
    *p = q, *cap = n;
    return 0;
}

int crec_dist_allreduce_rows(float *buf, size_t n, size_t tab_off, int64_t tab_rows, int width,
                             int64_t *rows_sent) {
    if (rows_sent) *rows_sent = g_size > 1 ? tab_rows : 0;
    if (g_size <= 1) return 0;
    size_t tab_n = (size_t)tab_rows * width, nb = ((size_t)tab_rows + 7) / 8;
    if (grow((void **)&g_mark, &g_mark_n, nb + 1, 1)) return CREC_ENOMEM;
    memset(g_mark, 0, nb);
    const float *T = buf + tab_off;
    for (int64_t i = 0; i < tab_rows; i++) {
        const float *row = T + (size_t)i * width;
        for (int j = 0; j < width; j++)
            if (row[j] != 0.0f) {
                g_mark[i >> 3] |= (uint8_t)(1u << (i & 7));
                break;
            }
    }
    int rc = crec_dist_allreduce_or(g_mark, nb);
    if (rc) return rc;
    int64_t R = 0;
    for (size_t k = 0; k < nb; k++) R += __builtin_popcount(g_mark[k]);
    if (2 * R > tab_rows) { /* dense: the packing would save little */
        if (rows_sent) *rows_sent = tab_rows;
        return crec_dist_allreduce_f32(buf, n);
    }
    size_t rest = n - tab_n, m = rest + (size_t)R * width;
    if (grow((void **)&g_pack, &g_pack_n, m + 1, sizeof(float))) return CREC_ENOMEM;
    /* pack: the block before the table, after it, then the union's rows in ascending order */
    memcpy(g_pack, buf, tab_off * sizeof(float));
    memcpy(g_pack + tab_off, buf + tab_off + tab_n, (n - tab_off - tab_n) * sizeof(float));
    float *q = g_pack + rest;
    for (int64_t i = 0; i < tab_rows; i++)
        if (g_mark[i >> 3] >> (i & 7) & 1) memcpy(q, T + (size_t)i * width, (size_t)width * sizeof(float)), q += width;
    rc = crec_dist_allreduce_f32(g_pack, m);
    if (rc) return rc;
    memcpy(buf, g_pack, tab_off * sizeof(float));
    memcpy(buf + tab_off + tab_n, g_pack + tab_off, (n - tab_off - tab_n) * sizeof(float));
    q = g_pack + rest;
    float *Tw = buf + tab_off;
    for (int64_t i = 0; i < tab_rows; i++)
        if (g_mark[i >> 3] >> (i & 7) & 1) memcpy(Tw + (size_t)i * width, q, (size_t)width * sizeof(float)), q += width;
    if (rows_sent) *rows_sent = R;
    return 0;
}
