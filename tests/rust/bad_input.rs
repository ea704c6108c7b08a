//! Bad input to fit, evaluate and predict: a clear error that names the tensor
//! and the sample at fault, never a silent wrong number.

use dlkit::layers::Activation::{Relu, Softmax};
use dlkit::prelude::*;

fn data(n: usize) -> (Tensor, Tensor) {
    let xs: Vec<f32> = (0..n * 4).map(|i| (i as f32 * 0.37).sin()).collect();
    let ys: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    (
        Tensor::from_vec(xs, (n, 4), &Device::Cpu).unwrap(),
        Tensor::from_vec(ys, n, &Device::Cpu).unwrap(),
    )
}

fn model_with(optimizer: Adam) -> Sequential {
    let mut model = Sequential::with_seed(1);
    model
        .add(Dense::new(8).input_dim(4).activation(Relu))
        .unwrap();
    model.add(Dense::new(3).activation(Softmax)).unwrap();
    model
        .compile(
            Loss::SparseCategoricalCrossentropy,
            optimizer,
            &[Metric::Accuracy],
        )
        .unwrap();
    model
}

fn model() -> Sequential {
    model_with(Adam::default())
}

fn message(result: dlkit::Result<impl std::fmt::Debug>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => {
            assert!(
                matches!(e, Error::InvalidArgument(_)),
                "wrong category: {e:?}"
            );
            e.to_string()
        }
    }
}

fn quiet() -> FitOptions {
    FitOptions::new().verbose(0)
}

#[test]
fn nan_inputs_are_refused_even_behind_relu() {
    let (x, y) = data(20);
    let mut values = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    values[13 * 4 + 2] = f32::NAN;
    let bad = Tensor::from_vec(values, (20, 4), &Device::Cpu).unwrap();
    let mut m = model();
    let fit = message(m.fit(&bad, &y, quiet()));
    assert!(fit.contains("x[13] holds NaN"), "{fit}");
    assert!(message(m.evaluate(&bad, &y)).contains("x[13]"));
    assert!(message(m.predict(&bad)).contains("x[13]"));
    let inf = (x.clone() * f64::INFINITY).unwrap();
    assert!(message(m.predict(&inf)).contains("inf"));
}

#[test]
fn labels_that_are_not_classes_are_named_by_their_index() {
    let (x, _) = data(6);
    let cases: [(Tensor, &str); 3] = [
        (
            Tensor::new(&[0i64, 1, 2, 1, -1, 0], &Device::Cpu).unwrap(),
            "y[4] is -1, not one of the model's 3 classes",
        ),
        (
            Tensor::new(&[0f32, 1., 3.7, 1., 0., 2.], &Device::Cpu).unwrap(),
            "y[2] is 3.700000047683716, not a whole number",
        ),
        (
            Tensor::new(&[0u8, 1, 2, 1, 0, 7], &Device::Cpu).unwrap(),
            "y[5] is 7, not one of the model's 3 classes",
        ),
    ];
    for (y, expected) in cases {
        let mut m = model();
        let fit = message(m.fit(&x, &y, quiet()));
        assert!(fit.contains(expected), "{fit}");
        let evaluate = message(m.evaluate(&x, &y));
        assert!(evaluate.contains(expected), "{evaluate}");
    }
}

#[test]
fn empty_sets_are_errors_not_zeros() {
    let (x, y) = data(12);
    let empty_x = x.narrow(0, 0, 0).unwrap();
    let empty_y = y.narrow(0, 0, 0).unwrap();
    let mut m = model();
    assert!(message(m.evaluate(&empty_x, &empty_y)).contains("x has no samples"));
    let v = message(m.fit(&x, &y, quiet().validation_data(&empty_x, &empty_y)));
    assert!(v.contains("validation x has no samples"), "{v}");
    let split = message(m.fit(&x, &y, quiet().validation_split(1e-17)));
    assert!(split.contains("holds out no sample"), "{split}");
}

#[test]
fn settings_that_cannot_train_are_refused() {
    let (x, y) = data(12);
    assert!(message(model().fit(&x, &y, quiet().epochs(0))).contains("epochs must be at least 1"));
    for lr in [-0.01, 0.0, f64::NAN] {
        let mut m = model_with(Adam::default().learning_rate(lr));
        let e = message(m.fit(&x, &y, quiet()));
        assert!(e.contains("learning rate"), "{e}");
    }
}

#[test]
fn sizes_past_the_stated_limits_are_errors_not_aborts() {
    let mut m = Sequential::new();
    let e = message(m.add(Dense::new(1 << 40).input_dim(4)));
    assert!(e.contains("2^28 values"), "{e}");
    // The failed add left the model as it was: a good first layer still fits.
    assert!(m.add(Dense::new(8).input_dim(4)).is_ok());
    let e = message(Sequential::new().add(Dense::new(1 << 20).input_dim(1 << 20)));
    assert!(e.contains("kernel of shape [1048576, 1048576]"), "{e}");

    let y = Tensor::new(&[0u8, 1, 2], &Device::Cpu).unwrap();
    let e = message(to_categorical(&y, 1usize << 63));
    assert!(e.contains("more than 2^30 values"), "{e}");
    assert!(to_categorical(&y, 3).is_ok());
}
