/* nn_buf: a growable byte buffer, always NUL-terminated. The canonical JSON
 * writer, the rulesets and the envelopes are all built in one of these. */
#ifndef NN_UTIL_BUF_H
#define NN_UTIL_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct nn_buf {
    char *data;   /* owned; NUL-terminated when cap > 0 */
    size_t len;   /* bytes used, not counting the NUL */
    size_t cap;   /* bytes allocated */
} nn_buf;

#define NN_BUF_INIT {NULL, 0, 0}

/* Out-of-memory aborts: every caller would have to give up anyway and a
 * compile that silently lost bytes would be worse than a crash. */
void nn_buf_reserve(nn_buf *b, size_t extra);
void nn_buf_append(nn_buf *b, const void *data, size_t len);
void nn_buf_puts(nn_buf *b, const char *s);
void nn_buf_putc(nn_buf *b, char c);
void nn_buf_printf(nn_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nn_buf_vprintf(nn_buf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal (quotes included), escaped exactly as
 * jansson does with its default flags so canonical bytes can be cross-checked. */
void nn_buf_put_json_string(nn_buf *b, const char *s, size_t len);
/* The same escaping without the quotes: escaped pieces concatenate into
 * the escaped whole, so pre-rendered text can be spliced into a string. */
void nn_buf_put_json_escaped(nn_buf *b, const char *s, size_t len);
void nn_buf_reset(nn_buf *b);
void nn_buf_free(nn_buf *b);
/* Hands the bytes to the caller (free() them); the buffer is left empty. */
char *nn_buf_steal(nn_buf *b);

#endif
