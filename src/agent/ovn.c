/* nn_ovn: the plan read from the envelope, the tagged rows read from the
 * northbound database, and one ovn-nbctl transaction between them. */
#include "agent/ovn.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/proc.h"
#include "model/error.h"

#define OUTPUT_MAX (32u << 20)      /* the tagged rows of a large deployment */
#define NBCTL_TIMEOUT "--timeout=5" /* it dies on SIGALRM after */
#define NBCTL_DEADLINE_MS 20000
#define NAME_MAX_LEN 255
#define TEXT_MAX_LEN 4096
#define ADDRESSES_MAX 64

const char *nn_ovn_outcome_name(nn_ovn_outcome o)
{
    static const char *const names[] = {"off", "unchanged", "applied", "failed"};
    return names[o];
}

/* --- the plan ------------------------------------------------------------ */

static bool is_hex(const char *s, size_t n)
{
    if (!s || strlen(s) != n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("0123456789abcdef", s[i]))
            return false;
    return true;
}

/* Text that goes into one argument: no control characters, bounded. */
static bool text_ok(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        return false;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

/* A switch or port name. Never starting with '-', so ovn-nbctl can never
 * read it as an option. */
static bool name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NAME_MAX_LEN || s[0] == '-')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-", s[i]))
            return false;
    return true;
}

static bool endpoint_ok(const char *s)
{
    return s && (!strncmp(s, "tcp:", 4) || !strncmp(s, "ssl:", 4) || !strncmp(s, "unix:", 5)) &&
           strlen(s) > 5 && text_ok(s, 512) && !strchr(s, ' ') && !strchr(s, ',');
}

static bool one_of(const char *s, const char *const *set)
{
    for (; *set; set++)
        if (!strcmp(s, *set))
            return true;
    return false;
}

static const char *find_switch(const nn_ovn_plan *p, const char *name)
{
    for (size_t i = 0; i < p->nswitches; i++)
        if (!strcmp(p->switches[i], name))
            return p->switches[i];
    return NULL;
}

