/* api target: the request-target ("/api/v1/PATH?QUERY"), decoded strictly.
 * Percent-decoding refuses what can only be a trick: an encoded NUL
 * (it would cut a name short and act on its parent), an encoded slash (it
 * would move a segment boundary) and any invalid sequence. Pure: no
 * allocation, bounded by the caller's buffers. */
#ifndef NN_API_TARGET_H
#define NN_API_TARGET_H

#include <stddef.h>

/* The decoded path segments of a request-target under /api/v1/ (into buf,
 * NUL-separated; seg[] point into it): 0, -ENOENT when the target is not
 * under /api/v1/ or has an empty segment, -EINVAL for a NUL, a slash or an
 * invalid percent sequence encoded in it, -E2BIG when too long or deep. */
int api_path_decode(const char *target, char *buf, size_t len, const char **seg, size_t *nseg,
                    size_t max_seg);

/* The next key=value pair of a query string, decoded: *q points at the
 * '?' or '&' before it and is moved past the pair. 1 for a pair, 0 at the
 * end, -EINVAL for an empty key, a key or value over its buffer, or a bad
 * encoding. A key without '=' has the value "". */
int api_query_next(const char **q, char *key, size_t klen, char *value, size_t vlen);

#endif
