/* cli.h: shared helpers of the crec command-line program: option parsing, dataset opening, output. */
#ifndef CREC_CLI_H
#define CREC_CLI_H

#include <stdio.h>
#include "crec/crec.h"

/* Exit codes: 0 ok, 1 failure, 2 usage. */
#define CLI_OK 0
#define CLI_FAIL 1
#define CLI_USAGE 2

/* If argv[*i] is `name` (then takes argv[*i+1]) or `name=value`, set *val, advance *i and return 1.
 * Missing value: prints an error, sets *bad = 1 and returns 1. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **val, int *bad);
/* argv[*i] == name (a flag without value). */
int cli_flag(char **argv, int i, const char *name);
int cli_is_help(const char *a);
/* Strict number parsing: whole string; prints "crec CMD: bad value for OPT: 'x'" on failure. */
int cli_int(const char *cmd, const char *opt, const char *s, long long lo, long long hi, long long *out);
int cli_double(const char *cmd, const char *opt, const char *s, double *out);
/* Parse "5,10,20" into ks (max CREC_EVAL_MAX_K). */
int cli_ks(const char *cmd, const char *s, int *ks, int *n);

/* Open a dataset: a .crecds file, or a text dataset (format guessed) that is imported in memory. */
int cli_open_dataset(const char *cmd, const char *path, crec_dataset **out);
/* Print "crec CMD: what: reason" for a library error. */
void cli_err(const char *cmd, const char *what, int rc);
/* JSON string escaping to f. */
void cli_json_str(FILE *f, const char *s);
int cli_progress(void);

int cmd_data(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_recommend(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_models(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_mcp(int argc, char **argv);
int cmd_stream(int argc, char **argv);
int cmd_crs(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_plot(int argc, char **argv);
#endif
