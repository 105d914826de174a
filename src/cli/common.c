#include "cli/common.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int cli_invalid(const char *where, const char *fmt, const char *arg)
{
    fprintf(stderr, "error: %s: ", where);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return EXIT_INVALID;
}
