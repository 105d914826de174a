#include "compile/compile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "compile/bgp.h"
#include "compile/credential.h"
#include "compile/firewall.h"
#include "compile/host.h"
#include "compile/nat.h"
#include "compile/plan.h"
#include "util/hash.h"
#include "util/json_writer.h"

/* The large fragments every envelope of a network shares. In digest mode
 * (nn_compile_peer_digest) each is written as its hash, computed once per
 * plan, instead of its bytes. */
enum {
    SHARED_FEDERATION,
    SHARED_FIREWALL,
    SHARED_FW_HEAD,
    SHARED_FW_TAIL,
    SHARED_ROUTES,
    SHARED_NAT_EMPTY,
    SHARED_PRIMARY,
    SHARED_MESH_PRIMARY,
    SHARED_COUNT
};

/* Fragments that are one per member or rule go into a digest as 128-bit
 * hashes: a full-mesh member's digest hashes one per other member, and
 * change detection needs no more. */
#define FRAG_HASH_LEN 16
enum { FH_PEER0, FH_PEER1, FH_DEVICE, FH_RULE, FH_MAP };

/* The full plan: the shared part plus the scratch space envelopes use. */
typedef struct plan_impl {
    struct nn_net_plan pub;
    nn_peer_view *views;    /* npeers + ndevices */
    nn_buf scratch;         /* fragments rendered for one viewer */
    const uint8_t *sign_sk; /* borrowed; NULL = no credentials */
    nn_buf host_text;       /* frr.conf texts, rendered on first use per host */
    nn_frag *host_frag;     /* [host index]; len 0 and off SIZE_MAX = not yet */
    bool *host_done;
    bool digest;                  /* nn_compile_peer_digest is rendering */
    nn_frag shared[SHARED_COUNT]; /* the plan's shared fragments, by SHARED_ */
    uint8_t shared_hash[SHARED_COUNT][NN_HASH_LEN];
    /* In digest mode the per-member and per-rule fragments are written as
     * their hashes too, made on the first digest: [peer keepalive off |
     * on][npeers each], devices, rules, mappings (frag_hash_index). */
    uint8_t (*frag_hash)[FRAG_HASH_LEN];
    nn_buf digest_buf;
} plan_impl;

/* Digests are for change detection inside one process, not identities:
 * BLAKE2b, several times faster here than libsodium's portable SHA-256. */
static void digest_hash(const void *data, size_t len, uint8_t *out, size_t outlen)
{
    crypto_generichash(out, outlen, data, len, NULL, 0);
}

static size_t frag_hash_index(const nn_net_plan *plan, int kind, size_t i)
{
    const nn_network *net = plan->net;
    size_t base[] = {0, net->npeers, 2 * net->npeers, 2 * net->npeers + net->ndevices,
                     2 * net->npeers + net->ndevices + net->nrules};
    return base[kind] + i;
}

/* Appends fragment f, or in digest mode its hash (kind, i: which one). */
static void frag_out(const nn_net_plan *plan, nn_buf *out, nn_frag f, int kind, size_t i)
{
    const plan_impl *impl = (const plan_impl *)plan;
    if (impl->digest)
        nn_buf_append(out, (const char *)impl->frag_hash[frag_hash_index(plan, kind, i)],
                      FRAG_HASH_LEN);
    else
        nn_buf_append(out, plan->frags.data + f.off, f.len);
}

void nn_compile_plan_set_signing_key(nn_net_plan *plan, const uint8_t *sk)
{
    ((plan_impl *)plan)->sign_sk = sk;
}

bool nn_plan_is_secondary_hub(const nn_net_plan *plan, const nn_member *m)
{
    return m && !m->is_device && m->publicly_reachable && plan->nhubs && m != plan->hubs[0];
}

static int cmp_prefix(const void *a, const void *b)
{
    return nn_prefix_cmp(a, b);
}

static int cmp_route(const void *a, const void *b)
{
    const nn_route_ref *x = a, *y = b;
    int c = nn_prefix_cmp(&x->prefix, &y->prefix);
    if (c)
        return c;
    if (!x->owner || !y->owner)
        return x->owner ? 1 : (y->owner ? -1 : 0);
    return strcmp(x->owner->name, y->owner->name);
}

static size_t push_identity(const nn_member *m, nn_prefix *out, size_t n)
{
    if (m->addr4.family)
        out[n++] = m->addr4;
    out[n++] = m->addr6;
    for (size_t i = 0; i < m->nrouted; i++)
        out[n++] = m->routed[i];
    return n;
}

