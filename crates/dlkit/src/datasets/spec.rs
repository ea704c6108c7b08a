//! What describes a dataset (its files, their checksums, its mirrors) and how it is loaded.

use std::path::Path;

use candle_core::Tensor;

use super::download::Downloader;
use super::load::load_dir;
use super::locate::{locate, Environment, Location, Origin};
use crate::Result;

/// `((x_train, y_train), (x_test, y_test))`, as Keras' `load_data()` returns them.
pub type LoadedData = ((Tensor, Tensor), (Tensor, Tensor));

/// One IDX file of a dataset: its name without `.gz`, the SHA-256 of its
/// decompressed content, and its number of dimensions (3 for images, 1 for labels).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatasetFile {
    pub name: &'static str,
    pub sha256: &'static str,
    pub ndim: usize,
}

impl DatasetFile {
    /// An image file: (count, rows, columns).
    pub const fn images(name: &'static str, sha256: &'static str) -> Self {
        DatasetFile {
            name,
            sha256,
            ndim: 3,
        }
    }

    /// A label file: (count,).
    pub const fn labels(name: &'static str, sha256: &'static str) -> Self {
        DatasetFile {
            name,
            sha256,
            ndim: 1,
        }
    }

    /// The name the mirrors serve it under.
    pub fn gz_name(&self) -> String {
        format!("{}.gz", self.name)
    }
}

/// The description of an MNIST-style dataset (four IDX files of 8-bit images
/// and labels, their checksums and mirrors), which knows how to load it.
///
/// [`mnist::MNIST`](super::mnist::MNIST) and
/// [`fashion_mnist::FASHION_MNIST`](super::fashion_mnist::FASHION_MNIST) are the two built in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DatasetSpec {
    /// The folder name under `$DLKIT_DATASETS` and in the cache (`mnist`, `fashion-mnist`).
    pub name: &'static str,
    /// How messages name it (`MNIST`, `Fashion-MNIST`).
    pub title: &'static str,
    pub train_images: DatasetFile,
    pub train_labels: DatasetFile,
    pub test_images: DatasetFile,
    pub test_labels: DatasetFile,
    /// Base URLs serving `<file>.gz`, tried in order.
    pub mirrors: &'static [&'static str],
}

impl DatasetSpec {
    /// The four files, in the order train images, train labels, test images, test labels.
    pub fn files(&self) -> [&DatasetFile; 4] {
        [
            &self.train_images,
            &self.train_labels,
            &self.test_images,
            &self.test_labels,
        ]
    }

    /// Checks that each file is declared with the dimensions loading needs:
    /// images (count, rows, columns), labels (count,). The fields are public,
    /// so a hand-made spec may say otherwise.
    pub(crate) fn check(&self) -> Result<()> {
        let roles = [
            ("train_images", &self.train_images, 3, "DatasetFile::images"),
            ("train_labels", &self.train_labels, 1, "DatasetFile::labels"),
            ("test_images", &self.test_images, 3, "DatasetFile::images"),
            ("test_labels", &self.test_labels, 1, "DatasetFile::labels"),
        ];
        for (role, file, ndim, make) in roles {
            if file.ndim != ndim {
                return Err(crate::Error::InvalidArgument(format!(
                    "{}: {role} ({}) is declared with {} dimension(s), but {role} must have \
                     {ndim}; describe it with {make}",
                    self.title, file.name, file.ndim
                )));
            }
        }
        Ok(())
    }

    /// Loads from `$DLKIT_DATASETS/<name>/` if set, else from the user cache,
    /// downloading from the built-in mirrors whatever the cache lacks
    /// (progress lines on stdout).
    pub fn load(&self) -> Result<LoadedData> {
        self.load_with(
            &Environment::from_process(),
            &Downloader::for_dataset(self),
            &mut |line| println!("{line}"),
        )
    }

    /// Loads from `dir`, which must hold the four files (gzipped or not); never downloads.
    pub fn load_from(&self, dir: impl AsRef<Path>) -> Result<LoadedData> {
        load_dir(self, &Location::given(dir.as_ref()))
    }

    /// [`load`](Self::load) with the environment, the mirrors and the progress output
    /// given explicitly.
    pub fn load_with(
        &self,
        env: &Environment,
        downloader: &Downloader,
        report: &mut dyn FnMut(&str),
    ) -> Result<LoadedData> {
        self.check()?;
        let location = locate(self, env)?;
        if location.origin == Origin::Cache {
            downloader.fetch_missing(self, &location.dir, report)?;
        }
        load_dir(self, &location)
    }
}