/* Ports are set right after they are added: look from the end. */
static nn_ovn_lsp *find_port(nn_ovn_plan *p, const char *name)
{
    for (size_t i = p->nports; i-- > 0;)
        if (!strcmp(p->ports[i].name, name))
            return &p->ports[i];
    return NULL;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* One plan entry; path is "ovn.nb_plan.plan[i]". */
static int plan_entry(nn_ovn_plan *p, json_t *e, const char *path, char *why, size_t why_len)
{
    static const char *const directions[] = {"from-lport", "to-lport", NULL};
    static const char *const actions[] = {
        "allow", "allow-related", "allow-stateless", "drop", "reject", "pass", NULL};
    static const char *const types[] = {"",     "router",   "localnet", "localport", "l2gateway",
                                        "vtep", "external", "virtual",  NULL};
    const char *cmd = json_string_value(json_object_get(e, "cmd"));
    json_t *opts = json_object_get(e, "options"), *args = json_object_get(e, "args");
    if (!json_is_object(e) || !cmd)
        return nn_why_invalid(why, why_len, "%s.cmd: must be a string", path);
    if (!json_is_array(opts))
        return nn_why_invalid(why, why_len, "%s.options: must be an array", path);
    for (size_t i = 0; i < json_array_size(opts); i++)
        if (!json_is_string(json_array_get(opts, i)) ||
            strcmp(json_string_value(json_array_get(opts, i)), "--may-exist"))
            return nn_why_invalid(why, why_len,
                                  "%s.options[%zu]: only \"--may-exist\" is understood", path, i);
    size_t n = json_array_size(args);
    const char *a[ADDRESSES_MAX + 1];
    if (!json_is_array(args) || n > ADDRESSES_MAX + 1)
        return nn_why_invalid(why, why_len, "%s.args: must be an array of at most %d strings", path,
                              ADDRESSES_MAX + 1);
    for (size_t i = 0; i < n; i++) {
        a[i] = json_string_value(json_array_get(args, i));
        if (!a[i] || !text_ok(a[i], TEXT_MAX_LEN))
            return nn_why_invalid(why, why_len,
                                  "%s.args[%zu]: must be a string of at most %d characters, none a "
                                  "control character",
                                  path, i, TEXT_MAX_LEN);
    }
    size_t want = !strcmp(cmd, "ls-add")              ? 1
                  : !strcmp(cmd, "lsp-add")           ? 2
                  : !strcmp(cmd, "lsp-set-type")      ? 2
                  : !strcmp(cmd, "acl-add")           ? 5
                  : !strcmp(cmd, "lsp-set-addresses") ? SIZE_MAX
                                                      : 0;
    if (!want)
        return nn_why_invalid(why, why_len,
                              "%s.cmd: \"%.40s\" is not one of ls-add, lsp-add, lsp-set-addresses, "
                              "lsp-set-type, acl-add",
                              path, cmd);
    if (want == SIZE_MAX ? n < 1 : n != want)
        return nn_why_invalid(why, why_len, "%s.args: %s takes %s argument%s, not %zu", path, cmd,
                              want == SIZE_MAX ? "at least 1"
                              : want == 1      ? "1"
                              : want == 2      ? "2"
                                               : "5",
                              want == 1 ? "" : "s", n);
    if (strcmp(cmd, "ls-add") && strcmp(cmd, "acl-add") && strcmp(cmd, "lsp-add")) {
        nn_ovn_lsp *port = name_ok(a[0]) ? find_port(p, a[0]) : NULL;
        if (!port)
            return nn_why_invalid(why, why_len, "%s.args[0]: no port \"%.80s\" was added before",
                                  path, a[0]);
        if (!strcmp(cmd, "lsp-set-type")) {
            if (!one_of(a[1], types))
                return nn_why_invalid(why, why_len, "%s.args[1]: \"%.40s\" is not a port type",
                                      path, a[1]);
            port->type = a[1];
            return 0;
        }
        free(port->addresses);
        port->naddresses = n - 1;
        port->addresses = calloc(n, sizeof(char *));
        if (!port->addresses)
            abort();
        memcpy(port->addresses, a + 1, (n - 1) * sizeof(char *));
        qsort(port->addresses, port->naddresses, sizeof(char *), cmp_strp);
        return 0;
    }
    if (!strcmp(cmd, "ls-add") && !name_ok(a[0]))
        return nn_why_invalid(why, why_len, "%s.args[0]: \"%.80s\" is not a switch name", path,
                              a[0]);
    if (!strcmp(cmd, "ls-add")) {
        p->switches[p->nswitches++] = a[0];
        return 0;
    }
    const char *sw = find_switch(p, a[0]);
    if (!sw)
        return nn_why_invalid(why, why_len, "%s.args[0]: no switch \"%.80s\" was added before",
                              path, a[0]);
    if (!strcmp(cmd, "lsp-add")) {
        if (!name_ok(a[1]))
            return nn_why_invalid(why, why_len, "%s.args[1]: \"%.80s\" is not a port name", path,
                                  a[1]);
        p->ports[p->nports++] = (nn_ovn_lsp){.sw = sw, .name = a[1], .type = ""};
        return 0;
    }
    char *end;
    long prio = strtol(a[2], &end, 10);
    if (!one_of(a[1], directions))
        return nn_why_invalid(why, why_len, "%s.args[1]: must be from-lport or to-lport", path);
    if (!a[2][0] || *end || prio < 0 || prio > 32767)
        return nn_why_invalid(why, why_len, "%s.args[2]: must be a priority 0-32767", path);
    if (!a[3][0])
        return nn_why_invalid(why, why_len, "%s.args[3]: the match must not be empty", path);
    if (!one_of(a[4], actions))
        return nn_why_invalid(why, why_len, "%s.args[4]: \"%.40s\" is not an ACL action", path,
                              a[4]);
    p->acls[p->nacls++] = (nn_ovn_lacl){
        .sw = sw, .direction = a[1], .priority = (int)prio, .match = a[3], .action = a[4]};
    return 0;
}

/* Names that appear twice; 0 or the first such. */
static const char *duplicate(const char **names, size_t n)
{
    const char *dup = NULL;
    const char **sorted = calloc(n + 1, sizeof(char *));
    if (!sorted)
        abort();
    memcpy(sorted, names, n * sizeof(char *));
    qsort(sorted, n, sizeof(char *), cmp_strp);
    for (size_t i = 1; i < n && !dup; i++)
        if (!strcmp(sorted[i - 1], sorted[i]))
            dup = sorted[i];
    free(sorted);
    return dup;
}

int nn_ovn_plan_parse(json_t *ovn, nn_ovn_plan *out, char *why, size_t why_len)
{
    memset(out, 0, sizeof(*out));
    json_t *np = json_object_get(ovn, "nb_plan");
    json_t *cmds = json_object_get(np, "plan");
    int r = 0;
    if (!json_is_object(ovn))
        return nn_why_invalid(why, why_len, "ovn: must be an object or absent");
    out->endpoint = json_string_value(json_object_get(ovn, "nb_endpoint"));
    if (!endpoint_ok(out->endpoint))
        return nn_why_invalid(why, why_len,
                              "ovn.nb_endpoint: must be tcp:HOST:PORT, ssl:HOST:PORT or "
                              "unix:PATH");
    out->deployment_id = json_string_value(json_object_get(np, "deployment_id"));
    out->version = json_string_value(json_object_get(np, "version"));
    if (!is_hex(out->deployment_id, 32))
        return nn_why_invalid(why, why_len, "ovn.nb_plan.deployment_id: must be 32 hex digits");
    if (!is_hex(out->version, 64))
        return nn_why_invalid(why, why_len, "ovn.nb_plan.version: must be 64 hex digits");
    if (!json_is_array(cmds))
        return nn_why_invalid(why, why_len, "ovn.nb_plan.plan: must be an array");
    size_t n = json_array_size(cmds);
    out->switches = calloc(n + 1, sizeof(char *));
    out->ports = calloc(n + 1, sizeof(nn_ovn_lsp));
    out->acls = calloc(n + 1, sizeof(nn_ovn_lacl));
    if (!out->switches || !out->ports || !out->acls)
        abort();
    out->json = json_incref(ovn);
    for (size_t i = 0; i < n && !r; i++) {
        char path[48];
        snprintf(path, sizeof(path), "ovn.nb_plan.plan[%zu]", i);
        r = plan_entry(out, json_array_get(cmds, i), path, why, why_len);
    }
    const char *dup;
    if (!r && (dup = duplicate(out->switches, out->nswitches)))
        r = nn_why_invalid(why, why_len, "ovn.nb_plan.plan: switch \"%.80s\" is added twice", dup);
    if (!r) {
        const char **names = calloc(out->nports + 1, sizeof(char *));
        if (!names)
            abort();
        for (size_t i = 0; i < out->nports; i++)
            names[i] = out->ports[i].name;
        if ((dup = duplicate(names, out->nports)))
            r = nn_why_invalid(why, why_len, "ovn.nb_plan.plan: port \"%.80s\" is added twice",
                               dup);
        free(names);
    }
    if (r)
        nn_ovn_plan_free(out);
    return r;
}

void nn_ovn_plan_free(nn_ovn_plan *p)
{
    for (size_t i = 0; i < p->nports; i++)
        free(p->ports[i].addresses);
    free(p->switches);
    free(p->ports);
    free(p->acls);
    json_decref(p->json);
    memset(p, 0, sizeof(*p));
}

/* --- rows as lines ------------------------------------------------------- */

/* What a row is compared by: its key says which row it is (a switch by
 * name, a port by switch and name, an ACL by everything), its line what it
 * holds. Both are JSON arrays, so no value can run into the next. */
typedef struct row {
    char *key, *line;
    const char *uuid, *sw_uuid; /* database rows only; sw_uuid NULL for switches */
    int kind;                   /* 0 switch, 1 port, 2 ACL */
    bool keep;                  /* database rows: the plan has it */
    size_t index;               /* plan rows: in the plan's switches, ports or acls */
    const struct row *match;    /* plan rows: the database row that is it, or NULL */
} row;

typedef struct rows {
    row *v;
    size_t n, cap;
} rows;

static void rows_free(rows *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].key);
        free(r->v[i].line);
    }
    free(r->v);
    memset(r, 0, sizeof(*r));
}

