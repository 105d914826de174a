#include "store/store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Prepared statements are kept per connection, keyed by the address of
 * their SQL literal: a cached-envelope GET would otherwise spend most of
 * its time in SQLite's parser. A statement still in use (a nested reader)
 * gets a one-off copy. */
#define STMT_CACHE 48

typedef struct stmt_slot {
    const char *sql;
    sqlite3_stmt *st;
    bool busy;
} stmt_slot;

struct nn_store {
    sqlite3 *db;
    stmt_slot stmts[STMT_CACHE];
    char err[256];
};

/* Versioned migrations: migration i brings the schema from version i to
 * i + 1 and runs in the same transaction as the version bump. Append only;
 * never edit a migration that has shipped. */
static const char *const migrations[] = {
    /* 1: users, tokens, workspaces, memberships, intent rows, audit log */
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE users ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, password_hash TEXT,"
    "  platform_admin INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL);"
    "CREATE TABLE api_tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL, token_hash BLOB NOT NULL UNIQUE, created_at TEXT NOT NULL);"
    "CREATE TABLE workspaces ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  body TEXT NOT NULL, alloc TEXT NOT NULL DEFAULT '{}');"
    "CREATE TABLE memberships ("
    "  workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,"
    "  user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,"
    "  role TEXT NOT NULL CHECK (role IN ('owner','admin','operator','member','viewer')),"
    "  PRIMARY KEY (workspace_id, user_id));"
    "CREATE TABLE objects ("
    "  id INTEGER PRIMARY KEY,"
    "  workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,"
    "  network_id INTEGER REFERENCES objects(id) ON DELETE CASCADE,"
    "  kind TEXT NOT NULL, name TEXT NOT NULL,"
    "  body TEXT NOT NULL, alloc TEXT NOT NULL DEFAULT '{}',"
    "  revision INTEGER NOT NULL DEFAULT 1);"
    "CREATE UNIQUE INDEX objects_in_network ON objects (workspace_id, network_id, kind, name)"
    "  WHERE network_id IS NOT NULL;"
    "CREATE UNIQUE INDEX objects_in_workspace ON objects (workspace_id, kind, name)"
    "  WHERE network_id IS NULL;"
    "CREATE TABLE audit_log ("
    "  id INTEGER PRIMARY KEY, at TEXT NOT NULL,"
    "  user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,"
    "  workspace_id INTEGER REFERENCES workspaces(id) ON DELETE CASCADE,"
    "  action TEXT NOT NULL, target TEXT NOT NULL, detail TEXT);"
    "CREATE INDEX audit_by_workspace ON audit_log (workspace_id, id);",
    /* 2: reported node state (the gateway scheduler skips down hosts), the
     * platform's region catalog and the regions each workspace may use */
    "CREATE TABLE node_status ("
    "  workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,"
    "  host TEXT NOT NULL, state TEXT NOT NULL CHECK (state IN ('up','down')),"
    "  reported_at TEXT NOT NULL, PRIMARY KEY (workspace_id, host));"
    "CREATE TABLE regions ("
    "  id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, body TEXT NOT NULL);"
    "CREATE TABLE workspace_regions ("
    "  workspace_id INTEGER NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,"
    "  region_id INTEGER NOT NULL REFERENCES regions(id) ON DELETE RESTRICT,"
    "  PRIMARY KEY (workspace_id, region_id));",
    /* 3: one-time enrollment tokens, each for one peer (stored hashed);
     * deleting the peer deletes its tokens */
    "CREATE TABLE enrollment_tokens ("
    "  id INTEGER PRIMARY KEY,"
    "  peer_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,"
    "  token_hash BLOB NOT NULL UNIQUE,"
    "  created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,"
    "  created_at TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT);"
    "CREATE INDEX enrollment_by_peer ON enrollment_tokens (peer_id, id);",
    /* 4: node certificates (by SHA-256 of the DER; one live certificate
     * per peer, re-enrolling revokes the older) and what each node last
     * reported it sees */
    "CREATE TABLE node_certs ("
    "  fingerprint BLOB PRIMARY KEY,"
    "  peer_id INTEGER NOT NULL REFERENCES objects(id) ON DELETE CASCADE,"
    "  issued_at TEXT NOT NULL, expires_at TEXT NOT NULL, revoked_at TEXT);"
    "CREATE INDEX node_certs_by_peer ON node_certs (peer_id);"
    "CREATE TABLE node_observed ("
    "  peer_id INTEGER PRIMARY KEY REFERENCES objects(id) ON DELETE CASCADE,"
    "  reported_at TEXT NOT NULL, body TEXT NOT NULL);",
    /* 5: a network's members by (network, kind, name), for lookups that
     * know the network, for reading a workspace network by network, and
     * for the foreign-key check when a row is deleted (the partial unique
     * index leads with the workspace and cannot serve them). Every index
     * costs each insert: a 20,000-row write holds the write lock while it
     * inserts, so there is no second one by workspace. */
    "CREATE INDEX objects_by_network ON objects (network_id, kind, name);",
    /* 6: a workspace's version, bumped by every write to its rows: a write
     * validated outside the lock commits only if nobody wrote the
     * workspace since it read it (optimistic concurrency), and cached
     * snapshots are exact by version */
    "ALTER TABLE workspaces ADD COLUMN version INTEGER NOT NULL DEFAULT 0;",
    /* 7: when a token was last used (unix seconds), recorded at most once
     * a minute and never on the request's own path */
    "ALTER TABLE api_tokens ADD COLUMN last_used INTEGER;",
    /* 8: each workspace's /48, unique across the install: a workspace's
     * prefix was drawn seeing only itself, so 80 workspaces shared 64
     * /48s; now the database refuses a clash (constraints, not luck) */
    "CREATE TABLE workspace_prefixes ("
    "  prefix TEXT PRIMARY KEY,"
    "  workspace_id INTEGER NOT NULL UNIQUE REFERENCES workspaces(id) ON DELETE CASCADE);",
    /* 9: a random number per incarnation of a workspace: ids are reused
     * after a delete and versions start again at 0, so (id, version) alone
     * could name a deleted workspace's cached rows */
    "ALTER TABLE workspaces ADD COLUMN epoch INTEGER NOT NULL DEFAULT 0;",
    /* 10: a floor under the revisions node documents are signed at,
     * raised by every workspace-wide bump: a deleted network's revision
     * leaves with it, and a host's revisions must still only grow */
    "ALTER TABLE workspaces ADD COLUMN revision_floor INTEGER NOT NULL DEFAULT 0;",
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))