size_t nn_plan_allowed_ips(const nn_net_plan *plan, const nn_member *viewer,
                           const nn_peer_view *view, nn_prefix **out)
{
    const nn_network *net = plan->net;
    const nn_member *p = view->peer;
    size_t cap, n = 0;
    nn_prefix *a;
    switch (view->kind) {
    case NN_VIEW_PRIMARY_HUB:
        a = malloc((plan->nroutes + 1) * sizeof(*a));
        if (!a)
            abort();
        for (size_t i = 0; i < plan->nroutes; i++) {
            const nn_member *o = plan->routes[i].owner;
            if (!o || (o != viewer && !nn_plan_is_secondary_hub(plan, o)))
                a[n++] = plan->routes[i].prefix;
        }
        *out = a;
        return n; /* already sorted */
    case NN_VIEW_MESH_PRIMARY:
        cap = 2 + p->nrouted + 2 * net->ndevices;
        a = malloc(cap * sizeof(*a));
        if (!a)
            abort();
        n = push_identity(p, a, 0);
        for (size_t i = 0; i < net->ndevices; i++)
            n = push_identity(&net->devices[i], a, n);
        break;
    case NN_VIEW_IDENTITY:
    default:
        a = malloc((2 + p->nrouted) * sizeof(*a));
        if (!a)
            abort();
        n = push_identity(p, a, 0);
        break;
    }
    qsort(a, n, sizeof(*a), cmp_prefix);
    *out = a;
    return n;
}

static void write_entry_rest(nn_jw *w, const nn_peer_view *v);

/* One [Peer] entry: {"allowed_ips","endpoint","name","persistent_keepalive","public_key"}. */
static void render_entry(const nn_net_plan *plan, const nn_member *viewer, const nn_peer_view *v,
                         nn_buf *out)
{
    nn_jw w;
    nn_jw_init(&w, out);
    nn_prefix *ips;
    size_t n = nn_plan_allowed_ips(plan, viewer, v, &ips);
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "allowed_ips");
    nn_jw_prefix_array(&w, ips, n);
    write_entry_rest(&w, v);
    free(ips);
}

static void render_route_list(const nn_net_plan *plan, const nn_member *viewer,
                              bool primary_hub_view, nn_buf *out);

/* Every key of a [Peer] entry after "allowed_ips", and the closing brace. */
static void write_entry_rest(nn_jw *w, const nn_peer_view *v)
{
    nn_jw_key(w, "endpoint");
    if (v->peer->endpoint)
        nn_jw_str(w, v->peer->endpoint);
    else
        nn_jw_null(w);
    nn_jw_key(w, "name");
    nn_jw_str(w, v->peer->name);
    nn_jw_key(w, "persistent_keepalive");
    nn_jw_int(w, v->keepalive);
    nn_jw_key(w, "public_key");
    nn_jw_str(w, v->peer->public_key_b64);
    nn_jw_obj_end(w);
}

/* The primary hub's entry for a viewer with LANs of its own (they must not
 * point back into the tunnel): same shape as render_entry, AllowedIPs
 * spliced from the cached route strings. */
static void render_primary_entry(const nn_net_plan *plan, const nn_member *viewer,
                                 const nn_peer_view *v, nn_buf *out)
{
    nn_jw w;
    nn_jw_init(&w, out);
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "allowed_ips");
    nn_jw_raw(&w, "", 0);
    render_route_list(plan, viewer, true, out);
    write_entry_rest(&w, v);
}

static nn_frag frag_begin(nn_net_plan *plan)
{
    return (nn_frag){plan->frags.len, 0};
}

static void frag_end(nn_net_plan *plan, nn_frag *f)
{
    f->len = plan->frags.len - f->off;
}

/* Routes into the interface for viewer: the network's prefixes and every
 * LAN served by someone else. With primary_hub_view, the AllowedIPs the
 * viewer gives its primary hub instead (also without the LANs of the other
 * hubs, which carry their own). Spliced from the cached route strings:
 * O(routes), no formatting. */
static void render_route_list(const nn_net_plan *plan, const nn_member *viewer,
                              bool primary_hub_view, nn_buf *out)
{
    const plan_impl *impl = (const plan_impl *)plan;
    if (impl->digest) {
        /* The list is every route minus those excluded below: the hash of
         * every route plus the excluded ones determine it. */
        nn_buf_putc(out, primary_hub_view ? 'P' : 'R');
        nn_buf_append(out, (const char *)impl->shared_hash[SHARED_ROUTES], NN_HASH_LEN);
        for (size_t i = 0; i < plan->nroutes; i++) {
            const nn_member *o = plan->routes[i].owner;
            if (o && (o == viewer || (primary_hub_view && nn_plan_is_secondary_hub(plan, o))))
                nn_buf_append(out, plan->frags.data + plan->route_str[i].off,
                              plan->route_str[i].len);
        }
        return;
    }
    nn_buf_putc(out, '[');
    bool first = true;
    for (size_t i = 0; i < plan->nroutes; i++) {
        const nn_member *o = plan->routes[i].owner;
        if (o && (o == viewer || (primary_hub_view && nn_plan_is_secondary_hub(plan, o))))
            continue;
        if (!first)
            nn_buf_putc(out, ',');
        first = false;
        nn_buf_append(out, plan->frags.data + plan->route_str[i].off, plan->route_str[i].len);
    }
    nn_buf_putc(out, ']');
}

