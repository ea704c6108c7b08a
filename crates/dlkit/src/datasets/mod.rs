//! Datasets loaded like Keras' `mnist.load_data()`: verified, cached, as candle tensors.
//!
//! ```no_run
//! use dlkit::datasets::{fashion_mnist, mnist};
//!
//! let ((x_train, y_train), (x_test, y_test)) = mnist::load_data()?;
//! let ((f_train, _), _) = fashion_mnist::load_data_from("/usr/share/datasets/fashion-mnist")?;
//! # Ok::<(), dlkit::Error>(())
//! ```
//!
//! Files are read from a directory passed to `load_data_from`, else from
//! `$DLKIT_DATASETS/<name>/`, else from the user cache, which is filled by
//! downloading from public mirrors ([`locate`] has the details). Each load
//! checks the structure of the four IDX files and the SHA-256 of their content.

mod download;
pub mod fashion_mnist;
mod http_get;
pub mod idx;
mod load;
mod locate;
pub mod mnist;
mod sha256;
mod spec;

pub use download::{
    Downloader, DEFAULT_DEADLINE, DEFAULT_MIN_SPEED, DEFAULT_SPEED_WINDOW, DEFAULT_TIMEOUT,
    PROGRESS_INTERVAL,
};
pub use locate::{locate, Environment, Location, Origin, DATASETS_VAR};
pub use spec::{DatasetFile, DatasetSpec, LoadedData};
