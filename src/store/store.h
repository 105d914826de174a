/* nn_store: persistence for nanamid. SQLite today (WAL, foreign keys,
 * synchronous=FULL so an acknowledged write survives a crash or kill -9);
 * the interface speaks rows and JSON, never SQL, so a PostgreSQL backend
 * can sit behind it without touching the handlers.
 *
 * Intent objects are rows of one table: (workspace, network or none,
 * kind, name) -> JSON body, plus an "alloc" object holding what the
 * allocators chose the first time (IPv4 addresses, router ids, table ids,
 * the AS number), so allocations survive restarts and are exported as pins.
 * Networks are rows of kind "networks"; their members point at them.
 *
 * One nn_store is one connection: use it from one thread at a time (nanamid
 * opens one per worker thread). Functions return 0 or a negative errno:
 * -ENOENT (no such row), -EEXIST (unique name taken), -EBUSY (locked past
 * the busy timeout), -EIO (anything else; nn_store_errmsg says what). */
#ifndef NN_STORE_STORE_H
#define NN_STORE_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct nn_store nn_store;

typedef enum nn_role {
    NN_ROLE_NONE = 0,
    NN_ROLE_VIEWER,
    NN_ROLE_MEMBER,
    NN_ROLE_OPERATOR,
    NN_ROLE_ADMIN,
    NN_ROLE_OWNER,
} nn_role;

typedef struct nn_user {
    int64_t id;
    char name[64];
    bool platform_admin;
    /* when found by a token: the token's id and when it was last used
     * (unix seconds, 0 never) */
    int64_t token_id;
    int64_t token_used;
} nn_user;

/* A stored intent object. body and alloc are owned (json_decref). */
typedef struct nn_row {
    int64_t id;
    int64_t network_id; /* 0: workspace scope */
    char kind[32];
    char name[64];
    json_t *body;
    json_t *alloc;
    int64_t revision; /* networks: the revision; workspaces: the version */
    int64_t epoch;    /* workspaces: random per incarnation (ids are reused) */
} nn_row;

/* Opens (creating) the database at path and applies pending migrations.
 * ":memory:" works for tests and the fuzzer. */
int nn_store_open(const char *path, nn_store **out);
void nn_store_close(nn_store *s);
/* Borrowed; the last error's text. */
const char *nn_store_errmsg(const nn_store *s);
/* The schema version after migrations. */
int nn_store_schema_version(nn_store *s);

/* BEGIN IMMEDIATE (takes the write lock up front, so a transaction never
 * fails half-way on a lock upgrade), COMMIT, ROLLBACK. */
int nn_store_begin(nn_store *s);
/* A read transaction: the reads between see one snapshot of the database
 * (WAL), and take no write lock. */
int nn_store_read_begin(nn_store *s);
void nn_store_read_end(nn_store *s);
int nn_store_commit(nn_store *s);
void nn_store_rollback(nn_store *s);

/* Install-wide settings (the ULA prefix). *out is malloc'd. */
int nn_store_meta_get(nn_store *s, const char *key, char **out);
int nn_store_meta_set(nn_store *s, const char *key, const char *value);

int nn_store_user_add(nn_store *s, const char *name, const char *password_hash, bool platform_admin,
                      int64_t *id);
int nn_store_user_find(nn_store *s, const char *name, nn_user *out);
/* [{name, platform_admin}], by name. */
int nn_store_user_list(nn_store *s, json_t **out);
/* API tokens are stored as SHA-256 of the secret: a database leak does not
 * leak usable tokens (they are 256-bit random, so no slow hash is needed). */
int nn_store_token_add(nn_store *s, int64_t user_id, const char *name, const uint8_t hash[32]);
int nn_store_token_user(nn_store *s, const uint8_t hash[32], nn_user *out);
/* Records that tokens were used at unix time now (a batch, in its own
 * transaction when called outside one). */
int nn_store_tokens_used(nn_store *s, const int64_t *ids, size_t n, int64_t now);

