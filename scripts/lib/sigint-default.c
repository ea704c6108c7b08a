/* Preloaded by scripts/lib/rust-kernel into evcxr_jupyter and everything it
 * starts. The wrapper makes SIGINT ignored for the whole kernel (Jupyter's
 * interrupt reaches the kernel's process group as SIGINT, and evcxr_jupyter,
 * cargo and rustc must survive it); an ignored signal is inherited, so this
 * constructor gives it back its usual meaning in the one process that runs
 * the notebook's cells (evcxr marks it with EVCXR_IS_RUNTIME). There SIGINT
 * then ends running code, as evcxr's own interrupt does, until dlkit installs
 * its handler that stops a running fit instead. */
#include <signal.h>
#include <stdlib.h>

__attribute__((constructor)) static void dlkit_sigint_default(void) {
    if (getenv("EVCXR_IS_RUNTIME") != NULL) {
        signal(SIGINT, SIG_DFL);
    }
}
