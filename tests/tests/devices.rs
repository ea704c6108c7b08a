//! fit, evaluate, predict, callbacks, plots and save/load on every device of this
//! build (`dlkit::device::available()`: the CPU, and with `--features cuda` the first
//! CUDA GPU when one answers), each compared with the same seeded run on the CPU.
//!
//! On the CPU the comparison is with a second run (seeded runs must repeat); on a
//! GPU candle's kernels replace dlkit's CPU ones (ops/cpu), so values agree within
//! float tolerance. Every test also checks what a notebook relies on: the weights
//! stay on the chosen device, and what comes back (predictions, histories, plots,
//! files) is on the CPU.

use dlkit::device;
use dlkit::layers::Activation::{Relu, Softmax};
use dlkit::prelude::*;

/// Values computed on another device may differ by float rounding (GPU reductions
/// sum in another order), never by more.
const TOLERANCE: f64 = 2e-3;

fn assert_close(what: &str, device: &Device, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what} on {}", device::name(device));
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let allowed = TOLERANCE * (1.0 + w.abs());
        assert!(
            (g - w).abs() <= allowed,
            "{what}[{i}] on {}: {g} vs {w} on the CPU",
            device::name(device)
        );
    }
}

fn flat(t: &Tensor) -> Vec<f64> {
    t.flatten_all()
        .unwrap()
        .to_dtype(DType::F64)
        .unwrap()
        .to_vec1::<f64>()
        .unwrap()
}

fn same_device(a: &Device, b: &Device) -> bool {
    a.location() == b.location()
}

/// Dense → Dropout → Dense: dlkit's fused dense, dropout and softmax cross-entropy.
fn dense_model(on: &Device) -> Sequential {
    let mut model = Sequential::with_seed(3);
    // Moved before the first layer: weights are then made on the device.
    model.to_device(on).unwrap();
    model
        .add(Dense::new(16).input_dim(8).activation(Relu))
        .unwrap();
    model.add(Dropout::new(0.2)).unwrap();
    model.add(Dense::new(3).activation(Softmax)).unwrap();
    model
        .compile(
            Loss::SparseCategoricalCrossentropy,
            Adam::default().learning_rate(0.01),
            &[Metric::Accuracy],
        )
        .unwrap();
    model
}

/// Conv2D directly followed by MaxPooling2D (the fused path on the CPU), batch
/// normalization, Flatten and a softmax Dense, on 1×8×8 images.
fn cnn_model(on: &Device) -> Sequential {
    let mut model = Sequential::with_seed(5);
    model
        .add(Conv2D::new(4, 3).activation(Relu).input_shape((1, 8, 8)))
        .unwrap();
    model.add(MaxPooling2D::new(2)).unwrap();
    // A short momentum: four epochs of a few batches must settle the moving statistics.
    model.add(BatchNormalization::new().momentum(0.5)).unwrap();
    model.add(Flatten::new()).unwrap();
    model.add(Dense::new(2).activation(Softmax)).unwrap();
    model
        .compile(
            Loss::SparseCategoricalCrossentropy,
            Adam::default(),
            &[Metric::Accuracy],
        )
        .unwrap();
    // Moved after it is built and compiled: weights are moved, the optimizer starts afresh.
    model.to_device(on).unwrap();
    model
}

/// 1×8×8 images in [0, 1] whose class is whether the left or the right half is brighter.
fn half_images(n: usize, seed: u64) -> (Tensor, Tensor) {
    let mut rng = Rng::new(seed);
    let mut pixels = Vec::with_capacity(n * 64);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = (i % 2) as u8;
        for _row in 0..8 {
            for col in 0..8 {
                let bright = (col >= 4) == (class == 1);
                let base = if bright { 0.5 } else { 0.1 };
                pixels.push((base + rng.uniform(0.0, 0.4)) as f32);
            }
        }
        labels.push(class);
    }
    (
        Tensor::from_vec(pixels, (n, 1, 8, 8), &Device::Cpu).unwrap(),
        Tensor::from_vec(labels, n, &Device::Cpu).unwrap(),
    )
}