static int fail(nn_store *s, int rc)
{
    snprintf(s->err, sizeof(s->err), "%s", sqlite3_errmsg(s->db));
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return -EBUSY;
    case SQLITE_CONSTRAINT:
        return -EEXIST;
    case SQLITE_NOMEM:
        return -ENOMEM;
    default:
        return -EIO;
    }
}

static int exec(nn_store *s, const char *sql)
{
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? 0 : fail(s, rc);
}

/* sql must be a string literal (its address is the cache key). Pair
 * with finish(). */
static int prepare(nn_store *s, const char *sql, sqlite3_stmt **st)
{
    stmt_slot *free_slot = NULL;
    for (size_t i = 0; i < STMT_CACHE; i++) {
        stmt_slot *e = &s->stmts[i];
        if (e->sql == sql && !e->busy) {
            e->busy = true;
            *st = e->st;
            return 0;
        }
        if (!e->sql && !free_slot)
            free_slot = e;
    }
    int rc =
        sqlite3_prepare_v3(s->db, sql, -1, free_slot ? SQLITE_PREPARE_PERSISTENT : 0, st, NULL);
    if (rc != SQLITE_OK)
        return fail(s, rc);
    if (free_slot)
        *free_slot = (stmt_slot){.sql = sql, .st = *st, .busy = true};
    return 0;
}

/* Ends a statement from prepare(): a cached one is reset for reuse (which
 * also ends its implicit read transaction), a one-off one finalized. */
static void finish(nn_store *s, sqlite3_stmt *st)
{
    for (size_t i = 0; i < STMT_CACHE; i++)
        if (s->stmts[i].st == st) {
            sqlite3_reset(st);
            sqlite3_clear_bindings(st);
            s->stmts[i].busy = false;
            return;
        }
    sqlite3_finalize(st);
}

/* Steps a statement that returns no rows and finishes it. */
static int step_done(nn_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_DONE ? 0 : fail(s, rc);
    finish(s, st);
    return r;
}

/* step_done for a statement that must change a row: -ENOENT when none. */
static int step_changed(nn_store *s, sqlite3_stmt *st)
{
    int r = step_done(s, st);
    return r == 0 && sqlite3_changes(s->db) == 0 ? -ENOENT : r;
}

/* Runs sql (a literal: statements are cached by its address) with one id
 * parameter. */
static int exec_by_id(nn_store *s, const char *sql, int64_t id)
{
    sqlite3_stmt *st;
    int r = prepare(s, sql, &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, id);
    return step_done(s, st);
}

/* Runs sql (a literal: statements are cached by its address) with two
 * id parameters; -ENOENT when it changed no row. */
static int change_by_ids(nn_store *s, const char *sql, int64_t a, int64_t b)
{
    sqlite3_stmt *st;
    int r = prepare(s, sql, &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, a);
    sqlite3_bind_int64(st, 2, b);
    return step_changed(s, st);
}

static void now_utc(char buf[32])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

static json_t *load_col(sqlite3_stmt *st, int col)
{
    const char *text = (const char *)sqlite3_column_text(st, col);
    json_t *v = text ? json_loads(text, 0, NULL) : NULL;
    return v ? v : json_object();
}

/* Steps st to the end, one JSON object per row (made by row), and
 * finishes it. *out is a new array, or NULL on failure. */
static int json_rows(nn_store *s, sqlite3_stmt *st, json_t *(*row)(sqlite3_stmt *), json_t **out)
{
    json_t *arr = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, row(st));
    int r = rc == SQLITE_DONE ? 0 : fail(s, rc);
    finish(s, st);
    if (r) {
        json_decref(arr);
        arr = NULL;
    }
    *out = arr;
    return r;
}

/* json_rows over sql, whose one parameter is the workspace id. */
static int workspace_rows(nn_store *s, const char *sql, int64_t ws_id,
                          json_t *(*row)(sqlite3_stmt *), json_t **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    int r = prepare(s, sql, &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, ws_id);
    return json_rows(s, st, row, out);
}

static json_t *user_json(sqlite3_stmt *st)
{
    return json_pack("{s:s, s:b}", "name", sqlite3_column_text(st, 0), "platform_admin",
                     sqlite3_column_int(st, 1));
}

static json_t *workspace_json(sqlite3_stmt *st)
{
    return json_pack("{s:s, s:s}", "name", sqlite3_column_text(st, 0), "role",
                     sqlite3_column_text(st, 1));
}

static json_t *member_json(sqlite3_stmt *st)
{
    return json_pack("{s:s, s:s}", "user", sqlite3_column_text(st, 0), "role",
                     sqlite3_column_text(st, 1));
}

static json_t *node_json(sqlite3_stmt *st)
{
    return json_pack("{s:s, s:s, s:s}", "host", sqlite3_column_text(st, 0), "state",
                     sqlite3_column_text(st, 1), "reported_at", sqlite3_column_text(st, 2));
}

static json_t *enrollment_json(sqlite3_stmt *st)
{
    const unsigned char *used = sqlite3_column_text(st, 4);
    return json_pack("{s:I, s:s?, s:s, s:s, s:s?, s:s}", "id",
                     (json_int_t)sqlite3_column_int64(st, 0), "created_by",
                     sqlite3_column_text(st, 1), "created_at", sqlite3_column_text(st, 2),
                     "expires_at", sqlite3_column_text(st, 3), "used_at", used, "state",
                     sqlite3_column_text(st, 5));
}

static json_t *region_json(sqlite3_stmt *st)
{
    json_t *v = load_col(st, 1);
    json_object_set_new(v, "name", json_string((const char *)sqlite3_column_text(st, 0)));
    return v;
}

static json_t *name_json(sqlite3_stmt *st)
{
    return json_string((const char *)sqlite3_column_text(st, 0));
}

static json_t *oversight_json(sqlite3_stmt *st)
{
    return json_pack("{s:s, s:s}", "region", sqlite3_column_text(st, 0), "workspace",
                     sqlite3_column_text(st, 1));
}

static json_t *audit_json(sqlite3_stmt *st)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "at", sqlite3_column_text(st, 0), "user",
                     sqlite3_column_text(st, 1), "action", sqlite3_column_text(st, 2), "target",
                     sqlite3_column_text(st, 3), "detail", sqlite3_column_text(st, 4));
}

int nn_store_schema_version(nn_store *s)
{
    sqlite3_stmt *st;
    int v = -1;
    if (prepare(s, "PRAGMA user_version", &st) == 0) {
        if (sqlite3_step(st) == SQLITE_ROW)
            v = sqlite3_column_int(st, 0);
        finish(s, st);
    }
    return v;
}

