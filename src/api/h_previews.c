/* Previews: compiled artifacts from the envelope cache (envcache.h).
 * Never a private key: Nanami holds none. */
#include <errno.h>
#include <string.h>

#include "api/envcache.h"
#include "api/handlers.h"
#include "api/keys.h"
#include "api/nodecache.h"

/* The envelope with its ETag and signature; 304 when If-None-Match
 * already names it. */
static void reply_envelope(ctx *c, const nn_env_blob *b)
{
    memcpy(c->resp->etag, b->etag, sizeof(b->etag));
    memcpy(c->resp->signature, b->sig, sizeof(b->sig));
    const char *inm = c->req->if_none_match;
    if (inm && strcmp(inm, b->etag) == 0) {
        c->resp->status = 304;
    } else {
        nn_buf_reset(&c->resp->body);
        nn_buf_append(&c->resp->body, b->data, b->len);
        c->resp->status = 200;
    }
}

/* The cache entry of net (c->ws's), or a 500 reply. */
static nn_envcache_entry *entry_of(ctx *c, const nn_row *net)
{
    nn_envcache_entry *e;
    int r = nn_envcache_get(c->svc->envelopes, c->store, &c->ws, net, &e);
    if (r) {
        api_reply_error(c->resp, 500, "internal", NULL, "compiling %s failed (%d)", net->name, r);
        return NULL;
    }
    nn_envcache_lock(e);
    return e;
}

static void entry_done(ctx *c, nn_envcache_entry *e)
{
    nn_envcache_unlock(e);
    nn_envcache_release(c->svc->envelopes, e);
}

void api_reply_peer_envelope(ctx *c, const nn_row *net, const char *peer)
{
    nn_envcache_entry *e = entry_of(c, net);
    if (!e)
        return;
    const nn_member *p = nn_network_find_peer(nn_envcache_network(e), peer);
    if (p)
        reply_envelope(
            c, nn_envcache_envelope(c->svc->envelopes, e, p, nn_keys_signing(c->svc->keys)));
    else
        api_not_found(c, "peer", peer);
    entry_done(c, e);
}

void api_reply_node_document(ctx *c, const char *host)
{
    nn_env_blob *b;
    char why[512];
    int r = nn_nodecache_get(c->svc->nodes, c->store, &c->ws, host, nn_keys_signing(c->svc->keys),
                             &b, why, sizeof(why));
    if (r == -ENOENT)
        return api_not_found(c, "host", host);
    if (r)
        return api_reply_error(c->resp, 500, "internal", NULL,
                               "compiling host %s's node document failed (%d) %s", host, r, why);
    reply_envelope(c, b);
    nn_env_blob_release(b);
}

void h_node_document(ctx *c)
{
    api_reply_node_document(c, api_param(c, "host"));
}

void h_compile(ctx *c)
{
    nn_envcache_entry *e = entry_of(c, &c->net);
    if (!e)
        return;
    nn_buf_reset(&c->resp->body);
    nn_compile_for_network(nn_envcache_plan(e), &c->resp->body);
    nn_buf_putc(&c->resp->body, '\n');
    c->resp->status = 200;
    entry_done(c, e);
}

void h_envelope(ctx *c)
{
    api_reply_peer_envelope(c, &c->net, api_param(c, "peer"));
}

void h_bgp(ctx *c)
{
    nn_envcache_entry *e = entry_of(c, &c->net);
    if (!e)
        return;
    const char *peer = api_param(c, "peer");
    const nn_member *p = nn_network_find_peer(nn_envcache_network(e), peer);
    if (p) {
        const nn_env_blob *b =
            nn_envcache_envelope(c->svc->envelopes, e, p, nn_keys_signing(c->svc->keys));
        json_t *env = json_loadb(b->data, b->len, 0, NULL);
        api_reply_json(c->resp, 200, json_incref(json_object_get(env, "bgp")));
        json_decref(env);
    } else {
        api_not_found(c, "peer", peer);
    }
    entry_done(c, e);
}

void h_wgquick(ctx *c)
{
    nn_envcache_entry *e = entry_of(c, &c->net);
    if (!e)
        return;
    const char *device = api_param(c, "device");
    const nn_member *d = nn_network_find_device(nn_envcache_network(e), device);
    if (!d) {
        api_not_found(c, "device", device);
    } else {
        nn_buf_reset(&c->resp->body);
        nn_compile_device_wgquick(nn_envcache_plan(e), d, &c->resp->body);
        c->resp->status = 200;
        c->resp->content_type = "text/plain; charset=utf-8";
    }
    entry_done(c, e);
}
