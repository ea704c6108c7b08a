//! Plots for notebooks, drawn with plotters: digits, training histories,
//! convolution filters, predictions and what a model gets wrong.
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
//! | [`confusion_matrix`] | counts of each true class against each predicted one | scikit-learn's `ConfusionMatrixDisplay`, fast.ai's `plot_confusion_matrix` |
//! | [`misclassified`] | the wrongly predicted digits, most confident first | fast.ai's `plot_top_losses` |
//!
//! All text is drawn with DejaVu Sans, compiled into the library, so no system
//! font is needed.

mod axis;
mod colormap;
mod confusion;
mod data;
mod digit_grid;
pub(crate) mod figure;
mod filters;
mod font;
mod history;
mod imshow;
mod misclassified;
mod outcomes;
mod prediction;
mod raster;
mod text;

pub use colormap::Colormap;
pub use confusion::{confusion_matrix, ConfusionMatrix};
pub use digit_grid::{digit_grid, digits, DigitGrid, Labels, MAX_DIGITS};
pub use figure::{Figure, MAX_FIGURE_PIXELS, MAX_FIGURE_SIDE, MAX_SVG_IMAGE_PIXELS};
pub use filters::{filters, Filters, MAX_FILTERS};
pub use history::{history, HistoryPlot};
pub use imshow::{imshow, Imshow};
pub use misclassified::{misclassified, Misclassified, DEFAULT_COUNT};
pub use outcomes::MAX_CLASSES;
pub use prediction::{sample_prediction, SamplePrediction};
