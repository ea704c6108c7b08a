//! Helpers shared by the `ops_*` tests: seeded random tensors, closeness checks, gradients
//! through candle's autograd and central finite differences.

use dlkit::candle_core::{backprop::GradStore, DType, Device, Result, Tensor, Var};
use dlkit::rng::Rng;

/// A standard-normal f32 tensor from `seed`.
pub fn randn(shape: &[usize], seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

/// Uniform values in [lo, hi).
pub fn uniform(shape: &[usize], lo: f64, hi: f64, seed: u64) -> Tensor {
    let mut rng = Rng::new(seed);
    let n: usize = shape.iter().product();
    let v: Vec<f32> = (0..n).map(|_| rng.uniform(lo, hi) as f32).collect();
    Tensor::from_vec(v, shape, &Device::Cpu).unwrap()
}

pub fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all()
        .unwrap()
        .to_dtype(DType::F32)
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
}

/// Asserts `|a - b| <= atol + rtol·|b|` element-wise, naming the first offender.
pub fn assert_close(a: &Tensor, b: &Tensor, atol: f32, rtol: f32, what: &str) {
    assert_eq!(a.dims(), b.dims(), "{what}: shapes differ");
    let (va, vb) = (values(a), values(b));
    let mut worst = (0.0f32, 0usize);
    for (i, (&x, &y)) in va.iter().zip(&vb).enumerate() {
        let excess = (x - y).abs() - (atol + rtol * y.abs());
        if excess > worst.0 || x.is_nan() != y.is_nan() {
            worst = (excess.max(f32::MIN_POSITIVE), i);
        }
    }
    assert!(
        worst.0 <= 0.0,
        "{what}: element {} is {} but should be {} (atol {atol}, rtol {rtol})",
        worst.1,
        va[worst.1],
        vb[worst.1]
    );
}

/// The scalar loss `Σ out ⊙ weights`, whose gradient with respect to `out` is `weights`.
pub fn weighted_sum(out: &Tensor, weights: &Tensor) -> Result<Tensor> {
    (out * weights)?.sum_all()
}

/// Runs `f` on fresh variables holding `inputs`, back-propagates `Σ f(..) ⊙ weights`
/// and returns the output and each input's gradient (None where candle stored none).
pub fn grads(
    inputs: &[Tensor],
    weights_seed: u64,
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
) -> (Tensor, Vec<Option<Tensor>>) {
    let vars: Vec<Var> = inputs
        .iter()
        .map(|t| Var::from_tensor(t).unwrap())
        .collect();
    let ts: Vec<Tensor> = vars.iter().map(|v| v.as_tensor().clone()).collect();
    let out = f(&ts).unwrap();
    let w = randn(out.dims(), weights_seed)
        .to_dtype(out.dtype())
        .unwrap();
    let loss = weighted_sum(&out, &w).unwrap();
    let store: GradStore = loss.backward().unwrap();
    let g = ts.iter().map(|t| store.get(t).cloned()).collect();
    (out, g)
}

/// Central finite differences of `Σ f(inputs) ⊙ weights` (evaluated in f64 from the f32
/// output) with respect to `count` coordinates of input `which`, spread over the tensor;
/// returns (index, numeric, analytic) for each.
pub fn finite_differences(
    inputs: &[Tensor],
    which: usize,
    weights_seed: u64,
    eps: f32,
    count: usize,
    analytic: &Tensor,
    f: impl Fn(&[Tensor]) -> Result<Tensor>,
) -> Vec<(usize, f64, f64)> {
    let out = f(inputs).unwrap();
    let w = values(&randn(out.dims(), weights_seed));
    let loss = |ts: &[Tensor]| -> f64 {
        let o = values(&f(ts).unwrap());
        o.iter().zip(&w).map(|(&a, &b)| a as f64 * b as f64).sum()
    };
    let base = values(&inputs[which]);
    let an = values(analytic);
    let n = base.len();
    let step = (n / count.max(1)).max(1);
    let mut out = Vec::new();
    let mut rng = Rng::new(weights_seed ^ 0x5eed);
    for j in 0..count.min(n) {
        let i = (j * step + rng.below(step as u64) as usize).min(n - 1);
        let at = |delta: f32| {
            let mut v = base.clone();
            v[i] += delta;
            let mut ts = inputs.to_vec();
            ts[which] = Tensor::from_vec(v, inputs[which].dims(), &Device::Cpu).unwrap();
            loss(&ts)
        };
        let numeric = (at(eps) - at(-eps)) / (2.0 * eps as f64);
        out.push((i, numeric, an[i] as f64));
    }
    out
}

/// Asserts each finite difference matches its analytic value within
/// `atol + rtol·|numeric|`.
pub fn assert_fd(checks: &[(usize, f64, f64)], atol: f64, rtol: f64, what: &str) {
    assert!(!checks.is_empty());
    for &(i, num, an) in checks {
        assert!(
            (num - an).abs() <= atol + rtol * num.abs(),
            "{what}: coordinate {i}: finite difference {num} vs gradient {an}"
        );
    }
}
