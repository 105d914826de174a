#include "api/rbac.h"

/* Rows: roles from NN_ROLE_NONE up; columns: nn_perm. "member" is the
 * role for people who bring their own devices: they manage those and see
 * nothing else of the workspace's intent. */
static const bool table[NN_ROLE_OWNER + 1][NN_PERM_COUNT] = {
    /*                 READ   WRITE  OWNDEV MEMBERS AUDIT  DELETE SEE */
    [NN_ROLE_NONE] = {false, false, false, false, false, false, false},
    [NN_ROLE_VIEWER] = {true, false, false, false, false, false, true},
    [NN_ROLE_MEMBER] = {false, false, true, false, false, false, true},
    [NN_ROLE_OPERATOR] = {true, true, true, false, false, false, true},
    [NN_ROLE_ADMIN] = {true, true, true, true, true, false, true},
    [NN_ROLE_OWNER] = {true, true, true, true, true, true, true},
};

bool nn_rbac_allows(nn_role role, nn_perm perm)
{
    return role >= NN_ROLE_NONE && role <= NN_ROLE_OWNER && perm < NN_PERM_COUNT &&
           table[role][perm];
}

const char *nn_perm_name(nn_perm perm)
{
    static const char *const names[NN_PERM_COUNT] = {
        "read", "write", "own_devices", "members", "audit", "delete_workspace", "see"};
    return perm < NN_PERM_COUNT ? names[perm] : "?";
}
