//! `dlkit::ops::dense` against `matmul + bias (+ relu)` and finite differences.
#![allow(clippy::needless_range_loop)]

use dlkit::candle_core::{Tensor, Var};
use dlkit::ops::{self, dense, FusedActivation};
use dlkit_tests::ops_util::*;

#[test]
fn matches_reference_values_and_gradients() {
    for (i, &(n, din, dout, act, with_bias)) in [
        (1, 7, 3, FusedActivation::Relu, true),
        (200, 784, 128, FusedActivation::Relu, true),
        (32, 128, 10, FusedActivation::Linear, true),
        (5, 9, 13, FusedActivation::Linear, false),
        (64, 300, 300, FusedActivation::Relu, false),
    ]
    .iter()
    .enumerate()
    {
        let seed = 10 * i as u64;
        let mut inputs = vec![
            randn(&[n, din], seed),
            randn(&[din, dout], seed + 1).affine(0.1, 0.0).unwrap(),
        ];
        if with_bias {
            inputs.push(randn(&[dout], seed + 2));
        }
        let run = |f: fn(
            &Tensor,
            &Tensor,
            Option<&Tensor>,
            FusedActivation,
        ) -> dlkit::candle_core::Result<Tensor>| {
            grads(&inputs, seed + 3, |t| f(&t[0], &t[1], t.get(2), act))
        };
        let (y, g) = run(dense);
        let (y_ref, g_ref) = run(ops::reference::dense);
        let what = format!("{n}x{din} -> {dout} {act:?} bias {with_bias}");
        // Same gemm library, possibly different blocking: f32 rounding only.
        assert_close(&y, &y_ref, 1e-4, 1e-4, &format!("{what}: forward"));
        for (j, name) in ["input", "kernel", "bias"]
            .iter()
            .enumerate()
            .take(inputs.len())
        {
            let (a, b) = (g[j].as_ref().unwrap(), g_ref[j].as_ref().unwrap());
            let scale = values(b).iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
            assert_close(
                a,
                b,
                1e-5 * scale,
                1e-4,
                &format!("{what}: {name} gradient"),
            );
        }
    }
}

#[test]
fn finite_differences_agree() {
    // Outputs of order 1 in f32, loss in f64: rounding ~1e-7/eps; relu kinks are rare
    // with eps = 1e-3. Tolerance 2e-3 absolute + 1% relative.
    let inputs = [
        randn(&[6, 20], 1),
        randn(&[20, 8], 2).affine(0.2, 0.0).unwrap(),
        randn(&[8], 3),
    ];
    let f = |t: &[Tensor]| dense(&t[0], &t[1], Some(&t[2]), FusedActivation::Relu);
    let (_, g) = grads(&inputs, 4, f);
    for which in 0..3 {
        let checks = finite_differences(&inputs, which, 4, 1e-3, 40, g[which].as_ref().unwrap(), f);
        assert_fd(&checks, 2e-3, 1e-2, &format!("input {which}"));
    }
}

#[test]
fn no_input_gradient_for_plain_tensors() {
    let x = randn(&[8, 16], 1);
    let w = Var::from_tensor(&randn(&[16, 4], 2)).unwrap();
    let loss = dense(&x, w.as_tensor(), None, FusedActivation::Relu)
        .unwrap()
        .sum_all()
        .unwrap();
    let g = loss.backward().unwrap();
    assert!(g.get(&x).is_none());
    assert!(g.get(w.as_tensor()).is_some());
}

#[test]
fn transposed_views_and_errors() {
    let xt = randn(&[16, 8], 1);
    let x = xt.t().unwrap();
    let w = randn(&[16, 4], 2);
    let y = dense(&x, &w, None, FusedActivation::Linear).unwrap();
    let y_ref = x.contiguous().unwrap().matmul(&w).unwrap();
    assert_close(&y, &y_ref, 1e-5, 1e-5, "transposed input");
    let err = dense(&randn(&[8, 15], 1), &w, None, FusedActivation::Linear)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("dense") && err.contains("[8, 15]") && err.contains("[16, 4]"),
        "{err}"
    );
    assert!(dense(
        &randn(&[8, 16], 1),
        &w,
        Some(&randn(&[5], 1)),
        FusedActivation::Linear
    )
    .is_err());
    assert!(dense(&randn(&[2, 8, 16], 1), &w, None, FusedActivation::Linear).is_err());
}
