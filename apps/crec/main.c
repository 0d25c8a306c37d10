/* main.c: the crec program: git-style subcommands over libcrec. Logs go to stderr, results to stdout.
 * Exit codes: 0 success, 1 failure, 2 usage error. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const char USAGE[] =
    "crec - a recommendation engine in C\n"
    "\n"
    "usage: crec <command> [options]   (crec <command> --help for each)\n"
    "\n"
    "commands:\n"
    "  demo        generate the default synthetic data, train, evaluate, recommend (the main job)\n"
    "  data        synth | import | info | fetch: make, import, describe, download datasets\n"
    "  train       train a model on a dataset's training split\n"
    "  eval        evaluate a model (full ranking over the catalog by default)\n"
    "  recommend   top-k items for a user or an anonymous history\n"
    "  compare     paired comparison of two per-user result files (t-test, bootstrap CI)\n"
    "  models      list models and their hyper-parameters\n"
    "  db          import | export | info: the SQLite store behind crec serve\n"
    "  serve       HTTP recommendation server over a store and a model, with a dashboard\n"
    "  mcp         Model Context Protocol server over stdio: recommendation tools for LLM agents\n"
    "  index       build | info: item token codes for generative retrieval (model genrec)\n"
    "  stream      eval: prequential replay - online updates vs periodic retraining vs a static model\n"
    "  crs         train | train-policy | eval: conversational recommendation (SCPR/UNICORN setting)\n"
    "  chat        a conversational recommender in the terminal (asks attributes, recommends with reasons)\n"
    "  plot        a line plot of CSV columns as an SVG file (e.g. quality against training FLOPs)\n"
    "  bench       micro-benchmarks (bench blas: SGEMM GFLOP/s of the BLAS kernel in use)\n"
    "  version     version, BLAS kernel\n";

int main(int argc, char **argv) {
    crec_blas_setup(argc, argv);
    if (argc < 2 || cli_is_help(argv[1])) {
        fputs(USAGE, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    const char *c = argv[1];
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    if (strcmp(c, "data") == 0) return cmd_data(sub_argc, sub_argv);
    if (strcmp(c, "train") == 0) return cmd_train(sub_argc, sub_argv);
    if (strcmp(c, "eval") == 0) return cmd_eval(sub_argc, sub_argv);
    if (strcmp(c, "recommend") == 0) return cmd_recommend(sub_argc, sub_argv);
    if (strcmp(c, "compare") == 0) return cmd_compare(sub_argc, sub_argv);
    if (strcmp(c, "models") == 0) return cmd_models(sub_argc, sub_argv);
    if (strcmp(c, "demo") == 0) return cmd_demo(sub_argc, sub_argv);
    if (strcmp(c, "version") == 0 || strcmp(c, "--version") == 0) return cmd_version(sub_argc, sub_argv);
    if (strcmp(c, "bench") == 0) return cmd_bench(sub_argc, sub_argv);
    if (strcmp(c, "db") == 0) return cmd_db(sub_argc, sub_argv);
    if (strcmp(c, "serve") == 0) return cmd_serve(sub_argc, sub_argv);
    if (strcmp(c, "mcp") == 0) return cmd_mcp(sub_argc, sub_argv);
    if (strcmp(c, "stream") == 0) return cmd_stream(sub_argc, sub_argv);
    if (strcmp(c, "index") == 0) { extern int cmd_index(int, char **); return cmd_index(sub_argc, sub_argv); }
    if (strcmp(c, "crs") == 0) return cmd_crs(sub_argc, sub_argv);
    if (strcmp(c, "chat") == 0) return cmd_chat(sub_argc, sub_argv);
    if (strcmp(c, "plot") == 0) return cmd_plot(sub_argc, sub_argv);
    fprintf(stderr, "crec: unknown command '%s'\n\n%s", c, USAGE);
    return CLI_USAGE;
}
