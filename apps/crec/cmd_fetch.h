/* cmd_fetch.h: the `crec data fetch` subcommand (download a public dataset into the cache). */
#ifndef CREC_CMD_FETCH_H
#define CREC_CMD_FETCH_H

/* argv[0] is "fetch". Returns the process exit code: 0 done, 1 failed, 2 usage error. */
int crec_cmd_data_fetch(int argc, char **argv);

#endif
