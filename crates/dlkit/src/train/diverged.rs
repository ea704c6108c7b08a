//! What `fit` does when a batch's loss is NaN or infinite: it puts back the
//! weights and the optimizer of the epoch's start, and unless a callback
//! stopped training on that batch ([`TerminateOnNaN`](super::TerminateOnNaN)),
//! returns an error saying where it happened.

use super::callbacks::BatchLogs;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::optim::OptimizerState;
use candle_core::Tensor;

/// `the loss became NaN at epoch 2, batch 7/19`.
pub(crate) fn where_the_loss_diverged(logs: &BatchLogs) -> String {
    format!(
        "the loss became {} at epoch {}, batch {}/{}",
        logs.loss,
        logs.epoch + 1,
        logs.batch + 1,
        logs.batches
    )
}

/// What [`NanGuard`] did to the weights.
pub(crate) fn weights_restored(logs: &BatchLogs) -> String {
    format!(
        "the weights are back to those at the start of epoch {}",
        logs.epoch + 1
    )
}

/// Keeps the model as it was at each epoch's start, and puts it back after a
/// batch whose loss is not finite.
#[derive(Default)]
pub(crate) struct NanGuard {
    start: Option<EpochStart>,
}

impl NanGuard {
    pub fn epoch_begin(&mut self, model: &Model) -> Result<()> {
        self.start = Some(EpochStart::take(model)?);
        Ok(())
    }

    /// After the callbacks saw the batch: `stopping` says whether one of them
    /// stopped training, which makes a diverged loss no error.
    pub fn batch_end(&self, logs: &BatchLogs, model: &mut Model, stopping: bool) -> Result<()> {
        if logs.loss.is_finite() {
            return Ok(());
        }
        if let Some(start) = &self.start {
            start.restore(model)?;
        }
        if stopping {
            return Ok(());
        }
        Err(Error::Training(format!(
            "{}; {}. Try a smaller learning rate, check the inputs for NaN, or scale them to \
             [0, 1]",
            where_the_loss_diverged(logs),
            weights_restored(logs)
        )))
    }
}

/// The model's weights (moving statistics included) and optimizer state at
/// the start of an epoch. A NaN loss shows that the last updates diverged
/// (the weights may still be finite, only huge): putting this back leaves the
/// model as it was after the last epoch whose losses were all finite.
struct EpochStart {
    weights: Vec<Tensor>,
    optimizer: OptimizerState,
}

impl EpochStart {
    fn take(model: &Model) -> Result<Self> {
        let weights = model
            .variables()
            .iter()
            .map(|v| v.as_tensor().copy())
            .collect::<candle_core::Result<Vec<_>>>()?;
        let optimizer = model.require_compiled()?.state.clone();
        Ok(EpochStart { weights, optimizer })
    }

    fn restore(&self, model: &mut Model) -> Result<()> {
        for (var, value) in model.variables().iter().zip(&self.weights) {
            var.set(value)?;
        }
        if let Some(compiled) = model.compiled.as_mut() {
            compiled.state = self.optimizer.clone();
        }
        Ok(())
    }
}
