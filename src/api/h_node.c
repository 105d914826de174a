/* What enrolled nodes call: authenticated by the client certificate
 * enrollment issued, which the transport has verified against the node CA
 * and the router has mapped to its peer. The certificate names one peer,
 * so a node can only ever read its own envelope and report its own state:
 * these routes take no workspace, network or peer in the path.
 *
 *   GET  /node/config  the node's signed node document -- or, for a peer
 *                      enrolled before hosts were nodes, its network's
 *                      envelope (ETag, 304, ?wait= long-poll)
 *   POST /node/status  what the node observes
 *   GET  /workspaces/W/networks/N/observed  every peer's last report (read) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "util/key.h"

#define STATUS_MAX_PEERS 100000
/* The longest a node may ask to wait for a change. */
#define WAIT_MAX_SECONDS 60

void h_node_config(ctx *c)
{
    int r = nn_store_workspace_find(c->store, c->node.workspace, &c->ws);
    nn_row net = {0};
    /* A host's certificate gets its node document; a peer's (enrolled
     * before hosts were nodes) that network's envelope, as before. */
    if (r == 0 && !c->node.host)
        r = nn_store_row_get(c->store, c->node.workspace_id, 0, "networks", c->node.network, &net);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    if (c->node.host)
        api_reply_node_document(c, c->node.peer);
    else
        api_reply_peer_envelope(c, &net, c->node.peer);
    nn_row_clear(&net);
    if (c->resp->status == 304)
        c->resp->long_poll = c->wait > WAIT_MAX_SECONDS ? WAIT_MAX_SECONDS : c->wait;
}

static bool keys_within(json_t *obj, const char *const *allowed)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v)
    {
        size_t i = 0;
        while (allowed[i] && strcmp(allowed[i], key) != 0)
            i++;
        if (!allowed[i])
            return false;
    }
    return true;
}

static bool is_uint(json_t *v)
{
    return json_is_integer(v) && json_integer_value(v) >= 0;
}

/* The daemon's FRR or OVN outcome: absent, null or {COUNTER, state}
 * (docs/agent.md). */
static bool valid_outcome(json_t *v, const char *counter)
{
    const char *const fields[] = {counter, "state", NULL};
    const char *s = json_string_value(json_object_get(v, "state"));
    return !v || json_is_null(v) ||
           (json_is_object(v) && keys_within(v, fields) && is_uint(json_object_get(v, counter)) &&
            s && (!strcmp(s, "applied") || !strcmp(s, "failed") || !strcmp(s, "disabled")));
}

