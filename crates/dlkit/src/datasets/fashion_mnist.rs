//! Fashion-MNIST: 70,000 28×28 grayscale pictures of clothing (Zalando Research),
//! a drop-in replacement for MNIST with the same sizes and file format.
//!
//! | label | class | label | class |
//! |---|---|---|---|
//! | 0 | T-shirt/top | 5 | Sandal |
//! | 1 | Trouser | 6 | Shirt |
//! | 2 | Pullover | 7 | Sneaker |
//! | 3 | Dress | 8 | Bag |
//! | 4 | Coat | 9 | Ankle boot |
//!
//! Debian's `dataset-fashion-mnist` package installs the files in
//! `/usr/share/datasets/fashion-mnist/`, so `DLKIT_DATASETS=/usr/share/datasets` uses them.
//!
//! ```no_run
//! use dlkit::datasets::fashion_mnist;
//!
//! let ((x_train, y_train), _) = fashion_mnist::load_data()?;
//! assert_eq!(x_train.dims(), [60000, 28, 28]);
//! # Ok::<(), dlkit::Error>(())
//! ```

use std::path::Path;

use super::{DatasetFile, DatasetSpec, LoadedData};
use crate::Result;

/// The names of the ten classes, indexed by label.
pub const CLASS_NAMES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// The four Fashion-MNIST files, with the SHA-256 of their decompressed content.
pub const FASHION_MNIST: DatasetSpec = DatasetSpec {
    name: "fashion-mnist",
    title: "Fashion-MNIST",
    train_images: DatasetFile::images(
        "train-images-idx3-ubyte",
        "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    ),
    train_labels: DatasetFile::labels(
        "train-labels-idx1-ubyte",
        "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    ),
    test_images: DatasetFile::images(
        "t10k-images-idx3-ubyte",
        "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    ),
    test_labels: DatasetFile::labels(
        "t10k-labels-idx1-ubyte",
        "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    ),
    mirrors: &[
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    ],
};

/// `((x_train, y_train), (x_test, y_test))`: images `u8` (60000, 28, 28) and
/// (10000, 28, 28), labels `u8` (60000,) and (10000,), in the original order, on the CPU.
///
/// Reads `$DLKIT_DATASETS/fashion-mnist/` if that variable is set; otherwise the
/// user cache (`~/.cache/dlkit/datasets/fashion-mnist/`), downloading there what
/// is missing. Every load checks the files' SHA-256.
pub fn load_data() -> Result<LoadedData> {
    FASHION_MNIST.load()
}

/// Like [`load_data`], from the four files in `dir` (gzipped or not); never downloads.
pub fn load_data_from(dir: impl AsRef<Path>) -> Result<LoadedData> {
    FASHION_MNIST.load_from(dir)
}
