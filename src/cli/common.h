/* Helpers every nanamictl command shares: the one-line usage error and
 * reading a whole input file. */
#ifndef NN_CLI_COMMON_H
#define NN_CLI_COMMON_H

#include <stddef.h>

/* Exit status for invalid input or usage (one "error:" line on stderr). */
#define EXIT_INVALID 2

/* Prints "error: WHERE: " + fmt(arg) and returns EXIT_INVALID. */
int cli_invalid(const char *where, const char *fmt, const char *arg);

/* Reads the whole file (or stdin for "-"), at most max bytes, into a
 * malloc'd buffer the caller frees; NUL-terminated (not counted in *len).
 * 0, -E2BIG when larger than max, or -errno. */
int cli_read_input(const char *path, size_t max, char **out, size_t *len);

#endif
