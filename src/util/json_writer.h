/* nn_jw: a streaming writer of canonical JSON.
 *
 * Canonical here means: no insignificant whitespace, object keys in
 * byte-wise ascending order, strings escaped as jansson escapes them, and
 * integers only (no floats in artifacts). The writer does not sort: callers
 * emit keys in order, and tests/unit/test_json_writer.c re-serialises output
 * through jansson with JSON_SORT_KEYS | JSON_COMPACT to prove the bytes are
 * already canonical. Writing directly (instead of building a jansson tree)
 * is what lets the compiler splice pre-rendered fragments together. */
#ifndef NN_UTIL_JSON_WRITER_H
#define NN_UTIL_JSON_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"
#include "util/cidr.h"

#define NN_JW_MAX_DEPTH 32

typedef struct nn_jw {
    nn_buf *out;                      /* borrowed */
    int depth;
    bool need_comma[NN_JW_MAX_DEPTH]; /* per open container: a value was written */
    bool after_key;                   /* the next value follows "key": */
} nn_jw;

void nn_jw_init(nn_jw *w, nn_buf *out);
void nn_jw_obj_begin(nn_jw *w);
void nn_jw_obj_end(nn_jw *w);
void nn_jw_arr_begin(nn_jw *w);
void nn_jw_arr_end(nn_jw *w);
void nn_jw_key(nn_jw *w, const char *key);
void nn_jw_str(nn_jw *w, const char *s);
void nn_jw_strn(nn_jw *w, const char *s, size_t len);
void nn_jw_int(nn_jw *w, int64_t v);
void nn_jw_bool(nn_jw *w, bool v);
void nn_jw_null(nn_jw *w);
/* An array of prefixes in canonical text ("10.0.0.0/8", "fd00::/64"). */
void nn_jw_prefix_array(nn_jw *w, const nn_prefix *a, size_t n);

/* Splices an already-canonical JSON value (a pre-rendered fragment). */
void nn_jw_raw(nn_jw *w, const char *json, size_t len);

#endif
