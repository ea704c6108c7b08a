//! Stochastic gradient descent, optionally with (Nesterov) momentum, as Keras.

use super::{Optimizer, Rule};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sgd {
    pub learning_rate: f64,
    pub momentum: f64,
    pub nesterov: bool,
}

impl Default for Sgd {
    /// Keras: learning rate 0.01, no momentum.
    fn default() -> Self {
        Sgd { learning_rate: 0.01, momentum: 0.0, nesterov: false }
    }
}

impl Sgd {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }
    pub fn momentum(mut self, m: f64) -> Self {
        self.momentum = m;
        self
    }
    pub fn nesterov(mut self, yes: bool) -> Self {
        self.nesterov = yes;
        self
    }
}

impl Rule for Sgd {
    fn slot_count(&self) -> usize {
        usize::from(self.momentum != 0.0)
    }
    fn update(&self, _step: u64, param: &mut [f32], grad: &[f32], slots: &mut [&mut [f32]]) {
        let (lr, mu) = (self.learning_rate as f32, self.momentum as f32);
        match slots {
            [velocity] => {
                for i in 0..param.len() {
                    velocity[i] = mu * velocity[i] - lr * grad[i];
                    param[i] += if self.nesterov { mu * velocity[i] - lr * grad[i] } else { velocity[i] };
                }
            }
            _ => {
                for (p, g) in param.iter_mut().zip(grad) {
                    *p -= lr * g;
                }
            }
        }
    }
}

impl From<Sgd> for Optimizer {
    fn from(o: Sgd) -> Self {
        Optimizer::Sgd(o)
    }
}
