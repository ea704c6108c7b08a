//! Adadelta (Zeiler), as Keras computes it.
//!
//! Keras 3 defaults to a learning rate of 0.001, which makes Adadelta crawl;
//! Keras 1 and 2 (and the classic `mnist_cnn` example) used 1.0:
//! `Adadelta::classic()`.

use super::{Optimizer, OptimizerRule, Step};
use crate::ops::cpu::math::multiversion;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adadelta {
    pub learning_rate: f64,
    pub rho: f64,
    pub epsilon: f64,
}

impl Default for Adadelta {
    /// Keras 3: learning rate 0.001, ρ 0.95, ε 1e-7.
    fn default() -> Self {
        Adadelta {
            learning_rate: 0.001,
            rho: 0.95,
            epsilon: 1e-7,
        }
    }
}

impl Adadelta {
    pub fn new() -> Self {
        Self::default()
    }

    /// The Keras 1/2 defaults used by the classic mnist_cnn example: learning rate 1.0.
    pub fn classic() -> Self {
        Adadelta {
            learning_rate: 1.0,
            ..Self::default()
        }
    }

    pub fn learning_rate(mut self, lr: f64) -> Self {
        self.learning_rate = lr;
        self
    }
    pub fn rho(mut self, rho: f64) -> Self {
        self.rho = rho;
        self
    }
}

impl OptimizerRule for Adadelta {
    fn elementwise(&self) -> bool {
        true
    }
    fn slot_count(&self) -> usize {
        2
    }
    fn update(&self, step: Step, param: &mut [f32], grad: &[f32], slots: &mut [&mut [f32]]) {
        let (lr, rho, eps) = (
            step.learning_rate as f32,
            self.rho as f32,
            self.epsilon as f32,
        );
        let [acc_grad, acc_delta] = slots else { return };
        adadelta_kernel(param, grad, acc_grad, acc_delta, [lr, rho, eps]);
    }
}

multiversion! {
    /// One Adadelta step over a weight, written over zipped slices so it vectorises.
    fn adadelta_kernel(param: &mut [f32], grad: &[f32], acc_grad: &mut [f32], acc_delta: &mut [f32], c: [f32; 3]) {
        let [lr, rho, eps] = c;
        for (((p, &g), ag), ad) in param.iter_mut().zip(grad).zip(acc_grad.iter_mut()).zip(acc_delta.iter_mut()) {
            *ag = rho * *ag + (1.0 - rho) * g * g;
            let delta = -(*ad + eps).sqrt() * g / (*ag + eps).sqrt();
            *ad = rho * *ad + (1.0 - rho) * delta * delta;
            *p += lr * delta;
        }
    }
}

impl From<Adadelta> for Optimizer {
    fn from(o: Adadelta) -> Self {
        Optimizer::Adadelta(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::tests::check_rule;

    #[test]
    fn matches_reference_on_odd_and_even_lengths() {
        let o = Adadelta::classic();
        let (lr, rho, eps) = (o.learning_rate, o.rho, o.epsilon);
        check_rule(&o, o.learning_rate, |_, p, g, s| {
            s[0] = rho * s[0] + (1.0 - rho) * g * g;
            let delta = -(s[1] + eps).sqrt() * g / (s[0] + eps).sqrt();
            s[1] = rho * s[1] + (1.0 - rho) * delta * delta;
            *p += lr * delta;
        });
    }
}
