/* nanamictl's commands against a running nanamid (see client.h for where
 * the server and token come from):
 *
 *   apply -f FILE [--dry-run]   converge each workspace of an intent document
 *   export WORKSPACE            the workspace's intent document
 *   get PATH                    any GET route, as a table (--json: raw; --etag: the
 *                               object's ETag alone, for --if-match)
 *   put|post PATH (-f FILE | -d JSON) [--dry-run] [--if-match ETAG]
 *   delete PATH [--dry-run] [--if-match ETAG]
 *
 * Exit status: 0 done; 2 the server refused the request (4xx) or the
 * command line is wrong; 1 the server failed (5xx) or could not be
 * reached. Errors are one "error:" line naming the field the API named. */
#include "cli/remote.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/client.h"
#include "cli/common.h"
#include "model/intent.h"

typedef struct options {
    const char *server, *token, *file, *data, *if_match;
    bool json, dry_run, etag;
    const char *args[2]; /* positional */
    size_t nargs;
} options;

static int parse_options(const char *cmd, int argc, char **argv, size_t want_args, options *o)
{
    memset(o, 0, sizeof(*o));
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (!strcmp(a, "--json")) {
            o->json = true;
            continue;
        }
        if (!strcmp(a, "--dry-run")) {
            o->dry_run = true;
            continue;
        }
        if (!strcmp(a, "--etag")) {
            o->etag = true;
            continue;
        }
        if (!strcmp(a, "--server"))
            slot = &o->server;
        else if (!strcmp(a, "--token"))
            slot = &o->token;
        else if (!strcmp(a, "-f") || !strcmp(a, "--file"))
            slot = &o->file;
        else if (!strcmp(a, "-d") || !strcmp(a, "--data"))
            slot = &o->data;
        else if (!strcmp(a, "--if-match"))
            slot = &o->if_match;
        if (slot) {
            if (i + 1 >= argc)
                return cli_invalid(a, "%s", "needs a value");
            if (*slot)
                return cli_invalid(a, "%s", "given twice");
            *slot = argv[++i];
            continue;
        }
        if (a[0] == '-' && a[1])
            return cli_invalid(cmd, "unknown option \"%s\" (see nanamictl --help)", a);
        if (o->nargs == want_args)
            return cli_invalid(cmd, "unexpected argument \"%s\"", a);
        o->args[o->nargs++] = a;
    }
    if (o->nargs != want_args)
        return cli_invalid(cmd, "%s",
                           want_args ? "needs a PATH (or a WORKSPACE)" : "takes no PATH");
    return 0;
}

/* Prints the API's error answer: "error: FIELD: MESSAGE (STATUS CODE)". */
static int report_error(long status, const nn_buf *body, const char *what)
{
    json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, NULL);
    json_t *e = json_object_get(j, "error");
    const char *field = json_string_value(json_object_get(e, "field"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *where = field ? field : what;
    size_t wlen = strlen(where);
    /* intent errors already start with the path they name */
    if (msg && !strncmp(msg, where, wlen) && msg[wlen] == ':')
        fprintf(stderr, "error: %s (%ld %s)\n", msg, status, code ? code : "");
    else if (msg)
        fprintf(stderr, "error: %s: %s (%ld %s)\n", where, msg, status, code ? code : "");
    else
        fprintf(stderr, "error: %s: the server answered %ld\n", what, status);
    json_decref(j);
    return status >= 500 ? 1 : EXIT_INVALID;
}

static int transport_error(int r, const nn_error *err)
{
    fprintf(stderr, "error: %s: %s\n", err->path, err->msg);
    /* the server or the link failed: 1; a setting is wrong: 2 */
    return r == -EIO || r == -E2BIG || r == -ENOMEM ? 1 : EXIT_INVALID;
}

/* ------------------------------------------------------------------ */
/* Tables: an array of objects is one row each, columns the union of
 * their keys ("name" first); an object prints "key  value" lines, nested
 * objects as dotted keys, arrays of objects as their own tables. */

#define CELL_MAX 72

static void cell_text(const json_t *v, nn_buf *out)
{
    if (json_is_string(v)) {
        for (const char *s = json_string_value(v); *s; s++)
            nn_buf_putc(out, (unsigned char)*s < ' ' ? '?' : *s);
    } else if (json_is_null(v) || !v) {
        nn_buf_puts(out, "-");
    } else if (json_is_array(v)) {
        bool scalars = true;
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) scalars = scalars && !json_is_object(x) && !json_is_array(x);
        if (!scalars)
            goto compact;
        if (json_array_size(v) == 0)
            nn_buf_puts(out, "-");
        json_array_foreach(v, i, x)
        {
            if (i)
                nn_buf_putc(out, ',');
            cell_text(x, out);
        }
    } else {
        goto compact;
    }
    return;
compact:;
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    if (s) {
        size_t n = strlen(s);
        if (n > CELL_MAX) {
            nn_buf_append(out, s, CELL_MAX - 3);
            nn_buf_puts(out, "...");
        } else {
            nn_buf_append(out, s, n);
        }
        free(s);
    }
}

