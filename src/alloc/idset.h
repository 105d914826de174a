/* nn_idset: a set of nonzero 64-bit ids (open addressing, linear probe)
 * for the allocators' "is this one taken?" in O(1). Internal to src/alloc/. */
#ifndef NN_ALLOC_IDSET_H
#define NN_ALLOC_IDSET_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct nn_idset {
    uint64_t *slots; /* 0 = empty: the id 0 is never stored */
    size_t mask;
} nn_idset;

/* Room for n ids at load <= 1/2. Returns 0 or -1 (out of memory). */
static inline int nn_idset_init(nn_idset *s, size_t n)
{
    size_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    s->slots = calloc(cap, sizeof(uint64_t));
    s->mask = cap - 1;
    return s->slots ? 0 : -1;
}

static inline void nn_idset_free(nn_idset *s)
{
    free(s->slots);
    s->slots = NULL;
}

/* Adds v (nonzero); false when it was already there. */
static inline bool nn_idset_insert(nn_idset *s, uint64_t v)
{
    size_t i = (size_t)(v * 0x9e3779b97f4a7c15ull) & s->mask;
    while (s->slots[i]) {
        if (s->slots[i] == v)
            return false;
        i = (i + 1) & s->mask;
    }
    s->slots[i] = v;
    return true;
}

#endif
