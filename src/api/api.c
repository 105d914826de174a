#include "api/api.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/keys.h"
#include "api/lookup.h"
#include "api/nodecache.h"
#include "api/prefixes.h"
#include "api/notify.h"
#include "api/router.h"
#include "api/wscache.h"
#include "util/cidr.h"

struct nn_api {
    api_services svc;
};

int nn_api_new(nn_api **out)
{
    *out = NULL;
    if (sodium_init() < 0)
        return -EIO;
    nn_api *api = calloc(1, sizeof(*api));
    if (!api)
        return -ENOMEM;
    api_services *s = &api->svc;
    int r;
    if ((r = nn_envcache_new(&s->envelopes)) || (r = nn_nodecache_new(&s->nodes)) ||
        (r = nn_keys_new(&s->keys)) || (r = nn_notify_new(&s->notify)) ||
        (r = nn_auth_new(&s->auth)) || (r = nn_wscache_new(&s->workspaces)) ||
        (r = nn_lookup_new(s->notify, &s->lookups))) {
        nn_api_free(api);
        return r;
    }
    *out = api;
    return 0;
}

void nn_api_free(nn_api *api)
{
    if (!api)
        return;
    nn_lookup_free(api->svc.lookups);
    nn_envcache_free(api->svc.envelopes);
    nn_nodecache_free(api->svc.nodes);
    nn_keys_free(api->svc.keys);
    nn_notify_free(api->svc.notify);
    nn_auth_free(api->svc.auth);
    nn_wscache_free(api->svc.workspaces);
    free(api);
}

void nn_api_stats_get(nn_api *api, nn_api_stats *out)
{
    nn_envcache_stats_get(api->svc.envelopes, &out->envelopes);
    nn_wscache_counts(api->svc.workspaces, &out->writes_incremental, &out->writes_full);
}

void nn_api_set_incremental(nn_api *api, bool on)
{
    nn_wscache_set_incremental(api->svc.workspaces, on);
}

void nn_api_handle(nn_api *api, nn_store *store, const nn_api_request *req, nn_api_response *resp)
{
    size_t unused;
    api_route_request(&api->svc, store, req, resp, false, &unused);
}

bool nn_api_admit(nn_api *api, nn_store *store, const nn_api_request *req, nn_api_response *resp,
                  size_t *body_max)
{
    return api_route_request(&api->svc, store, req, resp, true, body_max);
}

int nn_api_upgrade(nn_store *store, FILE *log)
{
    return nn_prefixes_backfill(store, log);
}

int nn_api_housekeeping(nn_api *api, nn_store *store)
{
    nn_wscache_write_lock(api->svc.workspaces);
    int r = nn_auth_flush(api->svc.auth, store);
    nn_wscache_write_unlock(api->svc.workspaces);
    return r;
}

int nn_api_node_keys_load(nn_api *api, nn_store *store)
{
    return nn_keys_load(api->svc.keys, store);
}

void nn_api_node_keys(nn_api *api, const uint8_t **sign_sk, const char **ca_key,
                      const char **ca_cert)
{
    *sign_sk = nn_keys_signing(api->svc.keys);
    *ca_key = nn_keys_ca_key(api->svc.keys);
    *ca_cert = nn_keys_ca_cert(api->svc.keys);
}

uint64_t nn_api_generation(nn_api *api)
{
    return nn_notify_generation(api->svc.notify);
}

uint64_t nn_api_wait_change(nn_api *api, uint64_t seen, unsigned timeout_ms)
{
    return nn_notify_wait(api->svc.notify, seen, timeout_ms);
}

int nn_api_init_install(nn_store *store, const char *ula_pin, char token[NN_API_TOKEN_LEN])
{
    char *ula;
    if (nn_store_meta_get(store, "ula_prefix", &ula) == 0) {
        free(ula);
        return -EEXIST;
    }
    /* RFC 4193: fd00::/8 + 40 random bits is the /48 of a site; Nanami
     * keeps the install at a /40 and carves workspaces from it. */
    char prefix[NN_PREFIX_STRLEN];
    if (ula_pin) {
        nn_prefix p;
        if (nn_prefix_parse(ula_pin, true, false, &p, NULL) != 0 || p.family != NN_AF_INET6 ||
            p.len != 40 || p.addr[0] != 0xfd)
            return -EINVAL;
        nn_prefix_format(&p, true, prefix);
    } else {
        uint8_t r[4];
        randombytes_buf(r, sizeof(r));
        snprintf(prefix, sizeof(prefix), "fd%02x:%02x%02x:%02x00::/40", r[0], r[1], r[2], r[3]);
    }
    int64_t admin;
    int rc;
    if ((rc = nn_store_begin(store)))
        return rc;
    if ((rc = nn_store_meta_set(store, "ula_prefix", prefix)) ||
        (rc = nn_store_user_add(store, "admin", NULL, true, &admin)) ||
        (rc = nn_auth_token_issue(store, admin, "init", token)) ||
        (rc = nn_store_audit(store, admin, 0, "init", "install", prefix)) ||
        (rc = nn_store_commit(store))) {
        nn_store_rollback(store);
        return rc;
    }
    return 0;
}
