/* nn_error: a user-facing error that names where (a JSON path, a field, a
 * line) and what. Printed as "error: PATH: MESSAGE". */
#ifndef NN_MODEL_ERROR_H
#define NN_MODEL_ERROR_H

#include <stddef.h>

#define NN_ERROR_PATH_MAX 256
#define NN_ERROR_MSG_MAX 512

typedef struct nn_error {
    char path[NN_ERROR_PATH_MAX]; /* e.g. "workspaces[0].networks[1].peers[3].endpoint" */
    char msg[NN_ERROR_MSG_MAX];
} nn_error;

void nn_error_set(nn_error *err, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same for a reader that reports into a caller's buffer (the agent's
 * "PATH: MESSAGE" strings): formats into why (when given) and returns
 * -EINVAL, so a check can `return nn_why_invalid(why, len, ...)`. */
int nn_why_invalid(char *why, size_t why_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