/* A row whose line is b's text (taken), and whose key -- what says which
 * row it is -- is the line's first key_len bytes. */
static row *rows_add(rows *r, int kind, const char *uuid, const char *sw_uuid, nn_buf *b,
                     size_t key_len)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 32;
        r->v = realloc(r->v, r->cap * sizeof(row));
        if (!r->v)
            abort();
    }
    row *w = &r->v[r->n++];
    *w = (row){.kind = kind, .uuid = uuid, .sw_uuid = sw_uuid};
    w->key = strndup(b->data, key_len);
    if (!w->key)
        abort();
    w->line = nn_buf_steal(b);
    return w;
}

static void str(nn_buf *b, const char *s)
{
    nn_buf_putc(b, ',');
    nn_buf_put_json_string(b, s, strlen(s));
}

static row *add_switch(rows *r, const char *name, const char *uuid)
{
    nn_buf b = NN_BUF_INIT;
    nn_buf_puts(&b, "[\"ls\"");
    str(&b, name);
    nn_buf_putc(&b, ']');
    return rows_add(r, 0, uuid, NULL, &b, b.len);
}

/* A port is named by switch and name; addresses sorted, as the database
 * keeps a set. */
static row *add_port(rows *r, const char *sw, const char *name, const char *type,
                     const char *const *addresses, size_t n, const char *uuid, const char *sw_uuid)
{
    nn_buf b = NN_BUF_INIT;
    nn_buf_puts(&b, "[\"lsp\"");
    str(&b, sw);
    str(&b, name);
    size_t key_len = b.len;
    str(&b, type);
    nn_buf_puts(&b, ",[");
    for (size_t i = 0; i < n; i++) {
        if (i)
            nn_buf_putc(&b, ',');
        nn_buf_put_json_string(&b, addresses[i], strlen(addresses[i]));
    }
    nn_buf_puts(&b, "]]");
    return rows_add(r, 1, uuid, sw_uuid, &b, key_len);
}

