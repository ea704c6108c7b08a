//! `use dlkit::prelude::*;` brings what a notebook needs into scope.

pub use crate::datasets::{fashion_mnist, mnist};
pub use crate::display::{dtype_name, shape, HtmlTable};
pub use crate::error::{Error, Result};
pub use crate::image::load_digit;
pub use crate::layers::{
    Activation, Add, BatchNormalization, Concatenate, Conv2D, DataFormat, Dense, Dropout, Flatten,
    Initializer, Layer, MaxPooling2D, Padding, LSTM,
};
pub use crate::model::{load_model, Apply, Input, Model, Sequential};
pub use crate::optim::{Adadelta, Adam, Optimizer, RmsProp, Sgd};
pub use crate::plot;
pub use crate::preprocessing::{normalize, to_categorical, Preprocess};
pub use crate::rng::Rng;
pub use crate::train::{
    BackupAndRestore, Better, Callback, EarlyStopping, FitOptions, History, LearningRateScheduler,
    Loss, Metric, ModelCheckpoint, ReduceLROnPlateau, TerminateOnNaN,
};
pub use candle_core::{DType, Device, Tensor, Var, D};
