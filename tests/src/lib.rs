//! Helpers shared by the integration tests.

pub mod ops_util;

use std::path::PathBuf;

/// The repository root (the workspace that holds `crates/` and `tests/`).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where the real MNIST files are: `$DLKIT_DATASETS` if set, else `../shared/datasets`
/// beside the repository, as on the development machines and in CI.
pub fn datasets_dir() -> PathBuf {
    match std::env::var_os("DLKIT_DATASETS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                repo_root().join(dir)
            }
        }
        None => repo_root().join("../shared/datasets"),
    }
}

/// Three well-separated Gaussian blobs in 8 dimensions, one class each: class
/// `c` is centred at 2 on the dimensions `d` with `d % 3 == c`, at 0 elsewhere,
/// with standard deviation `spread`. Labels are u8, in order 0, 1, 2, 0, ...
pub fn blobs(n: usize, seed: u64, spread: f64) -> (dlkit::Tensor, dlkit::Tensor) {
    let mut rng = dlkit::rng::Rng::new(seed);
    let mut xs = Vec::with_capacity(n * 8);
    let mut ys = Vec::with_capacity(n);
    for i in 0..n {
        let class = (i % 3) as u8;
        for d in 0..8 {
            let centre = if d % 3 == class as usize { 2.0 } else { 0.0 };
            xs.push((centre + spread * rng.normal()) as f32);
        }
        ys.push(class);
    }
    let cpu = &dlkit::Device::Cpu;
    (
        dlkit::Tensor::from_vec(xs, (n, 8), cpu).expect("n * 8 values"),
        dlkit::Tensor::from_vec(ys, n, cpu).expect("n labels"),
    )
}

/// An IDX file: big-endian magic number, then each dimension, then the data.
pub fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut bytes = magic.to_be_bytes().to_vec();
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    bytes
}

/// `bytes` gzipped, as MNIST's files are.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).expect("writing to memory");
    enc.finish().expect("writing to memory")
}

/// A callback that stops training after `n` epochs, like a crash right after
/// epoch `n`'s backup.
pub struct StopAfter(pub usize);

impl dlkit::train::Callback for StopAfter {
    fn on_epoch_end(
        &mut self,
        logs: &dlkit::train::EpochLogs,
        _model: &dlkit::model::Model,
    ) -> dlkit::Result<dlkit::train::Control> {
        Ok(if logs.epoch + 1 == self.0 {
            dlkit::train::Control::Stop(format!("simulated crash after epoch {}", self.0))
        } else {
            dlkit::train::Control::Continue
        })
    }
}

/// `n` samples of 4 smooth features and labels 0, 1, 2 in turn: data for the bad-input tests,
/// where only shapes and values matter, not learning.
pub fn four_feature_data(n: usize) -> (dlkit::Tensor, dlkit::Tensor) {
    use dlkit::{Device, Tensor};
    let xs: Vec<f32> = (0..n * 4).map(|i| (i as f32 * 0.37).sin()).collect();
    let ys: Vec<u8> = (0..n).map(|i| (i % 3) as u8).collect();
    (
        Tensor::from_vec(xs, (n, 4), &Device::Cpu).unwrap(),
        Tensor::from_vec(ys, n, &Device::Cpu).unwrap(),
    )
}

/// A compiled 4 → 8 (ReLU) → 3 (softmax) classifier for [`four_feature_data`], seed 1.
pub fn small_classifier(optimizer: dlkit::optim::Adam) -> dlkit::model::Sequential {
    use dlkit::layers::Activation::{Relu, Softmax};
    use dlkit::prelude::*;
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

/// Dense → Dropout → Dense with Adam (learning rate 0.01) on 8 features and 3 classes: the
/// dropout and the shuffling use the model's generator, and Adam has moments and a step count,
/// so a resumed run only matches an uninterrupted one when all of them come back.
pub fn resumable_model(seed: u64, hidden: usize) -> dlkit::model::Sequential {
    use dlkit::layers::Activation::{Relu, Softmax};
    use dlkit::prelude::*;
    let mut model = Sequential::with_seed(seed);
    model
        .add(Dense::new(hidden).input_dim(8).activation(Relu))
        .unwrap();
    model.add(Dropout::new(0.3)).unwrap();
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

/// The names in `dir`, sorted; none when it does not exist.
pub fn sorted_file_names(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// Every trainable weight of `model`, flattened, in order.
pub fn weight_values(model: &dlkit::model::Model) -> Vec<Vec<f32>> {
    model
        .trainable_variables()
        .iter()
        .map(|v| v.flatten_all().unwrap().to_vec1::<f32>().unwrap())
        .collect()
}

/// `model.predict(x)` as rows.
pub fn prediction_rows(model: &mut dlkit::model::Model, x: &dlkit::Tensor) -> Vec<Vec<f32>> {
    model.predict(x).unwrap().to_vec2::<f32>().unwrap()
}

/// Silent `fit` options of the checkpoint and fault tests: batches of 32, validation data.
pub fn quiet_options(
    epochs: usize,
    xv: &dlkit::Tensor,
    yv: &dlkit::Tensor,
) -> dlkit::train::FitOptions {
    dlkit::train::FitOptions::new()
        .epochs(epochs)
        .batch_size(32)
        .validation_data(xv, yv)
        .verbose(0)
}
