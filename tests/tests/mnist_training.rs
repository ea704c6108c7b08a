//! Short trainings on real MNIST (`DLKIT_DATASETS`, default ../shared/datasets)
//! that a broken layer, loss or optimizer would fail: each must reach a stated
//! test accuracy after a few seconds of training.

use dlkit::datasets::mnist;
use dlkit::prelude::*;
use dlkit::zoo;

struct Slice {
    x_train: Tensor,
    y_train: Tensor,
    x_test: Tensor,
    y_test: Tensor,
}

/// The first `train` training and `test` test images, raw (u8, (N, 28, 28)).
fn mnist_slice(train: usize, test: usize) -> Slice {
    let dir = dlkit_tests::datasets_dir().join("mnist");
    let ((x_train, y_train), (x_test, y_test)) = mnist::load_data_from(&dir)
        .unwrap_or_else(|e| panic!("real MNIST is needed at {} ({e})", dir.display()));
    Slice {
        x_train: x_train.narrow(0, 0, train).unwrap(),
        y_train: y_train.narrow(0, 0, train).unwrap(),
        x_test: x_test.narrow(0, 0, test).unwrap(),
        y_test: y_test.narrow(0, 0, test).unwrap(),
    }
}

/// Trains a tutorial model on a slice and returns its test accuracy.
fn train_recipe(
    id: &str,
    slice: &Slice,
    epochs: usize,
    prep: impl Fn(&Tensor) -> dlkit::Result<Tensor>,
) -> dlkit::Result<f64> {
    let recipe = zoo::recipe(id)?;
    let mut model = recipe.build(7)?;
    let categorical = recipe.loss == Loss::CategoricalCrossentropy;
    let targets = |y: &Tensor| {
        if categorical {
            to_categorical(y, 10)
        } else {
            Ok(y.clone())
        }
    };
    let (x, y) = (prep(&slice.x_train)?, targets(&slice.y_train)?);
    let (xt, yt) = (prep(&slice.x_test)?, targets(&slice.y_test)?);
    // Batches of 32 give a short run enough optimizer steps to be judged.
    let history = model.fit(
        &x,
        &y,
        FitOptions::new().epochs(epochs).batch_size(32).verbose(2),
    )?;
    assert_eq!(history.epochs(), epochs);
    Ok(model
        .evaluate(&xt, &yt)?
        .accuracy()
        .expect("compiled with accuracy"))
}

#[test]
fn mlp_on_5000_images_for_2_epochs_reaches_90_percent() -> dlkit::Result<()> {
    let slice = mnist_slice(5000, 1000);
    let accuracy = train_recipe("002-mlp", &slice, 2, |x| {
        x.flattened()?.to_f32()?.scaled(1.0 / 255.0)
    })?;
    assert!(accuracy >= 0.90, "MLP test accuracy {accuracy}");
    Ok(())
}

#[test]
fn codealong_cnn_on_5000_images_for_2_epochs_reaches_90_percent() -> dlkit::Result<()> {
    let slice = mnist_slice(5000, 1000);
    let accuracy = train_recipe("003-cnn", &slice, 2, |x| {
        x.channels_first()?.to_f32()?.scaled(1.0 / 255.0)
    })?;
    assert!(accuracy >= 0.90, "CNN test accuracy {accuracy}");
    Ok(())
}

#[test]
fn channels_last_cnn_with_sparse_labels_on_5000_images_for_2_epochs_reaches_90_percent(
) -> dlkit::Result<()> {
    let slice = mnist_slice(5000, 1000);
    let accuracy = train_recipe("004-cnn", &slice, 2, |x| normalize(&x.channels_last()?, 1))?;
    assert!(accuracy >= 0.90, "CNN test accuracy {accuracy}");
    Ok(())
}

#[test]
fn lstm_on_10000_images_for_2_epochs_learns() -> dlkit::Result<()> {
    let slice = mnist_slice(10000, 1000);
    let accuracy = train_recipe("004-lstm", &slice, 2, |x| normalize(x, 1))?;
    assert!(accuracy >= 0.70, "LSTM test accuracy {accuracy}");
    Ok(())
}
