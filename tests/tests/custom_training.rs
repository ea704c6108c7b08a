//! A loss, a metric and an optimizer written outside dlkit ([`Loss::custom`],
//! [`Metric::custom`], [`Optimizer::custom`]) train through `compile` / `fit`
//! exactly as the built-ins they copy, and bad ones are clear errors.

use dlkit::layers::Activation::{Relu, Softmax};
use dlkit::optim::{OptimizerRule, Step};
use dlkit::prelude::*;
use dlkit::train::{Better, LossFn};
use dlkit_tests::{blobs, weight_values};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Blobs with a real-valued target per sample: the sum of the first three features.
fn regression_data(n: usize, seed: u64) -> (Tensor, Tensor) {
    let (x, _) = blobs(n, seed, 0.5);
    let y = x.narrow(1, 0, 3).unwrap().sum_keepdim(1).unwrap();
    (x, y)
}

fn regressor(loss: Loss, optimizer: impl Into<Optimizer>, metrics: &[Metric]) -> Sequential {
    let mut model = Sequential::with_seed(5);
    model
        .add(Dense::new(16).input_dim(8).activation(Relu))
        .unwrap();
    model.add(Dense::new(1)).unwrap();
    model.compile(loss, optimizer, metrics).unwrap();
    model
}

fn classifier(loss: Loss, optimizer: impl Into<Optimizer>, metrics: &[Metric]) -> Sequential {
    let mut model = Sequential::with_seed(6);
    model
        .add(Dense::new(16).input_dim(8).activation(Relu))
        .unwrap();
    model.add(Dense::new(3).activation(Softmax)).unwrap();
    model.compile(loss, optimizer, metrics).unwrap();
    model
}

fn options(epochs: usize) -> FitOptions {
    FitOptions::new()
        .epochs(epochs)
        .batch_size(32)
        .seed(11)
        .verbose(0)
}

fn my_mse() -> Loss {
    Loss::custom("my_mse", |y_pred, y_true| {
        (y_pred - y_true.to_dtype(y_pred.dtype())?)?
            .sqr()?
            .mean_all()
    })
}

fn assert_close(a: &[f64], b: &[f64], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: {a:?} vs {b:?}");
    for (x, y) in a.iter().zip(b) {
        assert!((x - y).abs() <= 1e-6, "{what}: {a:?} vs {b:?}");
    }
}

#[test]
fn a_custom_loss_equal_to_mse_trains_exactly_like_it() {
    let (x, y) = regression_data(300, 1);
    let mut builtin = regressor(Loss::MeanSquaredError, Sgd::new(), &[]);
    let mut custom = regressor(my_mse(), Sgd::new(), &[]);
    // One loss per sample, averaged by dlkit: the same up to rounding.
    let per_sample = Loss::custom("my_mse_per_sample", |y_pred, y_true| {
        (y_pred - y_true.to_dtype(y_pred.dtype())?)?.sqr()?.mean(1)
    });
    let mut per_sample = regressor(per_sample, Sgd::new(), &[]);

    let want = builtin.fit(&x, &y, options(3)).unwrap();
    let got = custom.fit(&x, &y, options(3)).unwrap();
    let got_per_sample = per_sample.fit(&x, &y, options(3)).unwrap();

    assert!(want.loss()[2] < want.loss()[0], "{:?}", want.loss());
    assert_eq!(got.loss(), want.loss());
    assert_eq!(weight_values(&custom), weight_values(&builtin));
    assert_close(got_per_sample.loss(), want.loss(), "per-sample loss");
    let eval = custom.evaluate(&x, &y).unwrap();
    assert_eq!(eval.loss, builtin.evaluate(&x, &y).unwrap().loss);
}

