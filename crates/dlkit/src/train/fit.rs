//! `fit`: the training loop.

use super::batches::Samples;
use super::callbacks::{BatchLogs, Callback, Control, Resume};
use super::checks;
use super::evaluate::Totals;
use super::events::{self, Events};
use super::progress::Progress;
use super::step::TrainStep;
use super::History;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::rng::Rng;
use candle_core::Tensor;

/// Options of [`Model::fit`], Keras' keyword arguments as builder methods:
///
/// ```
/// # use dlkit::prelude::*;
/// # let (x_test, y_test) = (Tensor::zeros((4, 784), DType::F32, &Device::Cpu)?, Tensor::zeros((4, 10), DType::F32, &Device::Cpu)?);
/// let options = FitOptions::new()
///     .epochs(10)
///     .batch_size(200)
///     .validation_data(&x_test, &y_test)
///     .verbose(2);
/// # Ok::<(), dlkit::Error>(())
/// ```
pub struct FitOptions {
    pub batch_size: usize,
    pub epochs: usize,
    pub shuffle: bool,
    /// 0 silent, 1 progress lines within epochs, 2 one line per epoch.
    pub verbose: u8,
    pub validation_data: Option<(Tensor, Tensor)>,
    /// Fraction of the training data (taken from the end, before shuffling) to validate on.
    pub validation_split: f64,
    /// Seed for this run's shuffling and dropout; by default the model's own generator.
    pub seed: Option<u64>,
    pub callbacks: Vec<Box<dyn Callback>>,
}

impl Default for FitOptions {
    /// Keras' defaults: batch size 32, one epoch, shuffled, progress lines.
    fn default() -> Self {
        FitOptions {
            batch_size: 32,
            epochs: 1,
            shuffle: true,
            verbose: 1,
            validation_data: None,
            validation_split: 0.0,
            seed: None,
            callbacks: Vec::new(),
        }
    }
}

impl FitOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn batch_size(mut self, n: usize) -> Self {
        self.batch_size = n;
        self
    }
    pub fn epochs(mut self, n: usize) -> Self {
        self.epochs = n;
        self
    }
    pub fn shuffle(mut self, yes: bool) -> Self {
        self.shuffle = yes;
        self
    }
    pub fn verbose(mut self, level: u8) -> Self {
        self.verbose = level;
        self
    }
    pub fn validation_data(mut self, x: &Tensor, y: &Tensor) -> Self {
        self.validation_data = Some((x.clone(), y.clone()));
        self
    }
    pub fn validation_split(mut self, fraction: f64) -> Self {
        self.validation_split = fraction;
        self
    }
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }
    pub fn callback(mut self, callback: impl Callback + 'static) -> Self {
        self.callbacks.push(Box::new(callback));
        self
    }

    fn check(&self) -> Result<()> {
        if self.epochs == 0 {
            return Err(Error::InvalidArgument(
                "epochs must be at least 1 (fit with 0 epochs would train nothing)".into(),
            ));
        }
        if self.batch_size == 0 {
            return Err(Error::InvalidArgument(
                "batch_size must be at least 1".into(),
            ));
        }
        if !(0.0..1.0).contains(&self.validation_split) {
            return Err(Error::InvalidArgument(format!(
                "validation_split must be in [0, 1), got {}",
                self.validation_split
            )));
        }
        if self.validation_split > 0.0 && self.validation_data.is_some() {
            return Err(Error::InvalidArgument(
                "give either validation_data or validation_split, not both".into(),
            ));
        }
        Ok(())
    }
}

impl Model {
    /// Trains the model on `(x, y)`, Keras' `fit`; returns the per-epoch [`History`].
    ///
    /// `x` has the samples on its first axis in the model's input shape; `y`
    /// holds one-hot rows or integer labels, as the loss wants. Errors name
    /// what does not fit; a NaN or infinite loss is an error saying where it
    /// happened, unless a [`TerminateOnNaN`](super::TerminateOnNaN) callback
    /// stops training instead; either way the weights and the optimizer are put
    /// back to where they were at the start of that epoch. With a [`BackupAndRestore`](super::BackupAndRestore)
    /// callback that finds a backup, training continues after the epochs the
    /// backup holds, and the history covers those epochs too.
    pub fn fit(&mut self, x: &Tensor, y: &Tensor, options: FitOptions) -> Result<History> {
        options.check()?;
        if let Some(compiled) = &self.compiled {
            let lr = compiled.optimizer.learning_rate();
            if !(lr.is_finite() && lr > 0.0) {
                return Err(Error::InvalidArgument(format!(
                    "the optimizer's learning rate is {lr}; it must be a positive number"
                )));
            }
        }
        let mut options = options;
        let (x, y) = super::sample_limit::apply(x, y, options.verbose)?;
        let mut train = self.dataset("x", "y", &x, &y)?;
        checks::finite_weights(self)?;
        let validation = match options.validation_data.take() {
            Some((vx, vy)) => Some(self.dataset("validation x", "validation y", &vx, &vy)?),
            None if options.validation_split > 0.0 => {
                let held_out = train.split_off_last(options.validation_split)?;
                if held_out.len() == 0 {
                    return Err(Error::InvalidArgument(format!(
                        "validation_split {} of {} samples holds out no sample; use a larger \
                         fraction, or none",
                        options.validation_split,
                        train.len()
                    )));
                }
                Some(held_out)
            }
            None => None,
        };
        if train.len() == 0 {
            return Err(Error::InvalidArgument("fit got no training samples".into()));
        }
        // A seed for this run replaces the model's generator until fit returns.
        let saved_rng = options
            .seed
            .map(|s| std::mem::replace(&mut self.rng, Rng::new(s)));
        // Callbacks may restore an earlier run (BackupAndRestore) before the
        // first epoch, after the seed is in place so that theirs replaces it.
        let result = self
            .begin_callbacks(&mut options)
            .and_then(|resume| self.train_loop(&train, validation.as_ref(), &mut options, resume));
        if let Some(rng) = saved_rng {
            self.rng = rng;
        }
        // Every callback ends, however training ended; the first error is
        // returned: the training's, if any.
        let ended = events::end_all(&mut options.callbacks, self);
        crate::ops::release_free_memory();
        match (result, ended) {
            (Ok(_), Err(err)) => Err(err),
            (result, _) => result,
        }
    }

