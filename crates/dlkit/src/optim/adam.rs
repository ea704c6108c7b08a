//! Adam (Kingma & Ba), with Keras' defaults and Keras' placement of epsilon
//! (added to the square root of the uncorrected second moment).

use super::{Optimizer, OptimizerRule, Step};
use crate::ops::cpu::math::multiversion;
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
        Adam {
            learning_rate: 0.001,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
        }
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

impl OptimizerRule for Adam {
    fn elementwise(&self) -> bool {
        true
    }
    fn slot_count(&self) -> usize {
        2
    }
    fn update(&self, step: Step, param: &mut [f32], grad: &[f32], slots: &mut [&mut [f32]]) {
        let t = step.iteration as f64;
        let alpha = (step.learning_rate * (1.0 - self.beta_2.powf(t)).sqrt()
            / (1.0 - self.beta_1.powf(t))) as f32;
        let (b1, b2, eps) = (
            (1.0 - self.beta_1) as f32,
            (1.0 - self.beta_2) as f32,
            self.epsilon as f32,
        );
        let [m, v] = slots else { return };
        adam_kernel(param, grad, m, v, [alpha, b1, b2, eps]);
    }
}

multiversion! {
    /// One Adam step over a weight; zipped slices so it vectorises (sqrt and division
    /// included, which are exact in SIMD too: the same results as one value at a time).
    fn adam_kernel(param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32], c: [f32; 4]) {
        let [alpha, b1, b2, eps] = c;
        for (((p, &g), m), v) in param.iter_mut().zip(grad).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m += (g - *m) * b1;
            *v += (g * g - *v) * b2;
            *p -= alpha * *m / (v.sqrt() + eps);
        }
    }
}

impl From<Adam> for Optimizer {
    fn from(o: Adam) -> Self {
        Optimizer::Adam(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::tests::check_rule;

    #[test]
    fn matches_reference_on_odd_and_even_lengths() {
        let o = Adam::default().learning_rate(0.01);
        check_rule(&o, o.learning_rate, |t, p, g, s| {
            let alpha = o.learning_rate * (1.0 - o.beta_2.powf(t as f64)).sqrt()
                / (1.0 - o.beta_1.powf(t as f64));
            s[0] += (g - s[0]) * (1.0 - o.beta_1);
            s[1] += (g * g - s[1]) * (1.0 - o.beta_2);
            *p -= alpha * s[0] / (s[1].sqrt() + o.epsilon);
        });
    }
}
