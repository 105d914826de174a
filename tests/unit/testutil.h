/* Helpers shared by the unit tests: build intent documents with jansson,
 * parse + allocate them, compile envelopes to strings. */
#ifndef NN_TESTS_TESTUTIL_H
#define NN_TESTS_TESTUTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "model/error.h"
#include "model/model.h"

/* A valid, distinct public key for seed i (base64 of 32 bytes). Static
 * storage, one per seed value modulo 4096. */
const char *tu_key(unsigned i);
/* {"name": name, "public_key": tu_key(seed)} */
json_t *tu_peer(const char *name, unsigned seed, bool hub);
/* A document with one workspace "ws" and one network "net". */
json_t *tu_doc_one_network(json_t *network);
/* Parses + allocates; returns the doc or NULL with err filled. */
nn_doc *tu_load(json_t *doc_json, nn_error *err);
/* Expects the document to be rejected with this exact path and a message
 * containing msg_part. */
void tu_expect_reject(const char *json_text, const char *path, const char *msg_part);
/* Compiles host's node document of ws into a malloc'd string. */
char *tu_node(const nn_doc *doc, const char *ws, const char *host);
/* Compiles the peer's (or device's) envelope of ws/net into a malloc'd string. */
char *tu_envelope(const nn_doc *doc, const char *ws, const char *net, const char *peer);
/* Shuffles, in place, every array of the tree except those under a key
 * listed in ordered (NULL-terminated, may be NULL): their order is
 * meaningful. Deterministic (a fixed-seed xorshift). */
void tu_shuffle(json_t *j, const char *const *ordered);

/* Every envelope of every network, concatenated. */
char *tu_compile_all(const nn_doc *doc);

#endif
