//! Reliability, round 2: input that used to panic, give a silent wrong
//! answer, fail with an error that does not say what is wrong, or leave files
//! behind now gives a clear error (or the right answer).

use dlkit::datasets::{DatasetFile, DatasetSpec};
use dlkit::layers::Activation::{Relu, Softmax};
use dlkit::prelude::*;
use dlkit_tests::idx_bytes;

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

fn message<T: std::fmt::Debug>(result: dlkit::Result<T>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

fn quiet() -> FitOptions {
    FitOptions::new().epochs(2).batch_size(8).verbose(0)
}

// 1. Panics reachable from user input.

#[test]
fn checkpoint_patterns_are_checked_before_the_first_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let (x, y) = data(24);
    for (pattern, expected) in [
        (
            "m-{epoch:099999d}.safetensors",
            "{epoch:099999d} asks for a width of 099999; dlkit takes widths up to 64",
        ),
        (
            "m-{loss:.99f}.safetensors",
            "{loss:.99f} asks for a precision of 99; dlkit takes precisions up to 32",
        ),
        (
            "m-{epoch:99999999999999999999999d}",
            "takes widths up to 64",
        ),
        ("m-{epoch:.2f}", "{epoch:.2f} does not fit a epoch value"),
        ("m-{epoch", "no closing"),
    ] {
        let mut model = model();
        let before = model.predict(&x).unwrap().to_vec2::<f32>().unwrap();
        let path = dir.path().join(pattern);
        let msg = message(model.fit(&x, &y, quiet().callback(ModelCheckpoint::new(&path))));
        assert!(msg.contains(expected), "{pattern}: {msg}");
        // Nothing trained, nothing written.
        assert_eq!(model.predict(&x).unwrap().to_vec2::<f32>().unwrap(), before);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
    // The widest width taken still works.
    let mut model = model();
    let path = dir.path().join("m-{epoch:064d}.safetensors");
    model
        .fit(&x, &y, quiet().callback(ModelCheckpoint::new(&path)))
        .unwrap();
    let name = format!("m-{:064}.safetensors", 2);
    assert!(dir.path().join(name).is_file());
}

#[test]
fn monitors_that_training_cannot_report_are_errors_before_the_first_epoch() {
    let (x, y) = data(24);
    let msg = message(model().fit(
        &x,
        &y,
        quiet().callback(EarlyStopping::new().monitor("val_los")),
    ));
    assert!(
        msg.contains("EarlyStopping monitors \"val_los\", which this model does not report: it reports loss, accuracy"),
        "{msg}"
    );
    let msg = message(
        model().fit(
            &x,
            &y,
            quiet().callback(
                ModelCheckpoint::new("unused.safetensors")
                    .monitor("mae")
                    .save_best_only(true),
            ),
        ),
    );
    assert!(msg.contains("ModelCheckpoint monitors \"mae\""), "{msg}");
    let msg = message(model().fit(
        &x,
        &y,
        quiet().callback(EarlyStopping::new().monitor("loss").min_delta(f64::NAN)),
    ));
    assert!(msg.contains("min_delta is NaN"), "{msg}");
    // Known names, val_ or not, still train.
    model()
        .fit(
            &x,
            &y,
            quiet()
                .validation_split(0.25)
                .callback(EarlyStopping::new().monitor("val_acc").patience(5)),
        )
        .unwrap();
}

#[test]
fn dataset_files_declared_with_the_wrong_dimensions_are_an_error() {
    let dir = tempfile::tempdir().unwrap();
    // Files that declare 0 dimensions, as the spec does.
    let zero_d = idx_bytes(0x0800, &[], &[7]);
    for name in ["a", "b", "c", "d"] {
        std::fs::write(dir.path().join(name), &zero_d).unwrap();
    }
    let file = |name| DatasetFile {
        name,
        sha256: "",
        ndim: 0,
    };
    let spec = DatasetSpec {
        name: "odd",
        title: "Odd",
        train_images: file("a"),
        train_labels: file("b"),
        test_images: file("c"),
        test_labels: file("d"),
        mirrors: &[],
    };
    let msg = message(spec.load_from(dir.path()));
    assert_eq!(
        msg,
        "Odd: train_images (a) is declared with 0 dimension(s), but train_images must have 3; \
         describe it with DatasetFile::images"
    );
    let spec = DatasetSpec {
        train_images: DatasetFile::images("a", ""),
        ..spec
    };
    let msg = message(spec.load_from(dir.path()));
    assert!(msg.contains("train_labels (b) is declared with 0 dimension(s), but train_labels must have 1; describe it with DatasetFile::labels"), "{msg}");
}

#[test]
fn below_zero_is_zero_not_a_panic() {
    let mut rng = Rng::new(3);
    assert_eq!(rng.below(0), 0);
    let empty: [u8; 0] = [];
    assert_eq!(empty.get(rng.below(empty.len() as u64) as usize), None);
    assert!(rng.below(1) == 0);
}