/* A report's list of peers (at path): what WireGuard says of each. */
static bool valid_peers(ctx *c, json_t *peers, const char *path)
{
    static const char *const peer_fields[] = {"endpoint", "last_handshake", "public_key",
                                              "rx_bytes", "tx_bytes",       NULL};
    if (peers && (!json_is_array(peers) || json_array_size(peers) > STATUS_MAX_PEERS)) {
        api_reply_error(c->resp, 422, "invalid", path, "%s must be an array of at most %d", path,
                        STATUS_MAX_PEERS);
        return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(peers, i, v)
    {
        char field[96];
        const char *why = NULL;
        nn_key k;
        json_t *ep = json_object_get(v, "endpoint");
        if (!json_is_object(v))
            why = "must be an object";
        else if (!keys_within(v, peer_fields))
            why =
                "has a key that is not endpoint, last_handshake, public_key, rx_bytes or tx_bytes";
        else if (!json_is_string(json_object_get(v, "public_key")) ||
                 nn_key_from_base64(json_string_value(json_object_get(v, "public_key")), &k,
                                    &why) != 0)
            why = why ? why : "public_key must be a WireGuard key";
        else if (ep && !json_is_string(ep) && !json_is_null(ep))
            why = "endpoint must be a string or null";
        else if (!is_uint(json_object_get(v, "last_handshake")) ||
                 !is_uint(json_object_get(v, "rx_bytes")) ||
                 !is_uint(json_object_get(v, "tx_bytes")))
            why = "last_handshake, rx_bytes and tx_bytes must be non-negative integers";
        if (why) {
            snprintf(field, sizeof(field), "%s[%zu]", path, i);
            api_reply_error(c->resp, 422, "invalid", field, "%s: %s", field, why);
            return false;
        }
    }
    return true;
}

/* A node document's interfaces, each with its port and peers. */
static bool valid_interfaces(ctx *c, json_t *ifs)
{
    static const char *const fields[] = {"listen_port", "name", "peers", NULL};
    if (ifs && (!json_is_array(ifs) || json_array_size(ifs) > 64)) {
        api_reply_error(c->resp, 422, "invalid", "interfaces",
                        "interfaces must be an array of at most 64");
        return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(ifs, i, v)
    {
        char field[48];
        snprintf(field, sizeof(field), "interfaces[%zu]", i);
        if (!json_is_object(v) || !keys_within(v, fields) ||
            !json_is_string(json_object_get(v, "name")) ||
            !is_uint(json_object_get(v, "listen_port"))) {
            api_reply_error(c->resp, 422, "invalid", field, "%s must be {listen_port, name, peers}",
                            field);
            return false;
        }
        strncat(field, ".peers", sizeof(field) - strlen(field) - 1);
        if (!valid_peers(c, json_object_get(v, "peers"), field))
            return false;
    }
    return true;
}

/* A report must have the shape docs/api.md gives; the server stores it
 * as sent, so it checks every field a reader will rely on. */
static bool valid_report(ctx *c)
{
    static const char *const fields[] = {"applied_etag", "drift_repairs", "errors", "interface",
                                         "interfaces",   "listen_port",   "peers",  "applied_at",
                                         "frr",          "ovn",           NULL};
    if (!api_only_keys(c, c->body, fields))
        return false;
    json_t *v;
    const char *bad = NULL;
    if ((v = json_object_get(c->body, "applied_etag")) && !json_is_string(v) && !json_is_null(v))
        bad = "applied_etag";
    else if ((v = json_object_get(c->body, "applied_at")) && !json_is_string(v) && !json_is_null(v))
        bad = "applied_at";
    else if ((v = json_object_get(c->body, "interface")) && !json_is_string(v))
        bad = "interface";
    else if ((v = json_object_get(c->body, "listen_port")) && !is_uint(v))
        bad = "listen_port";
    else if ((v = json_object_get(c->body, "drift_repairs")) && !is_uint(v))
        bad = "drift_repairs";
    else if (!valid_outcome(json_object_get(c->body, "frr"), "reloads"))
        bad = "frr";
    else if (!valid_outcome(json_object_get(c->body, "ovn"), "applies"))
        bad = "ovn";
    if (bad) {
        bool outcome = !strcmp(bad, "frr") || !strcmp(bad, "ovn");
        api_reply_error(c->resp, 422, "invalid", bad, "%s %s%s%s", bad,
                        outcome ? "must be null or {" : "has the wrong type",
                        outcome ? (strcmp(bad, "frr") ? "applies" : "reloads") : "",
                        outcome ? ": a non-negative integer, state: applied, failed or "
                                  "disabled}"
                                : "");
        return false;
    }
    json_t *errors = json_object_get(c->body, "errors");
    if (errors && !json_is_array(errors)) {
        api_reply_error(c->resp, 422, "invalid", "errors", "errors must be an array of strings");
        return false;
    }
    size_t i;
    json_array_foreach(errors, i, v)
    {
        if (!json_is_string(v)) {
            api_reply_error(c->resp, 422, "invalid", "errors",
                            "errors must be an array of strings");
            return false;
        }
    }
    return valid_peers(c, json_object_get(c->body, "peers"), "peers") &&
           valid_interfaces(c, json_object_get(c->body, "interfaces"));
}

void h_node_status(ctx *c)
{
    if (!valid_report(c))
        return;
    char *text = json_dumps(c->body, JSON_COMPACT | JSON_SORT_KEYS);
    int r = text ? nn_store_node_observed_set(c->store, c->node.peer_id, text) : -ENOMEM;
    free(text);
    if (r)
        return api_reply_store_error(c->resp, c->store, r);
    if (c->node.host)
        api_reply_json(
            c->resp, 200,
            json_pack("{s:s, s:s}", "workspace", c->node.workspace, "host", c->node.peer));
    else
        api_reply_json(c->resp, 200,
                       json_pack("{s:s, s:s, s:s}", "workspace", c->node.workspace, "network",
                                 c->node.network, "peer", c->node.peer));
}

void h_observed(ctx *c)
{
    json_t *list;
    int r = nn_store_node_observed(c->store, c->net.id, &list);
    api_reply_read(c->resp, c->store, r, list);
}
