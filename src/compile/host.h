/* Per-host artifacts: the host's frr.conf, its bridges (with IPFIX export),
 * its ovn-controller connection, and the northbound plan of the OVN
 * deployment it runs. Pure data; nothing here is executed. */
#ifndef NN_COMPILE_HOST_H
#define NN_COMPILE_HOST_H

#include "model/model.h"
#include "util/buf.h"
#include "util/json_writer.h"

/* Appends {"frr_text","host_bridges","name","ovn_control","ovn_nb_plan"}
 * for host h (canonical JSON). */
void nn_host_compile(const nn_workspace *ws, const nn_host *h, nn_buf *out);

/* The pieces of it a node document (compile/node.h) shares: the value of
 * "host_bridges", and the keys "ovn_control" and "ovn_nb_plan" with their
 * values. */
void nn_host_write_bridges(const nn_host *h, nn_jw *w);
void nn_host_write_ovn(const nn_workspace *ws, const nn_host *h, nn_jw *w);

/* Appends the deployment's northbound plan:
 * {"compiled_at","deployment_id","plan":[{"args","cmd","options"}],"version"}.
 * Commands come in dependency order -- switches, then their ports (add,
 * addresses, type), then ACLs -- each group by name. compiled_at is the
 * intent's updated_at (null when absent), never the clock, and version is
 * the SHA-256 of the plan, so unchanged intent gives the same bytes. */
void nn_ovn_plan(const nn_workspace *ws, const nn_ovn_deployment *d, nn_jw *w);

#endif
