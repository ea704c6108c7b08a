//! # dlkit — Keras-style deep learning in Rust notebooks, on candle
//!
//! `dlkit` gives the classic Keras MNIST tutorials a one-line-per-step Rust
//! equivalent that runs in Jupyter on the evcxr kernel:
//!
//! * [`datasets`]: `mnist::load_data()` and `fashion_mnist::load_data()`,
//!   verified and cached like Keras' own loaders;
//! * [`preprocessing`]: `to_categorical`, `normalize` and the reshape/scale helpers;
//! * [`layers`], [`model`], [`train`], [`optim`]: `Sequential` and functional
//!   models with `compile`, `fit`, `evaluate`, `predict`, `summary`, save/load;
//! * [`plot`]: digits, training histories, filters and predictions, inline in
//!   notebooks and saved as PNG/SVG;
//! * [`image`]: load a photo of your own handwritten digit the way MNIST was prepared.
//!
//! It is a thin layer: data are plain [`candle_core::Tensor`]s and every model
//! exposes its candle [`candle_core::Var`]s, so you can drop down to candle at
//! any point.

pub mod datasets;
pub mod device;
pub mod display;
pub mod error;
mod fs;
pub mod image;
pub mod layers;
pub mod model;
pub mod ops;
pub mod optim;
pub mod plot;
pub mod preprocessing;
pub mod rng;
pub mod train;
pub mod tutorials;

pub mod prelude;

/// The tutorials' fixtures under their short paths, which notebooks and the benchmark use.
pub use tutorials::{report, zoo};

pub use error::{Error, Result};

/// The candle crates dlkit is built on, re-exported so a notebook needs one `:dep`.
pub use candle_core;
pub use candle_core::{DType, Device, Tensor, Var};
pub use candle_nn;
