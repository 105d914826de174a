#include "api/message.h"

#include <string.h>

void nn_api_response_init(nn_api_response *resp)
{
    memset(resp, 0, sizeof(*resp));
    resp->status = 500;
    resp->content_type = "application/json";
}

void nn_api_response_free(nn_api_response *resp)
{
    nn_buf_free(&resp->body);
}
