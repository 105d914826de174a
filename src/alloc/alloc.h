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

/* The /48 a workspace named name draws inside the /40 ula40: SHA-256 draws
 * (rejection sampling) past those taken() says are taken, then the first
 * free one. 0, or -ENOSPC when all 256 are taken. nn_alloc_assign uses it
 * within a document; a server, against every workspace of the install. */
int nn_alloc_workspace48(const nn_prefix *ula40, const char *name,
                         bool (*taken)(const nn_prefix *p, void *arg), void *arg, nn_prefix *out);

/* Fills every "allocated" field of doc. Returns 0, or -EINVAL with err
 * naming the JSON path (a full address space, a clash of pinned prefixes). */
int nn_alloc_assign(nn_doc *doc, nn_error *err);

/* --- routing ids (src/alloc/routing.c) ------------------------------------ */

#define NN_AS_PRIVATE_LO 4200000000u /* RFC 6996 4-byte private range */
#define NN_AS_PRIVATE_HI 4294967294u
#define NN_TABLE_LO 100u
#define NN_TABLE_HI 65535u

/* A workspace's private AS number from its name: SHA-256 draws, rejecting
 * values that would bias the reduction into the range. */
uint32_t nn_alloc_as_number(const char *workspace);

/* The dotted-quad router id a /128 derives: SHA-256 of its 16 bytes, the
 * counter-th draw (bump it on a collision); never 0.0.0.0 or all ones. */
void nn_alloc_router_id(const nn_prefix *addr6, uint32_t counter, uint8_t out[4]);

/* The lowest kernel table id in NN_TABLE_LO..NN_TABLE_HI that is not in
 * used[] and not reserved (253-255). Returns 0 or -ENOSPC. */
int nn_alloc_table_id(const uint32_t *used, size_t nused, uint32_t *out);

/* The lowest short id in 1..max not in used[]. Returns 0 or -ENOSPC. */
int nn_alloc_short_id(const uint32_t *used, size_t nused, uint32_t max, uint32_t *out);

/* Called by nn_alloc_assign once addresses exist: AS numbers, router ids,
 * VRF table ids per (host, iBGP network), bridge ids and names, and every
 * member's routed set (LANs, advertisements, VIPs, federated prefixes). */
int nn_alloc_derive(nn_doc *doc, nn_error *err);

#endif
