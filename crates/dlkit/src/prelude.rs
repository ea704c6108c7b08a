//! `use dlkit::prelude::*;` brings what a notebook needs into scope.

pub use crate::error::{Error, Result};
pub use crate::rng::Rng;
pub use crate::train::History;
pub use candle_core::{DType, Device, Tensor, Var};
pub use crate::display::HtmlTable;
pub use crate::image::load_digit;
pub use crate::plot;
