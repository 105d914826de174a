/* nn_proc: running a helper program (frr-reload.py, vtysh, ovn-nbctl) from
 * the daemon, with its output captured and a deadline, so a hung helper
 * can never stall the apply loop. */
#ifndef NN_AGENT_PROC_H
#define NN_AGENT_PROC_H
#include <stddef.h>

#include "util/buf.h"

/* Runs argv[0] (looked up on PATH when it has no '/') with argv, stdin
 * from /dev/null, stdout and stderr together into out (appended, at most
 * max_out bytes kept; the rest is read and dropped). Returns the exit
 * status (0-255), or -ETIMEDOUT when it ran longer than timeout_ms (it is
 * killed), -ECHILD when it died on a signal, or another negative errno
 * when it could not be started (-ENOENT: no such program). */
int nn_proc_run(char *const argv[], int timeout_ms, nn_buf *out, size_t max_out);

/* The last line of out that says something (trailing blank lines and
 * spaces dropped), into line: helpers such as frr-reload, vtysh and
 * ovn-nbctl put the reason for a failure last. "" when there is none. */
void nn_proc_last_line(const nn_buf *out, char *line, size_t n);

#endif
