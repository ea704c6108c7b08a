//! Reliability, round 2: input that used to panic, give a silent wrong
//! answer, fail with an error that does not say what is wrong, or leave files
//! behind now gives a clear error (or the right answer).

use dlkit::datasets::{DatasetFile, DatasetSpec};
use dlkit::prelude::*;
use dlkit_tests::idx_bytes;

use dlkit_tests::{four_feature_data as data, small_classifier as model_with};

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
    for path in [dir.path().to_path_buf(), "".into(), "checkpoints/..".into()] {
        let msg = message(model().fit(&x, &y, quiet().callback(ModelCheckpoint::new(&path))));
        assert!(
            msg.contains("names a directory, not a file"),
            "{path:?}: {msg}"
        );
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

// 2. Silent wrong answers.

/// `bytes` with `from` replaced by `to` (of the same length, so that the
/// safetensors header keeps its size).
fn patched(bytes: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let at = bytes
        .windows(from.len())
        .position(|w| w == from.as_bytes())
        .unwrap_or_else(|| panic!("{from} not in the file"));
    let mut out = bytes.to_vec();
    out[at..at + to.len()].copy_from_slice(to.as_bytes());
    out
}

#[test]
fn model_files_whose_output_is_the_input_or_that_leave_layers_unused_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m.safetensors");
    model().save(&path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    // The description says: input (0) → dense (1) → dense_1 (2), output 2.
    let as_input = patched(&bytes, r#"\"output\":2"#, r#"\"output\":0"#);
    let msg = message(dlkit::model::load_model_from_memory(&as_input));
    assert_eq!(
        msg,
        "<memory>: the model description is not a usable model: its output is the input \
         layer, so it would return its inputs unchanged"
    );
    let unused = patched(&bytes, r#"\"output\":2"#, r#"\"output\":1"#);
    let msg = message(dlkit::model::load_model_from_memory(&unused));
    assert!(
        msg.ends_with("layer(s) 'dense_1' do not feed its output layer 'dense'"),
        "{msg}"
    );
    assert!(dlkit::model::load_model_from_memory(&bytes).is_ok());
    // A model that is only its input is not saved either.
    let input = Input::new(4);
    let only_input = Model::new(&input, &input).unwrap();
    let msg = message(only_input.save(dir.path().join("input.safetensors")));
    assert!(
        msg.contains("cannot be saved: its output is the input layer"),
        "{msg}"
    );
}

fn all_finite(t: &Tensor) -> bool {
    t.flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap()
        .iter()
        .all(|v| v.is_finite())
}

#[test]
fn a_nan_loss_puts_the_weights_back_to_the_start_of_the_epoch() {
    let (x, y) = data(64);
    let diverging = || model_with(Adam::new().learning_rate(1e30));
    let start = diverging().predict(&x).unwrap().to_vec2::<f32>().unwrap();

    let mut model = diverging();
    let history = model
        .fit(&x, &y, quiet().epochs(3).callback(TerminateOnNaN))
        .unwrap();
    let reason = history.stopped_early.clone().expect("stopped on NaN");
    assert!(
        reason.contains("training stopped (TerminateOnNaN) and the weights are back to those at the start of epoch"),
        "{reason}"
    );
    let p = model.predict(&x).unwrap();
    assert!(all_finite(&p));
    if history.epochs() == 0 {
        // Stopped in the first epoch: back to the initial weights.
        assert_eq!(p.to_vec2::<f32>().unwrap(), start);
    }
    assert!(model.evaluate(&x, &y).unwrap().loss.is_finite());

    let mut model = diverging();
    let msg = message(model.fit(&x, &y, quiet().epochs(3)));
    assert!(
        msg.contains("; the weights are back to those at the start of epoch"),
        "{msg}"
    );
    assert!(all_finite(&model.predict(&x).unwrap()));
}

#[test]
fn non_finite_outputs_of_predict_and_evaluate_are_errors() {
    let (x, y) = data(300);
    let mut model = model();
    // Finite weights so large that the outputs overflow.
    for var in model.trainable_variables() {
        let huge = (var.as_tensor().ones_like().unwrap() * 1e30).unwrap();
        var.set(&huge).unwrap();
    }
    let msg = message(model.predict(&x));
    assert!(
        msg.starts_with("the model's output for sample 0 is NaN (value 0 of its 3): its weights may have diverged"),
        "{msg}"
    );
    let msg = message(model.evaluate(&x, &y));
    assert!(msg.contains("the model's output for sample 0 is"), "{msg}");
    // The sample is counted in the data the user passed, past the first batch.
    let mut model = model_with(Adam::default());
    let mut rows: Vec<f32> = vec![0.0; 300 * 4];
    rows[280 * 4] = 1.0;
    let x = Tensor::from_vec(rows, (300, 4), &Device::Cpu).unwrap();
    // Kernels huge, biases zero: the zero rows give finite outputs, row 280 not.
    for kernel in model.trainable_variables().iter().step_by(2) {
        let huge = (kernel.as_tensor().ones_like().unwrap() * 1e30).unwrap();
        kernel.set(&huge).unwrap();
    }
    let msg = message(model.predict(&x));
    assert!(msg.contains("output for sample 280 "), "{msg}");
}

#[test]
fn imshow_shades_values_whose_range_overflows_f32() {
    let image = Tensor::new(&[[f32::MAX, -f32::MAX], [0.0, 1.0]], &Device::Cpu).unwrap();
    let fig = plot::imshow(&image).unwrap().axes(false).render().unwrap();
    let (w, h) = (fig.width(), fig.height());
    let top_left = fig.pixel(w / 2 - 3, h / 2 - 3).unwrap();
    let top_right = fig.pixel(w / 2 + 3, h / 2 - 3).unwrap();
    let bottom_left = fig.pixel(w / 2 - 3, h / 2 + 3).unwrap();
    assert_ne!(top_left, top_right);
    assert_ne!(top_left, bottom_left);
    assert_ne!(top_right, bottom_left);
}

#[test]
fn plot_labels_that_are_not_classes_are_errors() {
    let image = Tensor::zeros((28, 28), DType::F32, &Device::Cpu).unwrap();
    let p = Tensor::new(&[0.25f32, 0.75], &Device::Cpu).unwrap();
    let plot = plot::sample_prediction(&image, &p).unwrap().label(99);
    let msg = message(plot.render());
    assert_eq!(
        msg,
        "plot::sample_prediction: label 99 is not one of the 2 classes (0 to 1) of the \
         probabilities"
    );
    assert!(plot.to_svg().is_err());
    plot::sample_prediction(&image, &p)
        .unwrap()
        .label(1)
        .render()
        .unwrap();
    // The gallery and the confusion matrix check theirs against the predictions.
    let x = Tensor::zeros((2, 28, 28), DType::F32, &Device::Cpu).unwrap();
    let probs = Tensor::new(&[[0.9f32, 0.1], [0.2, 0.8]], &Device::Cpu).unwrap();
    let y = Tensor::new(&[0u8, 7], &Device::Cpu).unwrap();
    let msg = message(plot::misclassified(&x, &y, &probs));
    assert!(
        msg.contains("y_true[1] is 7, not one of the 2 classes"),
        "{msg}"
    );
    let msg = message(plot::confusion_matrix(&y, &probs));
    assert!(
        msg.contains("y_true[1] is 7, not one of the 2 classes"),
        "{msg}"
    );
}

// 3. Errors that say what is wrong.

#[test]
fn whole_number_float_labels_train_like_integers_and_others_are_named() {
    let (x, y) = data(48);
    let y_float = y.to_dtype(DType::F32).unwrap();
    let mut with_ints = model();
    let mut with_floats = model();
    let a = with_ints.fit(&x, &y, quiet().seed(4)).unwrap();
    let b = with_floats.fit(&x, &y_float, quiet().seed(4)).unwrap();
    assert_eq!(a.metrics, b.metrics);
    assert_eq!(
        with_ints.evaluate(&x, &y).unwrap(),
        with_floats.evaluate(&x, &y_float).unwrap()
    );
    let mut halves = y_float.to_vec1::<f32>().unwrap();
    halves[5] = 1.5;
    let halves = Tensor::new(halves, &Device::Cpu).unwrap();
    let msg = message(model().fit(&x, &halves, quiet()));
    assert!(
        msg.starts_with("y[5] is 1.5, not a whole number; labels are class numbers 0, 1, … 2"),
        "{msg}"
    );
}

#[test]
fn scalar_labels_to_digit_grid_say_what_labels_must_be() {
    let images = Tensor::zeros((2, 28, 28), DType::U8, &Device::Cpu).unwrap();
    let scalar = Tensor::new(3u8, &Device::Cpu).unwrap();
    let msg = message(plot::digit_grid(&images, &scalar));
    assert_eq!(
        msg,
        "plot::digit_grid: labels must be class indices of shape (N,) or one-hot rows of \
         shape (N, classes); got a tensor of shape ()"
    );
}

#[test]
fn saving_under_a_file_says_the_file_is_in_the_way() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("notes.txt");
    std::fs::write(&file, "x").unwrap();
    let model = model();
    for path in [
        file.join("m.safetensors"),
        file.join("deeper/still/m.safetensors"),
    ] {
        let err = model.save(&path).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "{}: {} is a file, not a directory",
                path.display(),
                file.display()
            )
        );
    }
    let msg = message(model.save_weights(dir.path()));
    assert!(
        msg.ends_with("it is a directory; give a file path inside it"),
        "{msg}"
    );
    let image = Tensor::zeros((28, 28), DType::U8, &Device::Cpu).unwrap();
    let msg = message(plot::imshow(&image).unwrap().save(file.join("x.png")));
    assert!(msg.contains("is a file, not a directory"), "{msg}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "x");
}

#[test]
fn a_dataset_directory_that_is_a_file_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mnist");
    std::fs::write(&file, "not a directory").unwrap();
    let msg = message(mnist::MNIST.load_from(&file));
    assert!(
        msg.starts_with(&format!(
            "MNIST: {} is a file, not a directory.",
            file.display()
        )),
        "{msg}"
    );
    assert!(!msg.contains("lacks"), "{msg}");
}

