#include "api/notify.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

struct nn_notify {
    pthread_mutex_t lock;
    pthread_cond_t cond; /* on CLOCK_MONOTONIC */
    uint64_t generation;
};

int nn_notify_new(nn_notify **out)
{
    nn_notify *n = calloc(1, sizeof(*n));
    if (!n)
        return -ENOMEM;
    pthread_mutex_init(&n->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&n->cond, &ca);
    pthread_condattr_destroy(&ca);
    *out = n;
    return 0;
}

void nn_notify_free(nn_notify *n)
{
    if (!n)
        return;
    pthread_mutex_destroy(&n->lock);
    pthread_cond_destroy(&n->cond);
    free(n);
}

void nn_notify_changed(nn_notify *n)
{
    pthread_mutex_lock(&n->lock);
    n->generation++;
    pthread_cond_broadcast(&n->cond);
    pthread_mutex_unlock(&n->lock);
}

uint64_t nn_notify_generation(nn_notify *n)
{
    pthread_mutex_lock(&n->lock);
    uint64_t g = n->generation;
    pthread_mutex_unlock(&n->lock);
    return g;
}

uint64_t nn_notify_wait(nn_notify *n, uint64_t seen, unsigned timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&n->lock);
    while (n->generation == seen && pthread_cond_timedwait(&n->cond, &n->lock, &until) == 0)
        ;
    uint64_t g = n->generation;
    pthread_mutex_unlock(&n->lock);
    return g;
}
