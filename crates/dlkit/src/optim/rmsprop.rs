//! RMSprop, with Keras 3's defaults (uncentered).

use super::{Optimizer, OptimizerRule, Step};
use crate::ops::cpu::math::multiversion;
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
        RmsProp {
            learning_rate: 0.001,
            rho: 0.9,
            momentum: 0.0,
            epsilon: 1e-7,
        }
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

impl OptimizerRule for RmsProp {
    fn elementwise(&self) -> bool {
        true
    }
    fn slot_count(&self) -> usize {
        1 + usize::from(self.momentum != 0.0)
    }
    fn update(&self, step: Step, param: &mut [f32], grad: &[f32], slots: &mut [&mut [f32]]) {
        let c = [
            step.learning_rate as f32,
            self.rho as f32,
            self.epsilon as f32,
            self.momentum as f32,
        ];
        match slots {
            [velocity] => rmsprop_kernel(param, grad, velocity, c),
            [velocity, momentum] => rmsprop_momentum_kernel(param, grad, velocity, momentum, c),
            _ => {}
        }
    }
}

multiversion! {
    /// One RMSprop step over a weight, over zipped slices so it vectorises.
    fn rmsprop_kernel(param: &mut [f32], grad: &[f32], velocity: &mut [f32], c: [f32; 4]) {
        let [lr, rho, eps, _] = c;
        for ((p, &g), v) in param.iter_mut().zip(grad).zip(velocity.iter_mut()) {
            *v = rho * *v + (1.0 - rho) * g * g;
            *p -= lr * g / (*v + eps).sqrt();
        }
    }
}

multiversion! {
    /// One RMSprop step with momentum over a weight.
    fn rmsprop_momentum_kernel(param: &mut [f32], grad: &[f32], velocity: &mut [f32], momentum: &mut [f32], c: [f32; 4]) {
        let [lr, rho, eps, mu] = c;
        for (((p, &g), v), m) in param.iter_mut().zip(grad).zip(velocity.iter_mut()).zip(momentum.iter_mut()) {
            *v = rho * *v + (1.0 - rho) * g * g;
            *m = mu * *m + lr * g / (*v + eps).sqrt();
            *p -= *m;
        }
    }
}

impl From<RmsProp> for Optimizer {
    fn from(o: RmsProp) -> Self {
        Optimizer::RmsProp(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::tests::check_rule;

    #[test]
    fn matches_reference_with_and_without_momentum() {
        for mu in [0.0, 0.5] {
            let o = RmsProp::default().momentum(mu);
            let (lr, rho, eps) = (o.learning_rate, o.rho, o.epsilon);
            check_rule(&o, o.learning_rate, |_, p, g, s| {
                s[0] = rho * s[0] + (1.0 - rho) * g * g;
                let increment = lr * g / (s[0] + eps).sqrt();
                if mu == 0.0 {
                    *p -= increment;
                } else {
                    s[1] = mu * s[1] + increment;
                    *p -= s[1];
                }
            });
        }
    }
}