static int migrate(nn_store *s)
{
    int r = 0;
    for (;;) {
        if ((r = nn_store_begin(s)))
            return r;
        int v = nn_store_schema_version(s);
        if (v < 0 || (size_t)v > NMIGRATIONS) {
            nn_store_rollback(s);
            snprintf(s->err, sizeof(s->err),
                     "database schema version %d is newer than this nanamid", v);
            return -EPROTO;
        }
        if ((size_t)v == NMIGRATIONS) {
            nn_store_rollback(s);
            return 0;
        }
        char bump[48];
        snprintf(bump, sizeof(bump), "PRAGMA user_version = %d", v + 1);
        if ((r = exec(s, migrations[v])) || (r = exec(s, bump)) || (r = nn_store_commit(s))) {
            nn_store_rollback(s);
            return r;
        }
    }
}

int nn_store_open(const char *path, nn_store **out)
{
    *out = NULL;
    nn_store *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    int rc = sqlite3_open_v2(
        path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    int r;
    if (rc != SQLITE_OK) {
        r = s->db ? fail(s, rc) : -ENOMEM;
        goto out;
    }
    sqlite3_busy_timeout(s->db, 5000);
    /* WAL: readers never block the writer. synchronous=FULL: COMMIT returns
     * after the WAL is fsynced, so a write the API acknowledged survives
     * kill -9 and power loss (NORMAL would only survive the former). */
    if ((r = exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;")))
        goto out;
    r = migrate(s);
out:
    if (r) {
        fprintf(stderr, "nanamid: %s: %s\n", path, s->err);
        nn_store_close(s);
        return r;
    }
    *out = s;
    return 0;
}

void nn_store_close(nn_store *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < STMT_CACHE; i++)
        sqlite3_finalize(s->stmts[i].st);
    sqlite3_close(s->db);
    free(s);
}

const char *nn_store_errmsg(const nn_store *s)
{
    return s->err;
}

int nn_store_begin(nn_store *s)
{
    return exec(s, "BEGIN IMMEDIATE");
}

int nn_store_read_begin(nn_store *s)
{
    return exec(s, "BEGIN DEFERRED");
}

void nn_store_read_end(nn_store *s)
{
    nn_store_rollback(s);
}

int nn_store_commit(nn_store *s)
{
    return exec(s, "COMMIT");
}

void nn_store_rollback(nn_store *s)
{
    if (!sqlite3_get_autocommit(s->db))
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int nn_store_meta_get(nn_store *s, const char *key, char **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    int r = prepare(s, "SELECT value FROM meta WHERE key = ?", &st);
    if (r)
        return r;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = strdup((const char *)sqlite3_column_text(st, 0));
        r = *out ? 0 : -ENOMEM;
    } else {
        r = rc == SQLITE_DONE ? -ENOENT : fail(s, rc);
    }
    finish(s, st);
    return r;
}

int nn_store_meta_set(nn_store *s, const char *key, const char *value)
{
    sqlite3_stmt *st;
    int r = prepare(s,
                    "INSERT INTO meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    &st);
    if (r)
        return r;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
    return step_done(s, st);
}

int nn_store_user_add(nn_store *s, const char *name, const char *password_hash, bool platform_admin,
                      int64_t *id)
{
    sqlite3_stmt *st;
    char at[32];
    now_utc(at);
    int r = prepare(s,
                    "INSERT INTO users (name, password_hash, platform_admin, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    &st);
    if (r)
        return r;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, password_hash, -1, SQLITE_STATIC);
    sqlite3_bind_int(st, 3, platform_admin);
    sqlite3_bind_text(st, 4, at, -1, SQLITE_STATIC);
    if ((r = step_done(s, st)) == 0 && id)
        *id = sqlite3_last_insert_rowid(s->db);
    return r;
}

static int user_row(nn_store *s, sqlite3_stmt *st, nn_user *out)
{
    int rc = sqlite3_step(st);
    int r = 0;
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        snprintf(out->name, sizeof(out->name), "%s", (const char *)sqlite3_column_text(st, 1));
        out->platform_admin = sqlite3_column_int(st, 2) != 0;
        out->token_id = sqlite3_column_count(st) > 3 ? sqlite3_column_int64(st, 3) : 0;
        out->token_used = sqlite3_column_count(st) > 4 ? sqlite3_column_int64(st, 4) : 0;
    } else {
        r = rc == SQLITE_DONE ? -ENOENT : fail(s, rc);
    }
    finish(s, st);
    return r;
}

int nn_store_user_find(nn_store *s, const char *name, nn_user *out)
{
    sqlite3_stmt *st;
    int r = prepare(s, "SELECT id, name, platform_admin FROM users WHERE name = ?", &st);
    if (r)
        return r;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    return user_row(s, st, out);
}

int nn_store_user_list(nn_store *s, json_t **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    int r = prepare(s, "SELECT name, platform_admin FROM users ORDER BY name", &st);
    if (r)
        return r;
    return json_rows(s, st, user_json, out);
}

int nn_store_token_add(nn_store *s, int64_t user_id, const char *name, const uint8_t hash[32])
{
    sqlite3_stmt *st;
    char at[32];
    now_utc(at);
    int r = prepare(s,
                    "INSERT INTO api_tokens (user_id, name, token_hash, created_at) "
                    "VALUES (?, ?, ?, ?)",
                    &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, user_id);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_STATIC);
    sqlite3_bind_blob(st, 3, hash, 32, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, at, -1, SQLITE_STATIC);
    return step_done(s, st);
}

int nn_store_token_user(nn_store *s, const uint8_t hash[32], nn_user *out)
{
    sqlite3_stmt *st;
    int r = prepare(s,
                    "SELECT u.id, u.name, u.platform_admin, t.id, coalesce(t.last_used, 0) "
                    "FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = ?",
                    &st);
    if (r)
        return r;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_STATIC);
    return user_row(s, st, out);
}

int nn_store_tokens_used(nn_store *s, const int64_t *ids, size_t n, int64_t now)
{
    bool own = sqlite3_get_autocommit(s->db);
    int r = own ? nn_store_begin(s) : 0;
    for (size_t i = 0; r == 0 && i < n; i++) {
        r = change_by_ids(s, "UPDATE api_tokens SET last_used = ? WHERE id = ?", now, ids[i]);
        if (r == -ENOENT)
            r = 0; /* revoked meanwhile */
    }
    if (own && r == 0)
        r = nn_store_commit(s);
    if (own && r)
        nn_store_rollback(s);
    return r;
}

