/* nn_prefixes: each workspace's /48, unique across the install.
 *
 * The allocators draw a workspace's /48 from its name (alloc.h), but a
 * document holds one workspace, so every draw saw none of the others:
 * two workspaces of one install could share a /48 (80 workspaces had 64
 * distinct ones). The server now draws against every /48 the install has
 * given out, records the result in the database (unique: a clash is
 * refused by a constraint, whoever writes) and in the workspace's alloc
 * as its ipv6_prefix pin, so it never moves. A /40 holds 256 /48s: the
 * 257th workspace is refused with a clear error (-ENOSPC) rather than
 * given a shared prefix. */
#ifndef NN_API_PREFIXES_H
#define NN_API_PREFIXES_H

#include <jansson.h>
#include <stdio.h>

#include "store/store.h"
#include "util/cidr.h"

/* The /48 of workspace ws_id (named name) given its own fields (body) and
 * allocations (alloc): the body's ipv6_prefix pin, else the one recorded,
 * else a fresh draw against the install's. With claim (inside the write's
 * transaction) it is recorded as ws_id's. 0 with *out set (canonical
 * text); -EEXIST when another workspace holds a pinned one; -ENOSPC when
 * the install's /40 is full. */
int nn_prefixes_workspace(nn_store *s, int64_t ws_id, const char *name, const json_t *body,
                          const json_t *alloc, bool claim, char out[NN_PREFIX_STRLEN]);
/* Once at start: every workspace made before prefixes were recorded gets
 * its current /48 recorded (its addresses do not move). Two that already
 * share one keep it, and log says which to re-pin. */
int nn_prefixes_backfill(nn_store *s, FILE *log);

#endif
