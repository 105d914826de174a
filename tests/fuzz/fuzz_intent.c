/* libFuzzer harness: any bytes -> parse -> allocate -> compile every
 * envelope and device config. Nothing may crash, leak or trip UBSan. */
#include <stddef.h>
#include <stdint.h>

#include <sodium.h>

#include "alloc/alloc.h"
#include "compile/compile.h"
#include "model/intent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (sodium_init() < 0)
            return 0;
        ready = 1;
    }
    nn_error err;
    nn_doc *doc = NULL;
    if (nn_intent_parse((const char *)data, size, &doc, &err) != 0)
        return 0;
    if (nn_alloc_assign(doc, &err) == 0) {
        nn_buf out = NN_BUF_INIT;
        for (size_t w = 0; w < doc->nworkspaces; w++)
            for (size_t n = 0; n < doc->workspaces[w].nnetworks; n++) {
                const nn_network *net = &doc->workspaces[w].networks[n];
                nn_net_plan *plan;
                if (nn_compile_plan_new(net, &plan) != 0)
                    continue;
                nn_compile_for_network(plan, &out);
                for (size_t d = 0; d < net->ndevices; d++)
                    nn_compile_device_wgquick(plan, &net->devices[d], &out);
                nn_compile_plan_free(plan);
                nn_buf_reset(&out);
            }
        nn_buf_free(&out);
    }
    nn_doc_free(doc);
    return 0;
}