static int build_routes(nn_net_plan *plan)
{
    const nn_network *net = plan->net;
    size_t n = 2;
    for (size_t i = 0; i < net->npeers; i++)
        n += net->peers[i].nrouted;
    plan->routes = calloc(n, sizeof(nn_route_ref));
    if (!plan->routes)
        return -ENOMEM;
    size_t k = 0;
    plan->routes[k++] = (nn_route_ref){net->prefix6, NULL};
    if (net->has_ipv4)
        plan->routes[k++] = (nn_route_ref){net->ipv4_cidr, NULL};
    for (size_t i = 0; i < net->npeers; i++)
        for (size_t j = 0; j < net->peers[i].nrouted; j++)
            plan->routes[k++] = (nn_route_ref){net->peers[i].routed[j], &net->peers[i]};
    qsort(plan->routes, k, sizeof(nn_route_ref), cmp_route);
    plan->nroutes = k;
    return 0;
}

/* Appends a fragment of plan->frags to plan->frags; the caller reserved. */
static void copy_frag(nn_net_plan *plan, nn_frag f)
{
    memcpy(plan->frags.data + plan->frags.len, plan->frags.data + f.off, f.len);
    plan->frags.len += f.len;
    plan->frags.data[plan->frags.len] = '\0';
}

/* Escapes text[from..] into the fragment buffer as JSON string content. */
static nn_frag escaped_frag(nn_net_plan *plan, const nn_buf *text, size_t from)
{
    nn_frag f = frag_begin(plan);
    /* An empty text may still have no storage: no pointer arithmetic on NULL. */
    if (text->len > from)
        nn_buf_put_json_escaped(&plan->frags, text->data + from, text->len - from);
    frag_end(plan, &f);
    return f;
}

/* The firewall is rendered once per network as escaped pieces -- head,
 * one per mapping, one per rule, tail -- so each peer's ruleset is a
 * selection of pieces, not a re-render of every address set. */
static int build_firewall(nn_net_plan *plan, nn_buf *text)
{
    const nn_network *net = plan->net;
    plan->fw_rule = calloc(net->nrules + 1, sizeof(nn_frag));
    plan->fw_map = calloc(net->nmappings + 1, sizeof(nn_frag));
    if (!plan->fw_rule || !plan->fw_map)
        return -ENOMEM;
    /* Each rule is rendered once; fragments may sit anywhere in the
     * buffer, so the pieces go first and the head, which reports the rules
     * that rendered to nothing, after them. */
    for (size_t i = 0; i < net->nmappings; i++) {
        nn_buf_reset(text);
        nn_firewall_mapping_rule(net, &net->mappings[i], text);
        plan->fw_map[i] = escaped_frag(plan, text, 0);
    }
    for (size_t i = 0; i < net->nrules; i++) {
        nn_buf_reset(text);
        nn_firewall_rule(net, &net->rules[i], text);
        plan->fw_rule[i] = escaped_frag(plan, text, 0);
    }
    char chain[32];
    nn_firewall_chain_name(net, chain);
    nn_jw w;
    plan->fw_head = frag_begin(plan);
    nn_jw_init(&w, &plan->frags);
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "chain");
    nn_jw_str(&w, chain);
    nn_jw_key(&w, "dropped_rules");
    nn_jw_arr_begin(&w);
    for (size_t i = 0; i < net->nrules; i++)
        if (net->rules[i].enabled && plan->fw_rule[i].len == 0)
            nn_firewall_dropped_entry(net, &net->rules[i], &w);
    nn_jw_arr_end(&w);
    nn_jw_key(&w, "ruleset");
    nn_buf_puts(&plan->frags, "\"");
    nn_buf_reset(text);
    nn_firewall_header(net, text);
    nn_buf_put_json_escaped(&plan->frags, text->data, text->len);
    frag_end(plan, &plan->fw_head);

    nn_buf_reset(text);
    nn_firewall_trailer(net, text);
    plan->fw_tail = escaped_frag(plan, text, 0);
    nn_buf_puts(&plan->frags, "\"}");
    frag_end(plan, &plan->fw_tail);

    /* The complete object, for hubs: they forward, so every rule applies.
     * It is copied from fragments of the same buffer: reserve first, so no
     * realloc moves the source under the copy. */
    size_t total = plan->fw_head.len + plan->fw_tail.len;
    for (size_t i = 0; i < net->nmappings; i++)
        total += plan->fw_map[i].len;
    for (size_t i = 0; i < net->nrules; i++)
        total += plan->fw_rule[i].len;
    nn_buf_reserve(&plan->frags, total);
    plan->firewall_frag = frag_begin(plan);
    copy_frag(plan, plan->fw_head);
    for (size_t i = 0; i < net->nmappings; i++)
        copy_frag(plan, plan->fw_map[i]);
    for (size_t i = 0; i < net->nrules; i++)
        copy_frag(plan, plan->fw_rule[i]);
    copy_frag(plan, plan->fw_tail);
    frag_end(plan, &plan->firewall_frag);
    return 0;
}

