/* libFuzzer harness: any bytes -> parse -> allocate -> compile every
 * envelope and device config. Nothing may crash, leak or trip UBSan. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "alloc/alloc.h"
#include "compile/compile.h"
#include "compile/credential.h"
#include "compile/host.h"
#include "model/intent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    static uint8_t sk[64];
    if (!ready) {
        if (sodium_init() < 0)
            return 0;
        uint8_t seed[32] = {42}, pk[32];
        crypto_sign_seed_keypair(pk, sk, seed);
        ready = 1;
    }
    nn_error err;
    nn_doc *doc = NULL;
    if (nn_intent_parse((const char *)data, size, &doc, &err) != 0)
        return 0;
    if (nn_alloc_assign(doc, &err) == 0) {
        nn_buf out = NN_BUF_INIT;
        for (size_t w = 0; w < doc->nworkspaces; w++) {
            const nn_workspace *ws = &doc->workspaces[w];
            for (size_t h = 0; h < ws->nhosts; h++) {
                nn_host_compile(ws, &ws->hosts[h], &out);
                nn_buf_reset(&out);
            }
        }
        for (size_t w = 0; w < doc->nworkspaces; w++)
            for (size_t n = 0; n < doc->workspaces[w].nnetworks; n++) {
                const nn_network *net = &doc->workspaces[w].networks[n];
                nn_net_plan *plan;
                if (nn_compile_plan_new(net, &plan) != 0)
                    continue;
                /* credentials need a validity window in the intent */
                if (net->workspace->valid_from)
                    nn_compile_plan_set_signing_key(plan, sk);
                nn_compile_for_network(plan, &out);
                for (size_t d = 0; d < net->ndevices; d++)
                    nn_compile_device_wgquick(plan, &net->devices[d], &out);
                /* a digest is a function of the plan: twice, the same */
                for (size_t i = 0; i < net->npeers; i++) {
                    uint8_t d1[32], d2[32];
                    nn_compile_peer_digest(plan, &net->peers[i], d1);
                    nn_compile_peer_digest(plan, &net->peers[i], d2);
                    if (memcmp(d1, d2, sizeof(d1)) != 0)
                        abort();
                }
                nn_compile_plan_free(plan);
                nn_buf_reset(&out);
            }
        nn_buf_free(&out);
    }
    nn_doc_free(doc);
    return 0;
}
