//! dlkit for notebooks: the whole of [`dlkit`] as one Rust shared library.
//!
//! evcxr compiles every notebook cell into a library of its own. Linked
//! against the `dlkit` rlib, each cell would carry its own static copy of
//! dlkit and candle — its own tensor-id counter, its own thread pools — and a
//! candle training loop whose `Var`s were made in an earlier cell would mix up
//! its gradients. Linked against this dylib, all cells call into one copy.
//!
//! A notebook names it as `dlkit`, so cells read exactly like code written
//! against the `dlkit` crate:
//!
//! ```text
//! :dep dlkit = { path = "../crates/dlkit-dylib", package = "dlkit-dylib" }
//! ```

pub use dlkit::*;

// Set by build.rs when dlkit changed while a kernel has this library loaded.
#[cfg(dlkit_loaded_by_a_running_kernel)]
compile_error!(concat!(
    "dlkit has changed since this notebook kernel (process ",
    env!("DLKIT_LOADED_BY_PID"),
    ") loaded it. A running kernel keeps the library it loaded first, so the new code would \
     not be used. Restart the kernel (Kernel > Restart Kernel) to build and load the new \
     dlkit; the notebook's variables are lost with the restart."
));

/// Jupyter's interrupt reaches the kernel as SIGINT (the kernelspec asks for
/// `interrupt_mode: signal`, and the kernel's launcher, crates/dlkit-kernel,
/// makes evcxr itself ignore it). Inside evcxr's process that runs the cells, dlkit's handler turns it
/// into "stop `fit` after this batch"; see [`dlkit::train::interrupt`].
#[cfg(target_os = "linux")]
#[used]
#[link_section = ".init_array"]
static INSTALL_INTERRUPT_HANDLER: extern "C" fn() = {
    extern "C" fn install() {
        if std::env::var_os("EVCXR_IS_RUNTIME").is_some() {
            dlkit::train::interrupt::install_sigint_handler();
        }
        // The notebooks' thread choice, made once here, before any cell's tensor op:
        // candle's elementwise ops run on the calling thread, beside rayon's kernels
        // (unless the user set CANDLE_NUM_THREADS; see dlkit::ops::candle_pool).
        dlkit::ops::choose_inline_elementwise();
    }
    install
};