int nn_store_workspace_add(nn_store *s, const char *name, json_t *body, int64_t *id);
/* body is owned by the caller afterwards when out->body is set. */
int nn_store_workspace_find(nn_store *s, const char *name, nn_row *out);
int nn_store_workspace_update(nn_store *s, int64_t id, json_t *body, json_t *alloc);
/* Each workspace's /48, unique across the install. claim records prefix
 * (canonical text) as ws_id's, replacing its previous one: -EEXIST when
 * another workspace has it. list: [{prefix, workspace_id}]. */
int nn_store_prefix_claim(nn_store *s, int64_t ws_id, const char *prefix);
int nn_store_prefix_list(nn_store *s, json_t **out);
/* A workspace's version: bumped by every write to its rows (and the
 * workspace's own fields). claim bumps it from version, inside the write's
 * transaction: -ESTALE when somebody else wrote the workspace since version
 * was read (the write is then retried against the newer state). */
int nn_store_workspace_version(nn_store *s, int64_t id, int64_t *version, int64_t *epoch);
int nn_store_workspace_claim(nn_store *s, int64_t id, int64_t version);
int nn_store_workspace_delete(nn_store *s, int64_t id);
/* Workspace names the user may see (all for user_id 0), by name. */
int nn_store_workspace_list(nn_store *s, int64_t user_id, json_t **out);

int nn_store_role(nn_store *s, int64_t ws_id, int64_t user_id, nn_role *out);
int nn_store_member_set(nn_store *s, int64_t ws_id, int64_t user_id, nn_role role);
int nn_store_member_delete(nn_store *s, int64_t ws_id, int64_t user_id);
/* [{user, role}], by user name. */
int nn_store_member_list(nn_store *s, int64_t ws_id, json_t **out);
const char *nn_role_name(nn_role r);
nn_role nn_role_parse(const char *name);

/* Rows of one kind in a workspace (network_id 0) or network, by name. */
int nn_store_row_get(nn_store *s, int64_t ws_id, int64_t network_id, const char *kind,
                     const char *name, nn_row *out);
int nn_store_row_list(nn_store *s, int64_t ws_id, int64_t network_id, const char *kind,
                      nn_row **out, size_t *n);
/* Every row of the workspace, ordered by (network, kind, name). */
int nn_store_row_all(nn_store *s, int64_t ws_id, nn_row **out, size_t *n);
int nn_store_row_set_alloc(nn_store *s, int64_t id, json_t *alloc);
/* A new row, body and alloc already serialised (alloc NULL: none yet);
 * its id in *id. Serialising before the write lock keeps it short. */
int nn_store_row_insert_text(nn_store *s, int64_t ws_id, int64_t network_id, const char *kind,
                             const char *name, const char *body, const char *alloc, int64_t *id);
/* Replaces a row's body and/or alloc (NULL: keep); -ENOENT for no such row
 * in workspace ws_id. */
int nn_store_row_update_text(nn_store *s, int64_t ws_id, int64_t id, const char *body,
                             const char *alloc);
/* Deletes row id of workspace ws_id (a network takes its members with it);
 * -ENOENT when there is none. */
int nn_store_row_remove(nn_store *s, int64_t ws_id, int64_t id);
void nn_row_clear(nn_row *r);
void nn_rows_free(nn_row *rows, size_t n);

/* Per-network revision: bumped by every change that can alter a network's
 * envelopes (network 0: every network of the workspace, and the
 * workspace's revision floor, nn_store_max_revision). It becomes
 * MAX(revision + 1, now_ms) -- the wall clock in ms as nn_store_now_ms
 * gives it, which the caller passes so that it can compute the same. */
int nn_store_bump_revision_at(nn_store *s, int64_t ws_id, int64_t network_id, int64_t now_ms);
/* The wall clock in ms, as revisions use it. */
int64_t nn_store_now_ms(void);

int nn_store_audit(nn_store *s, int64_t user_id, int64_t ws_id, const char *action,
                   const char *target, const char *detail);
/* The newest entries first: [{at, user, action, target, detail}]. */
int nn_store_audit_list(nn_store *s, int64_t ws_id, int limit, json_t **out);

/* Reported node state, per workspace host: the gateway scheduler skips
 * hosts that are down. [{host, state, reported_at}], by host. */