struct Run {
    history: History,
    predictions: Tensor,
    evaluation: (f64, f64),
}

fn train(model: &mut Sequential, x: &Tensor, y: &Tensor, xv: &Tensor, yv: &Tensor) -> Run {
    let history = model
        .fit(
            x,
            y,
            FitOptions::new()
                .epochs(4)
                .batch_size(32)
                .validation_data(xv, yv)
                .verbose(0),
        )
        .unwrap();
    let predictions = model.predict(xv).unwrap();
    let evaluation = model.evaluate(xv, yv).unwrap();
    Run {
        history,
        predictions,
        evaluation: (evaluation.loss, evaluation.accuracy().unwrap()),
    }
}

fn check_against_cpu(what: &str, on: &Device, model: &Model, run: &Run, cpu: &Run) {
    for var in model.variables() {
        assert!(
            same_device(var.device(), on),
            "{what}: a weight is on {}, the model on {}",
            device::name(var.device()),
            device::name(on)
        );
    }
    assert!(
        run.predictions.device().is_cpu(),
        "{what}: predict returns CPU tensors"
    );
    assert_close(
        &format!("{what} loss"),
        on,
        run.history.loss(),
        cpu.history.loss(),
    );
    assert_close(
        &format!("{what} val_loss"),
        on,
        run.history.val_loss(),
        cpu.history.val_loss(),
    );
    assert_close(
        &format!("{what} predictions"),
        on,
        &flat(&run.predictions),
        &flat(&cpu.predictions),
    );
    assert_close(
        &format!("{what} evaluate"),
        on,
        &[run.evaluation.0, run.evaluation.1],
        &[cpu.evaluation.0, cpu.evaluation.1],
    );
}

#[test]
fn a_dense_model_trains_evaluates_and_predicts_alike_on_every_device() {
    let (x, y) = dlkit_tests::blobs(400, 1, 0.5);
    let (xv, yv) = dlkit_tests::blobs(120, 2, 0.5);
    let cpu = train(&mut dense_model(&Device::Cpu), &x, &y, &xv, &yv);
    assert!(
        cpu.evaluation.1 > 0.9,
        "the reference run learns: {:?}",
        cpu.evaluation
    );
    for on in device::available() {
        let mut model = dense_model(&on);
        let run = train(&mut model, &x, &y, &xv, &yv);
        check_against_cpu("dense", &on, &model, &run, &cpu);
    }
}

#[test]
fn a_cnn_with_pooling_and_batch_norm_trains_alike_on_every_device() {
    let (x, y) = half_images(256, 1);
    let (xv, yv) = half_images(64, 2);
    let cpu = train(&mut cnn_model(&Device::Cpu), &x, &y, &xv, &yv);
    assert!(
        cpu.evaluation.1 > 0.9,
        "the reference run learns: {:?}",
        cpu.evaluation
    );
    for on in device::available() {
        let mut model = cnn_model(&on);
        let run = train(&mut model, &x, &y, &xv, &yv);
        check_against_cpu("cnn", &on, &model, &run, &cpu);
    }
}

#[test]
fn saved_files_load_on_the_cpu_and_back_onto_any_device() {
    let (x, y) = dlkit_tests::blobs(200, 3, 0.5);
    let dir = tempfile::tempdir().unwrap();
    for on in device::available() {
        let mut model = dense_model(&on);
        let run = train(&mut model, &x, &y, &x, &y);
        let path = dir.path().join(format!(
            "{}.safetensors",
            device::name(&on).replace(':', "-")
        ));
        model.save(&path).unwrap();

        // load_model gives a CPU model: its predictions are the device's.
        let mut loaded = load_model(&path).unwrap();
        assert!(loaded.device().is_cpu());
        let again = loaded.predict(&x).unwrap();
        assert_close(
            "loaded on the CPU",
            &on,
            &flat(&again),
            &flat(&run.predictions),
        );

        // load_weights into a model on the device: the same weights exactly.
        let mut fresh = dense_model(&on);
        fresh.load_weights(&path).unwrap();
        for (a, b) in fresh.variables().iter().zip(model.variables()) {
            assert!(same_device(a.device(), &on));
            assert_eq!(
                flat(a.as_tensor()),
                flat(b.as_tensor()),
                "load_weights on {}",
                device::name(&on)
            );
        }
    }
}