/* Accepted federation prefixes of this network, each with who sends it.
 * The same for every peer: rendered once, into the plan. */
static void write_federation(nn_jw *w, const nn_network *net)
{
    const nn_workspace *ws = net->workspace;
    char buf[NN_PREFIX_STRLEN];
    nn_jw_arr_begin(w);
    for (size_t i = 0; i < net->nfederated; i++) {
        nn_jw_obj_begin(w);
        nn_jw_key(w, "prefix");
        nn_jw_str(w, nn_prefix_format(&net->federated[i], true, buf));
        nn_jw_key(w, "via");
        nn_jw_arr_begin(w);
        for (size_t f = 0; f < ws->nfederation; f++) {
            const nn_federation_peer *fp = &ws->federation[f];
            bool applies = nn_federation_applies(fp, net), has = false;
            for (size_t k = 0; applies && k < fp->nprefixes && !has; k++)
                has = nn_prefix_cmp(&fp->prefixes[k], &net->federated[i]) == 0;
            if (has)
                nn_jw_str(w, fp->name);
        }
        nn_jw_arr_end(w);
        nn_jw_obj_end(w);
    }
    nn_jw_arr_end(w);
}

int nn_compile_plan_new(const nn_network *net, nn_net_plan **out)
{
    *out = NULL;
    plan_impl *impl = calloc(1, sizeof(*impl));
    if (!impl)
        return -ENOMEM;
    nn_net_plan *plan = &impl->pub;
    plan->net = net;
    plan->strategy = nn_topology_strategy_for(net->topology);
    size_t nmembers = net->npeers + net->ndevices;
    plan->hubs = calloc(net->npeers + 1, sizeof(*plan->hubs));
    plan->peer_frag[0] = calloc(net->npeers + 1, sizeof(nn_frag));
    plan->peer_frag[1] = calloc(net->npeers + 1, sizeof(nn_frag));
    plan->device_frag = calloc(net->ndevices + 1, sizeof(nn_frag));
    impl->views = calloc(nmembers + 1, sizeof(nn_peer_view));
    impl->host_frag = calloc(net->workspace->nhosts + 1, sizeof(nn_frag));
    impl->host_done = calloc(net->workspace->nhosts + 1, sizeof(bool));
    if (!impl->host_frag || !impl->host_done || !plan->hubs || !plan->peer_frag[0] ||
        !plan->peer_frag[1] || !plan->device_frag || !impl->views || build_routes(plan) != 0) {
        nn_compile_plan_free(plan);
        return -ENOMEM;
    }
    for (size_t i = 0; i < net->npeers; i++)
        if (net->peers[i].publicly_reachable)
            plan->hubs[plan->nhubs++] = &net->peers[i];
    int r = nn_plan_tunnels(plan);
    if (r) {
        nn_compile_plan_free(plan);
        return r;
    }
    plan->route_str = calloc(plan->nroutes + 1, sizeof(nn_frag));
    if (!plan->route_str) {
        nn_compile_plan_free(plan);
        return -ENOMEM;
    }
    for (size_t i = 0; i < plan->nroutes; i++) {
        char buf[NN_PREFIX_STRLEN];
        nn_prefix_format(&plan->routes[i].prefix, true, buf);
        plan->route_str[i] = frag_begin(plan);
        nn_buf_put_json_string(&plan->frags, buf, strlen(buf));
        frag_end(plan, &plan->route_str[i]);
    }

    for (size_t i = 0; i < net->npeers; i++)
        for (int k = 0; k < 2; k++) {
            nn_peer_view v = {&net->peers[i], NN_VIEW_IDENTITY,
                              (uint16_t)(k ? NN_KEEPALIVE_SECONDS : 0)};
            plan->peer_frag[k][i] = frag_begin(plan);
            render_entry(plan, NULL, &v, &plan->frags);
            frag_end(plan, &plan->peer_frag[k][i]);
        }
    for (size_t i = 0; i < net->ndevices; i++) {
        nn_peer_view v = {&net->devices[i], NN_VIEW_IDENTITY, 0};
        plan->device_frag[i] = frag_begin(plan);
        render_entry(plan, NULL, &v, &plan->frags);
        frag_end(plan, &plan->device_frag[i]);
    }
    if (plan->nhubs) {
        nn_peer_view v = {plan->hubs[0], NN_VIEW_PRIMARY_HUB, NN_KEEPALIVE_SECONDS};
        plan->primary_frag = frag_begin(plan);
        render_entry(plan, NULL, &v, &plan->frags);
        frag_end(plan, &plan->primary_frag);
        v.kind = NN_VIEW_MESH_PRIMARY;
        plan->mesh_primary_frag = frag_begin(plan);
        render_entry(plan, NULL, &v, &plan->frags);
        frag_end(plan, &plan->mesh_primary_frag);
    }
    plan->routes_frag = frag_begin(plan);
    {
        nn_buf tmp = NN_BUF_INIT;
        render_route_list(plan, NULL, false, &tmp);
        nn_buf_append(&plan->frags, tmp.data, tmp.len);
        nn_buf_free(&tmp);
    }
    frag_end(plan, &plan->routes_frag);

    nn_jw w;
    nn_buf text = NN_BUF_INIT;
    if (build_firewall(plan, &text) != 0) {
        nn_buf_free(&text);
        nn_compile_plan_free(plan);
        return -ENOMEM;
    }

    nn_buf_reset(&text);
    plan->nat_empty_frag = frag_begin(plan);
    nn_jw_init(&w, &plan->frags);
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "ruleset");
    nn_nat_compile(net, NULL, NULL, NULL, &text, NULL);
    nn_jw_strn(&w, text.data, text.len);
    nn_jw_key(&w, "skipped");
    nn_jw_arr_begin(&w);
    nn_jw_arr_end(&w);
    nn_jw_obj_end(&w);
    frag_end(plan, &plan->nat_empty_frag);

    plan->federation_frag = frag_begin(plan);
    nn_jw_init(&w, &plan->frags);
    write_federation(&w, net);
    frag_end(plan, &plan->federation_frag);
    nn_buf_free(&text);

    const nn_frag shared[SHARED_COUNT] = {
        [SHARED_FEDERATION] = plan->federation_frag,
        [SHARED_FIREWALL] = plan->firewall_frag,
        [SHARED_FW_HEAD] = plan->fw_head,
        [SHARED_FW_TAIL] = plan->fw_tail,
        [SHARED_ROUTES] = plan->routes_frag,
        [SHARED_NAT_EMPTY] = plan->nat_empty_frag,
        [SHARED_PRIMARY] = plan->primary_frag,
        [SHARED_MESH_PRIMARY] = plan->mesh_primary_frag,
    };
    for (size_t i = 0; i < SHARED_COUNT; i++) {
        impl->shared[i] = shared[i];
        digest_hash(plan->frags.data + shared[i].off, shared[i].len, impl->shared_hash[i],
                    NN_HASH_LEN);
    }
    *out = plan;
    return 0;
}

