//! `use dlkit::prelude::*;` brings what a notebook needs into scope.

pub use crate::datasets::{fashion_mnist, mnist};
pub use crate::error::{Error, Result};
pub use crate::preprocessing::{normalize, to_categorical, Preprocess};
pub use crate::rng::Rng;
pub use crate::train::History;
pub use candle_core::{DType, Device, Tensor, Var};
