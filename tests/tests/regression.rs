//! Regression with the open metrics: the mean squared error loss and the
//! `mae` metric flow through fit's logs, History, callbacks, evaluate and plots.

use dlkit::prelude::*;

/// `y = 2·a − b + 0.5` on uniform inputs in [-1, 1].
fn line(n: usize, seed: u64) -> (Tensor, Tensor) {
    let mut rng = Rng::new(seed);
    let mut xs = Vec::with_capacity(2 * n);
    let mut ys = Vec::with_capacity(n);
    for _ in 0..n {
        let (a, b) = (rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0));
        xs.extend([a as f32, b as f32]);
        ys.push((2.0 * a - b + 0.5) as f32);
    }
    let cpu = &Device::Cpu;
    (
        Tensor::from_vec(xs, (n, 2), cpu).unwrap(),
        Tensor::from_vec(ys, (n, 1), cpu).unwrap(),
    )
}

fn linear_model(metrics: &[Metric]) -> Sequential {
    let mut model = Sequential::with_seed(5);
    model.add(Dense::new(1).input_dim(2)).unwrap();
    model
        .compile(
            Loss::MeanSquaredError,
            Adam::default().learning_rate(0.05),
            metrics,
        )
        .unwrap();
    model
}

#[test]
fn loss_and_mae_are_the_hand_computed_means() -> dlkit::Result<()> {
    let mut model = linear_model(&[Metric::MeanAbsoluteError]);
    let layer = model.get_layer("dense")?;
    layer
        .weight("kernel")?
        .set(&Tensor::new(&[[1f32], [0.]], &Device::Cpu)?)?;
    // Outputs 1 and 3 against targets 2 and 0: errors −1 and 3.
    let x = Tensor::new(&[[1f32, 7.], [3., -2.]], &Device::Cpu)?;
    let y = Tensor::new(&[[2f32], [0.]], &Device::Cpu)?;
    let scores = model.evaluate(&x, &y)?;
    assert!((scores.loss - 5.0).abs() < 1e-6, "{scores}");
    assert!((scores.get("mae").unwrap() - 2.0).abs() < 1e-6, "{scores}");
    assert_eq!(scores.get("mean_absolute_error"), scores.get("mae"));
    assert_eq!(scores.accuracy(), None);
    assert_eq!(scores.to_string(), "loss: 5.0000 - mae: 2.0000");
    Ok(())
}

#[test]
fn a_linear_model_learns_the_line_and_every_layer_of_reporting_takes_mae() -> dlkit::Result<()> {
    let (x, y) = line(512, 1);
    let (xv, yv) = line(128, 2);
    let mut model = linear_model(&[Metric::MeanAbsoluteError]);
    let history = model.fit(
        &x,
        &y,
        FitOptions::new()
            .epochs(40)
            .batch_size(32)
            .validation_data(&xv, &yv)
            .verbose(0)
            .callback(EarlyStopping::new().monitor("val_mae").patience(3)),
    )?;
    assert_eq!(history.keys(), ["loss", "mae", "val_loss", "val_mae"]);
    let val_mae = history.get("val_mae").unwrap();
    assert!(val_mae.last().unwrap() < &0.05, "{val_mae:?}");
    assert!(val_mae[0] > val_mae[val_mae.len() - 1]);
    let scores = model.evaluate(&xv, &yv)?;
    assert!(scores.loss < 0.01, "{scores}");
    let kernel = model.get_layer("dense")?.weight("kernel")?.flatten_all()?;
    let k = kernel.to_vec1::<f32>()?;
    assert!(
        (k[0] - 2.0).abs() < 0.1 && (k[1] + 1.0).abs() < 0.1,
        "{k:?}"
    );
    // Two panels, loss and mae, each with its validation curve.
    let png = plot::history(&history)?.to_png_bytes()?;
    assert!(png.len() > 1000);
    Ok(())
}

#[test]
fn classification_metrics_and_mismatched_targets_are_refused_with_advice() {
    let mut model = Sequential::with_seed(1);
    model.add(Dense::new(1).input_dim(2)).unwrap();
    let err = model
        .compile(Loss::MeanSquaredError, Adam::default(), &[Metric::Accuracy])
        .unwrap_err()
        .to_string();
    assert!(err.contains("regression loss"), "{err}");
    let mut model = linear_model(&[]);
    let (x, y) = line(8, 3);
    let flat = y.flatten_all().unwrap();
    let err = model
        .fit(&x, &flat, FitOptions::new().verbose(0))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("targets of shape (N, 1)") && err.contains("reshape"),
        "{err}"
    );
    assert_eq!("mae".parse::<Metric>().unwrap(), Metric::MeanAbsoluteError);
    assert_eq!("mse".parse::<Loss>().unwrap(), Loss::MeanSquaredError);
}

#[test]
fn a_softmax_output_trained_on_mse_keeps_its_softmax() -> dlkit::Result<()> {
    // Cross-entropy takes the softmax over; the mean squared error must see probabilities.
    let mut model = Sequential::with_seed(2);
    model.add(Dense::new(3).input_dim(2).activation(Activation::Softmax))?;
    model.compile(Loss::MeanSquaredError, Adam::default(), &[])?;
    let x = Tensor::new(&[[0.3f32, -1.0]], &Device::Cpu)?;
    let p = model.predict(&x)?;
    let y = Tensor::new(&[[0f32, 1., 0.]], &Device::Cpu)?;
    let want = (p - &y)?.sqr()?.mean_all()?.to_scalar::<f32>()? as f64;
    let got = model.evaluate(&x, &y)?.loss;
    assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    Ok(())
}
