//! RMSprop, with Keras 3's defaults (uncentered).

use super::{Optimizer, Rule};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RmsProp {
    pub learning_rate: f64,
    pub rho: f64,
    pub momentum: f64,
    pub epsilon: f64,
}

impl Default for RmsProp {
    /// Keras: learning rate 0.001, ρ 0.9, no momentum, ε 1e-7.
    fn default() -> Self {
        RmsProp { learning_rate: 0.001, rho: 0.9, momentum: 0.0, epsilon: 1e-7 }
    }
}

impl RmsProp {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }
    pub fn rho(mut self, rho: f64) -> Self {
        self.rho = rho;
        self
    }
    pub fn momentum(mut self, m: f64) -> Self {
        self.momentum = m;
        self
    }
}

impl Rule for RmsProp {
    fn slot_count(&self) -> usize {
        1 + usize::from(self.momentum != 0.0)
    }
    fn update(&self, _step: u64, param: &mut [f32], grad: &[f32], slots: &mut [&mut [f32]]) {
        let (lr, rho, eps, mu) =
            (self.learning_rate as f32, self.rho as f32, self.epsilon as f32, self.momentum as f32);
        let (velocity, rest) = match slots.split_first_mut() {
            Some(split) => split,
            None => return,
        };
        for i in 0..param.len() {
            let g = grad[i];
            velocity[i] = rho * velocity[i] + (1.0 - rho) * g * g;
            let increment = lr * g / (velocity[i] + eps).sqrt();
            match rest.first_mut() {
                Some(momentum) => {
                    momentum[i] = mu * momentum[i] + increment;
                    param[i] -= momentum[i];
                }
                None => param[i] -= increment,
            }
        }
    }
}

impl From<RmsProp> for Optimizer {
    fn from(o: RmsProp) -> Self {
        Optimizer::RmsProp(o)
    }
}