#[test]
fn callbacks_checkpoint_stop_early_and_restore_on_every_device() {
    let (x, y) = dlkit_tests::blobs(200, 4, 0.5);
    let (xv, yv) = dlkit_tests::blobs(100, 5, 0.5);
    let dir = tempfile::tempdir().unwrap();
    for on in device::available() {
        let best = dir.path().join(format!(
            "best-{}.safetensors",
            device::name(&on).replace(':', "-")
        ));
        let mut model = dense_model(&on);
        let history = model
            .fit(
                &x,
                &y,
                dlkit_tests::quiet_options(6, &xv, &yv)
                    .callback(ModelCheckpoint::new(&best).save_best_only(true))
                    .callback(EarlyStopping::new().patience(1).restore_best_weights(true))
                    .callback(BackupAndRestore::new(
                        dir.path().join(format!("backup-{}", device::name(&on))),
                    )),
            )
            .unwrap();
        assert!(
            history.epochs() >= 2,
            "{} epochs on {}",
            history.epochs(),
            device::name(&on)
        );
        // The best epoch's weights were restored onto the device and checkpointed.
        for var in model.variables() {
            assert!(same_device(var.device(), &on));
        }
        let mut checkpointed = load_model(&best).unwrap();
        let best_val_loss = history
            .val_loss()
            .iter()
            .cloned()
            .fold(f64::INFINITY, f64::min);
        let restored = model.evaluate(&xv, &yv).unwrap().loss;
        let from_file = checkpointed.evaluate(&xv, &yv).unwrap().loss;
        assert_close(
            "restored val_loss",
            &on,
            &[restored, from_file],
            &[best_val_loss, best_val_loss],
        );
    }
}

#[test]
fn plots_draw_from_what_a_model_on_any_device_gives() {
    let (x, y) = half_images(64, 6);
    for on in device::available() {
        let mut model = cnn_model(&on);
        let history = model
            .fit(
                &x,
                &y,
                FitOptions::new().epochs(2).batch_size(16).verbose(0),
            )
            .unwrap();
        let predictions = model.predict(&x).unwrap();
        let images = x.reshape((64, 8, 8)).unwrap();
        // The kernel is read straight off the device.
        let kernel = model
            .get_layer("conv2d")
            .unwrap()
            .weight("kernel")
            .unwrap()
            .as_tensor()
            .clone();
        assert!(same_device(kernel.device(), &on));
        let figures = [
            plot::history(&history).unwrap().render().unwrap(),
            plot::confusion_matrix(&y, &predictions)
                .unwrap()
                .render()
                .unwrap(),
            plot::misclassified(&images, &y, &predictions)
                .unwrap()
                .render()
                .unwrap(),
            plot::filters(&kernel).unwrap().render().unwrap(),
        ];
        for figure in figures {
            assert!(figure.width() > 0 && figure.height() > 0);
            assert!(!figure.to_png_bytes().unwrap().is_empty());
        }
        let matrix = plot::confusion_matrix(&y, &predictions).unwrap();
        assert_eq!(matrix.total(), 64, "on {}", device::name(&on));
    }
}

#[test]
fn data_already_on_the_device_trains_like_data_on_the_cpu() {
    let (x, y) = dlkit_tests::blobs(200, 7, 0.5);
    for on in device::available() {
        let (xd, yd) = (x.to_device(&on).unwrap(), y.to_device(&on).unwrap());
        let from_cpu = train(&mut dense_model(&on), &x, &y, &x, &y);
        let mut model = dense_model(&on);
        let from_device = train(&mut model, &xd, &yd, &xd, &yd);
        check_against_cpu("data on the device", &on, &model, &from_device, &from_cpu);
    }
}