/* An ACL is named by all it holds. */
static row *add_acl(rows *r, const nn_ovn_lacl *a, const char *uuid, const char *sw_uuid)
{
    nn_buf b = NN_BUF_INIT;
    nn_buf_puts(&b, "[\"acl\"");
    str(&b, a->sw);
    str(&b, a->direction);
    nn_buf_printf(&b, ",%d", a->priority);
    str(&b, a->action);
    str(&b, a->match);
    nn_buf_putc(&b, ']');
    return rows_add(r, 2, uuid, sw_uuid, &b, b.len);
}

static void plan_rows(const nn_ovn_plan *p, rows *r)
{
    for (size_t i = 0; i < p->nswitches; i++)
        add_switch(r, p->switches[i], NULL)->index = i;
    for (size_t i = 0; i < p->nports; i++) {
        const nn_ovn_lsp *l = &p->ports[i];
        add_port(r, l->sw, l->name, l->type, l->addresses, l->naddresses, NULL, NULL)->index = i;
    }
    for (size_t i = 0; i < p->nacls; i++)
        add_acl(r, &p->acls[i], NULL, NULL)->index = i;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(((const row *)a)->line, ((const row *)b)->line);
}

static void join_lines(rows *r, nn_buf *out)
{
    if (r->n) /* v is NULL when there are none */
        qsort(r->v, r->n, sizeof(row), cmp_line);
    for (size_t i = 0; i < r->n; i++) {
        nn_buf_puts(out, r->v[i].line);
        nn_buf_putc(out, '\n');
    }
}

void nn_ovn_plan_lines(const nn_ovn_plan *p, nn_buf *lines)
{
    rows r = {0};
    plan_rows(p, &r);
    join_lines(&r, lines);
    rows_free(&r);
}

/* --- the database's rows ------------------------------------------------- */

/* ovn-nbctl --format=json: {"data": [[cell...]...], "headings": [...]}. A
 * uuid is ["uuid", S]; a set is one bare atom or ["set", [atoms]]. */
static const char *uuid_of(json_t *cell)
{
    if (json_is_array(cell) && json_array_size(cell) == 2 &&
        json_is_string(json_array_get(cell, 0)) &&
        !strcmp(json_string_value(json_array_get(cell, 0)), "uuid"))
        return json_string_value(json_array_get(cell, 1));
    return NULL;
}

static json_t *set_members(json_t *cell, bool *single)
{
    *single = false;
    if (json_is_array(cell) && json_array_size(cell) == 2 &&
        json_is_string(json_array_get(cell, 0)) &&
        !strcmp(json_string_value(json_array_get(cell, 0)), "set") &&
        json_is_array(json_array_get(cell, 1)))
        return json_array_get(cell, 1);
    *single = true;
    return cell;
}

static size_t set_size(json_t *cell)
{
    bool single;
    json_t *m = set_members(cell, &single);
    return single ? 1 : json_array_size(m);
}

static json_t *set_get(json_t *cell, size_t i)
{
    bool single;
    json_t *m = set_members(cell, &single);
    return single ? m : json_array_get(m, i);
}

