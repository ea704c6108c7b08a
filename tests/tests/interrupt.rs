//! Stopping a running `fit` from outside (Jupyter's interrupt in a notebook).
//!
//! One test function on purpose: the stop request is process-wide, so these
//! steps must not run in parallel threads of the test harness.

use dlkit::layers::Activation::{Relu, Softmax};
use dlkit::prelude::*;
use dlkit::train::interrupt;
use std::time::Duration;

fn data() -> (Tensor, Tensor) {
    let mut rng = Rng::new(7);
    let n = 256;
    let xs: Vec<f32> = (0..n * 8).map(|_| rng.normal() as f32).collect();
    let ys: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    (
        Tensor::from_vec(xs, (n, 8), &Device::Cpu).unwrap(),
        Tensor::from_vec(ys, n, &Device::Cpu).unwrap(),
    )
}

fn model() -> Sequential {
    let mut model = Sequential::with_seed(3);
    model
        .add(Dense::new(16).input_dim(8).activation(Relu))
        .unwrap();
    model.add(Dense::new(3).activation(Softmax)).unwrap();
    model
        .compile(
            Loss::SparseCategoricalCrossentropy,
            Adam::default(),
            &[Metric::Accuracy],
        )
        .unwrap();
    model
}

/// Keeps asking for a stop until a fit is running to take it; returns whether it did.
fn stop_soon(send: impl Fn() -> bool + Send + 'static) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || {
        for _ in 0..600 {
            std::thread::sleep(Duration::from_millis(50));
            if interrupt::fit_running() {
                std::thread::sleep(Duration::from_millis(200));
                return send();
            }
        }
        false
    })
}

fn interrupted_fit(send: impl Fn() -> bool + Send + 'static) {
    let (x, y) = data();
    let mut model = model();
    let stopper = stop_soon(send);
    let history = model
        .fit(
            &x,
            &y,
            FitOptions::new().epochs(100_000).batch_size(32).verbose(0),
        )
        .expect("an interrupted fit returns its history");
    assert!(
        stopper.join().unwrap(),
        "the stop request was not delivered"
    );
    assert!(history.epochs() < 100_000, "fit ran to the end");
    let reason = history.stopped_early.as_deref().unwrap_or("");
    assert!(reason.contains("interrupted"), "stopped_early = {reason:?}");
    assert_eq!(history.loss().len(), history.epochs());
    // The model is intact and usable.
    let p = model.predict(&x).unwrap();
    let total = p.sum_all().unwrap().to_scalar::<f32>().unwrap();
    assert!((total - 256.0).abs() < 1e-2, "probabilities sum to {total}");
    assert!(
        !interrupt::stop_requested(),
        "the request ends with the fit"
    );
}

#[test]
fn a_stop_request_ends_fit_after_its_batch() {
    // Nothing to stop: the request is not recorded, and a later fit runs through.
    assert!(!interrupt::request_stop());
    let (x, y) = data();
    let history = model()
        .fit(&x, &y, FitOptions::new().epochs(3).verbose(0))
        .unwrap();
    assert_eq!(history.epochs(), 3);
    assert_eq!(history.stopped_early, None);

    // From another thread, as a callback or a UI would.
    interrupted_fit(interrupt::request_stop);

    // As SIGINT, the way Jupyter's interrupt reaches the notebook kernel.
    #[cfg(unix)]
    {
        interrupt::install_sigint_handler();
        let pid = std::process::id().to_string();
        interrupted_fit(move || {
            std::process::Command::new("kill")
                .args(["-INT", &pid])
                .status()
                .is_ok_and(|s| s.success())
        });
    }
}
