#include "util/json_writer.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void nn_jw_init(nn_jw *w, nn_buf *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
}

/* Called before every value and every key: writes the separating comma. */
static void before_value(nn_jw *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (w->depth > 0) {
        if (w->need_comma[w->depth - 1])
            nn_buf_putc(w->out, ',');
        w->need_comma[w->depth - 1] = true;
    }
}

static void open_container(nn_jw *w, char c)
{
    before_value(w);
    if (w->depth >= NN_JW_MAX_DEPTH)
        abort(); /* programming error: our documents are shallow */
    w->need_comma[w->depth++] = false;
    nn_buf_putc(w->out, c);
}

static void close_container(nn_jw *w, char c)
{
    if (w->depth <= 0)
        abort();
    w->depth--;
    nn_buf_putc(w->out, c);
}

void nn_jw_obj_begin(nn_jw *w)
{
    open_container(w, '{');
}

void nn_jw_obj_end(nn_jw *w)
{
    close_container(w, '}');
}

void nn_jw_arr_begin(nn_jw *w)
{
    open_container(w, '[');
}

void nn_jw_arr_end(nn_jw *w)
{
    close_container(w, ']');
}

void nn_jw_key(nn_jw *w, const char *key)
{
    before_value(w);
    nn_buf_put_json_string(w->out, key, strlen(key));
    nn_buf_putc(w->out, ':');
    w->after_key = true;
}

void nn_jw_strn(nn_jw *w, const char *s, size_t len)
{
    before_value(w);
    nn_buf_put_json_string(w->out, s, len);
}

void nn_jw_str(nn_jw *w, const char *s)
{
    nn_jw_strn(w, s, strlen(s));
}

void nn_jw_int(nn_jw *w, int64_t v)
{
    before_value(w);
    nn_buf_printf(w->out, "%" PRId64, v);
}

void nn_jw_bool(nn_jw *w, bool v)
{
    before_value(w);
    nn_buf_puts(w->out, v ? "true" : "false");
}

void nn_jw_null(nn_jw *w)
{
    before_value(w);
    nn_buf_puts(w->out, "null");
}

void nn_jw_raw(nn_jw *w, const char *json, size_t len)
{
    before_value(w);
    nn_buf_append(w->out, json, len);
}

void nn_jw_prefix_array(nn_jw *w, const nn_prefix *a, size_t n)
{
    char buf[NN_PREFIX_STRLEN];
    nn_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++)
        nn_jw_str(w, nn_prefix_format(&a[i], true, buf));
    nn_jw_arr_end(w);
}
