#include "util/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void nn_buf_reserve(nn_buf *b, size_t extra)
{
    if (b->cap > b->len + extra)
        return;
    size_t want = b->cap ? b->cap : 256;
    while (want <= b->len + extra) {
        if (want > ((size_t)-1) / 2)
            abort();
        want *= 2;
    }
    char *p = realloc(b->data, want);
    if (!p)
        abort();
    b->data = p;
    b->cap = want;
    b->data[b->len] = '\0';
}

void nn_buf_append(nn_buf *b, const void *data, size_t len)
{
    nn_buf_reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void nn_buf_puts(nn_buf *b, const char *s)
{
    nn_buf_append(b, s, strlen(s));
}

void nn_buf_putc(nn_buf *b, char c)
{
    nn_buf_reserve(b, 1);
    b->data[b->len++] = c;
    b->data[b->len] = '\0';
}

void nn_buf_vprintf(nn_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        abort();
    nn_buf_reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void nn_buf_printf(nn_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    nn_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void nn_buf_put_json_string(nn_buf *b, const char *s, size_t len)
{
    nn_buf_reserve(b, len + 2);
    nn_buf_putc(b, '"');
    nn_buf_put_json_escaped(b, s, len);
    nn_buf_putc(b, '"');
}

void nn_buf_put_json_escaped(nn_buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t run = 0; /* start of the pending run of bytes that need no escape */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                u[0] = '\\'; u[1] = 'u'; u[2] = '0'; u[3] = '0';
                u[4] = hex[c >> 4]; u[5] = hex[c & 15]; u[6] = '\0';
                esc = u;
            }
        }
        if (esc) {
            nn_buf_append(b, s + run, i - run);
            nn_buf_puts(b, esc);
            run = i + 1;
        }
    }
    nn_buf_append(b, s + run, len - run);
}

void nn_buf_reset(nn_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

void nn_buf_free(nn_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

char *nn_buf_steal(nn_buf *b)
{
    if (!b->data)
        nn_buf_reserve(b, 0);
    char *p = b->data;
    b->data = NULL;
    b->len = b->cap = 0;
    return p;
}
