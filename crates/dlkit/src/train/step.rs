//! The work of one training step and of an epoch's closing metrics, each
//! phase timed into [`EpochPhases`](super::EpochPhases).

use super::batches::Samples;
use super::evaluate::{run_batches, Totals};
use super::phases::{EpochPhases, Phase, PhaseTimer};
use super::Metric;
use crate::error::Result;
use crate::model::Model;
use candle_core::{Device, Var};

/// What every step of one `fit` shares.
pub(crate) struct TrainStep {
    from_logits: bool,
    device: Device,
    vars: Vec<Var>,
    timer: PhaseTimer,
}

impl TrainStep {
    pub fn new(model: &Model) -> Self {
        TrainStep {
            from_logits: model.loss_takes_logits(),
            device: model.device.clone(),
            vars: model.trainable_variables(),
            timer: PhaseTimer::new(),
        }
    }

    /// Trains on the samples at `indices` and returns the batch's mean loss.
    /// A loss that is not finite is returned without an update: gradients of a
    /// NaN would only spread it (what then happens is the callbacks' to say).
    pub fn run(
        &mut self,
        model: &mut Model,
        train: &Samples,
        indices: &[u32],
        totals: &mut Totals,
    ) -> Result<f64> {
        self.timer.restart();
        let (xb, yb, classes) = train.gather(indices, &self.device)?;
        self.timer.lap(Phase::Batches);
        let output = model.run(&xb, true, self.from_logits)?;
        let compiled = model.compiled.as_mut().expect("checked in fit");
        let loss = compiled.loss.compute(&output, &yb, self.from_logits)?;
        let loss_value = loss.to_dtype(candle_core::DType::F64)?.to_scalar::<f64>()?;
        self.timer.lap(Phase::Forward);
        if !loss_value.is_finite() {
            return Ok(loss_value);
        }
        let grads = loss.backward()?;
        self.timer.lap(Phase::Backward);
        compiled
            .state
            .step(&compiled.optimizer, &self.vars, &grads)?;
        self.timer.lap(Phase::Optimizer);
        totals.add(
            loss_value,
            &output,
            &yb,
            classes.as_deref(),
            self.from_logits,
        )?;
        self.timer.lap(Phase::Metrics);
        Ok(loss_value)
    }

    /// The epoch's logs, Keras' order: the training means, then the same on
    /// the validation data (`val_`), when there is some.
    pub fn epoch_metrics(
        &mut self,
        model: &mut Model,
        totals: &Totals,
        validation: Option<&Samples>,
        metrics: &[Metric],
    ) -> Result<Vec<(String, f64)>> {
        let mut pairs = totals.pairs("");
        if let Some(v) = validation {
            self.timer.restart();
            pairs.extend(run_batches(model, v, metrics, self.from_logits, false)?.pairs("val_"));
            self.timer.lap(Phase::Validation);
        }
        Ok(pairs)
    }

    /// The phases of the epoch just ended; the next one starts from zero.
    pub fn take_phases(&mut self) -> EpochPhases {
        self.timer.take()
    }
}
