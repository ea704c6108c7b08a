//! Optimizers with Keras' update rules and defaults: [`Adam`], [`Sgd`] (with
//! momentum), [`RmsProp`] and [`Adadelta`], and your own through
//! [`Optimizer::custom`]: each is an [`OptimizerRule`].
//!
//! Each is a small configuration struct; the per-weight state (moments,
//! accumulators) lives in an [`OptimizerState`] that the compiled model owns.
//! Updates are applied in place to the weights' storage on the CPU, one fused
//! pass per weight.

mod adadelta;
mod adam;
mod apply;
mod custom;
mod rmsprop;
mod rule;
mod sgd;

pub use adadelta::Adadelta;
pub use adam::Adam;
pub use custom::CustomOptimizer;
pub use rmsprop::RmsProp;
pub use rule::{OptimizerRule, Step};
pub use sgd::Sgd;

use crate::error::Result;
use candle_core::backprop::GradStore;
use candle_core::Var;
use serde::{Deserialize, Serialize};

/// One of dlkit's optimizers, or your own ([`Optimizer::custom`]), as given to `compile`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "class_name", content = "config")]
pub enum Optimizer {
    Adam(Adam),
    Sgd(Sgd),
    RmsProp(RmsProp),
    Adadelta(Adadelta),
    /// Written to a file by name; a file cannot give the rule back.
    #[serde(skip_deserializing)]
    Custom(CustomOptimizer),
}

impl Optimizer {
    pub(crate) fn rule(&self) -> &dyn OptimizerRule {
        match self {
            Optimizer::Adam(o) => o,
            Optimizer::Sgd(o) => o,
            Optimizer::RmsProp(o) => o,
            Optimizer::Adadelta(o) => o,
            Optimizer::Custom(o) => o.rule(),
        }
    }

    pub fn learning_rate(&self) -> f64 {
        match self {
            Optimizer::Adam(o) => o.learning_rate,
            Optimizer::Sgd(o) => o.learning_rate,
            Optimizer::RmsProp(o) => o.learning_rate,
            Optimizer::Adadelta(o) => o.learning_rate,
            Optimizer::Custom(o) => o.learning_rate,
        }
    }

    /// Sets the learning rate used from the next step on (what Keras' learning-rate callbacks
    /// change); the optimizer's state (moments, step count) is kept.
    pub fn set_learning_rate(&mut self, lr: f64) {
        match self {
            Optimizer::Adam(o) => o.learning_rate = lr,
            Optimizer::Sgd(o) => o.learning_rate = lr,
            Optimizer::RmsProp(o) => o.learning_rate = lr,
            Optimizer::Adadelta(o) => o.learning_rate = lr,
            Optimizer::Custom(o) => o.learning_rate = lr,
        }
    }

    /// Keras' name for it (`"adam"`, `"sgd"`, ...), or a custom optimizer's own.
    pub fn keras_name(&self) -> &str {
        match self {
            Optimizer::Adam(_) => "adam",
            Optimizer::Sgd(_) => "sgd",
            Optimizer::RmsProp(_) => "rmsprop",
            Optimizer::Adadelta(_) => "adadelta",
            Optimizer::Custom(o) => o.name(),
        }
    }
}

impl std::str::FromStr for Optimizer {
    type Err = crate::Error;
    /// Keras' string names with Keras 3's defaults: `"adam"`, `"sgd"`, `"rmsprop"`, `"adadelta"`.
    fn from_str(s: &str) -> Result<Self> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "adam" => Adam::default().into(),
            "sgd" => Sgd::default().into(),
            "rmsprop" => RmsProp::default().into(),
            "adadelta" => Adadelta::default().into(),
            other => {
                return Err(crate::Error::InvalidArgument(format!(
                    "unknown optimizer {other:?}; dlkit has adam, sgd, rmsprop and adadelta"
                )))
            }
        })
    }
}

/// The per-weight state of an optimizer and its step counter.
#[derive(Clone, Debug, Default)]
pub struct OptimizerState {
    step: u64,
    slots: Vec<Vec<Vec<f32>>>,
}

impl OptimizerState {
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of updates applied so far (Keras' `optimizer.iterations`).
    pub fn iterations(&self) -> u64 {
        self.step
    }

    /// The state vectors, one list per weight in the model's weight order
    /// (empty before the first step), for a training backup.
    pub(crate) fn slots(&self) -> &[Vec<Vec<f32>>] {
        &self.slots
    }

    /// The state after `step` updates with these state vectors, as saved by a
    /// training backup: training goes on exactly as if it had not stopped.
    pub(crate) fn from_parts(step: u64, slots: Vec<Vec<Vec<f32>>>) -> Self {
        OptimizerState { step, slots }
    }

    /// Applies one update to every weight that has a gradient in `grads`.
    pub fn step(&mut self, optimizer: &Optimizer, vars: &[Var], grads: &GradStore) -> Result<()> {
        let rule = optimizer.rule();
        if self.slots.len() != vars.len() {
            self.slots = vars
                .iter()
                .map(|v| vec![vec![0f32; v.elem_count()]; rule.slot_count()])
                .collect();
        }
        self.step += 1;
        let step = Step {
            iteration: self.step,
            learning_rate: optimizer.learning_rate(),
        };
        for (var, slots) in vars.iter().zip(self.slots.iter_mut()) {
            if let Some(grad) = grads.get(var.as_tensor()) {
                apply::update_in_place(rule, step, var, grad, slots)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{OptimizerRule, Step};

    /// Runs `rule` for 5 steps on weights of lengths around the 8-lane vector width and
    /// compares with `reference(step, param, grad, state)`: the same rule written out one
    /// value at a time in f64, with `rule.slot_count()` state values per weight.
    pub(crate) fn check_rule(
        rule: &dyn OptimizerRule,
        learning_rate: f64,
        reference: impl Fn(u64, &mut f64, f64, &mut [f64]),
    ) {
        let grads = |t: u64, i: usize| ((t as f32) * 0.7 + i as f32 * 0.31).sin() * 0.5;
        let slots = rule.slot_count();
        for n in [1usize, 7, 8, 33, 1000] {
            let p0: Vec<f32> = (0..n).map(|i| (i as f32 * 0.13).cos()).collect();
            let mut p = p0.clone();
            let mut state = vec![vec![0f32; n]; slots];
            let mut want: Vec<f64> = p0.iter().map(|&x| x as f64).collect();
            let mut want_state = vec![vec![0f64; slots]; n];
            for t in 1..=5u64 {
                let g: Vec<f32> = (0..n).map(|i| grads(t, i)).collect();
                let mut refs: Vec<&mut [f32]> =
                    state.iter_mut().map(|s| s.as_mut_slice()).collect();
                let step = Step {
                    iteration: t,
                    learning_rate,
                };
                rule.update(step, &mut p, &g, &mut refs);
                for i in 0..n {
                    reference(t, &mut want[i], g[i] as f64, &mut want_state[i]);
                }
            }
            for (a, b) in p.iter().zip(&want) {
                assert!((*a as f64 - b).abs() < 1e-5, "n={n}: {a} vs {b}");
            }
        }
    }
}