static void upper(const char *s, nn_buf *out)
{
    for (; *s; s++)
        nn_buf_putc(out, (*s >= 'a' && *s <= 'z') ? (char)(*s - 32) : *s);
}

static void print_table(const json_t *rows, const char *indent)
{
    /* columns, in first-seen order with "name" first */
    const char *cols[64];
    size_t ncols = 0, i;
    json_t *row;
    bool has_name = false;
    json_array_foreach(rows, i, row)
    {
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)row, k, v)
        {
            if (!strcmp(k, "name")) {
                has_name = true;
                continue;
            }
            size_t c = 0;
            while (c < ncols && strcmp(cols[c], k))
                c++;
            if (c == ncols && ncols < 63)
                cols[ncols++] = k;
        }
    }
    if (has_name) {
        memmove(cols + 1, cols, ncols * sizeof(*cols));
        cols[0] = "name";
        ncols++;
    }
    size_t nrows = json_array_size(rows);
    nn_buf *cells = calloc((nrows + 1) * ncols + 1, sizeof(nn_buf));
    size_t *width = calloc(ncols + 1, sizeof(size_t));
    if (!cells || !width) {
        free(cells);
        free(width);
        return;
    }
    for (size_t c = 0; c < ncols; c++) {
        upper(cols[c], &cells[c]);
        width[c] = cells[c].len;
    }
    json_array_foreach(rows, i, row)
    {
        for (size_t c = 0; c < ncols; c++) {
            nn_buf *b = &cells[(i + 1) * ncols + c];
            cell_text(json_object_get(row, cols[c]), b);
            if (b->len > width[c])
                width[c] = b->len;
        }
    }
    for (size_t r = 0; r <= nrows; r++) {
        fputs(indent, stdout);
        for (size_t c = 0; c < ncols; c++) {
            nn_buf *b = &cells[r * ncols + c];
            if (c + 1 < ncols)
                printf("%-*.*s  ", (int)width[c], (int)b->len, b->data ? b->data : "");
            else
                printf("%.*s", (int)b->len, b->data ? b->data : "");
        }
        fputc('\n', stdout);
    }
    for (size_t k = 0; k < (nrows + 1) * ncols; k++)
        nn_buf_free(&cells[k]);
    free(cells);
    free(width);
}

static bool is_rows(const json_t *v)
{
    if (!json_is_array(v) || json_array_size(v) == 0)
        return false;
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if (!json_is_object(x)) return false;
    return true;
}

/* The widest flattened key of obj's scalar lines, so values line up. */
static size_t key_width(const json_t *obj, size_t prefix_len)
{
    size_t w = 0;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        size_t n = prefix_len + strlen(k);
        if (json_is_object(v) && json_object_size(v) > 0)
            n = key_width(v, n + 1);
        if (n > w)
            w = n;
    }
    return w;
}

static void print_object(const json_t *obj, const char *prefix, int width)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        char key[256];
        snprintf(key, sizeof(key), "%s%s", prefix, k);
        if (json_is_object(v) && json_object_size(v) > 0) {
            char sub[260];
            snprintf(sub, sizeof(sub), "%s.", key);
            print_object(v, sub, width);
        } else if (is_rows(v)) {
            printf("%s:\n", key);
            print_table(v, "  ");
        } else {
            nn_buf b = NN_BUF_INIT;
            cell_text(v, &b);
            printf("%-*s  %.*s\n", width, key, (int)b.len, b.data ? b.data : "");
            nn_buf_free(&b);
        }
    }
}