int nn_store_workspace_add(nn_store *s, const char *name, json_t *body, int64_t *id)
{
    sqlite3_stmt *st;
    char *text = dump(body);
    int r = text ? prepare(s,
                           "INSERT INTO workspaces (name, body, epoch) "
                           "VALUES (?, ?, abs(random() >> 1) | 1)",
                           &st)
                 : -ENOMEM;
    if (r == 0) {
        sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, text, -1, SQLITE_STATIC);
        if ((r = step_done(s, st)) == 0 && id)
            *id = sqlite3_last_insert_rowid(s->db);
    }
    free(text);
    return r;
}

int nn_store_workspace_find(nn_store *s, const char *name, nn_row *out)
{
    sqlite3_stmt *st;
    memset(out, 0, sizeof(*out));
    int r = prepare(
        s, "SELECT id, name, body, alloc, version, epoch FROM workspaces WHERE name = ?", &st);
    if (r)
        return r;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        out->id = sqlite3_column_int64(st, 0);
        snprintf(out->kind, sizeof(out->kind), "workspaces");
        snprintf(out->name, sizeof(out->name), "%s", (const char *)sqlite3_column_text(st, 1));
        out->body = load_col(st, 2);
        out->alloc = load_col(st, 3);
        out->revision = sqlite3_column_int64(st, 4);
        out->epoch = sqlite3_column_int64(st, 5);
    } else {
        r = rc == SQLITE_DONE ? -ENOENT : fail(s, rc);
    }
    finish(s, st);
    return r;
}

int nn_store_workspace_version(nn_store *s, int64_t id, int64_t *version, int64_t *epoch)
{
    sqlite3_stmt *st;
    int r = prepare(s, "SELECT version, epoch FROM workspaces WHERE id = ?", &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *version = sqlite3_column_int64(st, 0);
        *epoch = sqlite3_column_int64(st, 1);
    } else
        r = rc == SQLITE_DONE ? -ENOENT : fail(s, rc);
    finish(s, st);
    return r;
}

int nn_store_workspace_claim(nn_store *s, int64_t id, int64_t version)
{
    int r = change_by_ids(
        s, "UPDATE workspaces SET version = version + 1 WHERE id = ? AND version = ?", id, version);
    return r == -ENOENT ? -ESTALE : r;
}

int nn_store_prefix_claim(nn_store *s, int64_t ws_id, const char *prefix)
{
    sqlite3_stmt *st;
    int r = prepare(s, "SELECT workspace_id FROM workspace_prefixes WHERE prefix = ?", &st);
    if (r)
        return r;
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    int64_t holder = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    r = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s, rc);
    finish(s, st);
    if (r || holder == ws_id)
        return r;
    if (holder)
        return -EEXIST;
    if ((r = exec_by_id(s, "DELETE FROM workspace_prefixes WHERE workspace_id = ?", ws_id)))
        return r;
    if ((r = prepare(s, "INSERT INTO workspace_prefixes (prefix, workspace_id) VALUES (?, ?)",
                     &st)))
        return r;
    sqlite3_bind_text(st, 1, prefix, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 2, ws_id);
    return step_done(s, st);
}

static json_t *prefix_json(sqlite3_stmt *st)
{
    return json_pack("{s:s, s:I}", "prefix", sqlite3_column_text(st, 0), "workspace_id",
                     (json_int_t)sqlite3_column_int64(st, 1));
}

int nn_store_prefix_list(nn_store *s, json_t **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    int r = prepare(s, "SELECT prefix, workspace_id FROM workspace_prefixes ORDER BY prefix", &st);
    return r ? r : json_rows(s, st, prefix_json, out);
}

int nn_store_workspace_update(nn_store *s, int64_t id, json_t *body, json_t *alloc)
{
    sqlite3_stmt *st;
    char *b = body ? dump(body) : NULL, *a = alloc ? dump(alloc) : NULL;
    int r = prepare(s,
                    "UPDATE workspaces SET body = coalesce(?, body), "
                    "alloc = coalesce(?, alloc) WHERE id = ?",
                    &st);
    if (r == 0) {
        sqlite3_bind_text(st, 1, b, -1, SQLITE_STATIC);
        sqlite3_bind_text(st, 2, a, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 3, id);
        r = step_done(s, st);
    }
    free(b);
    free(a);
    return r;
}

int nn_store_workspace_delete(nn_store *s, int64_t id)
{
    return exec_by_id(s, "DELETE FROM workspaces WHERE id = ?", id);
}

int nn_store_workspace_list(nn_store *s, int64_t user_id, json_t **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    int r = prepare(s,
                    user_id ? "SELECT w.name, m.role FROM workspaces w JOIN memberships m "
                              "ON m.workspace_id = w.id AND m.user_id = ? ORDER BY w.name"
                            : "SELECT name, 'owner' FROM workspaces ORDER BY name",
                    &st);
    if (r)
        return r;
    if (user_id)
        sqlite3_bind_int64(st, 1, user_id);
    return json_rows(s, st, workspace_json, out);
}

static const char *const role_names[] = {"none", "viewer", "member", "operator", "admin", "owner"};

const char *nn_role_name(nn_role r)
{
    return (unsigned)r < sizeof(role_names) / sizeof(role_names[0]) ? role_names[r] : "none";
}

