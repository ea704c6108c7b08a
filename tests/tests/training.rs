//! Training behaviour on synthetic data (real MNIST runs are in mnist_training.rs).

use dlkit::layers::Activation::{Relu, Softmax};
use dlkit::prelude::*;
use dlkit::train::{BatchLogs, Control, EpochLogs};

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

/// The learning rate each epoch trained with, read at the epoch's end.
#[derive(Clone, Default)]
struct RateLog(std::sync::Arc<std::sync::Mutex<Vec<f64>>>);

impl Callback for RateLog {
    fn on_epoch_end(&mut self, _logs: &EpochLogs, model: &Model) -> dlkit::Result<Control> {
        self.0.lock().unwrap().push(model.learning_rate()?);
        Ok(Control::Continue)
    }
}

fn sgd_model(lr: f64) -> dlkit::Result<Sequential> {
    let mut model = small_model(3);
    model.compile(
        Loss::SparseCategoricalCrossentropy,
        Sgd::new().learning_rate(lr),
        &[Metric::Accuracy],
    )?;
    Ok(model)
}

fn close_all(got: &[f64], want: &[f64]) -> bool {
    got.len() == want.len()
        && got
            .iter()
            .zip(want)
            .all(|(g, w)| (g - w).abs() <= 1e-12 * w)
}

#[test]
fn learning_rate_scheduler_sets_each_epochs_rate() -> dlkit::Result<()> {
    let (x, y) = blobs(64, 5);
    let log = RateLog::default();
    let mut model = sgd_model(0.01)?;
    let schedule = LearningRateScheduler::new(|epoch, lr| if epoch == 0 { lr } else { lr * 0.5 });
    model.fit(
        &x,
        &y,
        FitOptions::new()
            .epochs(4)
            .verbose(0)
            .callback(schedule)
            .callback(log.clone()),
    )?;
    let rates = log.0.lock().unwrap().clone();
    assert!(
        close_all(&rates, &[0.01, 0.005, 0.0025, 0.00125]),
        "{rates:?}"
    );
    assert!((model.learning_rate()? - 0.00125).abs() < 1e-15);

    // A schedule that gives no usable rate stops training with an error naming the epoch.
    let mut model = sgd_model(0.01)?;
    let bad = LearningRateScheduler::new(|epoch, lr| if epoch < 2 { lr } else { 0.0 });
    let err = model
        .fit(&x, &y, FitOptions::new().epochs(4).verbose(0).callback(bad))
        .unwrap_err()
        .to_string();
    assert!(err.contains("gave 0 for epoch 3"), "{err}");
    Ok(())
}

#[test]
fn reduce_lr_on_plateau_follows_keras_patience_cooldown_and_min_lr() -> dlkit::Result<()> {
    let (x, y) = blobs(64, 5);
    // With a min_delta no loss change can beat, every epoch after the first is a plateau:
    // patience 2 reduces at the ends of epochs 3, 5 and 7 (1-based), cooldown 1 then
    // skips counting for one epoch, and min_lr stops the third reduction.
    let log = RateLog::default();
    let mut model = sgd_model(0.1)?;
    let plateau = ReduceLROnPlateau::new()
        .monitor("loss")
        .min_delta(1e9)
        .patience(2)
        .factor(0.5)
        .cooldown(1)
        .min_lr(0.03);
    model.fit(
        &x,
        &y,
        FitOptions::new()
            .epochs(8)
            .verbose(0)
            .callback(log.clone())
            .callback(plateau),
    )?;
    let rates = log.0.lock().unwrap().clone();
    assert!(
        close_all(&rates, &[0.1, 0.1, 0.1, 0.05, 0.05, 0.03, 0.03, 0.03]),
        "{rates:?}"
    );

    // Settings Keras refuses are errors before the first epoch.
    let mut model = sgd_model(0.1)?;
    let err = model
        .fit(
            &x,
            &y,
            FitOptions::new()
                .epochs(1)
                .verbose(0)
                .callback(ReduceLROnPlateau::new().factor(1.5)),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("factor is 1.5"), "{err}");
    let err = model
        .fit(
            &x,
            &y,
            FitOptions::new()
                .epochs(1)
                .verbose(0)
                .callback(ReduceLROnPlateau::new().monitor("val_acuracy")),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("val_acuracy"), "{err}");
    Ok(())
}

/// Every event a callback sees, as text, and each batch's `(loss, running loss,
/// running accuracy)`.
#[derive(Clone, Default)]
struct EventLog {
    events: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    batches: std::sync::Arc<std::sync::Mutex<Vec<(f64, f64, f64)>>>,
    /// Stop from `on_train_batch_end` at this (epoch, batch).
    stop_at: Option<(usize, usize)>,
    /// Fail `on_train_batch_begin` at this (epoch, batch).
    fail_at: Option<(usize, usize)>,
    epoch: usize,
}