    /// Checks `(x, y)` against the model and the loss, and prepares them.
    pub(crate) fn dataset(
        &mut self,
        x_name: &str,
        y_name: &str,
        x: &Tensor,
        y: &Tensor,
    ) -> Result<Samples> {
        let loss = self.require_compiled()?.loss.clone();
        self.check_input(x_name, x.dims())?;
        let output = self.nodes[self.output].output_shape.clone();
        loss.check_targets(y_name, y.dims(), &output)?;
        if x.dim(0)? != y.dim(0)? {
            return Err(Error::Shape(format!(
                "{x_name} has {} samples but {y_name} has {}",
                x.dim(0)?,
                y.dim(0)?
            )));
        }
        checks::non_empty(x_name, x)?;
        checks::finite(x_name, x)?;
        let classes = if loss.is_classification() {
            Some(checks::target_classes(y_name, y, output[0])?)
        } else {
            checks::finite(y_name, y)?;
            None
        };
        // Labels held as whole-number floats (checked above) become the
        // integers the sparse loss gathers with, as Keras casts them.
        let y = match &classes {
            Some(c) if y.rank() == 1 && y.dtype().is_float() => {
                Tensor::from_slice(c, c.len(), y.device())?
            }
            _ => y.clone(),
        };
        Ok(Samples {
            x: x.clone(),
            y,
            classes,
        })
    }

    /// Runs every callback's `on_train_begin`; at most one may resume.
    fn begin_callbacks(&mut self, options: &mut FitOptions) -> Result<Option<Resume>> {
        let epochs = options.epochs;
        let mut resume = None;
        for callback in options.callbacks.iter_mut() {
            if let Some(r) = callback.on_train_begin(self, epochs)? {
                if resume.is_some() {
                    return Err(Error::InvalidArgument(
                        "two callbacks of this fit both resume an earlier run (two \
                         BackupAndRestore?); give fit only one"
                            .into(),
                    ));
                }
                resume = Some(r);
            }
        }
        Ok(resume)
    }

    /// The epochs themselves: each batch is a step between two events, the
    /// rest (progress, history, NaN policy, interrupts) is in the events'
    /// receivers. With `resume`, training starts after the epochs it has done
    /// and the history returned includes them.
    fn train_loop(
        &mut self,
        train: &Samples,
        validation: Option<&Samples>,
        options: &mut FitOptions,
        resume: Option<Resume>,
    ) -> Result<History> {
        let steps = train.len().div_ceil(options.batch_size);
        let metrics = self.require_compiled()?.metrics.clone();
        let progress = Progress::new(options.verbose, options.epochs, steps);
        let mut events = Events::new(&mut options.callbacks, progress, resume);
        let mut step = TrainStep::new(self);
        for epoch in events.first_epoch()..options.epochs {
            events.epoch_begin(epoch, self)?;
            let batches =
                train.batch_indices(options.batch_size, options.shuffle.then_some(&mut self.rng));
            let mut totals = Totals::new(&metrics);
            for (batch, indices) in batches.iter().enumerate() {
                events.batch_begin(batch, self)?;
                let loss = step.run(self, train, indices, &mut totals)?;
                let logs = BatchLogs::new(epoch, batch, steps, loss, &totals);
                if let stop @ Control::Stop(_) = events.batch_end(&logs, self)? {
                    return Ok(events.finish(stop));
                }
            }
            let pairs = step.epoch_metrics(self, &totals, validation, &metrics)?;
            if let stop @ Control::Stop(_) =
                events.epoch_end(epoch, pairs, step.take_phases(), self)?
            {
                return Ok(events.finish(stop));
            }
        }
        Ok(events.finish(Control::Continue))
    }

    /// The loss can take logits when the output layer ends in a softmax and
    /// the loss is a cross-entropy, which can take the softmax over.
    pub(crate) fn loss_takes_logits(&self) -> bool {
        self.output_activation() == Some(crate::layers::Activation::Softmax)
            && self
                .compiled
                .as_ref()
                .is_some_and(|c| c.loss.folds_softmax())
    }
}
