//! `Sequential`: a model built by stacking layers, Keras' `Sequential()`.
//!
//! ```
//! use dlkit::layers::{Activation::{Relu, Softmax}, Dense};
//! use dlkit::model::Sequential;
//! let mut model = Sequential::with_seed(7);
//! model.add(Dense::new(784).input_dim(784).activation(Relu)).unwrap();
//! model.add(Dense::new(10).activation(Softmax)).unwrap();
//! assert_eq!(model.count_params(), 623_290);
//! ```

use super::Model;
use crate::error::Result;
use crate::layers::Layer;
use crate::rng::Rng;

/// A [`Model`] that grows with [`Sequential::add`]; everything else (compile,
/// fit, summary, ...) is the `Model`'s, reached through `Deref`.
pub struct Sequential(Model);

impl Sequential {
    /// An empty model with a random seed.
    pub fn new() -> Self {
        Sequential(Model::empty("sequential", Rng::from_entropy()))
    }

    /// An empty model whose weights, batches and dropout masks all follow from `seed`.
    pub fn with_seed(seed: u64) -> Self {
        Sequential(Model::empty("sequential", Rng::new(seed)))
    }

    /// Adds a layer on top. Its shape is checked against the layer below right
    /// away (once the first layer has declared an input shape), so a layer
    /// that does not fit is an error here, naming both layers and shapes.
    pub fn add(&mut self, layer: impl Into<Layer>) -> Result<&mut Self> {
        let layer = layer.into();
        let model = &mut self.0;
        if model.nodes.is_empty() {
            match layer.declared_input_shape() {
                Some(shape) if model.pending.is_empty() => {
                    model.start_with_input(shape)?;
                    if !matches!(layer, Layer::InputLayer(_)) {
                        if let Err(e) = model.append(layer) {
                            // A failed add leaves the model as it was: empty.
                            model.nodes.clear();
                            return Err(e);
                        }
                    }
                }
                _ => model.pending.push(layer),
            }
        } else {
            model.append(layer)?;
        }
        Ok(self)
    }

    /// The model itself, e.g. to store it beside functional models.
    pub fn into_model(self) -> Model {
        self.0
    }
}

impl Default for Sequential {
    fn default() -> Self {
        Self::new()
    }
}

impl std::ops::Deref for Sequential {
    type Target = Model;
    fn deref(&self) -> &Model {
        &self.0
    }
}

impl std::ops::DerefMut for Sequential {
    fn deref_mut(&mut self) -> &mut Model {
        &mut self.0
    }
}

impl std::fmt::Debug for Sequential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Sequential> for Model {
    fn from(s: Sequential) -> Model {
        s.0
    }
}
