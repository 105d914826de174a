#include "api/prefixes.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "alloc/alloc.h"

typedef struct taken_set {
    json_t *list; /* [{prefix, workspace_id}] */
    int64_t self; /* a workspace's own /48 is not taken from it */
} taken_set;

static bool is_taken(const nn_prefix *p, void *arg)
{
    const taken_set *t = arg;
    char buf[NN_PREFIX_STRLEN];
    nn_prefix_format(p, true, buf);
    size_t i;
    json_t *v;
    json_array_foreach(t->list, i,
                       v) if (strcmp(json_string_value(json_object_get(v, "prefix")), buf) == 0 &&
                              json_integer_value(json_object_get(v, "workspace_id")) !=
                                  t->self) return true;
    return false;
}

/* A /48 as written in a pin, canonical; false when it is not one. */
static bool pin_of(const json_t *v, nn_prefix *out)
{
    return json_is_string(v) &&
           nn_prefix_parse(json_string_value(v), true, false, out, NULL) == 0 &&
           out->family == NN_AF_INET6 && out->len == 48;
}

static int install_ula(nn_store *s, nn_prefix *ula)
{
    char *text;
    int r = nn_store_meta_get(s, "ula_prefix", &text);
    if (r)
        return r;
    r = nn_prefix_parse(text, true, false, ula, NULL) ? -EINVAL : 0;
    free(text);
    return r;
}

int nn_prefixes_workspace(nn_store *s, int64_t ws_id, const char *name, const json_t *body,
                          const json_t *alloc, bool claim, char out[NN_PREFIX_STRLEN])
{
    taken_set t = {.self = ws_id};
    int r = nn_store_prefix_list(s, &t.list);
    if (r)
        return r;
    nn_prefix p;
    out[0] = '\0';
    if (pin_of(json_object_get(body, "ipv6_prefix"), &p) ||
        pin_of(json_object_get(alloc, "ipv6_prefix"), &p)) {
        nn_prefix_format(&p, true, out); /* named in a refusal too */
        r = is_taken(&p, &t) ? -EEXIST : 0;
    } else {
        nn_prefix ula;
        r = install_ula(s, &ula);
        if (r == 0 && (r = nn_alloc_workspace48(&ula, name, is_taken, &t, &p)) == 0)
            nn_prefix_format(&p, true, out);
    }
    json_decref(t.list);
    if (r)
        return r;
    return claim ? nn_store_prefix_claim(s, ws_id, out) : 0;
}

int nn_prefixes_backfill(nn_store *s, FILE *log)
{
    json_t *all = NULL, *claimed = NULL;
    int r = nn_store_workspace_list(s, 0, &all);
    if (r == 0)
        r = nn_store_prefix_list(s, &claimed);
    nn_prefix ula;
    if (r == 0 && (r = install_ula(s, &ula)) == -ENOENT)
        r = 0; /* not initialised: nothing to do */
    bool began = false;
    size_t i;
    json_t *w;
    json_array_foreach(all, i, w)
    {
        if (r)
            break;
        nn_row ws;
        const char *name = json_string_value(json_object_get(w, "name"));
        if ((r = nn_store_workspace_find(s, name, &ws)))
            break;
        bool has = false;
        size_t j;
        json_t *c;
        json_array_foreach(claimed, j, c) has =
            has || json_integer_value(json_object_get(c, "workspace_id")) == ws.id;
        nn_prefix p;
        if (!has && !pin_of(json_object_get(ws.body, "ipv6_prefix"), &p) &&
            !pin_of(json_object_get(ws.alloc, "ipv6_prefix"), &p)) {
            /* what it has had: the first draw, seeing no other workspace */
            taken_set none = {.list = NULL, .self = ws.id};
            r = nn_alloc_workspace48(&ula, ws.name, is_taken, &none, &p);
        }
        char text[NN_PREFIX_STRLEN];
        if (!has && r == 0) {
            nn_prefix_format(&p, true, text);
            if (!began && (r = nn_store_begin(s)) == 0)
                began = true;
            int c2 = r ? r : nn_store_prefix_claim(s, ws.id, text);
            if (c2 == -EEXIST) {
                fprintf(log,
                        "nanamid: workspace %s shares %s with another workspace (both made "
                        "before /48s were allocated install-wide); its addresses stay, but pin "
                        "another ipv6_prefix on one of them to separate them\n",
                        ws.name, text);
            } else {
                r = c2;
            }
            if (r == 0 && !json_object_get(ws.alloc, "ipv6_prefix")) {
                json_t *a = json_deep_copy(ws.alloc);
                json_object_set_new(a, "ipv6_prefix", json_string(text));
                r = nn_store_workspace_update(s, ws.id, NULL, a);
                json_decref(a);
            }
        }
        nn_row_clear(&ws);
    }
    if (began && r == 0)
        r = nn_store_commit(s);
    if (began && r)
        nn_store_rollback(s);
    json_decref(all);
    json_decref(claimed);
    return r;
}