void nn_compile_plan_free(nn_net_plan *plan)
{
    if (!plan)
        return;
    plan_impl *impl = (plan_impl *)plan;
    free(plan->hubs);
    free(plan->routes);
    free(plan->peer_frag[0]);
    free(plan->peer_frag[1]);
    free(plan->device_frag);
    free(plan->route_str);
    free(plan->fw_rule);
    free(plan->fw_map);
    free(plan->device_tunnel);
    free(plan->device_exit);
    nn_buf_free(&plan->frags);
    nn_buf_free(&impl->scratch);
    nn_buf_free(&impl->host_text);
    nn_buf_free(&impl->digest_buf);
    free(impl->frag_hash);
    free(impl->host_frag);
    free(impl->host_done);
    free(impl->views);
    free(impl);
}

/* Appends a shared fragment: its bytes, or in digest mode its hash. */
static void shared_out(const nn_net_plan *plan, nn_buf *out, int which)
{
    const plan_impl *impl = (const plan_impl *)plan;
    if (impl->digest)
        nn_buf_append(out, (const char *)impl->shared_hash[which], NN_HASH_LEN);
    else
        nn_buf_append(out, plan->frags.data + impl->shared[which].off, impl->shared[which].len);
}

/* shared_out as the writer's next value. */
static void shared_frag(nn_jw *w, const nn_net_plan *plan, int which)
{
    nn_jw_raw(w, "", 0);
    shared_out(plan, w->out, which);
}

