/* nn_alloc: deterministic addresses and ids for an intent model.
 *
 *   install /40 (pinned, or derived from a fixed seed)
 *     -> workspace /48  (hash of the workspace name, rejection sampling)
 *       -> network /64  (hash of workspace/network, rejection sampling)
 *         -> member /128 (hash of workspace/network/member)
 *   IPv4: a /32 per member inside ipv4_cidr, pinned or hash-probed.
 *
 * Pure: same model in, same addresses out, whatever order rows came in.
 * See docs/addressing.md for why a server persists what these derive. */
#ifndef NN_ALLOC_ALLOC_H
#define NN_ALLOC_ALLOC_H

#include "model/error.h"
#include "model/model.h"

/* The /40 used when the document pins none: fd + 32 bits of
 * SHA-256("nanami/default-install"). Reproducible offline; a server install
 * draws its own random /40 once and persists it. */
void nn_alloc_default_ula(nn_prefix *out);

/* Fills every "allocated" field of doc. Returns 0, or -EINVAL with err
 * naming the JSON path (a full address space, a clash of pinned prefixes). */
int nn_alloc_assign(nn_doc *doc, nn_error *err);

#endif
