//! BatchNormalization: Keras' values by hand, moving statistics in training
//! and inference, trainable/non-trainable weights, fit, save and load.

use dlkit::layers::Activation::{Relu, Softmax};
use dlkit::prelude::*;
use dlkit_tests::StopAfter;

fn values(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
}

fn assert_close(got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= tol, "{got:?} vs {want:?}");
    }
}

/// Dense input (N, 2) → BatchNormalization, nothing else.
fn bn_only(features: usize) -> Sequential {
    let mut model = Sequential::with_seed(3);
    model
        .add(BatchNormalization::new().input_shape(features))
        .unwrap();
    model
}

fn weight(model: &Model, name: &str) -> Vec<f32> {
    values(
        model
            .get_layer("batch_normalization")
            .unwrap()
            .weight(name)
            .unwrap()
            .as_tensor(),
    )
}

#[test]
fn training_normalises_with_the_batch_and_updates_the_moving_statistics() -> dlkit::Result<()> {
    let mut model = bn_only(2);
    // Feature 0: 1, 2, 3, 6 (mean 3, biased variance 3.5); feature 1: constant 5.
    let x = Tensor::new(&[[1f32, 5.], [2., 5.], [3., 5.], [6., 5.]], &Device::Cpu)?;
    let y = model.forward(&x, true)?;
    let eps = 1e-3f32;
    let s = (3.5f32 + eps).sqrt();
    let want = [-2. / s, 0., -1. / s, 0., 0., 0., 3. / s, 0.];
    assert_close(&values(&y), &want, 1e-5);
    // moving = 0.99 · moving + 0.01 · batch, from mean 0 and variance 1.
    assert_close(&weight(&model, "moving_mean"), &[0.03, 0.05], 1e-6);
    assert_close(
        &weight(&model, "moving_variance"),
        &[0.99 + 0.035, 0.99],
        1e-6,
    );
    Ok(())
}

#[test]
fn inference_uses_the_moving_statistics_gamma_and_beta() -> dlkit::Result<()> {
    let mut model = bn_only(2);
    let layer = model.get_layer("batch_normalization")?;
    let set = |name: &str, v: [f32; 2]| {
        layer
            .weight(name)
            .unwrap()
            .set(&Tensor::new(&v, &Device::Cpu).unwrap())
            .unwrap()
    };
    set("gamma", [2., 1.]);
    set("beta", [0.5, -1.]);
    set("moving_mean", [1., 10.]);
    set("moving_variance", [4., 0.25]);
    let x = Tensor::new(&[[3f32, 10.], [1., 11.]], &Device::Cpu)?;
    let y = model.predict(&x)?;
    let eps = 1e-3f32;
    let a = 2. / (4. + eps).sqrt();
    let b = 1. / (0.25 + eps).sqrt();
    let want = [2. * a + 0.5, -1., 0.5, b - 1.];
    assert_close(&values(&y), &want, 1e-5);
    // Inference changes no statistics.
    assert_eq!(weight(&model, "moving_mean"), [1., 10.]);
    Ok(())
}

#[test]
fn images_are_normalised_per_channel_in_either_data_format() -> dlkit::Result<()> {
    // Two channels of 2×2 pixels: channel 0 all 0..4, channel 1 all 10.
    let first = Tensor::new(
        &[[[[0f32, 1.], [2., 3.]], [[10., 10.], [10., 10.]]]],
        &Device::Cpu,
    )?; // (1, 2, 2, 2), channels first
    let last = first.permute((0, 2, 3, 1))?.contiguous()?;
    for (x, shape) in [(&first, (2, 2, 2)), (&last, (2, 2, 2))] {
        let mut model = Sequential::with_seed(1);
        let format = if std::ptr::eq(x, &first) {
            DataFormat::ChannelsFirst
        } else {
            DataFormat::ChannelsLast
        };
        model.add(
            Conv2D::new(2, 1)
                .use_bias(false)
                .data_format(format)
                .input_shape(shape),
        )?;
        model.add(BatchNormalization::new())?;
        // An identity 1×1 convolution, so the normalisation sees x itself.
        let kernel = Tensor::new(&[[[[1f32]], [[0.]]], [[[0.]], [[1.]]]], &Device::Cpu)?;
        model.get_layer("conv2d")?.weight("kernel")?.set(&kernel)?;
        model.forward(x, true)?;
        // Channel 0: mean 1.5, variance 1.25; channel 1: mean 10, variance 0.
        assert_close(&weight(&model, "moving_mean"), &[0.015, 0.1], 1e-6);
        assert_close(
            &weight(&model, "moving_variance"),
            &[0.99 + 0.0125, 0.99],
            1e-6,
        );
    }
    Ok(())
}

