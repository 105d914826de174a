/* Enrollment-token routes (see enroll.c). */
#ifndef NN_API_ENROLL_H
#define NN_API_ENROLL_H

#include "api/internal.h"

/* workspaces/W/networks/N/peers/P/enrollment-tokens[/ID] */
void nn_api_enrollment_tokens(ctx *c);

#endif
