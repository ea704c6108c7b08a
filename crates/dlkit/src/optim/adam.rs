//! Adam (Kingma & Ba), with Keras' defaults and Keras' placement of epsilon
//! (added to the square root of the uncorrected second moment).

use super::{Optimizer, Rule};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    pub learning_rate: f64,
    pub beta_1: f64,
    pub beta_2: f64,
    pub epsilon: f64,
}

impl Default for Adam {
    /// Keras: learning rate 0.001, β₁ 0.9, β₂ 0.999, ε 1e-7.
    fn default() -> Self {
        Adam { learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7 }
    }
}

impl Adam {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }
    pub fn beta_1(mut self, b: f64) -> Self {
        self.beta_1 = b;
        self
    }
    pub fn beta_2(mut self, b: f64) -> Self {
        self.beta_2 = b;
        self
    }
    pub fn epsilon(mut self, e: f64) -> Self {
        self.epsilon = e;
        self
    }
}

impl Rule for Adam {
    fn slot_count(&self) -> usize {
        2
    }
    fn update(&self, step: u64, param: &mut [f32], grad: &[f32], slots: &mut [&mut [f32]]) {
        let t = step as f64;
        let alpha = (self.learning_rate * (1.0 - self.beta_2.powf(t)).sqrt() / (1.0 - self.beta_1.powf(t))) as f32;
        let (b1, b2, eps) = ((1.0 - self.beta_1) as f32, (1.0 - self.beta_2) as f32, self.epsilon as f32);
        let [m, v] = slots else { return };
        for i in 0..param.len() {
            let g = grad[i];
            m[i] += (g - m[i]) * b1;
            v[i] += (g * g - v[i]) * b2;
            param[i] -= alpha * m[i] / (v[i].sqrt() + eps);
        }
    }
}

impl From<Adam> for Optimizer {
    fn from(o: Adam) -> Self {
        Optimizer::Adam(o)
    }
}
