//! `dlkit::ops::batch_norm_train`: the written-out forward and backward
//! against the same computation in plain candle ops, in every layout.

use dlkit::ops::{self, batch_norm_train};
use dlkit_tests::ops_util::*;

/// (shape, channel axis): dense, channels first, channels last, one channel, odd sizes.
const CASES: &[(&[usize], usize)] = &[
    (&[6, 5], 1),
    (&[3, 4, 5, 7], 1),
    (&[3, 5, 7, 4], 3),
    (&[2, 1, 9, 9], 1),
    (&[32, 16, 12, 12], 1),
    (&[1, 3, 2], 2),
];

#[test]
fn values_statistics_and_gradients_match_the_composed_ops() {
    for (k, &(shape, axis)) in CASES.iter().enumerate() {
        let seed = 10 * k as u64;
        // A mean far from zero checks that the variance is computed stably.
        let x = (randn(shape, seed) * 3.0)
            .unwrap()
            .affine(1.0, 40.0)
            .unwrap();
        let c = shape[axis];
        let gamma = uniform(&[c], 0.5, 2.0, seed + 1);
        let beta = randn(&[c], seed + 2);
        let inputs = [x, gamma, beta];
        let what = format!("{shape:?} axis {axis}");
        let fast = |t: &[dlkit::Tensor]| Ok(batch_norm_train(&t[0], &t[1], &t[2], axis, 1e-3)?.0);
        let slow =
            |t: &[dlkit::Tensor]| Ok(ops::batch_norm::composed(&t[0], &t[1], &t[2], axis, 1e-3)?.0);
        let (y_fast, g_fast) = grads(&inputs, seed + 3, fast);
        let (y_slow, g_slow) = grads(&inputs, seed + 3, slow);
        assert_close(&y_fast, &y_slow, 1e-4, 1e-4, &format!("{what}: y"));
        for (name, (a, b)) in ["x", "gamma", "beta"]
            .iter()
            .zip(g_fast.iter().zip(&g_slow))
        {
            let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
            assert_close(a, b, 2e-3, 2e-3, &format!("{what}: d{name}"));
        }
        let (_, mean, var) =
            batch_norm_train(&inputs[0], &inputs[1], &inputs[2], axis, 1e-3).unwrap();
        let (_, mean_slow, var_slow) =
            ops::batch_norm::composed(&inputs[0], &inputs[1], &inputs[2], axis, 1e-3).unwrap();
        assert_close(&mean, &mean_slow, 1e-4, 1e-5, &format!("{what}: mean"));
        assert_close(&var, &var_slow, 1e-3, 1e-4, &format!("{what}: variance"));
    }
}

#[test]
fn bad_shapes_are_errors() {
    let x = randn(&[4, 3], 1);
    let ok = randn(&[3], 2);
    let wrong = randn(&[4], 3);
    assert!(batch_norm_train(&x, &wrong, &ok, 1, 1e-3).is_err());
    assert!(batch_norm_train(&x, &ok, &ok, 0, 1e-3).is_err());
    assert!(batch_norm_train(&x, &ok, &ok, 2, 1e-3).is_err());
    let empty = randn(&[0, 3], 4);
    assert!(batch_norm_train(&empty, &ok, &ok, 1, 1e-3).is_err());
}
