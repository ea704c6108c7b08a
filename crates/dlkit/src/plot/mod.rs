//! Plots for notebooks, drawn with plotters: digits, training histories,
//! convolution filters and predictions.
//!
//! Each function returns a plot value. As the last expression of a notebook
//! cell it shows itself inline (evcxr calls its `evcxr_display`); `save(path)`
//! writes a PNG, or SVG when the path ends in `.svg`; `to_png_bytes()` and
//! `render()` give the picture to other code.
//!
//! | Function | Shows | Tutorial |
//! |---|---|---|
//! | [`imshow`] | one image with a colour map and pixel axes | `plt.imshow(X_train[0])` |
//! | [`digit_grid`] | several digits with their labels | 2×2 grid of the first training digits |
//! | [`history`] | loss and accuracy per epoch, training and validation | `model.fit` history |
//! | [`filters`] | the kernels of a convolution layer | visualising learned filters |
//! | [`sample_prediction`] | a digit beside its class probabilities | `sample_prediction(0)` |
//!
//! All text is drawn with DejaVu Sans, compiled into the library, so no system
//! font is needed.

mod axis;
mod colormap;
mod data;
mod digit_grid;
pub(crate) mod figure;
mod filters;
mod font;
mod history;
mod imshow;
mod prediction;
mod raster;

pub use colormap::Colormap;
pub use digit_grid::{digit_grid, digits, DigitGrid, Labels, MAX_DIGITS};
pub use figure::{Figure, MAX_FIGURE_PIXELS, MAX_FIGURE_SIDE, MAX_SVG_IMAGE_PIXELS};
pub use filters::{filters, Filters, MAX_FILTERS};
pub use history::{history, HistoryPlot};
pub use imshow::{imshow, Imshow};
pub use prediction::{sample_prediction, SamplePrediction};