#[test]
fn a_custom_metric_is_reported_like_a_builtin_under_its_own_name() {
    let (x, y) = regression_data(300, 2);
    let (xv, yv) = regression_data(90, 3);
    let my_mae = Metric::custom("my_mae", Better::Lower, |y_pred, y_true| {
        (y_pred - y_true)?.abs()?.mean(1)
    });
    let mut model = regressor(
        Loss::MeanSquaredError,
        Adam::default(),
        &[Metric::MeanAbsoluteError, my_mae],
    );
    let history = model
        .fit(&x, &y, options(3).validation_data(&xv, &yv))
        .unwrap();
    assert_eq!(
        history.keys(),
        ["loss", "mae", "my_mae", "val_loss", "val_mae", "val_my_mae"]
    );
    assert_close(
        history.get("my_mae").unwrap(),
        history.get("mae").unwrap(),
        "mae",
    );
    assert_close(
        history.get("val_my_mae").unwrap(),
        history.get("val_mae").unwrap(),
        "val_mae",
    );
    let eval = model.evaluate(&xv, &yv).unwrap();
    assert!((eval.get("my_mae").unwrap() - eval.get("mae").unwrap()).abs() < 1e-6);
    // plot::history gives it a panel of its own, as each built-in metric.
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("history.png");
    plot::history(&history).unwrap().save(&png).unwrap();
    let (width, _) = image::image_dimensions(&png).unwrap();
    assert_eq!(width, 3 * 480, "loss, mae and my_mae panels");
}

#[test]
fn accuracy_and_a_class_metric_work_with_a_custom_crossentropy() {
    let (x, labels) = blobs(300, 4, 0.5);
    let y = to_categorical(&labels, 3).unwrap();
    let smoothed = Loss::custom("smoothed_crossentropy", |y_pred, y_true| {
        let soft = y_true.affine(0.9, 0.1 / 3.0)?;
        Loss::CategoricalCrossentropy.loss(y_pred, &soft)
    });
    let p_true = Metric::custom("p_true", Better::Higher, |y_pred, y_true| {
        (y_pred * y_true)?.sum(1)
    });
    let mut model = classifier(
        smoothed,
        Adam::default().learning_rate(0.02),
        &[Metric::Accuracy, p_true],
    );
    let history = model.fit(&x, &y, options(8)).unwrap();
    let accuracy = *history.accuracy().last().unwrap();
    assert!(accuracy > 0.95, "{:?}", history.accuracy());
    let p = history.get("p_true").unwrap();
    assert!(p[7] > p[0] && p[7] < 1.0, "{p:?}");
    // Accuracy from one-hot targets is the accuracy from the labels.
    let from_labels = {
        let predicted = model.predict_classes(&x).unwrap().to_vec1::<u32>().unwrap();
        let labels = labels.to_vec1::<u8>().unwrap();
        let right = predicted
            .iter()
            .zip(&labels)
            .filter(|(p, l)| **p == **l as u32)
            .count();
        right as f64 / labels.len() as f64
    };
    assert_eq!(
        model.evaluate(&x, &y).unwrap().accuracy().unwrap(),
        from_labels
    );
}

/// A metric that falls by one at every batch it scores: whether it improves
/// is only a matter of which way is better.
fn falling(name: &str, better: Better) -> Metric {
    let calls = Arc::new(AtomicUsize::new(0));
    Metric::custom(name, better, move |y_pred, _| {
        let n = calls.fetch_add(1, Ordering::SeqCst) as f64;
        Tensor::new(-n, y_pred.device())
    })
}

#[test]
fn the_direction_of_a_custom_metric_steers_early_stopping() {
    let (x, labels) = blobs(96, 5, 0.5);
    let mut runs = Vec::new();
    for (name, better) in [
        ("falling_higher_is_better", Better::Higher),
        ("falling_lower_is_better", Better::Lower),
    ] {
        let mut model = classifier(
            Loss::SparseCategoricalCrossentropy,
            Sgd::new(),
            &[falling(name, better)],
        );
        let stop = EarlyStopping::new().monitor(name).patience(1);
        let history = model.fit(&x, &labels, options(5).callback(stop)).unwrap();
        runs.push(history.epochs());
    }
    // Higher is better: the first epoch stays best, and two epochs without
    // improvement exhaust a patience of 1. Lower is better: every epoch improves.
    assert_eq!(runs, [3, 5]);
}