/* The table's rows, each checked to have the columns asked for. */
static json_t *table_rows(json_t *doc, const char *const *cols, size_t ncols, const char *table,
                          char *why, size_t why_len)
{
    json_t *head = json_object_get(doc, "headings"), *data = json_object_get(doc, "data");
    bool ok = json_is_array(head) && json_array_size(head) == ncols && json_is_array(data);
    for (size_t i = 0; ok && i < ncols; i++)
        ok = json_is_string(json_array_get(head, i)) &&
             !strcmp(json_string_value(json_array_get(head, i)), cols[i]);
    for (size_t i = 0; ok && i < json_array_size(data); i++)
        ok = json_is_array(json_array_get(data, i)) &&
             json_array_size(json_array_get(data, i)) == ncols &&
             uuid_of(json_array_get(json_array_get(data, i), 0));
    if (!ok) {
        nn_why_invalid(why, why_len, "ovn-nbctl: unexpected output for %s", table);
        return NULL;
    }
    return data;
}

typedef struct owner {
    const char *member, *sw_uuid, *sw_name;
} owner;

static int cmp_owner(const void *a, const void *b)
{
    return strcmp(((const owner *)a)->member, ((const owner *)b)->member);
}

static const owner *owner_of(const owner *v, size_t n, const char *uuid)
{
    owner k = {.member = uuid};
    return bsearch(&k, v, n, sizeof(owner), cmp_owner);
}

/* docs: the three finds' outputs. Fills r with the database's rows. */
static int state_rows(json_t *const docs[3], rows *r, char *why, size_t why_len)
{
    static const char *const sw_cols[] = {"_uuid", "name", "ports", "acls"};
    static const char *const lsp_cols[] = {"_uuid", "name", "addresses", "type"};
    static const char *const acl_cols[] = {"_uuid", "direction", "priority", "match", "action"};
    json_t *sws = table_rows(docs[0], sw_cols, 4, "Logical_Switch", why, why_len);
    json_t *lsps =
        sws ? table_rows(docs[1], lsp_cols, 4, "Logical_Switch_Port", why, why_len) : NULL;
    json_t *acls = lsps ? table_rows(docs[2], acl_cols, 5, "ACL", why, why_len) : NULL;
    if (!acls)
        return -EINVAL;
    /* Which switch holds each port and ACL. */
    size_t nown = 0, cap = 0;
    for (size_t i = 0; i < json_array_size(sws); i++) {
        json_t *s = json_array_get(sws, i);
        if (!json_is_string(json_array_get(s, 1)))
            return nn_why_invalid(why, why_len, "ovn-nbctl: a switch without a name");
        cap += set_size(json_array_get(s, 2)) + set_size(json_array_get(s, 3));
    }
    owner *own = calloc(cap + 1, sizeof(owner));
    if (!own)
        abort();
    for (size_t i = 0; i < json_array_size(sws); i++) {
        json_t *s = json_array_get(sws, i);
        const char *uuid = uuid_of(json_array_get(s, 0));
        const char *name = json_string_value(json_array_get(s, 1));
        add_switch(r, name, uuid);
        for (size_t c = 2; c <= 3; c++)
            for (size_t k = 0; k < set_size(json_array_get(s, c)); k++) {
                const char *m = uuid_of(set_get(json_array_get(s, c), k));
                if (m)
                    own[nown++] = (owner){m, uuid, name};
            }
    }
    qsort(own, nown, sizeof(owner), cmp_owner);
    int ret = 0;
    for (size_t i = 0; i < json_array_size(lsps) && !ret; i++) {
        json_t *l = json_array_get(lsps, i), *addrs = json_array_get(l, 2);
        const char *uuid = uuid_of(json_array_get(l, 0));
        const char *name = json_string_value(json_array_get(l, 1));
        const char *type = json_string_value(json_array_get(l, 3));
        size_t na = set_size(addrs);
        const char **a = calloc(na + 1, sizeof(char *));
        if (!a)
            abort();
        for (size_t k = 0; k < na && !ret; k++)
            if (!(a[k] = json_string_value(set_get(addrs, k))))
                ret = nn_why_invalid(why, why_len, "ovn-nbctl: a port address is not a string");
        if (!name || !type)
            ret = nn_why_invalid(why, why_len, "ovn-nbctl: a port without a name or type");
        if (!ret) {
            qsort(a, na, sizeof(char *), cmp_strp);
            const owner *o = owner_of(own, nown, uuid);
            add_port(r, o ? o->sw_name : "", name, type, a, na, uuid, o ? o->sw_uuid : NULL);
        }
        free(a);
    }
    for (size_t i = 0; i < json_array_size(acls) && !ret; i++) {
        json_t *ar = json_array_get(acls, i);
        const char *uuid = uuid_of(json_array_get(ar, 0));
        const owner *o = owner_of(own, nown, uuid);
        nn_ovn_lacl a = {.sw = o ? o->sw_name : "",
                         .direction = json_string_value(json_array_get(ar, 1)),
                         .match = json_string_value(json_array_get(ar, 3)),
                         .action = json_string_value(json_array_get(ar, 4))};
        json_t *prio = json_array_get(ar, 2);
        if (!a.direction || !a.match || !a.action || !json_is_integer(prio) ||
            json_integer_value(prio) < 0 || json_integer_value(prio) > 32767)
            ret = nn_why_invalid(why, why_len, "ovn-nbctl: an ACL with a missing or bad column");
        else {
            a.priority = (int)json_integer_value(prio);
            add_acl(r, &a, uuid, o ? o->sw_uuid : NULL);
        }
    }
    free(own);
    return ret;
}