nn_role nn_role_parse(const char *name)
{
    for (size_t i = 1; name && i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (strcmp(name, role_names[i]) == 0)
            return (nn_role)i;
    return NN_ROLE_NONE;
}

int nn_store_role(nn_store *s, int64_t ws_id, int64_t user_id, nn_role *out)
{
    sqlite3_stmt *st;
    *out = NN_ROLE_NONE;
    int r = prepare(s, "SELECT role FROM memberships WHERE workspace_id = ? AND user_id = ?", &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, ws_id);
    sqlite3_bind_int64(st, 2, user_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = nn_role_parse((const char *)sqlite3_column_text(st, 0));
    else if (rc != SQLITE_DONE)
        r = fail(s, rc);
    finish(s, st);
    return r;
}

int nn_store_member_set(nn_store *s, int64_t ws_id, int64_t user_id, nn_role role)
{
    sqlite3_stmt *st;
    int r = prepare(s,
                    "INSERT INTO memberships (workspace_id, user_id, role) VALUES (?, ?, ?) "
                    "ON CONFLICT (workspace_id, user_id) DO UPDATE SET role = excluded.role",
                    &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, ws_id);
    sqlite3_bind_int64(st, 2, user_id);
    sqlite3_bind_text(st, 3, nn_role_name(role), -1, SQLITE_STATIC);
    return step_done(s, st);
}

int nn_store_member_delete(nn_store *s, int64_t ws_id, int64_t user_id)
{
    return change_by_ids(s, "DELETE FROM memberships WHERE workspace_id = ? AND user_id = ?", ws_id,
                         user_id);
}

int nn_store_member_list(nn_store *s, int64_t ws_id, json_t **out)
{
    return workspace_rows(
        s,
        "SELECT u.name, m.role FROM memberships m JOIN users u ON u.id = m.user_id "
        "WHERE m.workspace_id = ? ORDER BY u.name",
        ws_id, member_json, out);
}

void nn_row_clear(nn_row *r)
{
    json_decref(r->body);
    json_decref(r->alloc);
    r->body = r->alloc = NULL;
}

void nn_rows_free(nn_row *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        nn_row_clear(&rows[i]);
    free(rows);
}

#define ROW_COLS "id, coalesce(network_id, 0), kind, name, body, alloc, revision"
#define ROW_M_COLS "id, m.network_id, m.kind, m.name, m.body, m.alloc, m.revision"

/* Export order: workspace scope first, then by network id, kind, name. */
static int cmp_export(const void *a, const void *b)
{
    const nn_row *x = a, *y = b;
    if (x->network_id != y->network_id)
        return x->network_id < y->network_id ? -1 : 1;
    int c = strcmp(x->kind, y->kind);
    return c ? c : strcmp(x->name, y->name);
}

static void read_row(sqlite3_stmt *st, nn_row *out)
{
    out->id = sqlite3_column_int64(st, 0);
    out->network_id = sqlite3_column_int64(st, 1);
    snprintf(out->kind, sizeof(out->kind), "%s", (const char *)sqlite3_column_text(st, 2));
    snprintf(out->name, sizeof(out->name), "%s", (const char *)sqlite3_column_text(st, 3));
    out->body = load_col(st, 4);
    out->alloc = load_col(st, 5);
    out->revision = sqlite3_column_int64(st, 6);
}

/* Collects every row st yields. */
static int read_rows(nn_store *s, sqlite3_stmt *st, nn_row **out, size_t *n)
{
    nn_row *rows = NULL;
    size_t len = 0, cap = 0;
    int rc, r = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (len == cap) {
            cap = cap ? cap * 2 : 16;
            nn_row *grown = realloc(rows, cap * sizeof(*rows));
            if (!grown) {
                r = -ENOMEM;
                break;
            }
            rows = grown;
        }
        read_row(st, &rows[len++]);
    }
    if (r == 0 && rc != SQLITE_DONE)
        r = fail(s, rc);
    finish(s, st);
    if (r) {
        nn_rows_free(rows, len);
        rows = NULL;
        len = 0;
    }
    *out = rows;
    *n = len;
    return r;
}

static void bind_network(sqlite3_stmt *st, int col, int64_t network_id)
{
    if (network_id)
        sqlite3_bind_int64(st, col, network_id);
    else
        sqlite3_bind_null(st, col);
}

/* "network_id IS ?" would fit both scopes in one statement, but SQLite
 * then uses neither partial index and scans every row of the install: one
 * statement per scope, each matching its index's WHERE. */
#define IN_SCOPE(network_id, in_network, in_workspace)                                             \
    ((network_id) ? (in_network) : (in_workspace))

int nn_store_row_get(nn_store *s, int64_t ws_id, int64_t network_id, const char *kind,
                     const char *name, nn_row *out)
{
    sqlite3_stmt *st;
    memset(out, 0, sizeof(*out));
    int r = prepare(s,
                    IN_SCOPE(network_id,
                             "SELECT " ROW_COLS " FROM objects WHERE workspace_id = ?1 "
                             "AND network_id = ?2 AND kind = ?3 AND name = ?4",
                             "SELECT " ROW_COLS " FROM objects WHERE workspace_id = ?1 "
                             "AND network_id IS NULL AND kind = ?3 AND name = ?4"),
                    &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, ws_id);
    if (network_id)
        sqlite3_bind_int64(st, 2, network_id);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        read_row(st, out);
    else
        r = rc == SQLITE_DONE ? -ENOENT : fail(s, rc);
    finish(s, st);
    return r;
}

int nn_store_row_list(nn_store *s, int64_t ws_id, int64_t network_id, const char *kind,
                      nn_row **out, size_t *n)
{
    sqlite3_stmt *st;
    int r = prepare(s,
                    IN_SCOPE(network_id,
                             "SELECT " ROW_COLS " FROM objects WHERE workspace_id = ?1 "
                             "AND network_id = ?2 AND kind = ?3 ORDER BY name",
                             "SELECT " ROW_COLS " FROM objects WHERE workspace_id = ?1 "
                             "AND network_id IS NULL AND kind = ?3 ORDER BY name"),
                    &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, ws_id);
    if (network_id)
        sqlite3_bind_int64(st, 2, network_id);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    return read_rows(s, st, out, n);
}

int nn_store_row_all(nn_store *s, int64_t ws_id, nn_row **out, size_t *n)
{
    /* Workspace scope first (its partial index), then each network's rows
     * by (network, kind, name) through the network index: no scan of
     * other workspaces' rows, and no sort. */
    sqlite3_stmt *st;
    int r =
        prepare(s,
                "SELECT " ROW_COLS " FROM objects WHERE workspace_id = ?1 AND network_id IS NULL "
                "UNION ALL SELECT m." ROW_M_COLS " FROM objects n JOIN objects m "
                "ON m.network_id = n.id WHERE n.workspace_id = ?1 AND n.network_id IS NULL "
                "AND n.kind = 'networks'",
                &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, ws_id);
    if ((r = read_rows(s, st, out, n)))
        return r;
    if (*n > 1) /* never qsort(NULL, 0): undefined */
        qsort(*out, *n, sizeof(**out), cmp_export);
    return 0;
}

int nn_store_row_insert_text(nn_store *s, int64_t ws_id, int64_t network_id, const char *kind,
                             const char *name, const char *body, const char *alloc, int64_t *id)
{
    sqlite3_stmt *st;
    int r = prepare(s,
                    "INSERT INTO objects (workspace_id, network_id, kind, name, body, alloc) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, ws_id);
    bind_network(st, 2, network_id);
    sqlite3_bind_text(st, 3, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, name, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, alloc ? alloc : "{}", -1, SQLITE_STATIC);
    if ((r = step_done(s, st)) == 0)
        *id = sqlite3_last_insert_rowid(s->db);
    return r;
}

int nn_store_row_update_text(nn_store *s, int64_t ws_id, int64_t id, const char *body,
                             const char *alloc)
{
    sqlite3_stmt *st;
    int r = prepare(s,
                    "UPDATE objects SET body = coalesce(?, body), alloc = coalesce(?, alloc) "
                    "WHERE id = ? AND workspace_id = ?",
                    &st);
    if (r)
        return r;
    sqlite3_bind_text(st, 1, body, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, alloc, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st, 3, id);
    sqlite3_bind_int64(st, 4, ws_id);
    return step_changed(s, st);
}

int nn_store_row_remove(nn_store *s, int64_t ws_id, int64_t id)
{
    return change_by_ids(s, "DELETE FROM objects WHERE id = ? AND workspace_id = ?", id, ws_id);
}

int nn_store_row_set_alloc(nn_store *s, int64_t id, json_t *alloc)
{
    sqlite3_stmt *st;
    char *text = dump(alloc);
    int r = text ? prepare(s, "UPDATE objects SET alloc = ? WHERE id = ?", &st) : -ENOMEM;
    if (r == 0) {
        sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
        sqlite3_bind_int64(st, 2, id);
        r = step_done(s, st);
    }
    free(text);
    return r;
}

int64_t nn_store_now_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int nn_store_bump_revision_at(nn_store *s, int64_t ws_id, int64_t network_id, int64_t now_ms)
{
    sqlite3_stmt *st;
    /* At least the wall clock in ms: revisions sign envelopes, and nodes
     * refuse an older one (rollback), so a database restored from a backup
     * must still issue revisions above everything issued before it. */
    int r = prepare(s,
                    network_id ? "UPDATE objects SET revision = MAX(revision + 1, ?2) "
                                 "WHERE id = ?1"
                               : "UPDATE objects SET revision = MAX(revision + 1, ?2) "
                                 "WHERE workspace_id = ?1 AND network_id IS NULL "
                                 "AND kind = 'networks'",
                    &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, network_id ? network_id : ws_id);
    sqlite3_bind_int64(st, 2, now_ms);
    if ((r = step_done(s, st)) || network_id)
        return r;
    if ((r = prepare(s,
                     "UPDATE workspaces SET revision_floor = MAX(revision_floor + 1, ?2) "
                     "WHERE id = ?1",
                     &st)))
        return r;
    sqlite3_bind_int64(st, 1, ws_id);
    sqlite3_bind_int64(st, 2, now_ms);
    return step_done(s, st);
}

int nn_store_audit(nn_store *s, int64_t user_id, int64_t ws_id, const char *action,
                   const char *target, const char *detail)
{
    sqlite3_stmt *st;
    char at[32];
    now_utc(at);
    int r = prepare(s,
                    "INSERT INTO audit_log (at, user_id, workspace_id, action, target, detail) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    &st);
    if (r)
        return r;
    sqlite3_bind_text(st, 1, at, -1, SQLITE_STATIC);
    if (user_id)
        sqlite3_bind_int64(st, 2, user_id);
    else
        sqlite3_bind_null(st, 2);
    if (ws_id)
        sqlite3_bind_int64(st, 3, ws_id);
    else
        sqlite3_bind_null(st, 3);
    sqlite3_bind_text(st, 4, action, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 5, target, -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 6, detail, -1, SQLITE_STATIC);
    return step_done(s, st);
}

int nn_store_audit_list(nn_store *s, int64_t ws_id, int limit, json_t **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    int r = prepare(s,
                    "SELECT a.at, coalesce(u.name, ''), a.action, a.target, "
                    "coalesce(a.detail, '') FROM audit_log a LEFT JOIN users u "
                    "ON u.id = a.user_id WHERE a.workspace_id = ? ORDER BY a.id DESC LIMIT ?",
                    &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, ws_id);
    sqlite3_bind_int(st, 2, limit);
    return json_rows(s, st, audit_json, out);
}

int nn_store_integrity_check(nn_store *s)
{
    sqlite3_stmt *st;
    int r = prepare(s, "PRAGMA integrity_check", &st);
    if (r)
        return r;
    int rc = sqlite3_step(st);
    const char *v = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
    r = v && strcmp(v, "ok") == 0 ? 0 : -EIO;
    if (r)
        snprintf(s->err, sizeof(s->err), "integrity_check: %s", v ? v : "no answer");
    finish(s, st);
    return r;
}

int nn_store_node_state_set(nn_store *s, int64_t ws_id, const char *host, bool up)
{
    char now[32];
    now_utc(now);
    sqlite3_stmt *st;
    int r = prepare(s,
                    "INSERT INTO node_status (workspace_id, host, state, reported_at) "
                    "VALUES (?, ?, ?, ?) ON CONFLICT (workspace_id, host) DO UPDATE SET "
                    "state = excluded.state, reported_at = excluded.reported_at",
                    &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, ws_id);
    sqlite3_bind_text(st, 2, host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, up ? "up" : "down", -1, SQLITE_STATIC);
    sqlite3_bind_text(st, 4, now, -1, SQLITE_TRANSIENT);
    return step_done(s, st);
}

int nn_store_node_states(nn_store *s, int64_t ws_id, json_t **out)
{
    return workspace_rows(s,
                          "SELECT host, state, reported_at FROM node_status WHERE workspace_id = ? "
                          "ORDER BY host",
                          ws_id, node_json, out);
}

int nn_store_region_put(nn_store *s, const char *name, json_t *body, bool *created)
{
    sqlite3_stmt *st;
    int r = prepare(s, "SELECT 1 FROM regions WHERE name = ?", &st);
    if (r)
        return r;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    *created = rc == SQLITE_DONE;
    r = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : fail(s, rc);
    finish(s, st);
    char *text = r ? NULL : dump(body);
    if (r || !text) {
        free(text);
        return r ? r : -ENOMEM;
    }
    if ((r = prepare(s,
                     "INSERT INTO regions (name, body) VALUES (?, ?) ON CONFLICT (name) "
                     "DO UPDATE SET body = excluded.body",
                     &st))) {
        free(text);
        return r;
    }
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, text, -1, free);
    return step_done(s, st);
}

int nn_store_region_list(nn_store *s, json_t **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    int r = prepare(s, "SELECT name, body FROM regions ORDER BY name", &st);
    return r ? r : json_rows(s, st, region_json, out);
}

int nn_store_region_delete(nn_store *s, const char *name)
{
    sqlite3_stmt *st;
    int r = prepare(s, "DELETE FROM regions WHERE name = ?", &st);
    if (r)
        return r;
    sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
    return step_changed(s, st);
}

int nn_store_workspace_regions(nn_store *s, int64_t ws_id, json_t **out)
{
    return workspace_rows(s,
                          "SELECT r.name FROM workspace_regions w JOIN regions r ON r.id = "
                          "w.region_id WHERE w.workspace_id = ? ORDER BY r.name",
                          ws_id, name_json, out);
}

int nn_store_workspace_regions_set(nn_store *s, int64_t ws_id, const json_t *names,
                                   const char **unknown)
{
    *unknown = NULL;
    sqlite3_stmt *st;
    int r = prepare(s, "DELETE FROM workspace_regions WHERE workspace_id = ?", &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, ws_id);
    if ((r = step_done(s, st)))
        return r;
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v)
    {
        if ((r = prepare(s,
                         "INSERT OR IGNORE INTO workspace_regions (workspace_id, region_id) "
                         "SELECT ?, id FROM regions WHERE name = ?",
                         &st)))
            return r;
        sqlite3_bind_int64(st, 1, ws_id);
        sqlite3_bind_text(st, 2, json_string_value(v), -1, SQLITE_TRANSIENT);
        if ((r = step_done(s, st)))
            return r;
        if (sqlite3_changes(s->db) == 0 && !*unknown) {
            /* Either unknown or listed twice: only the former is an error. */
            bool listed_before = false;
            for (size_t j = 0; j < i; j++)
                listed_before = listed_before || json_equal(json_array_get(names, j), v);
            if (!listed_before) {
                *unknown = json_string_value(v);
                return -ENOENT;
            }
        }
    }
    return 0;
}

int nn_store_region_grants(nn_store *s, json_t **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    int r = prepare(s,
                    "SELECT r.name, w.name FROM workspace_regions g JOIN regions r ON r.id = "
                    "g.region_id JOIN workspaces w ON w.id = g.workspace_id "
                    "ORDER BY r.name, w.name",
                    &st);
    return r ? r : json_rows(s, st, oversight_json, out);
}

int nn_store_enrollment_add(nn_store *s, int64_t peer_id, int64_t user_id, const uint8_t hash[32],
                            int ttl_seconds, json_t **out)
{
    sqlite3_stmt *st;
    *out = NULL;
    int r = prepare(s,
                    "INSERT INTO enrollment_tokens (peer_id, token_hash, created_by, created_at, "
                    "expires_at) VALUES (?, ?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), "
                    "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ? || ' seconds')) "
                    "RETURNING id, expires_at",
                    &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, peer_id);
    sqlite3_bind_blob(st, 2, hash, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, user_id);
    sqlite3_bind_int(st, 4, ttl_seconds);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        *out = json_pack("{s:I, s:s}", "id", (json_int_t)sqlite3_column_int64(st, 0), "expires_at",
                         sqlite3_column_text(st, 1));
    r = rc == SQLITE_ROW ? 0 : fail(s, rc);
    finish(s, st);
    if (r == 0 && !*out)
        r = -ENOMEM;
    return r;
}

int nn_store_enrollments(nn_store *s, int64_t peer_id, json_t **out)
{
    return workspace_rows(
        s,
        "SELECT e.id, u.name, e.created_at, e.expires_at, e.used_at, CASE "
        "WHEN e.used_at IS NOT NULL THEN 'used' "
        "WHEN e.expires_at <= strftime('%Y-%m-%dT%H:%M:%SZ', 'now') THEN 'expired' "
        "ELSE 'active' END FROM enrollment_tokens e LEFT JOIN users u ON u.id = e.created_by "
        "WHERE e.peer_id = ? ORDER BY e.id",
        peer_id, enrollment_json, out);
}

int nn_store_enrollment_revoke(nn_store *s, int64_t peer_id, int64_t id)
{
    return change_by_ids(s, "DELETE FROM enrollment_tokens WHERE peer_id = ? AND id = ?", peer_id,
                         id);
}

/* The peer (with its workspace and network names) that a live, unexpired
 * certificate was issued to. */
static int peer_ref_of(nn_store *s, sqlite3_stmt *st, nn_peer_ref *out, int64_t *extra, int n_extra)
{
    int rc = sqlite3_step(st);
    int r = rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? -ENOENT : fail(s, rc);
    if (r == 0) {
        memset(out, 0, sizeof(*out));
        out->peer_id = sqlite3_column_int64(st, 0);
        out->workspace_id = sqlite3_column_int64(st, 1);
        out->network_id = sqlite3_column_int64(st, 2);
        snprintf(out->workspace, sizeof(out->workspace), "%s", sqlite3_column_text(st, 3));
        snprintf(out->network, sizeof(out->network), "%s", sqlite3_column_text(st, 4));
        snprintf(out->peer, sizeof(out->peer), "%s", sqlite3_column_text(st, 5));
        out->host = sqlite3_column_int(st, 6) != 0;
        out->actor_id = sqlite3_column_int64(st, 7);
        for (int i = 0; i < n_extra; i++) /* the caller's own columns, after these */
            extra[i] = sqlite3_column_int64(st, 8 + i);
    }
    finish(s, st);
    return r;
}

/* A token's or certificate's subject: a peer row (one network's
 * membership, as nodes enrolled before hosts were nodes) or a hosts row
 * (the node; no network). */
#define PEER_REF_COLUMNS                                                                           \
    "p.id, p.workspace_id, COALESCE(p.network_id, 0), w.name, COALESCE(n.name, ''), p.name, "      \
    "p.kind = 'hosts'"
#define PEER_REF_JOINS                                                                             \
    "JOIN objects p ON p.id = x.peer_id LEFT JOIN objects n ON n.id = p.network_id "               \
    "JOIN workspaces w ON w.id = p.workspace_id"

int nn_store_enrollment_find(nn_store *s, const uint8_t hash[32], nn_peer_ref *out)
{
    sqlite3_stmt *st;
    int r = prepare(s,
                    "SELECT " PEER_REF_COLUMNS ", x.created_by, x.id, CASE "
                    "WHEN x.used_at IS NOT NULL THEN 1 "
                    "WHEN x.expires_at <= strftime('%Y-%m-%dT%H:%M:%SZ', 'now') THEN 2 ELSE 0 END "
                    "FROM enrollment_tokens x " PEER_REF_JOINS " WHERE x.token_hash = ?",
                    &st);
    if (r)
        return r;
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
    int64_t token[2] = {0, 0}; /* id, state: 0 live, 1 used, 2 expired */
    if ((r = peer_ref_of(s, st, out, token, 2)))
        return r;
    out->token_id = token[0];
    return token[1] == 0 ? 0 : token[1] == 1 ? -EALREADY : -ETIMEDOUT;
}

int nn_store_enrollment_use(nn_store *s, int64_t token_id)
{
    sqlite3_stmt *st;
    int r = prepare(s,
                    "UPDATE enrollment_tokens SET used_at = "
                    "strftime('%Y-%m-%dT%H:%M:%SZ', 'now') WHERE id = ? AND used_at IS NULL",
                    &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, token_id);
    r = step_changed(s, st);
    return r == -ENOENT ? -EALREADY : r;
}

int nn_store_node_cert_add(nn_store *s, int64_t peer_id, const uint8_t fp[32], int days)
{
    sqlite3_stmt *st;
    int r = prepare(s,
                    "UPDATE node_certs SET revoked_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
                    "WHERE peer_id = ? AND revoked_at IS NULL",
                    &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, peer_id);
    if ((r = step_done(s, st)))
        return r;
    if ((r = prepare(s,
                     "INSERT INTO node_certs (fingerprint, peer_id, issued_at, expires_at) VALUES "
                     "(?, ?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), "
                     "strftime('%Y-%m-%dT%H:%M:%SZ', 'now', ? || ' days'))",
                     &st)))
        return r;
    sqlite3_bind_blob(st, 1, fp, 32, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, peer_id);
    sqlite3_bind_int(st, 3, days);
    return step_done(s, st);
}

int nn_store_node_cert_peer(nn_store *s, const uint8_t fp[32], nn_peer_ref *out)
{
    sqlite3_stmt *st;
    int r = prepare(s,
                    "SELECT " PEER_REF_COLUMNS ", 0 FROM node_certs x " PEER_REF_JOINS
                    " WHERE x.fingerprint = ? AND x.revoked_at IS NULL "
                    "AND x.expires_at > strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
                    &st);
    if (r)
        return r;
    sqlite3_bind_blob(st, 1, fp, 32, SQLITE_TRANSIENT);
    return peer_ref_of(s, st, out, NULL, 0);
}

int nn_store_node_observed_set(nn_store *s, int64_t peer_id, const char *body)
{
    sqlite3_stmt *st;
    int r = prepare(s,
                    "INSERT INTO node_observed (peer_id, reported_at, body) VALUES "
                    "(?, strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), ?) ON CONFLICT (peer_id) DO "
                    "UPDATE SET reported_at = excluded.reported_at, body = excluded.body",
                    &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, peer_id);
    sqlite3_bind_text(st, 2, body, -1, SQLITE_TRANSIENT);
    return step_done(s, st);
}

static json_t *observed_json(sqlite3_stmt *st)
{
    bool reported = sqlite3_column_type(st, 1) != SQLITE_NULL;
    json_t *v = json_pack("{s:s, s:b}", "peer", sqlite3_column_text(st, 0), "enrolled",
                          sqlite3_column_int(st, 4));
    json_object_set_new(v, "reported_at",
                        reported ? json_string((const char *)sqlite3_column_text(st, 1))
                                 : json_null());
    json_object_set_new(v, "seconds_since_report",
                        reported ? json_integer(sqlite3_column_int64(st, 3)) : json_null());
    json_object_set_new(v, "observed", reported ? load_col(st, 2) : json_null());
    return v;
}

int nn_store_node_observed(nn_store *s, int64_t network_id, json_t **out)
{
    return workspace_rows(
        s,
        /* a peer's node: its host's row (the node, enrolled per host) or
         * the peer itself (enrolled before hosts were nodes); the newer
         * report of the two */
        "SELECT p.name, o.reported_at, o.body, "
        "CAST(strftime('%s', 'now') - strftime('%s', o.reported_at) AS INTEGER), "
        "EXISTS (SELECT 1 FROM node_certs c WHERE c.peer_id IN (p.id, h.id) "
        "AND c.revoked_at IS NULL) "
        "FROM objects p LEFT JOIN objects h ON h.workspace_id = p.workspace_id "
        "AND h.network_id IS NULL AND h.kind = 'hosts' "
        "AND h.name = COALESCE(json_extract(p.body, '$.host'), p.name) "
        "LEFT JOIN node_observed o ON o.peer_id = (SELECT x.peer_id FROM node_observed x "
        "WHERE x.peer_id IN (p.id, h.id) ORDER BY x.reported_at DESC, x.peer_id DESC "
        "LIMIT 1) "
        "WHERE p.network_id = ? AND p.kind = 'peers' ORDER BY p.name",
        network_id, observed_json, out);
}

/* The peer rows of workspace ?1 that run on host ?2. */
#define HOST_PEERS                                                                                 \
    "SELECT id FROM objects WHERE workspace_id = ?1 AND kind = 'peers' "                           \
    "AND network_id IS NOT NULL AND COALESCE(json_extract(body, '$.host'), name) = ?2"

int nn_store_host_peer_certs_revoke(nn_store *s, int64_t ws_id, const char *host)
{
    static const char *const sql[2] = {
        "UPDATE node_certs SET revoked_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now') "
        "WHERE revoked_at IS NULL AND peer_id IN (" HOST_PEERS ")",
        /* and their unspent tokens: one would make a peer identity again */
        "DELETE FROM enrollment_tokens WHERE used_at IS NULL AND peer_id IN (" HOST_PEERS ")"};
    int r = 0;
    for (int i = 0; i < 2 && r == 0; i++) {
        sqlite3_stmt *st;
        if ((r = prepare(s, sql[i], &st)))
            return r;
        sqlite3_bind_int64(st, 1, ws_id);
        sqlite3_bind_text(st, 2, host, -1, SQLITE_TRANSIENT);
        r = step_done(s, st);
    }
    return r;
}

int nn_store_max_revision(nn_store *s, int64_t ws_id, int64_t *out)
{
    sqlite3_stmt *st;
    int r = prepare(s,
                    "SELECT MAX(COALESCE((SELECT MAX(revision) FROM objects "
                    "WHERE workspace_id = ?1 AND network_id IS NULL AND kind = 'networks'), 0), "
                    "COALESCE((SELECT revision_floor FROM workspaces WHERE id = ?1), 0))",
                    &st);
    if (r)
        return r;
    sqlite3_bind_int64(st, 1, ws_id);
    int rc = sqlite3_step(st);
    r = rc == SQLITE_ROW ? 0 : fail(s, rc);
    if (r == 0)
        *out = sqlite3_column_int64(st, 0);
    finish(s, st);
    return r;
}
