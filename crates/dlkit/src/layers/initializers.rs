//! Initial weight values, with Keras' defaults: Glorot-uniform kernels, zero
//! biases, orthogonal recurrent kernels, and the `normal` law of the old
//! `init='normal'` (mean 0, standard deviation 0.05).

use crate::rng::Rng;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "class_name", rename_all = "snake_case")]
pub enum Initializer {
    Zeros,
    Ones,
    /// Uniform in ±sqrt(6 / (fan_in + fan_out)).
    GlorotUniform,
    /// Normal(mean, stddev); Keras' `'normal'` is `Normal { mean: 0.0, stddev: 0.05 }`.
    Normal {
        mean: f64,
        stddev: f64,
    },
    /// Uniform in `[low, high)`.
    Uniform {
        low: f64,
        high: f64,
    },
    /// A (semi-)orthogonal matrix, for recurrent kernels.
    Orthogonal {
        gain: f64,
    },
    /// LSTM bias: zeros except ones for the forget gate (the second quarter).
    UnitForgetBias,
}

impl Initializer {
    /// Keras' `'normal'` / `RandomNormal()`.
    pub fn normal() -> Self {
        Initializer::Normal {
            mean: 0.0,
            stddev: 0.05,
        }
    }

    /// Values for a weight of this shape. Fan-in/out follow Keras: a 2-D
    /// `(in, out)` kernel has fans `in` and `out`; a conv kernel stored as
    /// `(out, in, kh, kw)` has `in·kh·kw` and `out·kh·kw`.
    pub fn generate(self, shape: &[usize], rng: &mut Rng) -> Vec<f32> {
        let n: usize = shape.iter().product();
        match self {
            Initializer::Zeros => vec![0.0; n],
            Initializer::Ones => vec![1.0; n],
            Initializer::GlorotUniform => {
                let (fan_in, fan_out) = fans(shape);
                let limit = (6.0 / (fan_in + fan_out).max(1) as f64).sqrt();
                (0..n).map(|_| rng.uniform(-limit, limit) as f32).collect()
            }
            Initializer::Normal { mean, stddev } => (0..n)
                .map(|_| (mean + stddev * rng.normal()) as f32)
                .collect(),
            Initializer::Uniform { low, high } => {
                (0..n).map(|_| rng.uniform(low, high) as f32).collect()
            }
            Initializer::Orthogonal { gain } => orthogonal(shape, gain, rng),
            Initializer::UnitForgetBias => {
                let units = n / 4;
                (0..n)
                    .map(|i| {
                        if (units..2 * units).contains(&i) {
                            1.0
                        } else {
                            0.0
                        }
                    })
                    .collect()
            }
        }
    }
}

fn fans(shape: &[usize]) -> (usize, usize) {
    match shape {
        [] => (1, 1),
        [n] => (*n, *n),
        [fan_in, fan_out] => (*fan_in, *fan_out),
        [out, inp, rest @ ..] => {
            let receptive: usize = rest.iter().product();
            (inp * receptive, out * receptive)
        }
    }
}

/// Keras' recipe: QR of a Gaussian matrix, signs fixed by R's diagonal, the
/// matrix transposed when it is wider than tall. The shape is read as
/// `(rows, cols)` = (product of all but the last dimension, last dimension).
fn orthogonal(shape: &[usize], gain: f64, rng: &mut Rng) -> Vec<f32> {
    let cols = *shape.last().unwrap_or(&1);
    let rows: usize = shape.iter().product::<usize>() / cols.max(1);
    let (tall, short) = (rows.max(cols), rows.min(cols));
    // Columns of a tall×short Gaussian matrix, orthonormalised by modified
    // Gram–Schmidt in f64 (the same Q as Householder QR up to the sign fix).
    let mut q: Vec<Vec<f64>> = (0..short)
        .map(|_| (0..tall).map(|_| rng.normal()).collect())
        .collect();
    for j in 0..short {
        for i in 0..j {
            let (done, rest) = q.split_at_mut(j);
            let (qi, qj) = (&done[i], &mut rest[0]);
            let dot: f64 = qi.iter().zip(qj.iter()).map(|(a, b)| a * b).sum();
            for (x, y) in qj.iter_mut().zip(qi) {
                *x -= dot * y;
            }
        }
        let norm = q[j].iter().map(|v| v * v).sum::<f64>().sqrt();
        // R's diagonal is this positive norm, so Keras' sign fix is a no-op here.
        for v in q[j].iter_mut() {
            *v /= norm.max(f64::MIN_POSITIVE);
        }
    }
    let mut out = vec![0f32; rows * cols];
    for r in 0..rows {
        for c in 0..cols {
            // q[j][k] is entry (k, j) of the tall matrix Q.
            let v = if rows >= cols { q[c][r] } else { q[r][c] };
            out[r * cols + c] = (gain * v) as f32;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glorot_limit_and_normal_stddev() {
        let mut rng = Rng::new(1);
        let w = Initializer::GlorotUniform.generate(&[784, 128], &mut rng);
        let limit = (6.0f64 / (784.0 + 128.0)).sqrt() as f32;
        assert!(w.iter().all(|v| v.abs() <= limit));
        assert!(w.iter().any(|v| v.abs() > 0.9 * limit));
        let n = Initializer::normal().generate(&[100_000], &mut rng);
        let sd = (n.iter().map(|v| (v * v) as f64).sum::<f64>() / n.len() as f64).sqrt();
        assert!((sd - 0.05).abs() < 0.001, "stddev {sd}");
    }

    #[test]
    fn orthogonal_rows_are_orthonormal_for_a_wide_recurrent_kernel() {
        let (h, cols) = (16, 64);
        let w = Initializer::Orthogonal { gain: 1.0 }.generate(&[h, cols], &mut Rng::new(3));
        for a in 0..h {
            for b in 0..h {
                let dot: f32 = (0..cols).map(|k| w[a * cols + k] * w[b * cols + k]).sum();
                let want = if a == b { 1.0 } else { 0.0 };
                assert!((dot - want).abs() < 1e-4, "rows {a},{b}: {dot}");
            }
        }
    }

    #[test]
    fn forget_gate_bias_is_one() {
        let b = Initializer::UnitForgetBias.generate(&[8], &mut Rng::new(0));
        assert_eq!(b, vec![0., 0., 1., 1., 0., 0., 0., 0.]);
    }
}
