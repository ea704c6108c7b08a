//! `dlkit::train::limit_training_samples`, the cap the notebook tests use for
//! quick runs. Its own test binary with one test: the limit is process-wide,
//! and tests in one binary run in parallel.

use dlkit::prelude::*;
use dlkit::train::{limit_training_samples, training_sample_limit};

/// Dense → Dropout → Dense on 8 features: the dropout and the shuffling both
/// draw from the generator, so equal runs mean equal batches.
fn small_model() -> Sequential {
    dlkit_tests::resumable_model(7, 16)
}

fn options(xv: &Tensor, yv: &Tensor) -> FitOptions {
    FitOptions::new()
        .epochs(2)
        .batch_size(8)
        .seed(3)
        .validation_data(xv, yv)
        .verbose(0)
}

#[test]
fn the_limit_cuts_training_data_only_and_can_be_lifted() -> dlkit::Result<()> {
    let (x, y) = dlkit_tests::blobs(40, 1, 0.5);
    let (xv, yv) = dlkit_tests::blobs(30, 2, 0.5);
    assert_eq!(training_sample_limit(), None);

    // Training under a limit of 24 is training on the first 24 samples, bit for bit;
    // the validation data stay whole (the validation loss matches the full evaluation).
    limit_training_samples(Some(24))?;
    assert_eq!(training_sample_limit(), Some(24));
    let mut limited = small_model();
    let limited_history = limited.fit(&x, &y, options(&xv, &yv))?;
    limit_training_samples(None)?;
    let mut sliced = small_model();
    let sliced_history = sliced.fit(
        &x.narrow(0, 0, 24)?,
        &y.narrow(0, 0, 24)?,
        options(&xv, &yv),
    )?;
    assert_eq!(limited_history.loss(), sliced_history.loss());
    assert_eq!(
        dlkit_tests::weight_values(&limited),
        dlkit_tests::weight_values(&sliced)
    );
    let full_val = limited.evaluate(&xv, &yv)?.loss;
    assert!((limited_history.val_loss()[1] - full_val).abs() < 1e-6);

    // A NaN past the limit is never read; without the limit, fit names it.
    let mut values = x.flatten_all()?.to_vec1::<f32>()?;
    values[30 * 8] = f32::NAN;
    let poisoned = Tensor::from_vec(values, (40, 8), &Device::Cpu)?;
    limit_training_samples(Some(24))?;
    small_model().fit(&poisoned, &y, options(&xv, &yv))?;
    limit_training_samples(None)?;
    let err = small_model()
        .fit(&poisoned, &y, options(&xv, &yv))
        .unwrap_err()
        .to_string();
    assert!(err.contains("NaN"), "{err}");

    // A limit above the sample count changes nothing; a limit of 0 is refused.
    limit_training_samples(Some(1_000))?;
    let mut roomy = small_model();
    let roomy_history = roomy.fit(&x, &y, options(&xv, &yv))?;
    limit_training_samples(None)?;
    let full_history = small_model().fit(&x, &y, options(&xv, &yv))?;
    assert_eq!(roomy_history.loss(), full_history.loss());
    let err = limit_training_samples(Some(0)).unwrap_err().to_string();
    assert!(err.contains("limit of 0"), "{err}");
    assert_eq!(training_sample_limit(), None);
    Ok(())
}