static void write_nat(nn_jw *w, const nn_net_plan *plan, const nn_member *peer)
{
    nn_buf exits = NN_BUF_INIT;
    nn_plan_exit_lines(plan, peer, NULL, false, &exits);
    if (!exits.len && !nn_nat_peer_is_hub(plan->net, peer)) {
        shared_frag(w, plan, SHARED_NAT_EMPTY);
        return;
    }
    nn_buf text = NN_BUF_INIT, skipped = NN_BUF_INIT;
    nn_jw sw;
    nn_jw_init(&sw, &skipped);
    nn_nat_compile(plan->net, NULL, peer, exits.len ? exits.data : NULL, &text, &sw);
    nn_buf_free(&exits);
    nn_jw_obj_begin(w);
    nn_jw_key(w, "ruleset");
    nn_jw_strn(w, text.data, text.len);
    nn_jw_key(w, "skipped");
    nn_jw_raw(w, skipped.data, skipped.len);
    nn_jw_obj_end(w);
    nn_buf_free(&text);
    nn_buf_free(&skipped);
}

/* Hubs get every rule. A peer that forwards for nobody gets the rules that
 * can matter on its own interface (nn_firewall_rule_needed_by) and the
 * admission lines of mappings that target it. On iBGP networks each
 * member's head is followed by the line admitting its own BGP sessions. */
static bool wants_mapping(const nn_net_plan *plan, const nn_member *peer, size_t i)
{
    const char *why;
    return plan->fw_map[i].len &&
           (peer->publicly_reachable ||
            nn_port_mapping_target(plan->net, &plan->net->mappings[i], &why) == peer);
}

static bool wants_rule(const nn_net_plan *plan, const nn_member *peer, size_t i)
{
    return plan->fw_rule[i].len &&
           (peer->publicly_reachable || nn_firewall_rule_needed_by(&plan->net->rules[i], peer));
}

void nn_compile_peer_chain(const nn_net_plan *plan, const nn_member *peer, const char *ifname,
                           nn_buf *out)
{
    const nn_network *net = plan->net;
    nn_firewall_chain_open(net, out);
    if (nn_bgp_active(net))
        nn_bgp_firewall_rule(net, peer, out);
    for (size_t i = 0; i < net->nmappings; i++)
        if (wants_mapping(plan, peer, i))
            nn_firewall_mapping_rule(net, &net->mappings[i], out);
    for (size_t i = 0; i < net->nrules; i++)
        if (wants_rule(plan, peer, i))
            nn_firewall_rule(net, &net->rules[i], out);
    nn_plan_exit_lines(plan, peer, ifname, true, out);
    nn_firewall_chain_close(net, out);
}

static void write_firewall(nn_jw *w, const nn_net_plan *plan, const nn_member *peer)
{
    const nn_network *net = plan->net;
    bool bgp = nn_bgp_active(net);
    nn_buf exits = NN_BUF_INIT;
    nn_plan_exit_lines(plan, peer, NULL, true, &exits);
    if (peer->publicly_reachable && !bgp && !exits.len) {
        shared_frag(w, plan, SHARED_FIREWALL);
        return;
    }
    shared_frag(w, plan, SHARED_FW_HEAD);
    nn_buf *out = w->out;
    if (bgp) {
        nn_buf line = NN_BUF_INIT;
        nn_bgp_firewall_rule(net, peer, &line);
        nn_buf_put_json_escaped(out, line.data, line.len);
        nn_buf_free(&line);
    }
    for (size_t i = 0; i < net->nmappings; i++)
        if (wants_mapping(plan, peer, i))
            frag_out(plan, out, plan->fw_map[i], FH_MAP, i);
    for (size_t i = 0; i < net->nrules; i++)
        if (wants_rule(plan, peer, i))
            frag_out(plan, out, plan->fw_rule[i], FH_RULE, i);
    /* After the operator's rules: an explicit drop still wins. */
    if (exits.len)
        nn_buf_put_json_escaped(out, exits.data, exits.len);
    nn_buf_free(&exits);
    shared_out(plan, out, SHARED_FW_TAIL);
}

static void write_bgp(nn_jw *w, plan_impl *impl, const nn_member *peer, const nn_vrf *vrf)
{
    const nn_workspace *ws = impl->pub.net->workspace;
    if (!vrf) {
        nn_jw_raw(w, "{\"enabled\":false}", 17);
        return;
    }
    /* One text per host, rendered the first time one of its peers asks. */
    size_t hi = (size_t)(peer->host_ref - ws->hosts);
    if (!impl->host_done[hi]) {
        impl->host_frag[hi].off = impl->host_text.len;
        nn_bgp_host_text(peer->host_ref, &impl->host_text);
        impl->host_frag[hi].len = impl->host_text.len - impl->host_frag[hi].off;
        impl->host_done[hi] = true;
    }
    nn_bgp_envelope(impl->pub.net, peer, vrf, impl->host_text.data + impl->host_frag[hi].off,
                    impl->host_frag[hi].len, w);
}

