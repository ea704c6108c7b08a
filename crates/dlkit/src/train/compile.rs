//! `compile`: choosing the loss, optimizer and metrics of a model.

use crate::error::{Error, Result};
use crate::model::Model;
use crate::optim::{Optimizer, OptimizerState};
use crate::train::metric_fn::remember_direction;
use crate::train::metrics::canonical_name;
use crate::train::{Loss, Metric};

/// What `compile` set, with the optimizer's running state.
#[derive(Debug)]
pub struct Compiled {
    pub loss: Loss,
    pub optimizer: Optimizer,
    pub metrics: Vec<Metric>,
    pub(crate) state: OptimizerState,
}

impl Compiled {
    pub(crate) fn reset_optimizer(&mut self) {
        self.state = OptimizerState::new();
    }
}

impl Model {
    /// Sets the loss, the optimizer and the metrics, Keras' `compile`:
    ///
    /// ```
    /// # use dlkit::prelude::*;
    /// # let mut model = Sequential::new();
    /// model.compile(Loss::CategoricalCrossentropy, Adam::default(), &[Metric::Accuracy])?;
    /// # Ok::<(), dlkit::Error>(())
    /// ```
    /// Compiling again starts the optimizer afresh (the weights are kept).
    /// A loss, metric or optimizer of your own goes in the same places:
    /// [`Loss::custom`], [`Metric::custom`], [`Optimizer::custom`].
    pub fn compile(
        &mut self,
        loss: Loss,
        optimizer: impl Into<Optimizer>,
        metrics: &[Metric],
    ) -> Result<()> {
        let optimizer = optimizer.into();
        if let Some(m) = metrics.iter().find(|m| m.needs_classes()) {
            if loss.is_regression() {
                return Err(Error::InvalidArgument(format!(
                    "metric {m} compares classes, but {} is a regression loss; use \
                     Metric::MeanAbsoluteError",
                    loss.keras_name()
                )));
            }
        }
        if let Some((i, m)) = metrics
            .iter()
            .enumerate()
            .find(|(i, m)| metrics[..*i].iter().any(|other| other.name() == m.name()))
        {
            return Err(Error::InvalidArgument(format!(
                "metric {m} is given twice (at {i}); each metric is reported once"
            )));
        }
        for metric in metrics {
            if let Metric::Custom(custom) = metric {
                check_custom_name("metric", custom.name())?;
                remember_direction(custom);
            }
        }
        if let Loss::Custom(custom) = &loss {
            check_custom_name("loss", custom.name())?;
        }
        if let Optimizer::Custom(custom) = &optimizer {
            check_custom_name("optimizer", custom.name())?;
        }
        self.compiled = Some(Compiled {
            loss,
            optimizer,
            metrics: metrics.to_vec(),
            state: OptimizerState::new(),
        });
        Ok(())
    }

    /// The compile settings, if compiled.
    pub fn compiled(&self) -> Option<&Compiled> {
        self.compiled.as_ref()
    }

    /// The optimizer's learning rate (`model.optimizer.learning_rate` in Keras).
    pub fn learning_rate(&self) -> Result<f64> {
        Ok(self.require_compiled()?.optimizer.learning_rate())
    }

    /// Changes the optimizer's learning rate for the steps that follow, keeping its state
    /// (what [`LearningRateScheduler`](crate::train::LearningRateScheduler) and
    /// [`ReduceLROnPlateau`](crate::train::ReduceLROnPlateau) do between epochs).
    pub fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::InvalidArgument(format!(
                "a learning rate must be a positive number, not {lr}"
            )));
        }
        self.require_compiled()?;
        if let Some(compiled) = self.compiled.as_mut() {
            compiled.optimizer.set_learning_rate(lr);
        }
        Ok(())
    }

    /// The compile settings, or the one error that says to compile first.
    pub(crate) fn require_compiled(&self) -> Result<&Compiled> {
        self.compiled.as_ref().ok_or_else(|| {
            Error::Training(
                "the model is not compiled: call model.compile(loss, optimizer, metrics) first"
                    .into(),
            )
        })
    }
}

/// A custom loss, metric or optimizer needs a name of its own: it is the key
/// of its values in logs and History (`name`, `val_name`), and what files and
/// errors call it.
fn check_custom_name(what: &str, name: &str) -> Result<()> {
    let problem = if name.trim().is_empty() {
        "is empty"
    } else if what != "metric" {
        return Ok(());
    } else if name.starts_with("val_") {
        "starts with val_, which marks validation values in the logs"
    } else if name == "loss" || canonical_name(name) != name || name.parse::<Metric>().is_ok() {
        "is the name of one of dlkit's own log keys"
    } else {
        return Ok(());
    };
    Err(Error::InvalidArgument(format!(
        "the custom {what}'s name {name:?} {problem}; give it a name of its own"
    )))
}
