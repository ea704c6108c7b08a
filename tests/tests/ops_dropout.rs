//! `dlkit::ops::dropout`: keep rate, scaling, determinism, seeds, gradients.

use dlkit::candle_core::{DType, Device, Tensor, Var};
use dlkit::ops::{self, dropout};
use dlkit_tests::ops_util::*;

fn ones(n: usize) -> Tensor {
    Tensor::ones((n / 100, 100), DType::F32, &Device::Cpu).unwrap()
}

#[test]
fn keep_rate_and_scale() {
    let n = 1_000_000;
    for rate in [0.2f32, 0.25, 0.5] {
        let y = values(&dropout(&ones(n), rate, 17).unwrap());
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / n as f64;
        // Binomial standard deviation sqrt(p(1-p)/n) ≤ 5e-4: allow 5 of them.
        assert!(
            (kept - (1.0 - rate as f64)).abs() < 2.5e-3,
            "rate {rate}: kept {kept}"
        );
        let scale = 1.0 / (1.0 - rate);
        assert!(
            y.iter().all(|&v| v == 0.0 || (v - scale).abs() < 1e-6),
            "rate {rate}: kept values are not 1/(1-rate)"
        );
        // The mean is preserved in expectation.
        let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 5e-3, "rate {rate}: mean {mean}");
    }
}

#[test]
fn no_visible_pattern_in_the_mask() {
    // Neighbouring elements are independent: P(both kept) ≈ (1-rate)².
    let y = values(&dropout(&ones(400_000), 0.5, 3).unwrap());
    let both =
        y.windows(2).filter(|w| w[0] != 0.0 && w[1] != 0.0).count() as f64 / (y.len() - 1) as f64;
    assert!((both - 0.25).abs() < 4e-3, "pairs kept together: {both}");
    // Rows of the same column are not all dropped together.
    let col0: Vec<f32> = y.iter().step_by(100).copied().collect();
    let kept = col0.iter().filter(|&&v| v != 0.0).count() as f64 / col0.len() as f64;
    assert!((kept - 0.5).abs() < 0.02);
}

#[test]
fn deterministic_per_seed_and_different_across_seeds() {
    let x = randn(&[64, 333], 1);
    let a = values(&dropout(&x, 0.3, 99).unwrap());
    let b = values(&dropout(&x, 0.3, 99).unwrap());
    assert_eq!(a, b);
    let c = values(&dropout(&x, 0.3, 100).unwrap());
    let differ = a
        .iter()
        .zip(&c)
        .filter(|(p, q)| (**p == 0.0) != (**q == 0.0))
        .count();
    // Independent masks disagree on 2·0.3·0.7 = 42% of the elements.
    assert!(
        differ as f64 / a.len() as f64 > 0.35,
        "seeds 99 and 100 give nearly the same mask"
    );
    // The same on one thread as on the default pool.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let one = pool.install(|| values(&dropout(&x, 0.3, 99).unwrap()));
    assert_eq!(a, one);
}

#[test]
fn gradient_is_mask_times_scale() {
    let x = randn(&[50, 70], 2);
    let rate = 0.4f32;
    let (y, g) = grads(std::slice::from_ref(&x), 5, |t| dropout(&t[0], rate, 1234));
    let w = values(&randn(&[50, 70], 5));
    let (xv, yv, gv) = (values(&x), values(&y), values(&g[0].clone().unwrap()));
    let scale = 1.0 / (1.0 - rate);
    for i in 0..xv.len() {
        let kept = yv[i] != 0.0;
        let want = if kept { w[i] * scale } else { 0.0 };
        assert!((gv[i] - want).abs() < 1e-6, "element {i}");
        if kept {
            assert!((yv[i] - xv[i] * scale).abs() < 1e-6);
        }
    }
}

#[test]
fn matches_reference_and_handles_views() {
    let x = randn(&[30, 40], 8);
    let fast = dropout(&x, 0.25, 5).unwrap();
    let reference = ops::reference::dropout(&x, 0.25, 5).unwrap();
    assert_close(&fast, &reference, 0.0, 1e-6, "fast vs reference");
    // A transposed view is masked by logical (row-major) position, like its copy.
    let t = x.t().unwrap();
    let a = dropout(&t, 0.25, 5).unwrap();
    let b = dropout(&t.contiguous().unwrap(), 0.25, 5).unwrap();
    assert_close(&a, &b, 0.0, 0.0, "view vs copy");
}

#[test]
fn rate_zero_is_identity_and_bad_rates_fail() {
    let x = randn(&[4, 5], 1);
    assert_eq!(values(&dropout(&x, 0.0, 1).unwrap()), values(&x));
    for bad in [-0.1f32, 1.0, 1.5, f32::NAN] {
        let err = dropout(&x, bad, 1).unwrap_err().to_string();
        assert!(err.contains("dropout"), "{err}");
    }
    // No gradient for a plain tensor.
    let v = Var::from_tensor(&randn(&[4, 5], 2)).unwrap();
    let loss = (dropout(&x, 0.5, 1).unwrap() * v.as_tensor())
        .unwrap()
        .sum_all()
        .unwrap();
    assert!(loss.backward().unwrap().get(&x).is_none());
}