/* The three JSON documents of one ovn-nbctl call, one after the other. */
static int load_docs(const char *text, size_t len, json_t *docs[3], char *why, size_t why_len)
{
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        json_error_t err;
        while (off < len && strchr(" \t\r\n", text[off]))
            off++;
        docs[i] = json_loadb(text + off, len - off, JSON_DISABLE_EOF_CHECK, &err);
        if (!json_is_object(docs[i]))
            return nn_why_invalid(why, why_len, "ovn-nbctl: output %d is not a JSON object: %s",
                                  i + 1, docs[i] ? "another value" : err.text);
        off += (size_t)err.position;
    }
    return 0;
}

static int read_state(const char *text, size_t len, rows *r, json_t *docs[3], char *why,
                      size_t why_len)
{
    docs[0] = docs[1] = docs[2] = NULL;
    int ret = load_docs(text, len, docs, why, why_len);
    return ret ? ret : state_rows(docs, r, why, why_len);
}

static void docs_free(json_t *docs[3])
{
    for (int i = 0; i < 3; i++) {
        json_decref(docs[i]);
        docs[i] = NULL;
    }
}

int nn_ovn_state_lines(const char *json, size_t len, nn_buf *lines, char *why, size_t why_len)
{
    rows r = {0};
    json_t *docs[3];
    int ret = read_state(json, len, &r, docs, why, why_len);
    if (!ret)
        join_lines(&r, lines);
    rows_free(&r);
    docs_free(docs);
    return ret;
}

/* --- ovn-nbctl ----------------------------------------------------------- */

typedef struct argv_buf {
    char **v;
    size_t n, cap;
} argv_buf;

static void arg(argv_buf *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void arg(argv_buf *a, const char *fmt, ...)
{
    if (a->n + 2 > a->cap) {
        a->cap = a->cap ? 2 * a->cap : 64;
        a->v = realloc(a->v, a->cap * sizeof(char *));
        if (!a->v)
            abort();
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&a->v[a->n], fmt, ap) < 0)
        abort();
    va_end(ap);
    a->v[++a->n] = NULL;
}

static void argv_free(argv_buf *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->v[i]);
    free(a->v);
}

static void nbctl_start(argv_buf *a, const char *nbctl, const nn_ovn_plan *p)
{
    arg(a, "%s", nbctl);
    arg(a, "--db=%s", p->endpoint);
    arg(a, NBCTL_TIMEOUT);
}

/* Runs it; 0, or the reason in why. */
static int nbctl_run(argv_buf *a, nn_buf *out, char *why, size_t why_len)
{
    int st = nn_proc_run(a->v, NBCTL_DEADLINE_MS, out, OUTPUT_MAX);
    if (st == 0)
        return 0;
    char line[400];
    nn_proc_last_line(out, line, sizeof(line));
    snprintf(why, why_len, "ovn: %s %s %s%s%s", a->v[0], a->v[1],
             st == -ENOENT ? "is not installed (ovn-common)"
             : st == -ECHILD || st == -ETIMEDOUT
                 ? "did not finish in time (is the northbound database reachable?)"
             : st < 0 ? strerror(-st)
                      : "failed",
             line[0] ? ": " : "", line);
    return st < 0 ? st : -EIO;
}

static int read_db(const char *nbctl, const nn_ovn_plan *p, rows *r, json_t *docs[3], char *why,
                   size_t why_len)
{
    static const char *const finds[][2] = {
        {"_uuid,name,ports,acls", "Logical_Switch"},
        {"_uuid,name,addresses,type", "Logical_Switch_Port"},
        {"_uuid,direction,priority,match,action", "ACL"},
    };
    argv_buf a = {0};
    nbctl_start(&a, nbctl, p);
    arg(&a, "--format=json");
    for (size_t i = 0; i < 3; i++) {
        if (i)
            arg(&a, "--");
        arg(&a, "--columns=%s", finds[i][0]);
        arg(&a, "find");
        arg(&a, "%s", finds[i][1]);
        arg(&a, "external_ids:" NN_OVN_TAG "=%s", p->deployment_id);
    }
    nn_buf out = NN_BUF_INIT;
    int ret = nbctl_run(&a, &out, why, why_len);
    if (!ret)
        ret = read_state(out.data ? out.data : "", out.len, r, docs, why, why_len);
    nn_buf_free(&out);
    argv_free(&a);
    return ret;
}

