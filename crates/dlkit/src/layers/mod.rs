//! Keras-style layers: each is a small configuration struct with builder
//! methods (`Dense::new(128).activation(Relu)`), which knows its output shape
//! before any weight exists and creates its weights when a model builds it.
//!
//! Shapes here are *per sample* (no batch dimension), as in Keras'
//! `input_shape=(1, 28, 28)`; they print as `(None, 1, 28, 28)`.
//!
//! ```
//! use dlkit::layers::{Activation::Relu, Dense, Layer};
//! let dense = Layer::from(Dense::new(128).activation(Relu));
//! assert_eq!(dense.output_shape(&[vec![784]]).unwrap(), vec![128]);
//! assert!(dense.output_shape(&[vec![32, 26, 26]]).unwrap_err().contains("Flatten"));
//! ```
//!
//! ## Adding a layer
//!
//! One file and one line: write `layers/my_layer.rs` with the configuration
//! struct (holding a `#[serde(flatten)] common: LayerCommon`, with
//! `common_builders!(MyLayer)` for `.name()` and `.input_shape()`), implement
//! the layer contract (`LayerKind`: name stem, activation, layout, output
//! shape, weights — trainable or not — and forward), and add
//! `MyLayer => my_layer::MyLayer,` to `register_layers!` below. The model,
//! its execution plan, summary, saving and loading need nothing else.
//! [`BatchNormalization`] was added this way (plus a `prelude` export, and an
//! optional fast kernel in `ops`).

mod contract;
mod format;
mod initializers;

pub use activation::Activation;
pub use contract::{ForwardCtx, LayerCommon, WeightSpec};
pub use format::{format_shape, DataFormat, IntoShape, Padding};
pub use initializers::Initializer;

pub(crate) use contract::{
    common_builders, first, keras_axis, single_input, HasCommon, LayerKind, Layout,
};

use serde::{Deserialize, Serialize};

/// Declares the layer types: for each, its module, its `Layer` variant (named
/// by its Keras class name, which is also its name in saved models) and the
/// conversion into `Layer`. Adding a layer is one file plus one line here.
macro_rules! register_layers {
    ($($class:ident => $module:ident :: $ty:ident),* $(,)?) => {
        $(mod $module; pub use $module::$ty;)*

        /// Any layer's configuration, as stored in a model and in its saved JSON.
        ///
        /// Every layer struct converts into it, so `model.add(Dense::new(10))` and
        /// `model.add(Activation::Softmax)` both work.
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "class_name", content = "config")]
        #[allow(clippy::large_enum_variant)]
        pub enum Layer {
            $($class($ty),)*
        }

        impl Layer {
            /// Keras' class name, e.g. `"Conv2D"`.
            pub fn class_name(&self) -> &'static str {
                match self {
                    $(Layer::$class(_) => stringify!($class),)*
                }
            }

            pub(crate) fn kind(&self) -> &dyn LayerKind {
                match self {
                    $(Layer::$class(l) => l,)*
                }
            }

            pub(crate) fn kind_mut(&mut self) -> &mut dyn LayerKind {
                match self {
                    $(Layer::$class(l) => l,)*
                }
            }
        }

        $(impl From<$ty> for Layer {
            fn from(l: $ty) -> Self {
                Layer::$class(l)
            }
        })*
    };
}

register_layers! {
    InputLayer => input::InputLayer,
    Dense => dense::Dense,
    Conv2D => conv2d::Conv2D,
    MaxPooling2D => pooling::MaxPooling2D,
    Dropout => dropout::Dropout,
    Flatten => flatten::Flatten,
    Activation => activation::ActivationLayer,
    LSTM => lstm::LSTM,
    Concatenate => concatenate::Concatenate,
    Add => add::Add,
    BatchNormalization => batch_normalization::BatchNormalization,
}

impl Layer {
    pub(crate) fn name_stem(&self) -> &'static str {
        self.kind().name_stem()
    }

    /// Output shape per sample for the given per-sample input shapes.
    pub fn output_shape(&self, inputs: &[Vec<usize>]) -> std::result::Result<Vec<usize>, String> {
        self.kind().output_shape(inputs)
    }

    pub(crate) fn weight_specs(&self, inputs: &[Vec<usize>]) -> Vec<WeightSpec> {
        self.kind().weight_specs(inputs)
    }

    /// The name the user gave this layer, if any.
    pub fn user_name(&self) -> Option<&str> {
        self.kind().common().name.as_deref()
    }

    /// The per-sample input shape declared on this layer (`input_shape`/`input_dim`).
    pub fn declared_input_shape(&self) -> Option<Vec<usize>> {
        self.kind().declared_input_shape()
    }

    /// The activation applied at this layer's output, if it has one.
    pub fn activation(&self) -> Option<Activation> {
        self.kind().activation()
    }

    /// Spatial layers get their data format from the layer before them (or
    /// from their input shape for the first one); this fills it in and says
    /// which format the output has. `None` = the output has no spatial layout.
    pub(crate) fn resolve_format(
        &mut self,
        incoming: Option<DataFormat>,
        input: &[usize],
    ) -> std::result::Result<Option<DataFormat>, String> {
        match self.kind_mut().layout() {
            Layout::Spatial(format) => {
                let f = format::resolve(*format, incoming, input)?;
                *format = Some(f);
                Ok(Some(f))
            }
            Layout::Follows(format) => {
                *format = incoming;
                Ok(incoming)
            }
            Layout::Preserves => Ok(incoming),
            Layout::Ends => Ok(None),
        }
    }
}