static void write_vips_held(nn_jw *w, const nn_network *net, const nn_member *peer)
{
    char buf[NN_PREFIX_STRLEN];
    nn_jw_arr_begin(w);
    for (size_t i = 0; i < net->nvips; i++) {
        const nn_vip *v = &net->vips[i];
        if (!nn_vip_held_by(v, peer))
            continue;
        nn_jw_obj_begin(w);
        nn_jw_key(w, "address");
        nn_jw_str(w, nn_prefix_format(&v->address, true, buf));
        nn_jw_key(w, "mode");
        nn_jw_str(w, v->mode == NN_VIP_FAILOVER ? "failover" : "anycast");
        nn_jw_key(w, "name");
        nn_jw_str(w, v->name);
        nn_jw_obj_end(w);
    }
    nn_jw_arr_end(w);
}

static const char *role_of(const nn_network *net, const nn_member *m)
{
    if (m->publicly_reachable)
        return "hub";
    return net->topology == NN_TOPO_FULL_MESH ? "member" : "spoke";
}

void nn_compile_for_peer(nn_net_plan *plan, const nn_member *peer, nn_buf *out)
{
    plan_impl *impl = (plan_impl *)plan;
    const nn_network *net = plan->net;
    nn_jw w;
    nn_jw_init(&w, out);
    nn_jw_obj_begin(&w);
    const nn_vrf *vrf = nn_bgp_vrf(net, peer);
    nn_jw_key(&w, "bgp");
    write_bgp(&w, impl, peer, vrf);
    nn_jw_key(&w, "federation");
    shared_frag(&w, plan, SHARED_FEDERATION);
    nn_jw_key(&w, "firewall");
    write_firewall(&w, plan, peer);

    nn_jw_key(&w, "interface");
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "addresses");
    nn_prefix addrs[2];
    size_t na = 0;
    if (peer->addr4.family)
        addrs[na++] = peer->addr4;
    addrs[na++] = peer->addr6;
    nn_jw_prefix_array(&w, addrs, na);
    /* A hub forwards between members; a peer forwards for whatever is
     * routed to it (LANs, advertised subnets, the VIPs it routes). */
    nn_jw_key(&w, "forwarding");
    nn_jw_bool(&w, peer->publicly_reachable || peer->nrouted > 0);
    nn_jw_key(&w, "listen_port");
    nn_jw_int(&w, peer->listen_port ? peer->listen_port : net->listen_port);
    nn_jw_key(&w, "mtu");
    nn_jw_int(&w, net->mtu);
    nn_jw_key(&w, "name");
    nn_jw_str(&w, net->ifname);
    nn_jw_key(&w, "routes");
    if (peer->nrouted) {
        nn_buf_reset(&impl->scratch);
        render_route_list(plan, peer, false, &impl->scratch);
        nn_jw_raw(&w, impl->scratch.data, impl->scratch.len);
    } else {
        shared_frag(&w, plan, SHARED_ROUTES);
    }
    if (vrf) {
        nn_jw_key(&w, "vrf");
        nn_jw_obj_begin(&w);
        nn_jw_key(&w, "name");
        nn_jw_str(&w, vrf->name);
        nn_jw_key(&w, "table_id");
        nn_jw_int(&w, vrf->table_id);
        nn_jw_obj_end(&w);
    }
    nn_jw_obj_end(&w);

    nn_jw_key(&w, "mc_envelope");
    if (impl->sign_sk && impl->digest) {
        /* Ed25519 is deterministic: the key and the statement decide it. */
        uint8_t pk[NN_SIGN_PK_LEN];
        crypto_sign_ed25519_sk_to_pk(pk, impl->sign_sk);
        nn_jw_raw(&w, (const char *)pk, sizeof(pk));
        nn_credential_statement(net, peer, w.out);
    } else if (impl->sign_sk)
        nn_credential_write(net, peer, impl->sign_sk, &w);
    else
        nn_jw_null(&w);
    nn_jw_key(&w, "nat");
    write_nat(&w, plan, peer);
    const nn_host *host = peer->host_ref;
    if (host && host->ovn && host->ovn->plan_host == host) {
        nn_jw_key(&w, "ovn");
        nn_jw_obj_begin(&w);
        nn_jw_key(&w, "nb_endpoint");
        nn_jw_str(&w, host->ovn->nb_endpoint);
        nn_jw_key(&w, "nb_plan");
        nn_ovn_plan(net->workspace, host->ovn, &w);
        nn_jw_obj_end(&w);
    }

    nn_jw_key(&w, "peers");
    nn_jw_arr_begin(&w);
    size_t nv = plan->strategy->peers_for(plan, peer, impl->views);
    for (size_t i = 0; i < nv; i++) {
        const nn_peer_view *v = &impl->views[i];
        if (v->kind == NN_VIEW_IDENTITY) {
            const nn_member *m = v->peer;
            /* the writer only needs to know a value went out */
            nn_jw_raw(&w, "", 0);
            if (m->is_device)
                frag_out(plan, out, plan->device_frag[m - net->devices], FH_DEVICE,
                         (size_t)(m - net->devices));
            else
                frag_out(plan, out, plan->peer_frag[v->keepalive ? 1 : 0][m - net->peers],
                         v->keepalive ? FH_PEER1 : FH_PEER0, (size_t)(m - net->peers));
        } else if (v->kind == NN_VIEW_MESH_PRIMARY) {
            shared_frag(&w, plan, SHARED_MESH_PRIMARY);
        } else if (!peer->nrouted) {
            shared_frag(&w, plan, SHARED_PRIMARY);
        } else {
            nn_buf_reset(&impl->scratch);
            render_primary_entry(plan, peer, v, &impl->scratch);
            nn_jw_raw(&w, impl->scratch.data, impl->scratch.len);
        }
    }
    nn_jw_arr_end(&w);

    nn_jw_key(&w, "self");
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "host");
    nn_jw_str(&w, peer->host);
    nn_jw_key(&w, "name");
    nn_jw_str(&w, peer->name);
    nn_jw_key(&w, "network");
    nn_jw_str(&w, net->name);
    nn_jw_key(&w, "public_key");
    nn_jw_str(&w, peer->public_key_b64);
    nn_jw_key(&w, "role");
    nn_jw_str(&w, role_of(net, peer));
    nn_jw_key(&w, "workspace");
    nn_jw_str(&w, net->workspace->name);
    nn_jw_obj_end(&w);

    nn_jw_key(&w, "vips_held");
    write_vips_held(&w, net, peer);
    nn_jw_obj_end(&w);
}

