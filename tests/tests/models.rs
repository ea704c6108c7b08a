//! Model construction: shapes and parameter counts equal Keras' for every
//! tutorial model, shape mismatches are clear errors, seeds reproduce weights,
//! and save → load gives the same predictions.

use dlkit::layers::Activation::{Relu, Softmax};
use dlkit::prelude::*;
use dlkit::zoo;

/// (recipe id, Keras' total parameter count, Keras' per-layer output shapes)
const KERAS: &[(&str, usize, &[&[usize]])] = &[
    (
        "000-mnist-cnn",
        1_199_882,
        &[
            &[26, 26, 32],
            &[24, 24, 64],
            &[12, 12, 64],
            &[12, 12, 64],
            &[9216],
            &[128],
            &[128],
            &[10],
        ],
    ),
    (
        "001-cnn",
        600_810,
        &[
            &[32, 26, 26],
            &[32, 24, 24],
            &[32, 12, 12],
            &[32, 12, 12],
            &[4608],
            &[128],
            &[128],
            &[10],
        ],
    ),
    ("002-mlp", 623_290, &[&[784], &[10]]),
    (
        "002-simple-cnn",
        592_074,
        &[
            &[32, 24, 24],
            &[32, 12, 12],
            &[32, 12, 12],
            &[4608],
            &[128],
            &[10],
        ],
    ),
    (
        "002-larger-cnn",
        59_933,
        &[
            &[30, 24, 24],
            &[30, 12, 12],
            &[15, 10, 10],
            &[15, 5, 5],
            &[15, 5, 5],
            &[375],
            &[128],
            &[50],
            &[10],
        ],
    ),
    (
        "002-branching-cnn",
        67_759,
        &[
            &[16, 24, 24],
            &[15, 24, 24],
            &[15, 24, 24],
            &[30, 24, 24],
            &[30, 12, 12],
            &[15, 10, 10],
            &[15, 5, 5],
            &[15, 5, 5],
            &[375],
            &[128],
            &[50],
            &[10],
        ],
    ),
    (
        "003-cnn",
        41_018,
        &[
            &[16, 24, 24],
            &[16, 12, 12],
            &[16, 8, 8],
            &[16, 4, 4],
            &[16, 4, 4],
            &[256],
            &[128],
            &[128],
            &[10],
            &[10],
        ],
    ),
    ("004-dnn", 118_282, &[&[784], &[128], &[128], &[10]]),
    (
        "004-lstm",
        216_426,
        &[&[28, 128], &[28, 128], &[128], &[128], &[32], &[32], &[10]],
    ),
    (
        "004-cnn",
        542_230,
        &[&[26, 26, 32], &[13, 13, 32], &[5408], &[100], &[10]],
    ),
];

#[test]
fn tutorial_models_match_keras_shapes_and_parameter_counts() -> dlkit::Result<()> {
    let ids: Vec<&str> = zoo::recipes().iter().map(|r| r.id).collect();
    let checked: Vec<&str> = KERAS.iter().map(|(id, _, _)| *id).collect();
    assert_eq!(ids, checked, "every recipe is checked against Keras");
    for (id, params, shapes) in KERAS {
        let model = zoo::recipe(id)?.build(1)?;
        assert_eq!(model.count_params(), *params, "{id}");
        let ours: Vec<Vec<usize>> = model
            .layers()
            .iter()
            .map(|l| l.output_shape().to_vec())
            .collect();
        let keras: Vec<Vec<usize>> = shapes.iter().map(|s| s.to_vec()).collect();
        assert_eq!(ours, keras, "{id}");
    }
    Ok(())
}

#[test]
fn summary_reads_like_keras() -> dlkit::Result<()> {
    let model = zoo::recipe("001-cnn")?.build(1)?;
    let text = model.summary()?.to_text();
    for needle in [
        "conv2d (Conv2D)",
        "(None, 32, 26, 26)",
        "conv2d_1 (Conv2D)",
        "9,248",
        "dense (Dense)",
        "589,952",
        "dropout_1 (Dropout)",
        "Total params: 600,810 (2.29 MB)",
        "Non-trainable params: 0 (0.00 B)",
    ] {
        assert!(text.contains(needle), "summary lacks {needle:?}:\n{text}");
    }
    let html = model.summary()?.to_html();
    assert!(html.contains("<table") && html.contains("589,952"));
    Ok(())
}