/// SGD with momentum written as a user would: v ← μ·v − lr·g, w ← w + v.
struct Momentum(f32);

impl OptimizerRule for Momentum {
    fn slot_count(&self) -> usize {
        1
    }
    fn update(&self, step: Step, weight: &mut [f32], grad: &[f32], slots: &mut [&mut [f32]]) {
        let lr = step.learning_rate as f32;
        for ((w, g), v) in weight.iter_mut().zip(grad).zip(slots[0].iter_mut()) {
            *v = self.0 * *v - lr * g;
            *w += *v;
        }
    }
}

#[test]
fn a_custom_optimizer_equal_to_sgd_with_momentum_gives_the_same_weights() {
    let (x, labels) = blobs(300, 6, 0.5);
    let halve_each_epoch =
        || LearningRateScheduler::new(|epoch, lr| if epoch == 0 { lr } else { lr * 0.5 });
    let mut builtin = classifier(
        Loss::SparseCategoricalCrossentropy,
        Sgd::new().learning_rate(0.05).momentum(0.9),
        &[Metric::Accuracy],
    );
    let mut custom = classifier(
        Loss::SparseCategoricalCrossentropy,
        Optimizer::custom("my_momentum", 0.05, Momentum(0.9)),
        &[Metric::Accuracy],
    );
    let want = builtin
        .fit(&x, &labels, options(4).callback(halve_each_epoch()))
        .unwrap();
    let got = custom
        .fit(&x, &labels, options(4).callback(halve_each_epoch()))
        .unwrap();
    assert_eq!(got.loss(), want.loss());
    assert_eq!(weight_values(&custom), weight_values(&builtin));
    assert_eq!(custom.learning_rate().unwrap(), 0.05 * 0.125);
    assert!(want.accuracy()[3] > 0.9, "{:?}", want.accuracy());
}

fn fit_error(loss: Loss, metrics: &[Metric]) -> String {
    let (x, labels) = blobs(64, 7, 0.5);
    let y = to_categorical(&labels, 3).unwrap();
    let mut model = classifier(loss, Sgd::new(), metrics);
    model.fit(&x, &y, options(1)).unwrap_err().to_string()
}

#[test]
fn a_bad_custom_loss_or_metric_is_a_clear_error() {
    let not_reduced = Loss::custom("not_reduced", |y_pred, y_true| y_pred - y_true);
    let msg = fit_error(not_reduced, &[]);
    assert!(
        msg.contains("custom loss \"not_reduced\" returned a tensor of shape [32, 3]")
            && msg.contains("scalar"),
        "{msg}"
    );

    let nan = Loss::custom("nan", |y_pred, _| y_pred.sum_all()? * f64::NAN);
    let msg = fit_error(nan, &[]);
    assert!(
        msg.contains("the loss became NaN at epoch 1, batch 1/2"),
        "{msg}"
    );

    let mismatched = Loss::custom("mismatched", |y_pred, y_true| {
        y_pred.matmul(y_true)?.mean_all()
    });
    let msg = fit_error(mismatched, &[]);
    assert!(
        msg.starts_with("custom loss \"mismatched\" failed: "),
        "{msg}"
    );

    let per_class = Metric::custom("per_class", Better::Higher, |y_pred, _| y_pred.mean(0));
    let msg = fit_error(Loss::CategoricalCrossentropy, &[per_class]);
    assert!(
        msg.contains("custom metric \"per_class\" returned a tensor of shape [3]"),
        "{msg}"
    );
}

