//! Model files are untrusted input: a damaged or hostile description gives a
//! clear `Error::ModelFile`, quickly, without a panic or a huge allocation.

use dlkit::layers::Activation::{Relu, Softmax};
use dlkit::prelude::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Saves a small model with a Dense, an LSTM and a Dropout and returns its path.
fn saved_model(dir: &Path) -> PathBuf {
    let mut model = Sequential::with_seed(1);
    model.add(LSTM::new(8).input_shape((5, 3))).unwrap();
    model.add(Dense::new(4).activation(Relu)).unwrap();
    model.add(Dropout::new(0.2)).unwrap();
    model.add(Dense::new(2).activation(Softmax)).unwrap();
    let path = dir.join("model.safetensors");
    model.save(&path).unwrap();
    path
}

/// Rewrites the model description inside a safetensors file: `from` → `to`
/// in its JSON header (where the description is an escaped string), with the
/// header's length prefix updated; the tensors stay as they are.
fn edit_description(path: &Path, from: &str, to: &str) -> PathBuf {
    let bytes = std::fs::read(path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + len]).unwrap();
    let escape = |s: &str| s.replace('"', "\\\"");
    let (from, to) = (escape(from), escape(to));
    assert!(header.contains(&from), "{from} not in {header}");
    let header = header.replacen(&from, &to, 1);
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(&bytes[8 + len..]);
    let edited = path.with_file_name(format!("edited-{}.safetensors", out.len()));
    std::fs::write(&edited, out).unwrap();
    edited
}

/// Loads and expects a model-file error containing `needle`, within a second.
fn refused(path: &Path, needle: &str) {
    let start = Instant::now();
    let err = match load_model(path) {
        Ok(_) => panic!("{} loaded", path.display()),
        Err(e) => e,
    };
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(err, Error::ModelFile(_)), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(needle), "{msg}");
}

#[test]
fn the_unedited_file_loads() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = load_model(saved_model(dir.path())).unwrap();
    let x = Tensor::zeros((2, 5, 3), DType::F32, &Device::Cpu).unwrap();
    assert_eq!(model.predict(&x).unwrap().dims(), [2, 2]);
}

#[test]
fn a_layer_without_inputs_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved_model(dir.path());
    refused(
        &edit_description(&path, r#""inputs":[1]"#, r#""inputs":[]"#),
        "must take its input from layers before it",
    );
    refused(
        &edit_description(&path, r#""inputs":[1]"#, r#""inputs":[7]"#),
        "must take its input from layers before it",
    );
}

#[test]
fn sizes_that_do_not_match_the_tensors_are_refused_before_any_weight_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved_model(dir.path());
    // Would be 2^40 × 4 floats if the description were believed.
    refused(
        &edit_description(&path, r#""units":4"#, r#""units":1099511627776"#),
        "dense/kernel has shape [8, 4], its layer needs [8, 1099511627776]",
    );
    // An LSTM of 2048 units: an orthogonal 2048 × 8192 initialisation took
    // two minutes before the shapes were compared.
    refused(
        &edit_description(&path, r#""units":8"#, r#""units":2048"#),
        "lstm/kernel has shape [3, 32], its layer needs [3, 8192]",
    );
}

#[test]
fn duplicate_names_and_missing_or_extra_weights_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = saved_model(dir.path());
    refused(
        &edit_description(&path, r#""name":"dropout""#, r#""name":"dense""#),
        r#"two layers are named "dense""#,
    );
    refused(
        &edit_description(&path, r#""name":"dense_1""#, r#""name":"dense_9""#),
        "weight dense_9/kernel is missing",
    );
}

/// The saved description keeps Keras' names for padding and data format
/// (`"padding":"valid"`, `"data_format":"channels_last"`), and loads back.
#[test]
fn padding_and_data_format_are_saved_with_keras_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Sequential::with_seed(1);
    model
        .add(
            Conv2D::new(2, (3, 3))
                .data_format(DataFormat::ChannelsLast)
                .input_shape((8, 8, 1)),
        )
        .unwrap();
    model
        .add(MaxPooling2D::new((2, 2)).padding(Padding::Same))
        .unwrap();
    let path = dir.path().join("conv.safetensors");
    model.save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + len]).unwrap();
    for needle in [
        r#"\"padding\":\"valid\""#,
        r#"\"padding\":\"same\""#,
        r#"\"data_format\":\"channels_last\""#,
    ] {
        assert!(header.contains(needle), "{needle} not in {header}");
    }
    let again = load_model(&path).unwrap();
    assert_eq!(again.output_shape().unwrap(), model.output_shape().unwrap());
}

/// A file written before layers counted `axis` as Keras does (model format 1,
/// where `axis: 0` was the first axis of a sample) loads with the same
/// meaning and predicts what the model predicts in the new count.
#[test]
fn a_format_1_file_counts_its_axes_per_sample() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = Input::new((2, 3));
    let a = Dense::new(5).apply(&inputs).unwrap();
    let b = Dense::new(5).activation(Relu).apply(&inputs).unwrap();
    // (2, 5) and (2, 5) joined on the first axis of a sample: (4, 5)
    let joined = Concatenate::new().axis(1).apply_many(&[&a, &b]).unwrap();
    let normed = BatchNormalization::new().axis(1).apply(&joined).unwrap();
    let flat = Flatten::new().apply(&normed).unwrap();
    let outputs = Dense::new(2).activation(Softmax).apply(&flat).unwrap();
    let mut model = Model::new(&inputs, &outputs).unwrap().with_seed(3);
    let path = dir.path().join("new.safetensors");
    model.save(&path).unwrap();

    // The same file as the previous dlkit wrote it.
    let old = edit_description(&path, r#""format_version":2"#, r#""format_version":1"#);
    let layer =
        |class: &str, axis: u8| format!(r#""class_name":"{class}","config":{{"axis":{axis}"#);
    let old = edit_description(&old, &layer("Concatenate", 1), &layer("Concatenate", 0));
    let old = edit_description(
        &old,
        &layer("BatchNormalization", 1),
        &layer("BatchNormalization", 0),
    );
    let mut loaded = load_model(&old).unwrap();
    assert_eq!(loaded.output_shape().unwrap().to_vec(), vec![2]);
    let x = Tensor::rand(-1f32, 1.0, (3, 2, 3), &Device::Cpu).unwrap();
    let want: Vec<Vec<f32>> = model.predict(&x).unwrap().to_vec2().unwrap();
    let got: Vec<Vec<f32>> = loaded.predict(&x).unwrap().to_vec2().unwrap();
    assert_eq!(got, want);
    // saved again, it is a format-2 file with Keras' count
    let again = dir.path().join("again.safetensors");
    loaded.save(&again).unwrap();
    let mut reloaded = load_model(&again).unwrap();
    assert_eq!(
        reloaded.predict(&x).unwrap().to_vec2::<f32>().unwrap(),
        want
    );

    let future = edit_description(&path, r#""format_version":2"#, r#""format_version":3"#);
    refused(&future, "model format 3, this dlkit reads formats 1 and 2");
}
