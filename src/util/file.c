/* nn_file: whole-file reads and the two careful ways Nanami writes. */
#include "util/file.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int nn_file_read(const char *path, size_t max, char **out, size_t *len)
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

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Opens path with flags, writes data and fsyncs; on any failure the file
 * is removed again, so no half-written file is left behind. */
static int write_file(const char *path, int flags, unsigned mode, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, mode);
    if (fd < 0)
        return -errno;
    int r = write_all(fd, data, len);
    if (r == 0 && fsync(fd) != 0)
        r = -errno;
    if (close(fd) != 0 && r == 0)
        r = -errno;
    if (r)
        unlink(path);
    return r;
}

int nn_file_create_secret(const char *path, const void *data, size_t len)
{
    return write_file(path, O_EXCL, 0600, data, len);
}

int nn_file_replace(const char *path, const void *data, size_t len, unsigned mode)
{
    char tmp[4096], dir[4096];
    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
        snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
        return -ENAMETOOLONG;
    int r = write_file(tmp, O_TRUNC, mode, data, len);
    if (r == 0 && rename(tmp, path) != 0)
        r = -errno;
    if (r) {
        unlink(tmp);
        return r;
    }
    /* The rename is durable only once the directory is synced. */
    int dfd = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}