static int print_answer(const options *o, const char *content_type, const nn_buf *body)
{
    if (o->json || strncmp(content_type, "application/json", 16) != 0) {
        if (body->len)
            fwrite(body->data, 1, body->len, stdout);
        if (body->len && body->data[body->len - 1] != '\n')
            fputc('\n', stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    json_error_t je;
    json_t *j = json_loadb(body->data ? body->data : "", body->len, 0, &je);
    if (!j) {
        fprintf(stderr, "error: the server's answer is not JSON: %s\n", je.text);
        return 1;
    }
    if (is_rows(j))
        print_table(j, "");
    else if (json_is_array(j) && json_array_size(j) == 0)
        printf("(none)\n");
    else if (json_is_object(j))
        print_object(j, "", (int)(key_width(j, 0) < 64 ? key_width(j, 0) : 64));
    else
        print_answer(&(options){.json = true}, "", body);
    json_decref(j);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* ------------------------------------------------------------------ */

static int path_arg(const char *arg, bool dry_run, nn_buf *path)
{
    if (strlen(arg) > 2048)
        return cli_invalid("PATH", "%s", "longer than 2048 bytes");
    if (!strncmp(arg, "/api/v1/", 8))
        arg += 7;
    /* The server refuses a query key given twice: a path that already asks
     * for a dry run keeps its own. */
    const char *q = strchr(arg, '?');
    bool asked = q && (strstr(q, "?dry_run=") || strstr(q, "&dry_run="));
    nn_buf_printf(path, "%s%s%s", arg[0] == '/' ? "" : "/", arg,
                  !dry_run || asked ? "" : q ? "&dry_run=true" : "?dry_run=true");
    return 0;
}

static int cmd_request(const char *method, int argc, char **argv)
{
    options o;
    int r = parse_options(method, argc, argv, 1, &o);
    if (r)
        return r;
    bool has_body = !strcmp(method, "PUT") || !strcmp(method, "POST");
    if (has_body && !!o.file == !!o.data)
        return cli_invalid(method, "%s", "give the body with -f FILE or -d JSON");
    if (!has_body && (o.file || o.data))
        return cli_invalid(method, "%s", "takes no body");
    if (o.dry_run && !strcmp(method, "GET"))
        return cli_invalid("--dry-run", "%s", "only applies to changes");
    if (o.if_match && (!strcmp(method, "GET") || strlen(o.if_match) >= 128))
        return cli_invalid("--if-match", "%s", "only applies to changes, with one ETag");
    if (o.etag && strcmp(method, "GET") != 0)
        return cli_invalid("--etag", "%s", "only applies to get");
    char *body = NULL;
    size_t len = 0;
    if (o.file && (r = nn_file_read(o.file, NN_INTENT_MAX_BYTES, &body, &len)) != 0) {
        fprintf(stderr, "error: %s: %s\n", o.file, r == -E2BIG ? "too large" : strerror(-r));
        return EXIT_INVALID;
    }
    nn_client c;
    nn_error err = {{0}, {0}};
    nn_buf path = NN_BUF_INIT, resp = NN_BUF_INIT;
    if ((r = nn_client_init(&c, o.server, o.token, &err)) != 0) {
        free(body);
        return transport_error(r, &err);
    }
    if (o.if_match)
        snprintf(c.if_match, sizeof(c.if_match), "%s", o.if_match);
    if ((r = path_arg(o.args[0], o.dry_run, &path)) == 0) {
        long status;
        const char *ct;
        int t = nn_client_request(&c, method, path.data, body ? body : o.data,
                                  body     ? len
                                  : o.data ? strlen(o.data)
                                           : 0,
                                  &status, &ct, &resp, &err);
        if (t)
            r = transport_error(t, &err);
        else if (status >= 400)
            r = report_error(status, &resp, o.args[0]);
        else if (o.etag)
            r = printf("%s\n", c.etag) < 0 || fflush(stdout) ? 1 : 0;
        else
            r = print_answer(&o, ct, &resp);
    }
    nn_client_free(&c);
    nn_buf_free(&path);
    nn_buf_free(&resp);
    free(body);
    return r;
}

static void print_paths(const json_t *answer, const char *key, char mark)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(answer, key), i, p)
        printf("  %c %s\n", mark, json_string_value(p) ? json_string_value(p) : "?");
}

/* Creates workspace ws owned by the caller (platform administrators only). */
static int create_workspace(nn_client *c, const char *ws, nn_buf *resp, nn_error *err)
{
    long status;
    const char *ct;
    int t = nn_client_request(c, "GET", "/me", NULL, 0, &status, &ct, resp, err);
    if (t)
        return transport_error(t, err);
    if (status != 200)
        return report_error(status, resp, "/me");
    json_t *me = json_loadb(resp->data, resp->len, 0, NULL);
    json_t *req = json_pack("{s:s,s:O}", "name", ws, "owner", json_object_get(me, "name"));
    json_decref(me);
    char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
    json_decref(req);
    if (!body) {
        fprintf(stderr, "error: /me: the server's answer has no name\n");
        return 1;
    }
    t = nn_client_request(c, "POST", "/workspaces", body, strlen(body), &status, &ct, resp, err);
    free(body);
    if (t)
        return transport_error(t, err);
    if (status == 403) {
        fprintf(stderr,
                "error: workspaces/%s: does not exist, and only a platform administrator can "
                "create it\n",
                ws);
        return EXIT_INVALID;
    }
    if (status == 409) {
        fprintf(stderr, "error: workspaces/%s: exists, but you have no role in it\n", ws);
        return EXIT_INVALID;
    }
    if (status != 201)
        return report_error(status, resp, "POST /workspaces");
    printf("workspace %s: created\n", ws);
    return 0;
}

/* apply: one PUT .../intent per workspace of the document, each its own
 * transaction; stops at the first failure and says what was applied. */
static int cmd_apply(int argc, char **argv)
{
    options o;
    int r = parse_options("apply", argc, argv, 0, &o);
    if (r)
        return r;
    if (!o.file || o.data)
        return cli_invalid("apply", "%s", "usage: nanamictl apply -f INTENT.json [--dry-run]");
    char *text;
    size_t len;
    if ((r = nn_file_read(o.file, NN_INTENT_MAX_BYTES, &text, &len)) != 0) {
        fprintf(stderr, "error: %s: %s\n", o.file, r == -E2BIG ? "too large" : strerror(-r));
        return EXIT_INVALID;
    }
    json_error_t je;
    json_t *doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!doc) {
        fprintf(stderr, "error: %s:%d:%d: %s\n", o.file, je.line, je.column, je.text);
        return EXIT_INVALID;
    }
    json_t *wss = json_object_get(doc, "workspaces");
    size_t i;
    json_t *ws;
    if (!json_is_array(wss) || json_array_size(wss) == 0) {
        json_decref(doc);
        return cli_invalid(o.file, "%s", "workspaces: must be a non-empty array");
    }
    json_array_foreach(wss, i, ws)
    {
        if (!json_is_string(json_object_get(ws, "name")) ||
            !nn_intent_valid_name(json_string_value(json_object_get(ws, "name")))) {
            fprintf(stderr, "error: %s: workspaces[%zu].name: missing or not a valid name\n",
                    o.file, i);
            json_decref(doc);
            return EXIT_INVALID;
        }
    }
    nn_client c;
    nn_error err = {{0}, {0}};
    if ((r = nn_client_init(&c, o.server, o.token, &err)) != 0) {
        json_decref(doc);
        return transport_error(r, &err);
    }
    nn_buf path = NN_BUF_INIT, resp = NN_BUF_INIT;
    json_t *answers = json_array();
    json_array_foreach(wss, i, ws)
    {
        const char *name = json_string_value(json_object_get(ws, "name"));
        json_t *one = json_copy(doc); /* top-level fields (ula_prefix) go along */
        json_object_set_new(one, "workspaces", json_pack("[O]", ws));
        char *body = json_dumps(one, JSON_COMPACT);
        json_decref(one);
        nn_buf_reset(&path);
        nn_buf_printf(&path, "/workspaces/%s/intent%s", name, o.dry_run ? "?dry_run=true" : "");
        long status = 0;
        const char *ct;
        int t = body ? nn_client_request(&c, "PUT", path.data, body, strlen(body), &status, &ct,
                                         &resp, &err)
                     : -ENOMEM;
        if (t == 0 && status == 404 && o.dry_run) {
            printf("workspace %s: does not exist; apply would create it with everything in the "
                   "document\n",
                   name);
            free(body);
            continue;
        }
        if (t == 0 && status == 404 && (r = create_workspace(&c, name, &resp, &err)) == 0)
            t = nn_client_request(&c, "PUT", path.data, body, strlen(body), &status, &ct, &resp,
                                  &err);
        free(body);
        if (r)
            break;
        if (t) {
            r = transport_error(t, &err);
            break;
        }
        if (status != 200) {
            char where[300];
            snprintf(where, sizeof(where), "workspaces/%s", name);
            r = report_error(status, &resp, where);
            break;
        }
        json_t *a = json_loadb(resp.data, resp.len, 0, NULL);
        if (!a) {
            fprintf(stderr, "error: workspaces/%s: the server's answer is not JSON\n", name);
            r = 1;
            break;
        }
        json_object_set_new(a, "workspace", json_string(name));
        if (!o.json) {
            printf("workspace %s: %zu created, %zu changed, %zu deleted%s\n", name,
                   json_array_size(json_object_get(a, "created")),
                   json_array_size(json_object_get(a, "changed")),
                   json_array_size(json_object_get(a, "deleted")),
                   o.dry_run ? " (dry run: nothing stored)" : "");
            print_paths(a, "created", '+');
            print_paths(a, "changed", '~');
            print_paths(a, "deleted", '-');
        }
        json_array_append_new(answers, a);
    }
    if (r && json_array_size(answers) && !o.dry_run) {
        fprintf(stderr, "note: applied before the failure:");
        json_array_foreach(answers, i, ws)
            fprintf(stderr, " %s", json_string_value(json_object_get(ws, "workspace")));
        fputc('\n', stderr);
    }
    if (o.json && r == 0) {
        char *s = json_dumps(answers, JSON_INDENT(1) | JSON_SORT_KEYS);
        if (s)
            puts(s);
        free(s);
    }
    json_decref(answers);
    json_decref(doc);
    nn_client_free(&c);
    nn_buf_free(&path);
    nn_buf_free(&resp);
    return r;
}

