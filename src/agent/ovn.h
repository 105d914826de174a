/* nn_ovn: an OVN deployment's northbound plan, made what the database holds.
 *
 * The envelope of a deployment's plan host carries {nb_endpoint, nb_plan}
 * (docs/envelope.md). Every row Nanami writes -- logical switches, their
 * ports, their ACLs -- is tagged external_ids:nanami-deployment=<id>, so
 * the daemon can tell its rows from an operator's: it reads the tagged
 * rows (one ovn-nbctl call), compares them with the plan, and only when
 * they differ runs one ovn-nbctl transaction that removes the tagged rows
 * the plan no longer has and writes the plan (--may-exist, so rows that
 * already match stay as they are), then reads again to check. Untagged
 * rows are never removed. When the plan leaves the envelope nothing is
 * removed: an empty plan (no switches) is how a deployment is emptied. */
#ifndef NN_AGENT_OVN_H
#define NN_AGENT_OVN_H
#include <stddef.h>

#include "util/buf.h"

struct json_t;

#define NN_OVN_NBCTL_DEFAULT "ovn-nbctl"
#define NN_OVN_TAG "nanami-deployment"

typedef struct nn_ovn_lsp {
    const char *sw, *name, *type;
    const char **addresses; /* owned array; strings borrowed */
    size_t naddresses;
} nn_ovn_lsp;

typedef struct nn_ovn_lacl {
    const char *sw, *direction, *match, *action;
    int priority;
} nn_ovn_lacl;

/* The plan, validated. Strings are borrowed from the JSON it came from,
 * which the plan holds a reference to. */
typedef struct nn_ovn_plan {
    struct json_t *json;
    const char *endpoint;
    const char *deployment_id; /* 32 hex */
    const char *version;       /* 64 hex */
    const char **switches;     /* owned array */
    size_t nswitches;
    nn_ovn_lsp *ports;
    size_t nports;
    nn_ovn_lacl *acls;
    size_t nacls;
} nn_ovn_plan;

/* Reads the envelope's "ovn" object. 0, or -EINVAL with why naming the
 * path ("ovn.nb_plan.plan[3].args[1]: ...") and the problem. */
int nn_ovn_plan_parse(struct json_t *ovn, nn_ovn_plan *out, char *why, size_t why_len);
void nn_ovn_plan_free(nn_ovn_plan *p);

/* The tagged rows as sorted lines, one per switch, port and ACL, in the
 * shape nn_ovn_plan_lines gives the plan: what the two are compared by.
 * parse reads ovn-nbctl --format=json output of the three finds (switches,
 * ports, ACLs); 0 or -EINVAL. The output need not be NUL-terminated. */
int nn_ovn_state_lines(const char *json, size_t len, nn_buf *lines, char *why, size_t why_len);
void nn_ovn_plan_lines(const nn_ovn_plan *p, nn_buf *lines);

typedef enum nn_ovn_outcome {
    NN_OVN_OFF,       /* no plan in the envelope */
    NN_OVN_UNCHANGED, /* the database already holds the plan */
    NN_OVN_APPLIED,   /* one transaction made it so */
    NN_OVN_FAILED,    /* why says what; the rest of the envelope still applies */
} nn_ovn_outcome;

/* Makes the northbound database hold plan (NULL: nothing to do). nbctl is
 * the ovn-nbctl to run. Costs one ovn-nbctl call when nothing changed,
 * three when something did. */
nn_ovn_outcome nn_ovn_apply(const char *nbctl, const nn_ovn_plan *plan, char *why, size_t why_len);

const char *nn_ovn_outcome_name(nn_ovn_outcome o);

#endif