static int cmp_key(const void *a, const void *b)
{
    return strcmp(((const row *)a)->key, ((const row *)b)->key);
}

/* Pairs each database row with the plan row of the same key, at most one
 * each: a database row without a pair is removed, a plan row without one
 * is written. (Two equal ACLs in the database: the second goes.) */
static void match_rows(rows *have, rows *want)
{
    if (!want->n)
        return;
    qsort(want->v, want->n, sizeof(row), cmp_key);
    for (size_t i = 0; i < have->n; i++) {
        row *h = &have->v[i];
        row *w = bsearch(h, want->v, want->n, sizeof(row), cmp_key);
        while (w && w > want->v && !strcmp(w[-1].key, h->key))
            w--;
        while (w && w < want->v + want->n && w->match && !strcmp(w->key, h->key))
            w++;
        if (w && w < want->v + want->n && !strcmp(w->key, h->key)) {
            h->keep = true;
            w->match = h;
        }
    }
}

static bool switch_removed(const rows *have, const char *sw_uuid)
{
    for (size_t i = 0; i < have->n; i++)
        if (have->v[i].kind == 0 && !have->v[i].keep && !strcmp(have->v[i].uuid, sw_uuid))
            return true;
    return false;
}

static int transact(const char *nbctl, const nn_ovn_plan *p, rows *have, rows *want, char *why,
                    size_t why_len)
{
    argv_buf a = {0};
    nbctl_start(&a, nbctl, p);
    const char *tag_fmt = "external_ids:" NN_OVN_TAG "=%s";
    /* What left the plan: switches (their ports and ACLs go with them),
     * then ports and ACLs of switches that stay. */
    for (size_t i = 0; i < have->n; i++) {
        const row *h = &have->v[i];
        if (h->keep || (h->kind && h->sw_uuid && switch_removed(have, h->sw_uuid)))
            continue;
        arg(&a, "--");
        if (h->kind == 0) {
            arg(&a, "ls-del");
            arg(&a, "%s", h->uuid);
        } else if (h->kind == 1) {
            arg(&a, "lsp-del");
            arg(&a, "%s", h->uuid);
        } else if (h->sw_uuid) {
            arg(&a, "remove");
            arg(&a, "Logical_Switch");
            arg(&a, "%s", h->sw_uuid);
            arg(&a, "acls");
            arg(&a, "%s", h->uuid);
        } else {
            arg(&a, "destroy");
            arg(&a, "ACL");
            arg(&a, "%s", h->uuid);
        }
    }
    /* What the database lacks or holds otherwise: switches first, as
     * ports and ACLs name them. A port that is there with other addresses
     * or type is set in place, by uuid. */
    nn_buf match = NN_BUF_INIT;
    size_t id = 0;
    for (int kind = 0; kind < 3; kind++)
        for (size_t i = 0; i < want->n; i++) {
            const row *w = &want->v[i];
            if (w->kind != kind || (w->match && !strcmp(w->match->line, w->line)))
                continue;
            if (kind == 0) {
                const char *sw = p->switches[w->index];
                arg(&a, "--");
                arg(&a, "--may-exist");
                arg(&a, "ls-add");
                arg(&a, "%s", sw);
                arg(&a, "--");
                arg(&a, "set");
                arg(&a, "Logical_Switch");
                arg(&a, "%s", sw);
                arg(&a, tag_fmt, p->deployment_id);
            } else if (kind == 1) {
                const nn_ovn_lsp *l = &p->ports[w->index];
                const char *ref = w->match ? w->match->uuid : l->name;
                if (!w->match) {
                    arg(&a, "--");
                    arg(&a, "--may-exist");
                    arg(&a, "lsp-add");
                    arg(&a, "%s", l->sw);
                    arg(&a, "%s", l->name);
                    arg(&a, "--");
                    arg(&a, "set");
                    arg(&a, "Logical_Switch_Port");
                    arg(&a, "%s", l->name);
                    arg(&a, tag_fmt, p->deployment_id);
                }
                arg(&a, "--");
                arg(&a, "lsp-set-addresses");
                arg(&a, "%s", ref);
                for (size_t k = 0; k < l->naddresses; k++)
                    arg(&a, "%s", l->addresses[k]);
                arg(&a, "--");
                arg(&a, "lsp-set-type");
                arg(&a, "%s", ref);
                arg(&a, "%s", l->type);
            } else {
                /* Created tagged: acl-add cannot tag. */
                const nn_ovn_lacl *l = &p->acls[w->index];
                nn_buf_reset(&match);
                nn_buf_put_json_string(&match, l->match, strlen(l->match));
                arg(&a, "--");
                arg(&a, "--id=@acl%zu", id);
                arg(&a, "create");
                arg(&a, "ACL");
                arg(&a, "direction=%s", l->direction);
                arg(&a, "priority=%d", l->priority);
                arg(&a, "match=%s", match.data);
                arg(&a, "action=%s", l->action);
                arg(&a, tag_fmt, p->deployment_id);
                arg(&a, "--");
                arg(&a, "add");
                arg(&a, "Logical_Switch");
                arg(&a, "%s", l->sw);
                arg(&a, "acls");
                arg(&a, "@acl%zu", id++);
            }
        }
    nn_buf_free(&match);
    nn_buf out = NN_BUF_INIT;
    int ret = nbctl_run(&a, &out, why, why_len);
    nn_buf_free(&out);
    argv_free(&a);
    return ret;
}

