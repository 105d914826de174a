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

int cli_read_input(const char *path, size_t max, char **out, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    *out = NULL;
    *len = 0;
    if (!f)
        return -errno;
    size_t cap = 65536, n = 0;
    char *data = malloc(cap + 1);
    int r = 0;
    while (data) {
        if (n == cap) {
            if (cap > max) {
                r = -E2BIG;
                break;
            }
            char *p = realloc(data, cap * 2 + 1);
            if (!p) {
                r = -ENOMEM;
                break;
            }
            data = p;
            cap *= 2;
        }
        size_t got = fread(data + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                r = -EIO;
            break;
        }
    }
    if (!data)
        r = -ENOMEM;
    if (f != stdin)
        fclose(f);
    if (r == 0 && n > max)
        r = -E2BIG;
    if (r) {
        free(data);
        return r;
    }
    data[n] = '\0';
    *out = data;
    *len = n;
    return 0;
}