impl EventLog {
    fn push(&self, event: String) {
        self.events.lock().unwrap().push(event);
    }
    fn events(&self) -> Vec<String> {
        self.events.lock().unwrap().clone()
    }
}

impl Callback for EventLog {
    fn on_train_begin(
        &mut self,
        _model: &mut Model,
        epochs: usize,
    ) -> dlkit::Result<Option<dlkit::train::Resume>> {
        self.push(format!("train_begin {epochs}"));
        Ok(None)
    }
    fn on_epoch_begin(&mut self, epoch: usize, _model: &mut Model) -> dlkit::Result<()> {
        self.epoch = epoch;
        self.push(format!("epoch_begin {epoch}"));
        Ok(())
    }
    fn on_train_batch_begin(&mut self, batch: usize, _model: &mut Model) -> dlkit::Result<()> {
        self.push(format!("batch_begin {batch}"));
        if self.fail_at == Some((self.epoch, batch)) {
            return Err(dlkit::Error::InvalidArgument("batch hook failed".into()));
        }
        Ok(())
    }
    fn on_train_batch_end(&mut self, logs: &BatchLogs, _model: &Model) -> dlkit::Result<Control> {
        self.push(format!(
            "batch_end {} {}/{}",
            logs.epoch, logs.batch, logs.batches
        ));
        let running = (logs.get("loss").unwrap(), logs.get("acc").unwrap());
        self.batches
            .lock()
            .unwrap()
            .push((logs.loss, running.0, running.1));
        assert_eq!(logs.metrics()[0], ("loss".to_string(), running.0));
        assert_eq!(logs.get("mae"), None);
        if self.stop_at == Some((logs.epoch, logs.batch)) {
            return Ok(Control::Stop("enough after one batch".into()));
        }
        Ok(Control::Continue)
    }
    fn on_epoch_end(&mut self, logs: &EpochLogs, _model: &Model) -> dlkit::Result<Control> {
        self.push(format!("epoch_end {}", logs.epoch));
        Ok(Control::Continue)
    }
    fn on_train_end(&mut self, _model: &Model) -> dlkit::Result<()> {
        self.push("train_end".into());
        Ok(())
    }
}

/// Dense layers only (no dropout), so that a training step's forward pass is
/// `evaluate`'s.
fn dense_model(lr: f64) -> Sequential {
    let mut model = Sequential::with_seed(4);
    model
        .add(Dense::new(16).input_dim(8).activation(Relu))
        .unwrap();
    model.add(Dense::new(3).activation(Softmax)).unwrap();
    model
        .compile(
            Loss::SparseCategoricalCrossentropy,
            Sgd::new().learning_rate(lr),
            &[Metric::Accuracy],
        )
        .unwrap();
    model
}

#[test]
fn batch_events_come_in_order_with_each_batchs_index_and_loss() -> dlkit::Result<()> {
    // 40 samples in batches of 16: 16, 16 and 8.
    let (x, y) = blobs(40, 5);
    let log = EventLog::default();
    let mut model = dense_model(0.1);
    let first_batch_loss = dense_model(0.1)
        .evaluate(&x.narrow(0, 0, 16)?, &y.narrow(0, 0, 16)?)?
        .loss;
    let history = model.fit(
        &x,
        &y,
        FitOptions::new()
            .epochs(2)
            .batch_size(16)
            .shuffle(false)
            .verbose(0)
            .callback(log.clone()),
    )?;
    let mut want = vec!["train_begin 2".to_string()];
    for epoch in 0..2 {
        want.push(format!("epoch_begin {epoch}"));
        for batch in 0..3 {
            want.push(format!("batch_begin {batch}"));
            want.push(format!("batch_end {epoch} {batch}/3"));
        }
        want.push(format!("epoch_end {epoch}"));
    }
    want.push("train_end".into());
    assert_eq!(log.events(), want);

    // The first loss is the untrained model's on the first 16 samples.
    let batches = log.batches.lock().unwrap().clone();
    assert!(
        (batches[0].0 - first_batch_loss).abs() < 1e-6,
        "{} vs {first_batch_loss}",
        batches[0].0
    );
    // The running loss is the sample-weighted mean of the batch losses so far,
    // and after the last batch it is the epoch's loss; so is the accuracy.
    for epoch in 0..2 {
        let mut sum = 0.0;
        for (k, size) in [16.0, 16.0, 8.0].into_iter().enumerate() {
            let (loss, running, _) = batches[epoch * 3 + k];
            sum += loss * size;
            let seen = [16.0, 32.0, 40.0][k];
            assert!((running - sum / seen).abs() < 1e-12, "{batches:?}");
        }
        let (_, running_loss, running_accuracy) = batches[epoch * 3 + 2];
        assert!((running_loss - history.loss()[epoch]).abs() < 1e-12);
        assert!((running_accuracy - history.accuracy()[epoch]).abs() < 1e-12);
    }
    Ok(())
}

