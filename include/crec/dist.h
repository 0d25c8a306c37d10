/* crec/dist.h: the communication layer of data-parallel training (issue 17) over MPI (OpenMPI from Debian).
 *
 * The one idea: every process ("rank") holds the whole dataset and a replica of the model; the trainers call
 * these few collectives at fixed points of a step, and when the program was not launched by mpirun (or crec was
 * built without MPI: CMake option CREC_MPI) the world has one rank and every call is a no-op that returns 0, so
 * a single-process run takes exactly the code path it takes today.
 *
 * Every collective counts the bytes it hands to MPI (its payload as seen by this rank: an allreduce of n floats
 * counts 4n, an allgather counts the whole gathered array) in crec_dist_stats, so a trainer can report the
 * communication volume per step; what a ring algorithm puts on each link is 2 (P - 1) / P of an allreduce's
 * payload and (P - 1) / P of an allgather's (docs/DISTRIBUTED.md).
 *
 * Not thread-safe: call from one thread (the trainers call between their OpenMP regions). */
#ifndef CREC_DIST_H
#define CREC_DIST_H

#include <stddef.h>
#include <stdint.h>

#include "crec/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Built with MPI (CREC_MPI)? */
CREC_API int crec_dist_built(void);
/* The world size an MPI launcher announced in the environment (OMPI_COMM_WORLD_SIZE, PMI_SIZE, PMIX_SIZE...),
 * 1 when none did. Works in builds without MPI, so they can refuse `mpirun -np 2 crec train` clearly. */
CREC_API int crec_dist_launched_size(void);
/* Start: MPI_Init when launched by an MPI launcher, nothing otherwise. Idempotent. CREC_EUNSUPPORTED with a
 * message in err when launched with more than one process but built without MPI; CREC_EIO if MPI fails. */
CREC_API int crec_dist_init(char *err, size_t errn);
/* MPI_Finalize when crec_dist_init started MPI. Idempotent. */
CREC_API void crec_dist_finalize(void);
/* Abort every rank (MPI_Abort) with this exit code when running over MPI; otherwise returns. */
CREC_API void crec_dist_abort(int code);
CREC_API int crec_dist_rank(void); /* 0 .. size - 1; 0 without MPI */
CREC_API int crec_dist_size(void); /* 1 without MPI */

/* Does model type `name` train data-parallel (the others refuse more than one rank)? */
CREC_API int crec_dist_model_supported(const char *name);

/* Collectives. All return 0 or CREC_EIO (an MPI error); with one rank they return 0 at once. */
CREC_API int crec_dist_barrier(void);
/* buf[0..n) = the sum over ranks, on every rank. */
CREC_API int crec_dist_allreduce_f32(float *buf, size_t n);
CREC_API int crec_dist_allreduce_f64(double *buf, size_t n);
/* Bitwise OR over ranks of n bytes. */
CREC_API int crec_dist_allreduce_or(uint8_t *buf, size_t n);
/* Minimum and maximum over ranks of one value each (in place). */
CREC_API int crec_dist_allreduce_minmax_u64(uint64_t *min, uint64_t *max);
/* In-place allgather of float rows: rank r owns rows [lo[r], lo[r + 1]) of buf (width floats per row; lo has
 * size + 1 entries, ascending); afterwards every rank holds every row. */
CREC_API int crec_dist_allgather_rows(float *buf, const int64_t *lo, int width);
/* buf[0..bytes) from rank root to every rank. */
CREC_API int crec_dist_bcast(void *buf, size_t bytes, int root);

/* The sparse-row allreduce of a gradient block buf[0..n): buf = the sum over ranks, where the rows of the table
 * buf[tab_off .. tab_off + tab_rows * width) that are zero on every rank are not sent (the rows a step touched:
 * its inputs, targets and negatives). One OR-allreduce of a row bitmap (tab_rows / 8 bytes), then one sum
 * allreduce of the rest of the block and the union's rows, packed; when the union holds more than half the
 * table, the whole block is summed instead. *rows_sent (may be NULL) gets the rows sent. 0, CREC_ENOMEM or
 * CREC_EIO. */
CREC_API int crec_dist_allreduce_rows(float *buf, size_t n, size_t tab_off, int64_t tab_rows, int width,
                                      int64_t *rows_sent);

/* Communication counters since crec_dist_init (or the last reset), of this rank. */
typedef struct crec_dist_stats {
    uint64_t calls;        /* collective calls */
    uint64_t bytes;        /* payload bytes handed to MPI (see the top of this file) */
    double seconds;        /* wall time inside collectives (waiting for the slowest rank included) */
} crec_dist_stats;
CREC_API void crec_dist_stats_get(crec_dist_stats *out);
CREC_API void crec_dist_stats_reset(void);

#ifdef __cplusplus
}
#endif
#endif