int nn_store_node_state_set(nn_store *s, int64_t ws_id, const char *host, bool up);
int nn_store_node_states(nn_store *s, int64_t ws_id, json_t **out);

/* The platform's region catalog: [{name, ...body}], by name. Deleting a
 * region a workspace may use fails with -EEXIST. */
int nn_store_region_put(nn_store *s, const char *name, json_t *body, bool *created);
int nn_store_region_list(nn_store *s, json_t **out);
int nn_store_region_delete(nn_store *s, const char *name);
/* The regions a workspace may use: ["name", ...]. Setting replaces the
 * list; an unknown name gives -ENOENT with *unknown pointing into names. */
int nn_store_workspace_regions(nn_store *s, int64_t ws_id, json_t **out);
int nn_store_workspace_regions_set(nn_store *s, int64_t ws_id, const json_t *names,
                                   const char **unknown);
/* Every grant: [{region, workspace}], by region then workspace. */
int nn_store_region_grants(nn_store *s, json_t **out);

/* Enrollment tokens (one-time, expiring, stored as SHA-256), each for one
 * peer row. add answers {id, expires_at} (now + ttl_seconds, UTC);
 * enrollments lists {id, created_by, created_at, expires_at, used_at,
 * state: active|used|expired} oldest first; revoke deletes one (-ENOENT
 * when peer_id has no such token). */
int nn_store_enrollment_add(nn_store *s, int64_t peer_id, int64_t user_id, const uint8_t hash[32],
                            int ttl_seconds, json_t **out);
int nn_store_enrollments(nn_store *s, int64_t peer_id, json_t **out);
int nn_store_enrollment_revoke(nn_store *s, int64_t peer_id, int64_t id);

/* Runs PRAGMA integrity_check; 0 when "ok". */
/* What a token or a certificate names, with where it lives: a host (the
 * node: host true, network_id 0, network "", peer its name, peer_id its
 * hosts row) or, as nodes enrolled before hosts were nodes, one peer. */
typedef struct nn_peer_ref {
    int64_t peer_id, workspace_id, network_id;
    bool host;
    int64_t actor_id; /* the token's creator (enrollment), else 0 */
    int64_t token_id; /* enrollment only */
    char workspace[64], network[64], peer[64];
} nn_peer_ref;

/* The peer the enrollment token with this SHA-256 is for. -ENOENT for no
 * such token, -EALREADY when used, -ETIMEDOUT when expired (out still
 * names the peer then, for the audit). */
int nn_store_enrollment_find(nn_store *s, const uint8_t hash[32], nn_peer_ref *out);
/* Marks token_id used: -EALREADY when it already is (a replay that raced
 * the first use). Call inside the enrollment's transaction. */
int nn_store_enrollment_use(nn_store *s, int64_t token_id);

/* Records a node certificate (SHA-256 of its DER) for peer_id, valid for
 * days, and revokes the peer's older certificates. */
int nn_store_node_cert_add(nn_store *s, int64_t peer_id, const uint8_t fp[32], int days);
/* The peer of a live, unexpired certificate; -ENOENT otherwise. */
int nn_store_node_cert_peer(nn_store *s, const uint8_t fp[32], nn_peer_ref *out);

/* A node's last observed-state report (JSON text), and every peer of a
 * network with its report (null when none) and enrollment. */
int nn_store_node_observed_set(nn_store *s, int64_t peer_id, const char *body);
int nn_store_node_observed(nn_store *s, int64_t network_id, json_t **out);

/* Revokes the certificates of host's peers in ws, and deletes their
 * unspent enrollment tokens: the per-network identities a host had before
 * it enrolled as one node. */
int nn_store_host_peer_certs_revoke(nn_store *s, int64_t ws_id, const char *host);
/* The highest revision of ws's networks, or its floor (raised by every
 * workspace-wide bump, so deleting networks never lowers it): node
 * documents, which span networks, are signed at it. */
int nn_store_max_revision(nn_store *s, int64_t ws_id, int64_t *out);

int nn_store_integrity_check(nn_store *s);

#endif
