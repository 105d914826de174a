/* nn_hosts_check: what makes a host one node, checked once the workspace's
 * networks and hosts are parsed and resolved.
 *
 * - One key: a host's peers carry the host's key, or none (then they take
 *   the host's "public_key"); two that disagree are an error naming both.
 *   One key is one host, and no device uses a host's key.
 * - One peer per network: a host is in a network once.
 * - The shared interface (a host's static networks, unless it is in
 *   isolation mode): one listen port, one MTU, one endpoint; no two of its
 *   networks overlap (IPv4 ranges, LANs, advertisements, VIPs, federated
 *   prefixes) unless the same host serves both, since one interface has
 *   one routing table and WireGuard gives a prefix to one peer; and a
 *   host it sees in two of them is reachable at one endpoint.
 * - Interfaces of one host listen on different ports.
 *
 * Errors name both parties: "PATH: MESSAGE" through err. Fills every
 * peer's key and the hosts' has_key, public_key, shared_port and
 * shared_mtu. O(peers log peers). */
#ifndef NN_MODEL_HOSTS_H
#define NN_MODEL_HOSTS_H

#include "model/error.h"
#include "model/model.h"

int nn_hosts_check(nn_workspace *ws, nn_error *err);

#endif
