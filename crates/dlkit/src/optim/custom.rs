//! An optimizer written outside dlkit: a named [`OptimizerRule`] with its
//! learning rate, given to `compile` through [`Optimizer::custom`].

use super::{Optimizer, OptimizerRule};
use serde::ser::SerializeStruct;
use std::sync::Arc;

/// A user's [`OptimizerRule`] under a name, with the learning rate that
/// learning-rate callbacks read and change.
#[derive(Clone)]
pub struct CustomOptimizer {
    name: String,
    pub learning_rate: f64,
    rule: Arc<dyn OptimizerRule>,
}

impl CustomOptimizer {
    /// The name it reports (in backups, errors and saved files).
    pub fn name(&self) -> &str {
        &self.name
    }

    pub(crate) fn rule(&self) -> &dyn OptimizerRule {
        self.rule.as_ref()
    }
}

impl Optimizer {
    /// An optimizer of your own: `rule` updates each weight (see
    /// [`OptimizerRule`]), `learning_rate` is its starting learning rate.
    ///
    /// ```
    /// # use dlkit::prelude::*;
    /// use dlkit::optim::{OptimizerRule, Step};
    /// struct PlainSgd;
    /// impl OptimizerRule for PlainSgd {
    ///     fn slot_count(&self) -> usize { 0 }
    ///     fn update(&self, step: Step, weight: &mut [f32], grad: &[f32], _: &mut [&mut [f32]]) {
    ///         let lr = step.learning_rate as f32;
    ///         weight.iter_mut().zip(grad).for_each(|(w, g)| *w -= lr * g);
    ///     }
    /// }
    /// let mut model = Sequential::new();
    /// model.compile(Loss::MeanSquaredError, Optimizer::custom("plain_sgd", 0.01, PlainSgd), &[])?;
    /// # Ok::<(), dlkit::Error>(())
    /// ```
    /// A model compiled with it saves its weights and the optimizer's name;
    /// the rule itself is code, so `load_model` asks for it again (see
    /// [`load_model`](crate::model::load_model)).
    pub fn custom(
        name: impl Into<String>,
        learning_rate: f64,
        rule: impl OptimizerRule + 'static,
    ) -> Optimizer {
        Optimizer::Custom(CustomOptimizer {
            name: name.into(),
            learning_rate,
            rule: Arc::new(rule),
        })
    }
}

impl std::fmt::Debug for CustomOptimizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomOptimizer")
            .field("name", &self.name)
            .field("learning_rate", &self.learning_rate)
            .finish_non_exhaustive()
    }
}

/// The same optimizer: the same rule object (a clone of it), name and learning rate.
impl PartialEq for CustomOptimizer {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.learning_rate == other.learning_rate
            && Arc::ptr_eq(&self.rule, &other.rule)
    }
}

/// Written by name and learning rate: a file cannot hold the rule's code.
impl serde::Serialize for CustomOptimizer {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut s = serializer.serialize_struct("CustomOptimizer", 2)?;
        s.serialize_field("name", &self.name)?;
        s.serialize_field("learning_rate", &self.learning_rate)?;
        s.end()
    }
}
