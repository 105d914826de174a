/* Helpers every nanamictl command shares: the one-line usage error.
 * Reading a whole input file is nn_file_read (util/file.h). */
#ifndef NN_CLI_COMMON_H
#define NN_CLI_COMMON_H

#include <stddef.h>

#include "util/file.h"

/* Exit status for invalid input or usage (one "error:" line on stderr). */
#define EXIT_INVALID 2

/* Prints "error: WHERE: " + fmt(arg) and returns EXIT_INVALID. */
int cli_invalid(const char *where, const char *fmt, const char *arg);

#endif
