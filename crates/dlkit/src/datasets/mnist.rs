//! MNIST: 70,000 28×28 grayscale handwritten digits (LeCun, Cortes, Burges),
//! 60,000 for training and 10,000 for testing, labels 0–9.
//!
//! ```no_run
//! use dlkit::datasets::mnist;
//!
//! let ((x_train, y_train), (x_test, y_test)) = mnist::load_data()?;
//! assert_eq!(x_train.dims(), [60000, 28, 28]); // u8 pixels, 0 = background
//! assert_eq!(y_test.dims(), [10000]);          // u8 labels
//! # Ok::<(), dlkit::Error>(())
//! ```

use std::path::Path;

use super::{DatasetFile, DatasetSpec, LoadedData};
use crate::Result;

/// The four MNIST files, with the SHA-256 of their decompressed content.
pub const MNIST: DatasetSpec = DatasetSpec {
    name: "mnist",
    title: "MNIST",
    train_images: DatasetFile::images(
        "train-images-idx3-ubyte",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    train_labels: DatasetFile::labels(
        "train-labels-idx1-ubyte",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    test_images: DatasetFile::images(
        "t10k-images-idx3-ubyte",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    test_labels: DatasetFile::labels(
        "t10k-labels-idx1-ubyte",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
    // yann.lecun.com now refuses anonymous downloads; these serve the same files.
    mirrors: &[
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
    ],
};

/// `((x_train, y_train), (x_test, y_test))`: images `u8` (60000, 28, 28) and
/// (10000, 28, 28), labels `u8` (60000,) and (10000,), in the original order, on the CPU.
///
/// Reads `$DLKIT_DATASETS/mnist/` if that variable is set; otherwise the user
/// cache (`~/.cache/dlkit/datasets/mnist/`), downloading there what is missing.
/// Every load checks the files' SHA-256.
pub fn load_data() -> Result<LoadedData> {
    MNIST.load()
}

/// Like [`load_data`], from the four files in `dir` (gzipped or not); never downloads.
pub fn load_data_from(dir: impl AsRef<Path>) -> Result<LoadedData> {
    MNIST.load_from(dir)
}