#[test]
fn dense_after_images_without_flatten_names_layer_position_and_shapes() {
    let mut model = Sequential::with_seed(1);
    model
        .add(
            Conv2D::new(32, (3, 3))
                .activation(Relu)
                .input_shape((1, 28, 28)),
        )
        .unwrap();
    let err = model.add(Dense::new(10)).unwrap_err().to_string();
    for needle in [
        "layer 2",
        "'dense'",
        "(Dense)",
        "'conv2d'",
        "(None, 32, 26, 26)",
        "Flatten",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
}

#[test]
fn kernel_larger_than_its_input_is_an_error() {
    let mut model = Sequential::with_seed(1);
    model
        .add(Conv2D::new(8, (5, 5)).input_shape((1, 12, 12)))
        .unwrap();
    model.add(MaxPooling2D::new((2, 2))).unwrap();
    let err = model.add(Conv2D::new(8, (5, 5))).unwrap_err().to_string();
    for needle in [
        "conv2d_1",
        "kernel 5×5 is larger than its input 4×4",
        "(None, 8, 4, 4)",
    ] {
        assert!(err.contains(needle), "{needle:?} missing from: {err}");
    }
}

#[test]
fn ambiguous_image_layout_asks_for_data_format() {
    let mut model = Sequential::with_seed(1);
    let err = model
        .add(Conv2D::new(8, 3).input_shape((8, 8, 8)))
        .unwrap_err()
        .to_string();
    assert!(err.contains("data_format"), "{err}");
    model
        .add(
            Conv2D::new(8, 3)
                .input_shape((8, 8, 8))
                .data_format(DataFormat::ChannelsLast),
        )
        .unwrap();
    assert_eq!(model.output_shape().unwrap().to_vec(), vec![6, 6, 8]);
}

#[test]
fn data_of_the_wrong_shape_is_rejected_with_a_reshape_hint() -> dlkit::Result<()> {
    let mut model = zoo::recipe("001-cnn")?.build(1)?;
    let x = Tensor::zeros((4, 28, 28, 1), DType::F32, &Device::Cpu)?;
    let err = model.predict(&x).unwrap_err().to_string();
    assert!(
        err.contains("(None, 1, 28, 28)") && err.contains("channels_first"),
        "{err}"
    );
    let y = Tensor::zeros(4, DType::U8, &Device::Cpu)?;
    let x = Tensor::zeros((4, 1, 28, 28), DType::F32, &Device::Cpu)?;
    let err = model
        .fit(&x, &y, FitOptions::new().verbose(0))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("to_categorical") && err.contains("SparseCategoricalCrossentropy"),
        "{err}"
    );
    Ok(())
}

#[test]
fn deferred_build_from_the_first_batch() -> dlkit::Result<()> {
    let mut model = Sequential::with_seed(3);
    model.add(Flatten::new())?;
    model.add(Dense::new(10).activation(Softmax))?;
    assert!(model
        .summary()
        .unwrap_err()
        .to_string()
        .contains("not built yet"));
    let p = model.predict(&Tensor::ones((2, 28, 28), DType::F32, &Device::Cpu)?)?;
    assert_eq!(p.dims(), &[2, 10]);
    assert_eq!(model.count_params(), 7850);
    Ok(())
}

#[test]
fn same_seed_same_weights_other_seed_other_weights() -> dlkit::Result<()> {
    let weights = |seed| -> dlkit::Result<Vec<Vec<f32>>> {
        let model = zoo::recipe("004-lstm")?.build(seed)?;
        model
            .trainable_variables()
            .iter()
            .map(|v| Ok(v.flatten_all()?.to_vec1::<f32>()?))
            .collect()
    };
    assert_eq!(weights(7)?, weights(7)?);
    assert_ne!(weights(7)?, weights(8)?);
    Ok(())
}

#[test]
fn functional_model_with_branches_builds_and_predicts() -> dlkit::Result<()> {
    let inputs = Input::new((1, 28, 28));
    let stem = Conv2D::new(8, 3).activation(Relu).apply(&inputs)?;
    let a = Conv2D::new(4, 3).padding(Padding::Same).apply(&stem)?;
    let b = Conv2D::new(4, 5).padding(Padding::Same).apply(&stem)?;
    let joined = Concatenate::new().axis(1).apply_many(&[&a, &b])?;
    let skip = Add::new().apply_many(&[&joined, &stem])?;
    let flat = Flatten::new().apply(&skip)?;
    let outputs = Dense::new(10).activation(Softmax).apply(&flat)?;
    let mut model = Model::new(&inputs, &outputs)?.with_seed(5);
    assert_eq!(model.output_shape()?.to_vec(), vec![10]);
    let summary = model.summary()?.to_text();
    assert!(
        summary.contains("Connected to") && summary.contains("concatenate"),
        "{summary}"
    );
    let p = model.predict(&Tensor::rand(0f32, 1.0, (3, 1, 28, 28), &Device::Cpu)?)?;
    let sums: Vec<f32> = p.sum(1)?.to_vec1()?;
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-5));
    // Shapes are checked when a layer is applied.
    let err = Add::new().apply_many(&[&a, &stem]).unwrap_err().to_string();
    assert!(err.contains("same shape"), "{err}");
    Ok(())
}

