//! `keep_candle_elementwise_inline` keeps candle's elementwise thread pool inline unless
//! the user chose its size, and building a model does not choose for the user.
//!
//! candle reads `CANDLE_NUM_THREADS` once per process, so each case runs in a child
//! process of this test binary (the ignored `child_*` test), with its own environment.

use dlkit::candle_core::utils::barrier_pool;
use dlkit::ops::keep_candle_elementwise_inline;
use dlkit::prelude::*;
use std::process::Command;

/// Runs the child test with `CANDLE_NUM_THREADS` set to `value` (or unset) and
/// tells it how many candle pool workers to expect.
fn child_sees(value: Option<&str>, expected_workers: usize) {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args([
        "--ignored",
        "--exact",
        "child_checks_the_pool",
        "--nocapture",
    ])
    .env("DLKIT_EXPECT_CANDLE_WORKERS", expected_workers.to_string());
    match value {
        Some(v) => cmd.env("CANDLE_NUM_THREADS", v),
        None => cmd.env_remove("CANDLE_NUM_THREADS"),
    };
    let out = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "CANDLE_NUM_THREADS={value:?}: {text}");
    assert!(
        text.contains("1 passed"),
        "the child test did not run: {text}"
    );
}

#[test]
fn unset_or_empty_means_inline() {
    child_sees(None, 0);
    child_sees(Some(""), 0);
    child_sees(Some("not a number"), 0);
}

#[test]
fn the_users_count_holds() {
    child_sees(Some("1"), 0);
    child_sees(Some("3"), 2);
}

/// The child: a model made first leaves the variable alone (no hidden global effect);
/// then the explicit call gives candle's pool the expected workers, and a large
/// elementwise op (one candle runs on the pool) gives the same values as
/// element-by-element arithmetic.
#[test]
#[ignore = "run by the tests above in a child process with its own environment"]
fn child_checks_the_pool() {
    let expected: usize = std::env::var("DLKIT_EXPECT_CANDLE_WORKERS")
        .expect("run by the tests above")
        .parse()
        .unwrap();
    let before = std::env::var("CANDLE_NUM_THREADS").ok();
    let _model = Sequential::new();
    assert_eq!(std::env::var("CANDLE_NUM_THREADS").ok(), before);
    assert_eq!(keep_candle_elementwise_inline(), expected);
    assert_eq!(barrier_pool().n_workers(), expected);
    let n = 200_000;
    let a: Vec<f32> = (0..n).map(|i| i as f32 * 0.5).collect();
    let b: Vec<f32> = (0..n).map(|i| 1.0 - i as f32).collect();
    let sum = (Tensor::new(a.as_slice(), &Device::Cpu).unwrap()
        + Tensor::new(b.as_slice(), &Device::Cpu).unwrap())
    .unwrap()
    .to_vec1::<f32>()
    .unwrap();
    assert!(sum
        .iter()
        .zip(a.iter().zip(&b))
        .all(|(s, (x, y))| *s == x + y));
}
