#include "compile/host.h"

#include <stdio.h>
#include <string.h>

#include "compile/bgp.h"
#include "util/hash.h"

static void cmd(nn_jw *w, const char *name, bool may_exist, const char *const *args, size_t n)
{
    nn_jw_obj_begin(w);
    nn_jw_key(w, "args");
    nn_jw_arr_begin(w);
    for (size_t i = 0; i < n; i++)
        nn_jw_str(w, args[i]);
    nn_jw_arr_end(w);
    nn_jw_key(w, "cmd");
    nn_jw_str(w, name);
    nn_jw_key(w, "options");
    nn_jw_arr_begin(w);
    /* --may-exist makes a replay of the same plan a no-op. */
    if (may_exist)
        nn_jw_str(w, "--may-exist");
    nn_jw_arr_end(w);
    nn_jw_obj_end(w);
}

static void plan_commands(const nn_ovn_deployment *d, nn_jw *w)
{
    nn_jw_arr_begin(w);
    for (size_t s = 0; s < d->nswitches; s++) {
        const char *args[] = {d->switches[s].name};
        cmd(w, "ls-add", true, args, 1);
    }
    for (size_t s = 0; s < d->nswitches; s++) {
        const nn_ovn_switch *sw = &d->switches[s];
        for (size_t p = 0; p < sw->nports; p++) {
            const nn_ovn_port *pt = &sw->ports[p];
            const char *add[] = {sw->name, pt->name};
            cmd(w, "lsp-add", true, add, 2);
            const char *addrs[65];
            size_t n = 0;
            addrs[n++] = pt->name;
            for (size_t a = 0; a < pt->naddresses && n < 65; a++)
                addrs[n++] = pt->addresses[a];
            cmd(w, "lsp-set-addresses", false, addrs, n);
            const char *type[] = {pt->name, pt->type};
            cmd(w, "lsp-set-type", false, type, 2);
        }
    }
    for (size_t s = 0; s < d->nswitches; s++) {
        const nn_ovn_switch *sw = &d->switches[s];
        for (size_t a = 0; a < sw->nacls; a++) {
            const nn_ovn_acl *acl = &sw->acls[a];
            char prio[16];
            snprintf(prio, sizeof(prio), "%lld", (long long)acl->priority);
            const char *args[] = {sw->name, acl->direction, prio, acl->match, acl->action};
            cmd(w, "acl-add", true, args, 5);
        }
    }
    nn_jw_arr_end(w);
}

void nn_ovn_plan(const nn_workspace *ws, const nn_ovn_deployment *d, nn_jw *w)
{
    nn_buf plan = NN_BUF_INIT;
    nn_jw pw;
    nn_jw_init(&pw, &plan);
    plan_commands(d, &pw);
    uint8_t h[NN_HASH_LEN];
    char id[33], version[65];
    const char *parts[] = {ws->name, d->name};
    nn_hash_parts("nanami/ovn-deployment", parts, 2, 0, h);
    nn_hash_hex(h, 16, id);
    nn_hash_bytes(plan.data, plan.len, h);
    nn_hash_hex(h, 32, version);

    nn_jw_obj_begin(w);
    nn_jw_key(w, "compiled_at");
    if (d->updated_at)
        nn_jw_str(w, d->updated_at);
    else
        nn_jw_null(w);
    nn_jw_key(w, "deployment_id");
    nn_jw_str(w, id);
    nn_jw_key(w, "name");
    nn_jw_str(w, d->name);
    nn_jw_key(w, "plan");
    nn_jw_raw(w, plan.data, plan.len);
    nn_jw_key(w, "version");
    nn_jw_str(w, version);
    nn_jw_obj_end(w);
    nn_buf_free(&plan);
}

void nn_host_write_bridges(const nn_host *h, nn_jw *w)
{
    nn_jw_arr_begin(w);
    for (size_t i = 0; i < h->nbridges; i++) {
        const nn_bridge *b = &h->bridges[i];
        nn_jw_obj_begin(w);
        nn_jw_key(w, "ipfix");
        if (b->ipfix) {
            nn_jw_obj_begin(w);
            nn_jw_key(w, "collector");
            nn_jw_str(w, b->ipfix->name);
            nn_jw_key(w, "obs_domain_id");
            nn_jw_int(w, b->ipfix->obs_domain_id);
            nn_jw_key(w, "sampling");
            nn_jw_int(w, b->ipfix->sampling);
            nn_jw_key(w, "targets");
            nn_jw_arr_begin(w);
            nn_jw_str(w, b->ipfix->target);
            nn_jw_arr_end(w);
            nn_jw_obj_end(w);
        } else {
            nn_jw_null(w);
        }
        nn_jw_key(w, "kernel_name");
        nn_jw_str(w, b->kernel_name);
        nn_jw_key(w, "kind");
        nn_jw_str(w, b->kind == NN_BRIDGE_OVS ? "ovs" : "linux");
        nn_jw_key(w, "name");
        nn_jw_str(w, b->name);
        nn_jw_key(w, "short_id");
        nn_jw_int(w, b->short_id);
        nn_jw_obj_end(w);
    }
    nn_jw_arr_end(w);
}

void nn_host_compile(const nn_workspace *ws, const nn_host *h, nn_buf *out)
{
    nn_buf frr = NN_BUF_INIT;
    nn_bgp_host_text(h, &frr);
    nn_jw w;
    nn_jw_init(&w, out);
    nn_jw_obj_begin(&w);
    nn_jw_key(&w, "frr_text");
    nn_jw_strn(&w, frr.data ? frr.data : "", frr.len);
    nn_jw_key(&w, "host_bridges");
    nn_host_write_bridges(h, &w);
    nn_jw_key(&w, "name");
    nn_jw_str(&w, h->name);
    nn_host_write_ovn(ws, h, &w);
    nn_jw_key(&w, "profile");
    nn_jw_str(&w, h->profile == NN_HOST_HEAVYWEIGHT ? "heavyweight" : "standard");
    nn_jw_obj_end(&w);
    nn_buf_free(&frr);
}

void nn_host_write_ovn(const nn_workspace *ws, const nn_host *h, nn_jw *w)
{
    nn_jw_key(w, "ovn_control");
    if (h->ovn) {
        char buf[NN_PREFIX_STRLEN];
        nn_jw_obj_begin(w);
        nn_jw_key(w, "deployment");
        nn_jw_str(w, h->ovn->name);
        nn_jw_key(w, "encap_ip");
        nn_jw_str(w, nn_prefix_format(&h->encap_ip, false, buf));
        nn_jw_key(w, "encap_type");
        nn_jw_str(w, "geneve");
        nn_jw_key(w, "nb_endpoint");
        nn_jw_str(w, h->ovn->nb_endpoint);
        nn_jw_key(w, "sb_endpoint");
        nn_jw_str(w, h->ovn->sb_endpoint);
        nn_jw_obj_end(w);
    } else {
        nn_jw_null(w);
    }
    nn_jw_key(w, "ovn_nb_plan");
    if (h->ovn)
        nn_ovn_plan(ws, h->ovn, w);
    else
        nn_jw_null(w);
}
