//! Training behaviour on synthetic data (real MNIST runs are in mnist_training.rs).

use dlkit::layers::Activation::{Relu, Softmax};
use dlkit::prelude::*;
use dlkit::train::{Control, EpochLogs};

/// Two well-separated Gaussian blobs per class in 8 dimensions.
fn blobs(n: usize, seed: u64) -> (Tensor, Tensor) {
    dlkit_tests::blobs(n, seed, 0.5)
}

fn small_model(seed: u64) -> Sequential {
    let mut model = Sequential::with_seed(seed);
    model
        .add(Dense::new(16).input_dim(8).activation(Relu))
        .unwrap();
    model.add(Dropout::new(0.2)).unwrap();
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

#[test]
fn fit_learns_and_reports_history() -> dlkit::Result<()> {
    let (x, y) = blobs(600, 1);
    let (xv, yv) = blobs(300, 2);
    let mut model = small_model(1);
    let history = model.fit(
        &x,
        &y,
        FitOptions::new()
            .epochs(20)
            .batch_size(32)
            .validation_data(&xv, &yv)
            .verbose(0),
    )?;
    assert_eq!(history.epochs(), 20);
    assert_eq!(history.val_accuracy().len(), 20);
    assert!(
        history.loss()[19] < history.loss()[0],
        "{:?}",
        history.loss()
    );
    assert!(
        history.val_accuracy()[19] > 0.95,
        "{:?}",
        history.val_accuracy()
    );
    let eval = model.evaluate(&xv, &yv)?;
    assert!((eval.accuracy().unwrap() - history.val_accuracy()[19]).abs() < 1e-9);
    assert!((eval.loss - history.val_loss()[19]).abs() < 1e-6);
    Ok(())
}

#[test]
fn history_says_where_each_epochs_time_went() -> dlkit::Result<()> {
    let (x, y) = blobs(600, 1);
    let (xv, yv) = blobs(300, 2);
    for validate in [false, true] {
        let mut model = small_model(1);
        let mut options = FitOptions::new().epochs(3).batch_size(32).verbose(0);
        if validate {
            options = options.validation_data(&xv, &yv);
        }
        let history = model.fit(&x, &y, options)?;
        assert_eq!(history.phase_seconds.len(), 3);
        for (phases, &epoch) in history.phase_seconds.iter().zip(&history.epoch_seconds) {
            let all = [
                phases.batches,
                phases.forward,
                phases.backward,
                phases.optimizer,
                phases.metrics,
                phases.validation,
            ];
            assert!(all.iter().all(|s| s.is_finite() && *s >= 0.0), "{phases:?}");
            assert!(phases.forward > 0.0 && phases.backward > 0.0 && phases.optimizer > 0.0);
            assert_eq!(phases.validation > 0.0, validate, "{phases:?}");
            // The phases are parts of the epoch; the rest is the progress line.
            assert!(phases.total() <= epoch, "{phases:?} in {epoch} s");
            assert!(phases.total() > 0.5 * epoch, "{phases:?} in {epoch} s");
        }
    }
    Ok(())
}

#[test]
fn same_seed_gives_identical_losses_and_weights() -> dlkit::Result<()> {
    let (x, y) = blobs(300, 3);
    let run = || -> dlkit::Result<(Vec<f64>, Vec<f32>)> {
        let mut model = small_model(42);
        let h = model.fit(
            &x,
            &y,
            FitOptions::new().epochs(3).batch_size(16).verbose(0),
        )?;
        let w = model.trainable_variables()[0]
            .flatten_all()?
            .to_vec1::<f32>()?;
        Ok((h.loss().to_vec(), w))
    };
    assert_eq!(run()?, run()?);
    let mut other = small_model(43);
    let h = other.fit(
        &x,
        &y,
        FitOptions::new().epochs(3).batch_size(16).verbose(0),
    )?;
    assert_ne!(h.loss(), run()?.0);
    Ok(())
}

#[test]
fn dropout_is_active_in_training_only() -> dlkit::Result<()> {
    let mut model = Sequential::with_seed(5);
    model.add(Flatten::new().input_shape(10_000))?;
    model.add(Dropout::new(0.5))?;
    let x = Tensor::ones((1, 10_000), DType::F32, &Device::Cpu)?;
    assert_eq!(
        model.forward(&x, false)?.to_vec2::<f32>()?,
        x.to_vec2::<f32>()?
    );
    let y: Vec<f32> = model.forward(&x, true)?.flatten_all()?.to_vec1()?;
    let kept = y.iter().filter(|&&v| v != 0.0).count();
    assert!((4_700..5_300).contains(&kept), "kept {kept}");
    assert!(y.iter().all(|&v| v == 0.0 || (v - 2.0).abs() < 1e-6));
    Ok(())
}

#[test]
fn validation_split_takes_the_last_samples_and_early_stopping_stops() -> dlkit::Result<()> {
    let (x, y) = blobs(400, 4);
    let mut model = small_model(2);
    let history = model.fit(
        &x,
        &y,
        FitOptions::new()
            .epochs(50)
            .validation_split(0.25)
            .verbose(0)
            .callback(
                EarlyStopping::new()
                    .monitor("val_loss")
                    .patience(1)
                    .min_delta(0.5)
                    .restore_best_weights(true),
            ),
    )?;
    assert!(history.epochs() < 50, "ran {} epochs", history.epochs());
    assert!(history
        .stopped_early
        .as_deref()
        .unwrap_or("")
        .contains("val_loss"));
    Ok(())
}

#[test]
fn nan_loss_is_an_error_naming_epoch_and_batch_or_stops_with_terminate_on_nan() -> dlkit::Result<()>
{
    let (x, y) = blobs(64, 5);
    let x = x.affine(1e30, 0.0)?;
    let mut model = small_model(3);
    model.compile(
        Loss::SparseCategoricalCrossentropy,
        Sgd::new().learning_rate(1e30),
        &[Metric::Accuracy],
    )?;
    let err = model
        .fit(&x, &y, FitOptions::new().epochs(2).verbose(0))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("epoch 1, batch") && err.contains("learning rate"),
        "{err}"
    );
    let mut model = small_model(3);
    model.compile(
        Loss::SparseCategoricalCrossentropy,
        Sgd::new().learning_rate(1e30),
        &[Metric::Accuracy],
    )?;
    let h = model.fit(
        &x,
        &y,
        FitOptions::new()
            .epochs(2)
            .verbose(0)
            .callback(TerminateOnNaN),
    )?;
    assert!(h.stopped_early.unwrap().contains("TerminateOnNaN"));
    Ok(())
}

