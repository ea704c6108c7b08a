//! Stopping a running `fit` from the outside, like Keras on KeyboardInterrupt:
//! training ends after the batch it is in, `fit` returns the [`History`] of
//! the epochs it finished, and the model keeps the weights it has.
//!
//! In a notebook the request comes from Jupyter's interrupt button: the
//! project's kernel turns it into SIGINT for the process that runs the cells,
//! and [`install_sigint_handler`] (called by `dlkit-dylib` when a kernel loads
//! it) maps that signal to [`request_stop`]. An interrupt while no `fit` runs,
//! or a second one before `fit` has reached the end of its batch, does what
//! SIGINT always does: it ends that process (evcxr then starts a new one, and
//! the notebook's variables are gone).
//!
//! [`History`]: super::History

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How many `fit` calls are running (more than one only with threads).
static RUNNING: AtomicUsize = AtomicUsize::new(0);
/// Set by [`request_stop`], taken by the training loop at the end of a batch.
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Asks every running `fit` to stop after its current batch. Returns `false`
/// (and records nothing) when no `fit` is running.
///
/// Only atomics: safe to call from a signal handler.
pub fn request_stop() -> bool {
    if RUNNING.load(Ordering::SeqCst) == 0 {
        return false;
    }
    REQUESTED.store(true, Ordering::SeqCst);
    true
}

/// Whether a `fit` is running in this process.
pub fn fit_running() -> bool {
    RUNNING.load(Ordering::SeqCst) > 0
}

/// Whether a stop was requested and not yet honoured.
pub fn stop_requested() -> bool {
    REQUESTED.load(Ordering::SeqCst)
}

/// Held by `fit` while it trains: while one is alive, [`request_stop`] counts.
struct Training(());

impl Training {
    fn start() -> Self {
        // A request made before this fit started is not meant for it.
        if RUNNING.fetch_add(1, Ordering::SeqCst) == 0 {
            REQUESTED.store(false, Ordering::SeqCst);
        }
        Training(())
    }
}

impl Drop for Training {
    fn drop(&mut self) {
        if RUNNING.fetch_sub(1, Ordering::SeqCst) == 1 {
            REQUESTED.store(false, Ordering::SeqCst);
        }
    }
}

/// Makes SIGINT stop a running `fit` (see the module's text). Idempotent.
#[cfg(unix)]
pub fn install_sigint_handler() {
    // SAFETY: `on_sigint` only touches atomics and calls the async-signal-safe
    // `signal` and `raise`; the sigaction struct is fully initialised.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_sigint as extern "C" fn(libc::c_int) as libc::sighandler_t;
        action.sa_flags = libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGINT, &action, std::ptr::null_mut());
    }
}

/// Elsewhere SIGINT keeps its usual meaning.
#[cfg(not(unix))]
pub fn install_sigint_handler() {}

#[cfg(unix)]
extern "C" fn on_sigint(_signal: libc::c_int) {
    let first_request =
        RUNNING.load(Ordering::SeqCst) > 0 && !REQUESTED.swap(true, Ordering::SeqCst);
    if first_request {
        return;
    }
    // Nothing will stop gracefully: let SIGINT end the process as usual.
    // SAFETY: both calls are async-signal-safe.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
        libc::raise(libc::SIGINT);
    }
}

/// The check `fit` makes after every batch: while it lives, [`request_stop`]
/// counts for this `fit`; when a stop was requested, training ends after the
/// batch.
pub(crate) struct InterruptCheck(Training);

impl InterruptCheck {
    pub(crate) fn start() -> Self {
        InterruptCheck(Training::start())
    }
}

impl super::Callback for InterruptCheck {
    fn on_train_batch_end(
        &mut self,
        logs: &super::BatchLogs,
        _model: &crate::model::Model,
    ) -> crate::Result<super::Control> {
        if !stop_requested() {
            return Ok(super::Control::Continue);
        }
        let reason = format!(
            "interrupted in epoch {}, after batch {}/{}: training stopped; the model keeps its \
             weights, the history holds the {} finished epoch(s)",
            logs.epoch + 1,
            logs.batch + 1,
            logs.batches,
            logs.epoch
        );
        // Printed whatever the verbosity: the person who pressed the button sees why the cell ended.
        println!("\n{reason}");
        Ok(super::Control::Stop(reason))
    }
}
