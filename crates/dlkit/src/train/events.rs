//! The events of a training run, sent in Keras' order to the user's callbacks
//! and to the small parts `fit` always runs around them: the progress line,
//! the [`History`], the NaN guard and the interrupt check.
//!
//! Per event, in order:
//! - epoch begin: the callbacks, then the progress header and the NaN guard's
//!   copy of the weights;
//! - batch begin: the callbacks;
//! - batch end: the callbacks, then the NaN guard (which restores the epoch's
//!   weights after a non-finite loss, and fails unless a callback stopped),
//!   then, while training goes on, the progress line and the interrupt check;
//! - epoch end: the progress line (which times the epoch), the history, then
//!   the callbacks.
//!
//! A callback's error ends training at once; a stop ends it after the event.

use super::callbacks::{BatchLogs, Callback, Control, EpochLogs, Resume};
use super::diverged::NanGuard;
use super::interrupt::InterruptCheck;
use super::phases::EpochPhases;
use super::progress::Progress;
use super::History;
use crate::error::Result;
use crate::model::Model;

pub(crate) struct Events<'a> {
    callbacks: &'a mut [Box<dyn Callback>],
    progress: Progress,
    first_epoch: usize,
    history: History,
    nan_guard: NanGuard,
    interrupt: InterruptCheck,
}

impl<'a> Events<'a> {
    /// Events for a `fit` of `epochs` epochs of `steps` batches, resuming
    /// where `resume` says (with its history) if given.
    pub fn new(
        callbacks: &'a mut [Box<dyn Callback>],
        progress: Progress,
        resume: Option<Resume>,
    ) -> Self {
        let (first_epoch, history) = match resume {
            Some(r) => {
                progress.resumed(r.epochs_done);
                let history = History {
                    stopped_early: None,
                    ..r.history
                };
                (r.epochs_done, history)
            }
            None => (0, History::default()),
        };
        Events {
            callbacks,
            progress,
            first_epoch,
            history,
            nan_guard: NanGuard::default(),
            interrupt: InterruptCheck::start(),
        }
    }

    /// The first epoch to train: 0, or the one after those a backup holds.
    pub fn first_epoch(&self) -> usize {
        self.first_epoch
    }

    pub fn epoch_begin(&mut self, epoch: usize, model: &mut Model) -> Result<()> {
        for callback in self.callbacks.iter_mut() {
            callback.on_epoch_begin(epoch, model)?;
        }
        self.progress.start_epoch(epoch);
        self.nan_guard.epoch_begin(model)
    }

    pub fn batch_begin(&mut self, batch: usize, model: &mut Model) -> Result<()> {
        for callback in self.callbacks.iter_mut() {
            callback.on_train_batch_begin(batch, model)?;
        }
        Ok(())
    }

    pub fn batch_end(&mut self, logs: &BatchLogs, model: &mut Model) -> Result<Control> {
        let mut control = Control::Continue;
        for callback in self.callbacks.iter_mut() {
            if let Control::Stop(reason) = callback.on_train_batch_end(logs, model)? {
                control = Control::Stop(reason);
            }
        }
        let stopping = matches!(control, Control::Stop(_));
        self.nan_guard.batch_end(logs, model, stopping)?;
        if !stopping {
            self.progress.batch_done(logs);
            control = self.interrupt.on_train_batch_end(logs, model)?;
        }
        Ok(control)
    }

    /// Closes the epoch with its metrics (`pairs`, training then validation)
    /// and where its time went.
    pub fn epoch_end(
        &mut self,
        epoch: usize,
        pairs: Vec<(String, f64)>,
        phases: EpochPhases,
        model: &Model,
    ) -> Result<Control> {
        let seconds = self.progress.end_epoch(epoch, &pairs);
        let logs = EpochLogs {
            epoch,
            metrics: pairs,
            seconds,
        };
        self.history.push(&logs);
        self.history.phase_seconds.push(phases);
        let mut control = Control::Continue;
        for callback in self.callbacks.iter_mut() {
            if let Control::Stop(reason) = callback.on_epoch_end(&logs, model)? {
                control = Control::Stop(reason);
            }
        }
        if let Control::Stop(reason) = &control {
            self.progress.stopped(reason);
        }
        Ok(control)
    }

    /// The history of the run, with why it stopped early, if it did.
    pub fn finish(mut self, control: Control) -> History {
        if let Control::Stop(reason) = control {
            self.history.stopped_early = Some(reason);
        }
        self.history
    }
}

/// Runs every callback's `on_train_end`, even after another's failure
/// (EarlyStopping's weight restore must not be skipped), and returns the
/// first error.
pub(crate) fn end_all(callbacks: &mut [Box<dyn Callback>], model: &Model) -> Result<()> {
    let mut first_error = None;
    for callback in callbacks.iter_mut() {
        if let Err(err) = callback.on_train_end(model) {
            first_error.get_or_insert(err);
        }
    }
    first_error.map_or(Ok(()), Err)
}
