#include "api/rbac.h"

/* Rows: roles; columns: permissions. "member" is the role for people who
 * bring their own devices: they manage those and see nothing else of the
 * workspace's intent. */
#define ALLOW(...)                                                                                 \
    {                                                                                              \
        __VA_ARGS__                                                                                \
    }
static const bool table[NN_ROLE_OWNER + 1][NN_PERM_COUNT] = {
    [NN_ROLE_VIEWER] = ALLOW([NN_PERM_READ] = true, [NN_PERM_SEE] = true),
    [NN_ROLE_MEMBER] = ALLOW([NN_PERM_OWN_DEVICES] = true, [NN_PERM_SEE] = true),
    [NN_ROLE_OPERATOR] = ALLOW([NN_PERM_READ] = true, [NN_PERM_WRITE] = true,
                               [NN_PERM_OWN_DEVICES] = true, [NN_PERM_SEE] = true),
    [NN_ROLE_ADMIN] =
        ALLOW([NN_PERM_READ] = true, [NN_PERM_WRITE] = true, [NN_PERM_OWN_DEVICES] = true,
              [NN_PERM_MEMBERS] = true, [NN_PERM_AUDIT] = true, [NN_PERM_SEE] = true),
    [NN_ROLE_OWNER] =
        ALLOW([NN_PERM_READ] = true, [NN_PERM_WRITE] = true, [NN_PERM_OWN_DEVICES] = true,
              [NN_PERM_MEMBERS] = true, [NN_PERM_AUDIT] = true, [NN_PERM_DELETE_WORKSPACE] = true,
              [NN_PERM_SEE] = true),
};

bool nn_rbac_allows(nn_role role, nn_perm perm)
{
    return role >= NN_ROLE_NONE && role <= NN_ROLE_OWNER && perm > NN_PERM_NONE &&
           perm < NN_PERM_COUNT && table[role][perm];
}

const char *nn_perm_name(nn_perm perm)
{
    static const char *const names[NN_PERM_COUNT] = {[NN_PERM_NONE] = "none",
                                                     [NN_PERM_READ] = "read",
                                                     [NN_PERM_WRITE] = "write",
                                                     [NN_PERM_OWN_DEVICES] = "own_devices",
                                                     [NN_PERM_MEMBERS] = "members",
                                                     [NN_PERM_AUDIT] = "audit",
                                                     [NN_PERM_DELETE_WORKSPACE] =
                                                         "delete_workspace",
                                                     [NN_PERM_SEE] = "see"};
    return perm < NN_PERM_COUNT ? names[perm] : "?";
}
