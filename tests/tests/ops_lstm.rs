//! `dlkit::ops::lstm` against a step-by-step LSTM written with candle ops, and finite
//! differences.
#![allow(clippy::needless_range_loop)]

use dlkit::candle_core::{DType, Result, Tensor, Var};
use dlkit::ops::{self, lstm, LstmActivation};
use dlkit_tests::ops_util::*;

fn inputs(n: usize, t: usize, f: usize, h: usize, seed: u64) -> Vec<Tensor> {
    vec![
        randn(&[n, t, f], seed),
        randn(&[f, 4 * h], seed + 1).affine(0.3, 0.0).unwrap(),
        randn(&[h, 4 * h], seed + 2).affine(0.3, 0.0).unwrap(),
        randn(&[4 * h], seed + 3).affine(0.5, 0.0).unwrap(),
    ]
}

#[test]
fn matches_reference_values_and_gradients() {
    let acts = [
        LstmActivation::Tanh,
        LstmActivation::Relu,
        LstmActivation::Sigmoid,
        LstmActivation::Linear,
    ];
    for (i, &act) in acts.iter().enumerate() {
        for (j, &(n, t, f, h, seq)) in [
            (3, 5, 4, 6, true),
            (1, 7, 3, 5, false),
            (32, 28, 28, 16, true),
        ]
        .iter()
        .enumerate()
        {
            let seed = 100 * i as u64 + 10 * j as u64;
            let mut ins = inputs(n, t, f, h, seed);
            if act == LstmActivation::Linear {
                // An unbounded linear cell with these weights grows to ~100 over 28 steps and
                // amplifies rounding errors (f32 candle itself is then 3e-3 off): keep it tame.
                ins[2] = ins[2].affine(0.3, 0.0).unwrap();
            }
            let (y, g) = grads(&ins, seed + 7, |x| {
                lstm(&x[0], &x[1], &x[2], Some(&x[3]), act, seq)
            });
            // The reference runs in f64: it is the exact answer for the f32 inputs.
            let ins64: Vec<Tensor> = ins
                .iter()
                .map(|x| x.to_dtype(DType::F64).unwrap())
                .collect();
            let (y_ref, g_ref) = grads(&ins64, seed + 7, |x| {
                ops::reference::lstm(&x[0], &x[1], &x[2], Some(&x[3]), act, seq)
            });
            let what = format!("{act:?} n{n} t{t} f{f} h{h} seq {seq}");
            assert_eq!(y.dims(), y_ref.dims());
            // Our sigmoid/tanh differ from candle's by a few 1e-7 and errors accumulate over
            // the time steps; relu/linear states can grow, hence the relative part.
            assert_close(&y, &y_ref, 2e-5, 2e-4, &format!("{what}: forward"));
            for (k, name) in ["input", "kernel", "recurrent kernel", "bias"]
                .iter()
                .enumerate()
            {
                let (a, b) = (g[k].as_ref().unwrap(), g_ref[k].as_ref().unwrap());
                let scale = values(b).iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
                assert_close(
                    a,
                    b,
                    2e-5 * scale,
                    5e-4,
                    &format!("{what}: {name} gradient"),
                );
            }
        }
    }
}

#[test]
fn finite_differences_relu_and_tanh() {
    // Tolerance: outputs of order 1 in f32 and loss in f64 give rounding ~1e-7/eps = 1e-4;
    // curvature error of the central difference is O(eps²). 2e-3 absolute + 1% relative.
    for act in [LstmActivation::Tanh, LstmActivation::Relu] {
        let ins = inputs(2, 6, 3, 4, 42);
        let f = |x: &[Tensor]| lstm(&x[0], &x[1], &x[2], Some(&x[3]), act, true);
        let (_, g) = grads(&ins, 43, f);
        for which in 0..4 {
            let checks =
                finite_differences(&ins, which, 43, 1e-3, 30, g[which].as_ref().unwrap(), f);
            assert_fd(&checks, 2e-3, 1e-2, &format!("{act:?} input {which}"));
        }
    }
}

#[test]
fn stacked_layers_pass_gradients_through() -> Result<()> {
    // Two LSTMs as in tutorial 004: the second one's input gradient must reach the first.
    let a = inputs(4, 6, 5, 8, 1);
    let b = inputs(4, 6, 8, 3, 2);
    let all: Vec<Tensor> = a.iter().chain(&b[1..]).cloned().collect();
    let run = |x: &[Tensor], reference: bool| -> Result<Tensor> {
        let f = if reference {
            ops::reference::lstm
        } else {
            lstm
        };
        let h1 = f(&x[0], &x[1], &x[2], Some(&x[3]), LstmActivation::Relu, true)?;
        f(&h1, &x[4], &x[5], Some(&x[6]), LstmActivation::Relu, false)
    };
    let (y, g) = grads(&all, 3, |x| run(x, false));
    let (y_ref, g_ref) = grads(&all, 3, |x| run(x, true));
    assert_close(&y, &y_ref, 2e-5, 2e-4, "stacked forward");
    for k in 0..all.len() {
        let (p, q) = (g[k].as_ref().unwrap(), g_ref[k].as_ref().unwrap());
        let scale = values(q).iter().fold(0f32, |m, v| m.max(v.abs())).max(1.0);
        assert_close(p, q, 2e-5 * scale, 5e-4, &format!("stacked gradient {k}"));
    }
    Ok(())
}

#[test]
fn no_input_gradient_for_plain_tensors_and_errors() {
    let ins = inputs(2, 3, 4, 5, 9);
    let vars: Vec<Var> = ins[1..]
        .iter()
        .map(|t| Var::from_tensor(t).unwrap())
        .collect();
    let y = lstm(
        &ins[0],
        vars[0].as_tensor(),
        vars[1].as_tensor(),
        Some(vars[2].as_tensor()),
        LstmActivation::Tanh,
        false,
    )
    .unwrap();
    let g = y.sum_all().unwrap().backward().unwrap();
    assert!(g.get(&ins[0]).is_none());
    assert!(vars.iter().all(|v| g.get(v.as_tensor()).is_some()));
    let err = lstm(
        &ins[0],
        &ins[1],
        &randn(&[4, 20], 1),
        None,
        LstmActivation::Tanh,
        false,
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("lstm") && err.contains("[4, 20]"), "{err}");
    assert!(lstm(
        &randn(&[2, 3, 5], 1),
        &ins[1],
        &ins[2],
        None,
        LstmActivation::Tanh,
        false
    )
    .is_err());
}
