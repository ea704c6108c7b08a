//! `dlkit::ops::softmax_cross_entropy` and `softmax` against candle's log-softmax/softmax.

use dlkit::candle_core::{DType, Device, Tensor, Var};
use dlkit::ops::{self, softmax, softmax_cross_entropy};
use dlkit_tests::ops_util::*;

fn labels(n: usize, c: usize, seed: u64) -> Vec<u32> {
    let mut rng = dlkit::rng::Rng::new(seed);
    (0..n).map(|_| rng.below(c as u64) as u32).collect()
}

fn one_hot(l: &[u32], c: usize) -> Tensor {
    let mut v = vec![0f32; l.len() * c];
    for (i, &k) in l.iter().enumerate() {
        v[i * c + k as usize] = 1.0;
    }
    Tensor::from_vec(v, (l.len(), c), &Device::Cpu).unwrap()
}

#[test]
fn sparse_and_one_hot_targets_match_reference() {
    let (n, c) = (200, 10);
    let logits = randn(&[n, c], 1).affine(3.0, 0.0).unwrap();
    let l = labels(n, c, 2);
    let targets = [
        one_hot(&l, c),
        Tensor::new(l.as_slice(), &Device::Cpu).unwrap(),
        Tensor::new(l.as_slice(), &Device::Cpu)
            .unwrap()
            .to_dtype(DType::U8)
            .unwrap(),
        Tensor::new(l.as_slice(), &Device::Cpu)
            .unwrap()
            .to_dtype(DType::I64)
            .unwrap(),
    ];
    let p = candle_softmax(&logits);
    let mut expected_grad = values(&p);
    for (i, &k) in l.iter().enumerate() {
        expected_grad[i * c + k as usize] -= 1.0;
    }
    for t in &targets {
        let v = Var::from_tensor(&logits).unwrap();
        let loss = softmax_cross_entropy(v.as_tensor(), t).unwrap();
        let reference = ops::reference::softmax_cross_entropy(&logits, t).unwrap();
        let (a, b) = (
            loss.to_scalar::<f32>().unwrap(),
            reference.to_scalar::<f32>().unwrap(),
        );
        assert!(
            (a - b).abs() < 1e-5 * b.abs().max(1.0),
            "{:?}: {a} vs {b}",
            t.dtype()
        );
        let g = values(loss.backward().unwrap().get(v.as_tensor()).unwrap());
        for (j, (&got, &want)) in g.iter().zip(&expected_grad).enumerate() {
            // (softmax - onehot) / N
            assert!(
                (got - want / n as f32).abs() < 1e-7,
                "{:?}: gradient {j}: {got} vs {}",
                t.dtype(),
                want / n as f32
            );
        }
    }
}

fn candle_softmax(x: &Tensor) -> Tensor {
    dlkit::candle_nn::ops::softmax(x, 1).unwrap()
}

#[test]
fn probability_targets_and_their_gradient() {
    let logits = randn(&[7, 5], 3);
    let t = candle_softmax(&randn(&[7, 5], 4));
    let (y, g) = grads(&[logits.clone(), t.clone()], 0, |x| {
        softmax_cross_entropy(&x[0], &x[1])
    });
    let (y_ref, g_ref) = grads(&[logits, t], 0, |x| {
        ops::reference::softmax_cross_entropy(&x[0], &x[1])
    });
    assert_close(&y, &y_ref, 1e-6, 1e-5, "loss");
    assert_close(
        g[0].as_ref().unwrap(),
        g_ref[0].as_ref().unwrap(),
        1e-6,
        1e-4,
        "logits gradient",
    );
    assert_close(
        g[1].as_ref().unwrap(),
        g_ref[1].as_ref().unwrap(),
        1e-6,
        1e-4,
        "targets gradient",
    );
}

#[test]
fn numerically_stable_for_huge_logits() {
    let logits = Tensor::new(&[[1000f32, 0.0, -1000.0], [-1e30, 5.0, 5.0]], &Device::Cpu).unwrap();
    let targets = Tensor::new(&[0u32, 2], &Device::Cpu).unwrap();
    let loss = softmax_cross_entropy(&logits, &targets)
        .unwrap()
        .to_scalar::<f32>()
        .unwrap();
    // Row 0: loss 0; row 1: ln 2. Mean ln(2)/2.
    assert!((loss - 2f32.ln() / 2.0).abs() < 1e-6, "{loss}");
    let p = values(&softmax(&logits).unwrap());
    assert!(p.iter().all(|v| v.is_finite()));
    assert!((p[0] - 1.0).abs() < 1e-7 && (p[4] - 0.5).abs() < 1e-7);
}

#[test]
fn softmax_matches_candle_with_gradient() {
    let x = randn(&[13, 10], 5).affine(4.0, 0.0).unwrap();
    let (y, g) = grads(std::slice::from_ref(&x), 6, |t| softmax(&t[0]));
    let (y_ref, g_ref) = grads(&[x], 6, |t| ops::reference::softmax(&t[0]));
    assert_close(&y, &y_ref, 1e-7, 1e-5, "softmax");
    assert_close(
        g[0].as_ref().unwrap(),
        g_ref[0].as_ref().unwrap(),
        1e-6,
        1e-4,
        "softmax gradient",
    );
}

#[test]
fn bad_targets_are_errors() {
    let logits = randn(&[3, 4], 1);
    let err = softmax_cross_entropy(&logits, &Tensor::new(&[0u32, 4, 1], &Device::Cpu).unwrap())
        .unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");
    let err = softmax_cross_entropy(&logits, &Tensor::new(&[0u32, 1], &Device::Cpu).unwrap())
        .unwrap_err();
    assert!(
        err.to_string().contains("softmax_cross_entropy") && err.to_string().contains("[3, 4]"),
        "{err}"
    );
    assert!(
        softmax_cross_entropy(&logits, &Tensor::new(&[0i64, -1, 1], &Device::Cpu).unwrap())
            .is_err()
    );
    assert!(softmax_cross_entropy(&logits, &randn(&[3, 5], 1)).is_err());
}
