/* nn_frr: the host's FRR configuration, made the envelope's frr_text.
 *
 * frr-reload.py does the work FRR's own packaging uses for "service frr
 * reload": it compares the text with `show running-config` and sends only
 * the differences through vtysh, so sessions whose configuration did not
 * change stay up, and configuration that left the text is removed (plain
 * `vtysh -f` only ever adds). The daemon remembers, in its state
 * directory, a hash of the text it applied and a hash of the running
 * configuration right after; when both still match nothing is run but one
 * `show running-config`, and when the running configuration moved (a hand
 * edit, a restarted bgpd) the text is applied again: drift repair. */
#ifndef NN_AGENT_FRR_H
#define NN_AGENT_FRR_H
#include <stddef.h>

#define NN_FRR_RELOAD_DEFAULT "/usr/lib/frr/frr-reload.py"
#define NN_FRR_VTY_DEFAULT "/var/run/frr"

typedef struct nn_frr_config {
    const char *reload;   /* frr-reload.py */
    const char *vty_dir;  /* FRR's vty sockets (bgpd.vty) */
    const char *work_dir; /* the daemon's state directory: frr.conf, frr.applied */
} nn_frr_config;

typedef enum nn_frr_outcome {
    NN_FRR_OFF,       /* no BGP in the envelope and none applied before */
    NN_FRR_UNCHANGED, /* FRR already runs the text */
    NN_FRR_RELOADED,  /* the differences were applied */
    NN_FRR_WITHDRAWN, /* BGP left the envelope: Nanami's configuration removed */
    NN_FRR_FAILED,    /* why says what; the rest of the envelope still applies */
} nn_frr_outcome;

/* Makes FRR run text (NUL-terminated; NULL when the envelope has no BGP).
 * Costs one vtysh call when nothing changed, one frr-reload.py run
 * (~0.5 s) when something did. */
nn_frr_outcome nn_frr_apply(const nn_frr_config *c, const char *text, char *why, size_t why_len);

const char *nn_frr_outcome_name(nn_frr_outcome o);

#endif