/* export: the workspace's intent document, indented with sorted keys so
 * it diffs well in git; "nanamictl apply -f" takes it back unchanged. */
static int cmd_export(int argc, char **argv)
{
    options o;
    int r = parse_options("export", argc, argv, 1, &o);
    if (r)
        return r;
    if (o.file || o.data || o.dry_run)
        return cli_invalid("export", "%s", "usage: nanamictl export WORKSPACE");
    if (!nn_intent_valid_name(o.args[0]))
        return cli_invalid("export", "\"%s\" is not a valid workspace name", o.args[0]);
    nn_client c;
    nn_error err = {{0}, {0}};
    if ((r = nn_client_init(&c, o.server, o.token, &err)) != 0)
        return transport_error(r, &err);
    char path[300];
    snprintf(path, sizeof(path), "/workspaces/%s/intent", o.args[0]);
    nn_buf resp = NN_BUF_INIT;
    long status;
    const char *ct;
    int t = nn_client_request(&c, "GET", path, NULL, 0, &status, &ct, &resp, &err);
    if (t) {
        r = transport_error(t, &err);
    } else if (status != 200) {
        r = report_error(status, &resp, path + 1);
    } else {
        json_t *doc = json_loadb(resp.data, resp.len, 0, NULL);
        char *s = doc ? json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS) : NULL;
        if (s && puts(s) >= 0 && fflush(stdout) == 0) {
            r = 0;
        } else {
            fprintf(stderr, "error: %s: %s\n", path + 1,
                    s ? strerror(errno) : "the server's answer is not JSON");
            r = 1;
        }
        free(s);
        json_decref(doc);
    }
    nn_client_free(&c);
    nn_buf_free(&resp);
    return r;
}

int nn_remote_main(const char *cmd, int argc, char **argv)
{
    if (!strcmp(cmd, "apply"))
        return cmd_apply(argc, argv);
    if (!strcmp(cmd, "export"))
        return cmd_export(argc, argv);
    if (!strcmp(cmd, "get"))
        return cmd_request("GET", argc, argv);
    if (!strcmp(cmd, "put"))
        return cmd_request("PUT", argc, argv);
    if (!strcmp(cmd, "post"))
        return cmd_request("POST", argc, argv);
    if (!strcmp(cmd, "delete"))
        return cmd_request("DELETE", argc, argv);
    return -1;
}
