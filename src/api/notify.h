/* nn_notify: the committed-write generation of one nanamid. Every commit
 * bumps it; long-polls remember the generation they answered at and are
 * woken when it moves. Thread-safe. */
#ifndef NN_API_NOTIFY_H
#define NN_API_NOTIFY_H

#include <stdint.h>

typedef struct nn_notify nn_notify;

int nn_notify_new(nn_notify **out);
void nn_notify_free(nn_notify *n);
/* A write has committed: bump the generation and wake every waiter. */
void nn_notify_changed(nn_notify *n);
uint64_t nn_notify_generation(nn_notify *n);
/* Blocks until the generation differs from seen, or timeout_ms passes;
 * returns the current generation. */
uint64_t nn_notify_wait(nn_notify *n, uint64_t seen, unsigned timeout_ms);

#endif