#[test]
fn a_custom_metric_needs_a_name_of_its_own() {
    let any = |y_pred: &Tensor, _: &Tensor| y_pred.mean(1);
    let mut model = Sequential::with_seed(1);
    for (name, problem) in [
        ("accuracy", "is the name of one of dlkit's own log keys"),
        ("acc", "is the name of one of dlkit's own log keys"),
        ("loss", "is the name of one of dlkit's own log keys"),
        ("val_score", "starts with val_"),
        (" ", "is empty"),
    ] {
        let metric = Metric::custom(name, Better::Higher, any);
        let msg = model
            .compile(Loss::CategoricalCrossentropy, Adam::default(), &[metric])
            .unwrap_err()
            .to_string();
        assert!(msg.contains(problem), "{name}: {msg}");
    }
    let twice = [
        Metric::custom("score", Better::Higher, any),
        Metric::custom("score", Better::Lower, any),
    ];
    let msg = model
        .compile(Loss::CategoricalCrossentropy, Adam::default(), &twice)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("metric score is given twice"), "{msg}");
}

#[test]
fn a_model_with_custom_parts_saves_its_weights_and_loads_uncompiled() {
    let (x, y) = regression_data(100, 8);
    let my_mae = Metric::custom("my_mae", Better::Lower, |y_pred, y_true| {
        (y_pred - y_true)?.abs()?.mean(1)
    });
    let mut model = regressor(
        my_mse(),
        Optimizer::custom("my_momentum", 0.01, Momentum(0.5)),
        &[my_mae],
    );
    model.fit(&x, &y, options(1)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("custom.safetensors");
    model.save(&path).unwrap();

    let msg = dlkit::model::load_model(&path).unwrap_err().to_string();
    assert!(
        msg.contains(
            "compiled with custom loss \"my_mse\", custom optimizer \"my_momentum\", \
             custom metric \"my_mae\""
        ) && msg.contains("load_model_uncompiled"),
        "{msg}"
    );
    let mut loaded = dlkit::model::load_model_uncompiled(&path).unwrap();
    assert!(loaded.compiled().is_none());
    assert_eq!(
        loaded.predict(&x).unwrap().to_vec2::<f32>().unwrap(),
        model.predict(&x).unwrap().to_vec2::<f32>().unwrap()
    );
    // Compiled again with its custom parts, it trains on.
    loaded
        .compile(
            my_mse(),
            Optimizer::custom("my_momentum", 0.01, Momentum(0.5)),
            &[],
        )
        .unwrap();
    loaded.fit(&x, &y, options(1)).unwrap();
}

#[test]
fn a_backup_holds_a_custom_optimizers_state_and_resumes_it_bit_for_bit() {
    let root = tempfile::tempdir().unwrap();
    let (x, labels) = blobs(300, 9, 0.5);
    let momentum = || Optimizer::custom("my_momentum", 0.05, Momentum(0.9));
    let model = || classifier(Loss::SparseCategoricalCrossentropy, momentum(), &[]);

    let mut straight = model();
    let want = straight.fit(&x, &labels, options(4)).unwrap();

    // A run that stops after epoch 2 keeps a backup with the velocities...
    let dir = root.path().join("backup");
    let mut crashed = model();
    crashed
        .fit(
            &x,
            &labels,
            options(4)
                .callback(BackupAndRestore::new(&dir))
                .callback(dlkit_tests::StopAfter(2)),
        )
        .unwrap();
    // ...which a model compiled with another optimizer refuses, by name...
    let mut other = classifier(Loss::SparseCategoricalCrossentropy, Sgd::new(), &[]);
    let msg = other
        .fit(
            &x,
            &labels,
            options(4).callback(BackupAndRestore::new(&dir)),
        )
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("optimizer my_momentum") && msg.contains("sgd"),
        "{msg}"
    );
    // ...and the same custom optimizer continues exactly.
    let mut resumed = model();
    let got = resumed
        .fit(
            &x,
            &labels,
            options(4).callback(BackupAndRestore::new(&dir)),
        )
        .unwrap();
    assert_eq!(got.loss(), want.loss());
    assert_eq!(weight_values(&resumed), weight_values(&straight));
}
