/* nn_file: reading a whole file and writing one safely. */
#ifndef NN_UTIL_FILE_H
#define NN_UTIL_FILE_H

#include <stddef.h>

/* Reads the whole file (or stdin for "-"), at most max bytes, into a
 * malloc'd buffer the caller frees; NUL-terminated (not counted in *len).
 * 0, -E2BIG when larger than max, or -errno. */
int nn_file_read(const char *path, size_t max, char **out, size_t *len);

/* Creates path with mode 0600 and writes data, fsynced. Never overwrites:
 * -EEXIST when the file exists (a key is never replaced by accident). */
int nn_file_create_secret(const char *path, const void *data, size_t len);

/* Replaces path atomically: writes PATH.tmp, fsyncs, renames over path and
 * syncs the directory, so a crash leaves the old or the new bytes. */
int nn_file_replace(const char *path, const void *data, size_t len, unsigned mode);

#endif
