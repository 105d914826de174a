/* nanamictl's API-client commands (apply, export, get, put, post,
 * delete); see remote.c for the command line. */
#ifndef NN_CLI_REMOTE_H
#define NN_CLI_REMOTE_H

/* Runs command cmd with its arguments; returns the exit status, or -1
 * when cmd is not one of these commands. */
int nn_remote_main(const char *cmd, int argc, char **argv);

#endif
