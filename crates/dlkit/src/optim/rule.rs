//! [`OptimizerRule`]: how an optimizer updates one weight from its gradient.
//!
//! dlkit's optimizers ([`Adam`](super::Adam), [`Sgd`](super::Sgd), ...) are
//! implementations of this trait, and so is an optimizer written in a
//! notebook and given to `compile` with [`Optimizer::custom`](super::Optimizer::custom).
//! The rule holds the settings; the per-weight state it asks for
//! ([`slot_count`](OptimizerRule::slot_count) vectors shaped like the weight)
//! is kept by the compiled model, so learning-rate callbacks, the roll-back
//! after a NaN loss and `BackupAndRestore` work for every rule alike.
//!
//! ```
//! use dlkit::optim::{OptimizerRule, Step};
//!
//! /// Plain SGD with momentum: v ← μ·v − lr·g, w ← w + v.
//! struct Momentum(f32);
//!
//! impl OptimizerRule for Momentum {
//!     fn slot_count(&self) -> usize {
//!         1 // the velocity
//!     }
//!     fn update(&self, step: Step, weight: &mut [f32], grad: &[f32], slots: &mut [&mut [f32]]) {
//!         let lr = step.learning_rate as f32;
//!         for ((w, g), v) in weight.iter_mut().zip(grad).zip(slots[0].iter_mut()) {
//!             *v = self.0 * *v - lr * g;
//!             *w += *v;
//!         }
//!     }
//! }
//! ```

/// One optimizer step as a rule sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Step {
    /// Number of this update, counting from 1 (Keras' `optimizer.iterations` after it).
    pub iteration: u64,
    /// The learning rate for this update: the optimizer's, as learning-rate
    /// callbacks and [`Model::set_learning_rate`](crate::model::Model::set_learning_rate) set it.
    pub learning_rate: f64,
}

/// An update rule for one weight.
pub trait OptimizerRule: Send + Sync {
    /// How many state vectors (momenta, accumulators) the rule keeps per
    /// weight; each starts at zero and has as many values as the weight.
    fn slot_count(&self) -> usize;

    /// Updates `weight` in place from its gradient `grad` (as many values),
    /// reading and writing its state vectors `slots` (as many as
    /// [`slot_count`](Self::slot_count), each as long as `weight`).
    fn update(&self, step: Step, weight: &mut [f32], grad: &[f32], slots: &mut [&mut [f32]]);

    /// Whether each value is updated from its own gradient and state alone.
    /// Then large weights are split into chunks updated on several threads;
    /// otherwise (the default, safe for rules that look at a whole weight,
    /// such as a gradient norm) `update` sees each weight whole.
    fn elementwise(&self) -> bool {
        false
    }
}
