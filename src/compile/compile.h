/* nn_compile: the orchestrator. One plan per network, then envelopes.
 *
 *   nn_net_plan *plan;
 *   nn_compile_plan_new(net, &plan);         O(members + rules x members)
 *   nn_compile_for_peer(plan, peer, &buf);   O(size of the envelope)
 *   nn_compile_plan_free(plan);
 *
 * Pure: no I/O, no clock, no environment. Same model, same bytes. A plan
 * keeps scratch space: use one plan from one thread at a time. */
#ifndef NN_COMPILE_COMPILE_H
#define NN_COMPILE_COMPILE_H

#include "model/model.h"
#include <stdint.h>

#include "util/buf.h"

typedef struct nn_net_plan nn_net_plan;

/* net must be allocated (nn_alloc_assign) and outlive the plan.
 * Returns 0 or -ENOMEM; *out is NULL on failure. */
int nn_compile_plan_new(const nn_network *net, nn_net_plan **out);
void nn_compile_plan_free(nn_net_plan *plan);

/* Signs a membership credential (mc_envelope) into every envelope with sk,
 * libsodium's 64-byte Ed25519 secret key, which must outlive the plan.
 * Every workspace compiled must carry credential_validity. */
void nn_compile_plan_set_signing_key(nn_net_plan *plan, const uint8_t *sk);

/* Appends peer's desired-state envelope (canonical JSON) to out. peer must
 * be one of the plan network's peers (not a device). */
void nn_compile_for_peer(nn_net_plan *plan, const nn_member *peer, nn_buf *out);

/* A digest of peer's envelope without rendering it: the same walk as
 * nn_compile_for_peer, with the large fragments every envelope shares
 * written as their hashes and the credential as its key and statement
 * (Ed25519 is deterministic). Equal digests from two plans mean equal
 * envelopes; the API uses it to keep unchanged envelopes across
 * revisions. Costs O(what is particular to peer), not O(its envelope). */
void nn_compile_peer_digest(nn_net_plan *plan, const nn_member *peer, uint8_t out[32]);

/* Appends {"peers":{"<name>":envelope,...}} for every peer of the network.
 * Contains no private key (Nanami never holds one). */
void nn_compile_for_network(nn_net_plan *plan, nn_buf *out);

/* Appends a user device's wg-quick configuration (Limited Mode) to out.
 * The PrivateKey line is a placeholder for the device owner's own key. */
void nn_compile_device_wgquick(nn_net_plan *plan, const nn_member *device, nn_buf *out);

#endif
