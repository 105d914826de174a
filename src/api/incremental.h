/* api incremental: the common write -- one plain peer or device created,
 * changed or deleted -- decided without validating the whole workspace.
 *
 * Full validation parses and allocates every object (O(workspace): about
 * 30 ms at 10,000 peers). A plain member (a spoke or a device: no hub
 * flag, gateway roles, LAN subnets, host, listen port, router id or routing
 * preference) in a static network that nothing names can only break rules
 * of its own (checked by the parser's own member rule) and three rules
 * shared with its network: a unique name across peers and devices, a
 * unique public key, and a free IPv4 address. Those are checked here in
 * one pass over the network (O(members), no parsing), and its address is
 * allocated exactly as nn_alloc_assign would, given that every other
 * member's address is already pinned or recorded.
 *
 * Anything else -- or any doubt -- is declined, and the caller validates
 * the whole workspace, which is also what words a refusal: this path only
 * ever says yes. tests/unit/test_write.c replays random edits through
 * both paths and requires the same answers and the same stored state. */
#ifndef NN_API_INCREMENTAL_H
#define NN_API_INCREMENTAL_H

#include <jansson.h>
#include <stdbool.h>

#include "api/wscache.h"

/* May the write of member (kind "peers" or "devices", name) of network
 * net in st -- its new body, or NULL for a deletion -- be accepted without
 * a full validation? true: it is valid, and *alloc is the member's
 * allocation after the write (a new reference; NULL for a deletion).
 * false: decide it with a full validation. */
bool nn_incremental_member(const nn_wsstate *st, const nn_row *net, const char *kind,
                           const char *name, json_t *body, json_t **alloc);

#endif