/// `Concatenate`'s axis counts as Keras': the batch axis is 0 (refused), 1 the
/// first axis of a sample, -1 (the default) the last.
#[test]
fn concatenate_counts_axes_as_keras() -> dlkit::Result<()> {
    let inputs = Input::new((1, 6, 6));
    let a = Conv2D::new(3, 3).padding(Padding::Same).apply(&inputs)?;
    let b = Conv2D::new(2, 3).padding(Padding::Same).apply(&inputs)?;
    let shape = |axis: isize| -> dlkit::Result<Vec<usize>> {
        Ok(Concatenate::new()
            .axis(axis)
            .apply_many(&[&a, &b])?
            .shape()
            .to_vec())
    };
    assert_eq!(shape(1)?, [5, 6, 6]); // channels first: the channels
    assert_eq!(shape(-3)?, [5, 6, 6]);
    let c = Conv2D::new(3, (3, 1)).apply(&inputs)?; // (3, 4, 6)
    let rows = Concatenate::new().axis(2).apply_many(&[&a, &c])?;
    assert_eq!(rows.shape().to_vec(), [3, 10, 6]);
    let flat_a = Flatten::new().apply(&a)?;
    let flat_b = Flatten::new().apply(&b)?;
    let joined = Concatenate::new().apply_many(&[&flat_a, &flat_b])?; // -1
    assert_eq!(joined.shape().to_vec(), [180]);
    assert_eq!(Concatenate::new().axis, -1);

    let batch = shape(0).unwrap_err().to_string();
    assert!(batch.contains("axis 0 is the batch axis"), "{batch}");
    assert!(
        batch.contains("Concatenate cannot be applied"),
        "names the layer: {batch}"
    );
    let from_the_end = shape(-4).unwrap_err().to_string();
    assert!(
        from_the_end.contains("axis -4 is the batch axis"),
        "{from_the_end}"
    );
    for axis in [4, -5, 9] {
        let err = shape(axis).unwrap_err().to_string();
        assert!(
            err.contains(&format!("axis {axis} is out of range"))
                && err.contains("valid axes: 1..=3 or -3..=-1"),
            "{err}"
        );
    }
    // the wrong axis for channels first: the channel counts differ
    let err = shape(-1).unwrap_err().to_string();
    assert!(err.contains("every axis except axis -1"), "{err}");
    Ok(())
}

#[test]
fn branching_recipe_is_the_functional_model_of_notebook_002() -> dlkit::Result<()> {
    let mut model = zoo::recipe("002-branching-cnn")?.build(7)?;
    assert_eq!(model.name(), "002-branching-cnn");
    let summary = model.summary()?.to_text();
    assert!(
        summary.contains("Connected to") && summary.contains("conv2d_1, conv2d_2"),
        "{summary}"
    );
    // Each layer's input, which in a graph need not be the layer listed before it.
    let shapes = |name| -> dlkit::Result<Vec<Vec<usize>>> {
        Ok(model
            .layer_input_shapes(name)?
            .iter()
            .map(|s| s.to_vec())
            .collect())
    };
    assert_eq!(shapes("conv2d_2")?, vec![vec![16, 24, 24]]);
    assert_eq!(shapes("concatenate")?, vec![vec![15, 24, 24]; 2]);
    assert!(model.layer_input_shapes("no_such_layer").is_err());
    let p = model.predict(&Tensor::rand(0f32, 1.0, (2, 1, 28, 28), &Device::Cpu)?)?;
    assert_eq!(p.dims(), &[2, 10]);
    Ok(())
}

#[test]
fn save_then_load_gives_identical_predictions() -> dlkit::Result<()> {
    let dir = tempfile::tempdir().unwrap();
    let mut model = zoo::recipe("002-larger-cnn")?.build(11)?;
    let x = Tensor::rand(0f32, 1.0, (5, 1, 28, 28), &Device::Cpu)?;
    let before: Vec<Vec<f32>> = model.predict(&x)?.to_vec2()?;
    let path = dir.path().join("larger.safetensors");
    model.save(&path)?;
    let mut loaded = dlkit::model::load_model(&path)?;
    assert_eq!(loaded.predict(&x)?.to_vec2::<f32>()?, before);
    assert_eq!(loaded.summary()?, model.summary()?);
    assert!(loaded.compiled().is_some());

    // Weights only, into a model with other initial weights.
    let weights = dir.path().join("weights.safetensors");
    model.save_weights(&weights)?;
    let mut other = zoo::recipe("002-larger-cnn")?.build(12)?;
    assert_ne!(other.predict(&x)?.to_vec2::<f32>()?, before);
    other.load_weights(&weights)?;
    assert_eq!(other.predict(&x)?.to_vec2::<f32>()?, before);

    // A weights file for another architecture is refused, naming the problem.
    let mut mlp = zoo::recipe("002-mlp")?.build(1)?;
    let err = mlp.load_weights(&weights).unwrap_err().to_string();
    assert!(err.contains("dense/kernel has shape"), "{err}");
    // Not a model file at all.
    std::fs::write(dir.path().join("junk.safetensors"), b"not safetensors").unwrap();
    let err = dlkit::model::load_model(dir.path().join("junk.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("not a safetensors file"), "{err}");
    // No temporary files are left beside the saved ones.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("partial")), "{names:?}");
    Ok(())
}