void nn_compile_for_network(nn_net_plan *plan, nn_buf *out)
{
    nn_jw w;
    nn_jw_init(&w, out);
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "peers");
    nn_jw_obj_begin(&w);
    for (size_t i = 0; i < plan->net->npeers; i++) {
        nn_jw_key(&w, plan->net->peers[i].name);
        /* An empty raw value consumes the key; the envelope follows it. */
        nn_jw_raw(&w, "", 0);
        nn_compile_for_peer(plan, &plan->net->peers[i], out);
    }
    nn_jw_obj_end(&w);
    nn_jw_obj_end(&w);
}

static int make_frag_hashes(plan_impl *impl)
{
    const nn_net_plan *plan = &impl->pub;
    const nn_network *net = plan->net;
    size_t n = frag_hash_index(plan, FH_MAP, net->nmappings);
    impl->frag_hash = calloc(n + 1, FRAG_HASH_LEN);
    if (!impl->frag_hash)
        return -ENOMEM;
    const struct {
        const nn_frag *frags;
        size_t n;
    } kinds[] = {[FH_PEER0] = {plan->peer_frag[0], net->npeers},
                 [FH_PEER1] = {plan->peer_frag[1], net->npeers},
                 [FH_DEVICE] = {plan->device_frag, net->ndevices},
                 [FH_RULE] = {plan->fw_rule, net->nrules},
                 [FH_MAP] = {plan->fw_map, net->nmappings}};
    for (int k = FH_PEER0; k <= FH_MAP; k++)
        for (size_t i = 0; i < kinds[k].n; i++) {
            nn_frag f = kinds[k].frags[i];
            digest_hash(plan->frags.data + f.off, f.len,
                        impl->frag_hash[frag_hash_index(plan, k, i)], FRAG_HASH_LEN);
        }
    return 0;
}

void nn_compile_peer_digest(nn_net_plan *plan, const nn_member *peer, uint8_t out[NN_HASH_LEN])
{
    plan_impl *impl = (plan_impl *)plan;
    if (!impl->frag_hash && make_frag_hashes(impl) != 0)
        abort(); /* like nn_buf: out of memory is not recoverable here */
    nn_buf_reset(&impl->digest_buf);
    impl->digest = true;
    nn_compile_for_peer(plan, peer, &impl->digest_buf);
    impl->digest = false;
    digest_hash(impl->digest_buf.data, impl->digest_buf.len, out, NN_HASH_LEN);
}
