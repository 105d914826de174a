/* nn_rbac: the one permission table. Every workspace-scoped route of the
 * route table (router.c) names the permission it needs, and the router
 * asks nn_rbac_allows() before the handler runs. Platform administrators
 * act as owners everywhere. */
#ifndef NN_API_RBAC_H
#define NN_API_RBAC_H

#include <stdbool.h>

#include "store/store.h"

typedef enum nn_perm {
    NN_PERM_NONE = 0,         /* not workspace-scoped */
    NN_PERM_READ,             /* read intent, preview compiles */
    NN_PERM_WRITE,            /* change intent (any object) */
    NN_PERM_OWN_DEVICES,      /* read and change devices whose owner is the caller */
    NN_PERM_MEMBERS,          /* list and change memberships (owners: only an owner) */
    NN_PERM_AUDIT,            /* read the audit log */
    NN_PERM_DELETE_WORKSPACE, /* delete the workspace */
    NN_PERM_SEE,              /* know the workspace exists (every role) */
    NN_PERM_COUNT
} nn_perm;

bool nn_rbac_allows(nn_role role, nn_perm perm);
const char *nn_perm_name(nn_perm perm);

#endif
