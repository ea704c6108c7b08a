//! Stochastic gradient descent, optionally with (Nesterov) momentum, as Keras.

use super::{Optimizer, OptimizerRule, Step};
use crate::ops::cpu::math::multiversion;
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
        Sgd {
            learning_rate: 0.01,
            momentum: 0.0,
            nesterov: false,
        }
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

impl OptimizerRule for Sgd {
    fn elementwise(&self) -> bool {
        true
    }
    fn slot_count(&self) -> usize {
        usize::from(self.momentum != 0.0)
    }
    fn update(&self, step: Step, param: &mut [f32], grad: &[f32], slots: &mut [&mut [f32]]) {
        let (lr, mu) = (step.learning_rate as f32, self.momentum as f32);
        match slots {
            [velocity] => momentum_kernel(param, grad, velocity, [lr, mu], self.nesterov),
            _ => plain_kernel(param, grad, lr),
        }
    }
}

multiversion! {
    /// One momentum step over a weight, over zipped slices so it vectorises.
    fn momentum_kernel(param: &mut [f32], grad: &[f32], velocity: &mut [f32], c: [f32; 2], nesterov: bool) {
        let [lr, mu] = c;
        for ((p, &g), v) in param.iter_mut().zip(grad).zip(velocity.iter_mut()) {
            *v = mu * *v - lr * g;
            *p += if nesterov { mu * *v - lr * g } else { *v };
        }
    }
}

multiversion! {
    /// One plain gradient step over a weight.
    fn plain_kernel(param: &mut [f32], grad: &[f32], lr: f32) {
        for (p, g) in param.iter_mut().zip(grad) {
            *p -= lr * g;
        }
    }
}

impl From<Sgd> for Optimizer {
    fn from(o: Sgd) -> Self {
        Optimizer::Sgd(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::tests::check_rule;

    #[test]
    fn matches_reference_with_and_without_momentum() {
        check_rule(&Sgd::new(), 0.1, |_, p, g, _| *p -= 0.1 * g);
        for nesterov in [false, true] {
            let o = Sgd::new()
                .learning_rate(0.1)
                .momentum(0.9)
                .nesterov(nesterov);
            check_rule(&o, o.learning_rate, |_, p, g, s| {
                s[0] = 0.9 * s[0] - 0.1 * g;
                *p += if nesterov { 0.9 * s[0] - 0.1 * g } else { s[0] };
            });
        }
    }
}