#[test]
fn a_datasets_variable_that_names_a_file_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("datasets");
    std::fs::write(&file, "not a directory").unwrap();
    let env = dlkit::datasets::Environment {
        datasets_dir: Some(file.clone()),
        xdg_cache_home: None,
        home: None,
    };
    let never = dlkit::datasets::Downloader::new(["http://127.0.0.1:9/"]);
    let msg = message(mnist::MNIST.load_with(&env, &never, &mut |_| {}));
    assert!(
        msg.contains(&format!(
            "cannot be a directory: {} is a file.",
            file.display()
        )),
        "{msg}"
    );
}

// 4. Leftovers.

/// The id of a process that has exited (and been waited for).
fn dead_pid() -> u32 {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let pid = child.id();
    child.wait().unwrap();
    pid
}

#[test]
fn saves_remove_the_partial_files_of_dead_writers_and_keep_live_ones() {
    let dir = tempfile::tempdir().unwrap();
    let dead = dead_pid();
    let live = std::process::id();
    let (x, y) = data(24);
    let mut model = model();
    for (i, save) in ["model", "weights", "checkpoint", "plot"]
        .iter()
        .enumerate()
    {
        let dead_partial = dir
            .path()
            .join(format!(".m-{i}.safetensors.partial-{dead}-{i}"));
        let live_partial = dir.path().join(format!(".other.partial-{live}-{i}"));
        let unrelated = dir.path().join(format!(".m-{i}.partial-notes"));
        for p in [&dead_partial, &live_partial, &unrelated] {
            std::fs::write(p, "half a file").unwrap();
        }
        let target = dir.path().join(format!("new-{i}.safetensors"));
        match *save {
            "model" => model.save(&target).unwrap(),
            "weights" => model.save_weights(&target).unwrap(),
            "checkpoint" => {
                model
                    .fit(
                        &x,
                        &y,
                        quiet().epochs(1).callback(ModelCheckpoint::new(&target)),
                    )
                    .unwrap();
            }
            _ => {
                let image = Tensor::zeros((28, 28), DType::U8, &Device::Cpu).unwrap();
                plot::imshow(&image)
                    .unwrap()
                    .save(dir.path().join("p.png"))
                    .unwrap();
            }
        }
        assert!(!dead_partial.exists(), "{save}: {}", dead_partial.display());
        assert!(live_partial.exists(), "{save}: {}", live_partial.display());
        assert!(unrelated.exists(), "{save}: {}", unrelated.display());
    }
}

