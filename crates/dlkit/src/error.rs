//! The one error type of dlkit: every fallible function returns [`Result`].
//!
//! Messages are written for the person at the notebook: they name the file,
//! layer or argument at fault, what was expected and, where there is one,
//! what to do about it.

use std::path::PathBuf;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error raised by candle itself (a tensor op, a dtype or device mismatch).
    #[error(transparent)]
    Candle(#[from] candle_core::Error),

    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    /// A dataset file is missing, corrupt, truncated or fails its checksum.
    #[error("{0}")]
    Dataset(String),

    /// Fetching a dataset over the network failed.
    #[error("{0}")]
    Download(String),

    /// Layers that do not fit together, or data whose shape the model cannot take.
    #[error("{0}")]
    Shape(String),

    /// An argument with a value that cannot work (a dropout rate of 1.5, zero epochs, ...).
    #[error("{0}")]
    InvalidArgument(String),

    /// Training cannot go on (the loss became NaN, the model was not compiled, ...).
    #[error("{0}")]
    Training(String),

    /// A picture that cannot be read or holds no digit.
    #[error("{0}")]
    Image(String),

    /// A saved model or weights file that cannot be read back.
    #[error("{0}")]
    ModelFile(String),

    /// Drawing a plot failed.
    #[error("{0}")]
    Plot(String),
}

impl Error {
    /// Wraps an I/O error with the path it happened on.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