/* The first line of a that b lacks, or "" when none. */
static void first_missing(const char *a, const char *b, char *out, size_t n)
{
    out[0] = '\0';
    for (const char *s = a; *s;) {
        const char *e = strchr(s, '\n');
        size_t len = e ? (size_t)(e - s) : strlen(s);
        bool found = false;
        for (const char *t = b; *t && !found;) {
            const char *f = strchr(t, '\n');
            size_t tl = f ? (size_t)(f - t) : strlen(t);
            found = tl == len && !memcmp(s, t, len);
            t += tl + (f ? 1 : 0);
        }
        if (!found) {
            snprintf(out, n, "%.*s", (int)(len > 200 ? 200 : len), s);
            return;
        }
        s += len + (e ? 1 : 0);
    }
}

nn_ovn_outcome nn_ovn_apply(const char *nbctl, const nn_ovn_plan *plan, char *why, size_t why_len)
{
    if (!plan)
        return NN_OVN_OFF;
    if (!strncmp(plan->endpoint, "ssl:", 4)) {
        snprintf(why, why_len,
                 "ovn: %.200s: ssl endpoints need a client certificate for ovn-nbctl, which "
                 "the daemon does not have yet; nothing written",
                 plan->endpoint);
        return NN_OVN_FAILED;
    }
    rows have = {0}, want = {0};
    json_t *docs[3] = {0};
    nn_buf hl = NN_BUF_INIT, wl = NN_BUF_INIT;
    nn_ovn_outcome outcome = NN_OVN_FAILED;
    if (read_db(nbctl, plan, &have, docs, why, why_len))
        goto out;
    plan_rows(plan, &want);
    join_lines(&have, &hl);
    join_lines(&want, &wl);
    if (hl.len == wl.len && (!hl.len || !memcmp(hl.data, wl.data, hl.len))) {
        outcome = NN_OVN_UNCHANGED;
        goto out;
    }
    match_rows(&have, &want);
    if (transact(nbctl, plan, &have, &want, why, why_len))
        goto out;
    rows_free(&have);
    docs_free(docs);
    nn_buf_reset(&hl);
    if (read_db(nbctl, plan, &have, docs, why, why_len))
        goto out;
    join_lines(&have, &hl);
    if (hl.len != wl.len || (hl.len && memcmp(hl.data, wl.data, hl.len))) {
        char line[256];
        const char *w = wl.len ? wl.data : "", *h = hl.len ? hl.data : "";
        first_missing(w, h, line, sizeof(line));
        bool lacks = line[0];
        if (!lacks)
            first_missing(h, w, line, sizeof(line));
        snprintf(why, why_len,
                 "ovn: after the transaction the northbound database still differs from the "
                 "plan: it %s %s",
                 lacks ? "lacks" : "still has", line);
        goto out;
    }
    outcome = NN_OVN_APPLIED;
out:
    rows_free(&have);
    rows_free(&want);
    docs_free(docs);
    nn_buf_free(&hl);
    nn_buf_free(&wl);
    return outcome;
}