#[test]
fn callback_folders_blocked_by_a_file_are_errors_before_the_first_epoch() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blocker");
    std::fs::write(&file, "x").unwrap();
    let (x, y) = data(24);
    for callback in [
        Box::new(ModelCheckpoint::new(file.join("m-{epoch}.safetensors"))) as Box<dyn Callback>,
        Box::new(ModelCheckpoint::new(file.join("a/{epoch}/m.safetensors"))),
        Box::new(BackupAndRestore::new(file.join("backup"))),
    ] {
        let mut model = model();
        let before = model.predict(&x).unwrap().to_vec2::<f32>().unwrap();
        let mut options = quiet();
        options.callbacks.push(callback);
        let err = model.fit(&x, &y, options).unwrap_err();
        assert!(matches!(err, Error::Io { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(
            msg.ends_with(&format!("{} is a file, not a directory", file.display())),
            "{msg}"
        );
        assert_eq!(model.predict(&x).unwrap().to_vec2::<f32>().unwrap(), before);
    }
}

#[test]
fn a_finished_backup_removes_dead_writers_partials_but_not_live_ones() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("backup");
    std::fs::create_dir(&dir).unwrap();
    let dead = dir.join(format!(".state.safetensors.partial-{}-0", dead_pid()));
    let live = dir.join(format!(
        ".state.safetensors.partial-{}-9",
        std::process::id()
    ));
    for p in [&dead, &live] {
        std::fs::write(p, "half a backup").unwrap();
    }
    let (x, y) = data(24);
    model()
        .fit(&x, &y, quiet().callback(BackupAndRestore::new(&dir)))
        .unwrap();
    assert!(!dead.exists());
    assert!(live.exists());
    // What is left is the live writer's file: the folder stays for it.
    let left: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(left.len(), 1, "{left:?}");
}
