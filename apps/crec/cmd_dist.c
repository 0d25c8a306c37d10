/* cmd_dist.c: `crec train` under mpirun (docs/DISTRIBUTED.md): MPI started before the command and finalized after
 * it, the refusals (built without MPI, a model that does not train data-parallel), and rank 0 as the one rank that
 * writes the checkpoint and prints. Without mpirun every function here is a no-op. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "crec/dist.h"

int cli_dist_begin(const char *cmd, int argc, char **argv, int *required);
int cli_dist_model(const char *cmd, const char *model, int required);
void cli_dist_end(void);
int cli_dist_rank0(void);

/* Starts MPI when launched by mpirun. *required: argv holds --dist (data-parallel training must happen). Returns
 * CLI_OK or an exit code after printing why. */
int cli_dist_begin(const char *cmd, int argc, char **argv, int *required) {
    *required = 0;
    for (int i = 1; i < argc; i++)
        if (cli_flag(argv, i, "--dist")) *required = 1;
    if (*required && !crec_dist_built()) {
        fprintf(stderr, "crec %s: --dist: this crec was built without MPI (CMake option CREC_MPI; install "
                        "libopenmpi-dev and rebuild)\n", cmd);
        return CLI_USAGE;
    }
    char err[512];
    int rc = crec_dist_init(err, sizeof err);
    if (rc) {
        fprintf(stderr, "crec %s: %s\n", cmd, err[0] ? err : crec_strerror(rc));
        return rc == CREC_EUNSUPPORTED ? CLI_USAGE : CLI_FAIL;
    }
    if (*required && crec_dist_size() < 2) {
        fprintf(stderr, "crec %s: --dist: not launched by mpirun with 2 or more processes (e.g. mpirun -np 2 crec "
                        "%s ... --dist; docs/DISTRIBUTED.md)\n", cmd, cmd);
        crec_dist_finalize();
        return CLI_USAGE;
    }
    return CLI_OK;
}

/* 0 when model may train on this world; else prints why (rank 0) and returns CLI_USAGE on every rank. */
int cli_dist_model(const char *cmd, const char *model, int required) {
    (void)required;
    if (crec_dist_size() < 2 || crec_dist_model_supported(model)) return 0;
    if (crec_dist_rank() == 0)
        fprintf(stderr, "crec %s: model '%s' does not train data-parallel (supported: sasrec, bert4rec, gru4rec, "
                        "hstu, ials); run it without mpirun\n", cmd, model);
    return CLI_USAGE;
}

void cli_dist_end(void) { crec_dist_finalize(); }

int cli_dist_rank0(void) { return crec_dist_rank() == 0; }