#[test]
fn a_batch_hook_stops_training_after_that_batch() -> dlkit::Result<()> {
    let (x, y) = blobs(40, 5);
    let log = EventLog {
        stop_at: Some((1, 1)),
        ..Default::default()
    };
    let mut model = dense_model(0.1);
    let history = model.fit(
        &x,
        &y,
        FitOptions::new()
            .epochs(5)
            .batch_size(16)
            .verbose(0)
            .callback(log.clone()),
    )?;
    // The unfinished epoch is not recorded and gets no epoch_end; training ends.
    assert_eq!(history.epochs(), 1);
    assert_eq!(
        history.stopped_early.as_deref(),
        Some("enough after one batch")
    );
    let events = log.events();
    let tail = [
        "epoch_end 0",
        "epoch_begin 1",
        "batch_begin 0",
        "batch_end 1 0/3",
        "batch_begin 1",
        "batch_end 1 1/3",
        "train_end",
    ];
    assert_eq!(events[events.len() - tail.len()..], tail, "{events:?}");

    // An error in a batch hook ends training with that error; every callback still ends.
    let log = EventLog {
        fail_at: Some((0, 2)),
        ..Default::default()
    };
    let err = dense_model(0.1)
        .fit(
            &x,
            &y,
            FitOptions::new()
                .epochs(5)
                .batch_size(16)
                .verbose(0)
                .callback(log.clone()),
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("batch hook failed"), "{err}");
    let events = log.events();
    assert_eq!(events[events.len() - 2..], ["batch_begin 2", "train_end"]);
    Ok(())
}

/// The learning rate each batch trained with, read at the batch's end.
#[derive(Clone, Default)]
struct BatchRateLog(std::sync::Arc<std::sync::Mutex<Vec<f64>>>);

impl Callback for BatchRateLog {
    fn on_train_batch_end(&mut self, _logs: &BatchLogs, model: &Model) -> dlkit::Result<Control> {
        self.0.lock().unwrap().push(model.learning_rate()?);
        Ok(Control::Continue)
    }
}

#[test]
fn a_per_batch_schedule_sets_each_batchs_rate() -> dlkit::Result<()> {
    let (x, y) = blobs(40, 5);
    let fit_with = |schedule: LearningRateScheduler, log: &BatchRateLog, lr: f64| {
        let mut model = dense_model(lr);
        let options = FitOptions::new()
            .epochs(2)
            .batch_size(16)
            .shuffle(false)
            .verbose(0)
            .callback(schedule)
            .callback(log.clone());
        model.fit(&x, &y, options).map(|_| model)
    };

    // Inverse-time decay over the global step (3 batches an epoch).
    let log = BatchRateLog::default();
    let decay =
        LearningRateScheduler::per_batch(|epoch, batch, _| 0.1 / (1 + epoch * 3 + batch) as f64);
    fit_with(decay, &log, 0.5)?;
    let want = [0.1, 0.05, 0.1 / 3.0, 0.025, 0.02, 0.1 / 6.0];
    let rates = log.0.lock().unwrap().clone();
    assert!(close_all(&rates, &want), "{rates:?}");

    // Halving from the compiled rate on: the schedule sees the current rate.
    let log = BatchRateLog::default();
    let halving = LearningRateScheduler::per_batch(
        |epoch, batch, lr| if epoch + batch == 0 { lr } else { lr / 2.0 },
    );
    let model = fit_with(halving, &log, 0.08)?;
    let rates = log.0.lock().unwrap().clone();
    assert!(
        close_all(&rates, &[0.08, 0.04, 0.02, 0.01, 0.005, 0.0025]),
        "{rates:?}"
    );
    assert!((model.learning_rate()? - 0.0025).abs() < 1e-15);

    // The rate set before a batch is the one its step uses, from the first batch on:
    // a schedule holding 0.05 trains exactly as a compiled 0.05 does.
    let mut constant = fit_with(
        LearningRateScheduler::per_batch(|_, _, _| 0.05),
        &BatchRateLog::default(),
        0.9,
    )?;
    let mut plain = fit_with(
        LearningRateScheduler::new(|_, lr| lr),
        &BatchRateLog::default(),
        0.05,
    )?;
    assert_eq!(
        constant.predict(&x)?.to_vec2::<f32>()?,
        plain.predict(&x)?.to_vec2::<f32>()?
    );

    // A rate no optimizer can use is an error naming the epoch and batch.
    let bad = LearningRateScheduler::per_batch(|epoch, batch, lr| {
        if epoch == 1 && batch == 2 {
            f64::NAN
        } else {
            lr
        }
    });
    let err = fit_with(bad, &BatchRateLog::default(), 0.1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("gave NaN for epoch 2, batch 3"), "{err}");
    Ok(())
}
