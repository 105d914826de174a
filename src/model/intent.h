/* nn_intent: the intent document (JSON, see docs/intent.md) to nn_doc.
 * Parse fully and validate everything before anything is used: a document
 * either yields a complete, sorted model or an error naming the JSON path. */
#ifndef NN_MODEL_INTENT_H
#define NN_MODEL_INTENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/error.h"
#include "model/model.h"

/* Hard bound on the document size: the parser is fed from files and, later,
 * from HTTP bodies. */
#define NN_INTENT_MAX_BYTES (64u * 1024u * 1024u)

/* Parses len bytes (need not be NUL-terminated). On success *out owns a new
 * nn_doc (free with nn_doc_free) and 0 is returned; on failure *out is NULL,
 * err says where and what, and -EINVAL (or -E2BIG, -ENOMEM) is returned.
 * The model is not yet allocated: call nn_alloc_assign(). */
int nn_intent_parse(const char *data, size_t len, nn_doc **out, nn_error *err);
/* The same from a document already parsed as JSON (a server's, built in
 * memory): the model borrows its strings and keeps a reference to root. */
int nn_intent_parse_json(json_t *root, nn_doc **out, nn_error *err);

/* What the checks beyond one member need of it. */
typedef struct nn_member_facts {
    bool has_key; /* false: a peer that takes its host's key */
    nn_key public_key;
    bool ipv4_pinned;
    nn_prefix ipv4_pin;
} nn_member_facts;

/* One peer or device object, parsed exactly as inside a network whose
 * ipv4_cidr is *ipv4_cidr (NULL: none): every rule of the member alone --
 * fields, key, endpoint, subnets, tags, the pinned address's range. What
 * concerns other objects (unique names, keys and addresses, references)
 * is not checked here. 0, or -EINVAL with err (its path relative to the
 * member). */
int nn_intent_check_member(json_t *obj, bool is_device, const nn_prefix *ipv4_cidr,
                           nn_member_facts *out, nn_error *err);

/* True when name is a valid Nanami name: 1-63 of [A-Za-z0-9._-], starting
 * with a letter or digit. Names end up in nft comments and file names. */
int nn_intent_valid_name(const char *name);

#endif