#[test]
fn summary_counts_the_moving_statistics_as_non_trainable_like_keras() -> dlkit::Result<()> {
    let mut model = Sequential::with_seed(1);
    model.add(Conv2D::new(32, 3).activation(Relu).input_shape((28, 28, 1)))?;
    model.add(BatchNormalization::new())?;
    model.add(Flatten::new())?;
    model.add(Dense::new(10).activation(Softmax))?;
    let summary = model.summary()?;
    assert_eq!(
        summary.rows[1][0],
        "batch_normalization (BatchNormalization)"
    );
    assert_eq!(summary.rows[1][1], "(None, 26, 26, 32)");
    assert_eq!(summary.rows[1][2], "128");
    // Keras: Total params: 216,778; Trainable params: 216,714; Non-trainable params: 64.
    assert_eq!(summary.total_params, 320 + 128 + 21_632 * 10 + 10);
    assert_eq!(summary.trainable_params, summary.total_params - 64);
    let totals = summary.totals();
    assert!(
        totals[2].starts_with("Non-trainable params: 64 "),
        "{totals:?}"
    );
    assert_eq!(model.trainable_variables().len(), 2 + 2 + 2);
    assert_eq!(model.variables().len(), 2 + 4 + 2);
    let bn = model.get_layer("batch_normalization")?;
    let names: Vec<&str> = bn
        .non_trainable_weights()
        .iter()
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(names, ["moving_mean", "moving_variance"]);
    Ok(())
}

/// Dense → BatchNormalization → Dense on three blobs.
fn blob_model(seed: u64) -> Sequential {
    let mut model = Sequential::with_seed(seed);
    model.add(Dense::new(16).input_dim(8)).unwrap();
    model.add(BatchNormalization::new().momentum(0.9)).unwrap();
    model.add(Activation::Relu).unwrap();
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

#[test]
fn fits_evaluates_predicts_and_survives_save_and_load() -> dlkit::Result<()> {
    let (x, y) = dlkit_tests::blobs(300, 4, 0.7);
    let (xt, yt) = dlkit_tests::blobs(90, 5, 0.7);
    let mut model = blob_model(2);
    let history = model.fit(
        &x,
        &y,
        FitOptions::new().epochs(5).batch_size(32).verbose(0),
    )?;
    assert!(
        history.loss()[4] < history.loss()[0],
        "{:?}",
        history.loss()
    );
    // The optimizer trains gamma and beta; the moving statistics moved away
    // from their initial 0 and 1 through the forward passes alone.
    assert_ne!(weight(&model, "gamma"), vec![1.0; 16]);
    assert!(weight(&model, "moving_mean")
        .iter()
        .any(|&m| m.abs() > 0.05));
    assert!(weight(&model, "moving_variance").iter().all(|&v| v != 1.0));
    let scores = model.evaluate(&xt, &yt)?;
    assert!(scores.accuracy().unwrap() > 0.9, "{scores:?}");
    let before = values(&model.predict(&xt)?);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bn.safetensors");
    model.save(&path)?;
    let mut loaded = load_model(&path)?;
    assert_eq!(values(&loaded.predict(&xt)?), before);
    assert_eq!(loaded.summary()?, model.summary()?);
    Ok(())
}

#[test]
fn a_resumed_run_with_moving_statistics_matches_the_straight_run() -> dlkit::Result<()> {
    let (x, y) = dlkit_tests::blobs(200, 8, 0.7);
    let root = tempfile::tempdir().unwrap();
    let mut straight = blob_model(9);
    straight.fit(&x, &y, FitOptions::new().epochs(3).verbose(0))?;

    let dir = root.path().join("backup");
    let mut first = blob_model(9);
    first.fit(
        &x,
        &y,
        FitOptions::new()
            .epochs(3)
            .verbose(0)
            .callback(BackupAndRestore::new(&dir))
            .callback(StopAfter(2)),
    )?;
    let mut resumed = blob_model(77);
    resumed.fit(
        &x,
        &y,
        FitOptions::new()
            .epochs(3)
            .verbose(0)
            .callback(BackupAndRestore::new(&dir)),
    )?;
    let all = |m: &Model| {
        m.variables()
            .iter()
            .map(|v| values(v.as_tensor()))
            .collect::<Vec<_>>()
    };
    assert_eq!(all(&resumed), all(&straight));
    Ok(())
}

#[test]
fn bad_settings_are_errors_naming_the_layer() {
    let mut model = Sequential::new();
    let err = model
        .add(BatchNormalization::new().momentum(1.5).input_shape(4))
        .unwrap_err()
        .to_string();
    assert!(err.contains("momentum"), "{err}");
    let mut model = Sequential::new();
    let err = model
        .add(BatchNormalization::new().axis(3).input_shape(4))
        .unwrap_err()
        .to_string();
    assert!(err.contains("axis 3"), "{err}");
}

/// `axis` counts as in Keras: 1 the first axis of a sample, -1 the last; the
/// batch axis, 0, is refused.
#[test]
fn the_axis_counts_as_in_keras() {
    let channels = |bn: BatchNormalization| {
        let mut model = Sequential::new();
        model.add(bn.input_shape((3, 5)))?;
        let summary = model.summary()?;
        Ok::<_, dlkit::Error>(summary.rows[0][2].clone())
    };
    assert_eq!(channels(BatchNormalization::new().axis(1)).unwrap(), "12"); // 4 × 3
    assert_eq!(channels(BatchNormalization::new().axis(2)).unwrap(), "20"); // 4 × 5
    assert_eq!(channels(BatchNormalization::new().axis(-1)).unwrap(), "20");
    assert_eq!(channels(BatchNormalization::new()).unwrap(), "20");
    let err = channels(BatchNormalization::new().axis(0))
        .unwrap_err()
        .to_string();
    assert!(err.contains("axis 0 is the batch axis"), "{err}");
    let err = channels(BatchNormalization::new().axis(3))
        .unwrap_err()
        .to_string();
    assert!(err.contains("axis 3 is out of range"), "{err}");
}