#[test]
fn fit_before_compile_says_so() {
    let (x, y) = blobs(10, 6);
    let mut model = Sequential::with_seed(1);
    model.add(Dense::new(3).input_dim(8)).unwrap();
    let err = model
        .fit(&x, &y, FitOptions::new())
        .unwrap_err()
        .to_string();
    assert!(err.contains("compile"), "{err}");
}

/// Records that its `on_train_end` ran, and fails it when told to.
struct EndProbe {
    ended: std::sync::Arc<std::sync::atomic::AtomicBool>,
    fail: bool,
}

impl Callback for EndProbe {
    fn on_epoch_end(&mut self, _logs: &EpochLogs, _model: &Model) -> dlkit::Result<Control> {
        Ok(Control::Continue)
    }
    fn on_train_end(&mut self, _model: &Model) -> dlkit::Result<()> {
        self.ended.store(true, std::sync::atomic::Ordering::SeqCst);
        if self.fail {
            return Err(dlkit::Error::InvalidArgument(
                "probe failed on purpose".into(),
            ));
        }
        Ok(())
    }
}

fn probe(fail: bool) -> (EndProbe, std::sync::Arc<std::sync::atomic::AtomicBool>) {
    let ended = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    (
        EndProbe {
            ended: ended.clone(),
            fail,
        },
        ended,
    )
}

#[test]
fn every_callback_ends_and_the_first_error_is_returned() -> dlkit::Result<()> {
    use std::sync::atomic::Ordering::SeqCst;
    let (x, y) = blobs(64, 5);
    // A failing on_train_end does not skip the callbacks after it; its error is returned.
    let (first, first_ended) = probe(true);
    let (second, second_ended) = probe(false);
    let mut model = small_model(3);
    let err = model
        .fit(
            &x,
            &y,
            FitOptions::new()
                .epochs(1)
                .verbose(0)
                .callback(first)
                .callback(second),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("probe failed on purpose"), "{err}");
    assert!(first_ended.load(SeqCst) && second_ended.load(SeqCst));

    // When training itself failed (a NaN loss), that error comes first, and every
    // callback still ends.
    let (first, first_ended) = probe(true);
    let (second, second_ended) = probe(false);
    let mut model = small_model(3);
    model.compile(
        Loss::SparseCategoricalCrossentropy,
        Sgd::new().learning_rate(1e30),
        &[Metric::Accuracy],
    )?;
    let err = model
        .fit(
            &x.affine(1e30, 0.0)?,
            &y,
            FitOptions::new()
                .epochs(2)
                .verbose(0)
                .callback(first)
                .callback(second),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("epoch 1, batch"), "{err}");
    assert!(!err.contains("probe failed"), "{err}");
    assert!(first_ended.load(SeqCst) && second_ended.load(SeqCst));
    Ok(())
}
