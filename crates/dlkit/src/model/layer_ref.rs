//! One built layer of a model: its configuration, place in the graph, output
//! shape and weights.

use crate::error::{Error, Result};
use crate::layers::{DataFormat, Layer};
use crate::model::SampleShape;
use candle_core::Var;

#[derive(Clone, Debug)]
pub struct ModelLayer {
    pub(crate) name: String,
    pub(crate) layer: Layer,
    /// Indices of the layers this one takes its inputs from.
    pub(crate) inputs: Vec<usize>,
    pub(crate) output_shape: Vec<usize>,
    /// Spatial layout of the output, when it is an image.
    pub(crate) format: Option<DataFormat>,
    /// Trainable weights first, then the rest (e.g. moving statistics).
    pub(crate) weights: Vec<(String, Var)>,
    /// How many of `weights` the optimizer trains.
    pub(crate) trainable_weights: usize,
}

impl ModelLayer {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Keras' class name, e.g. `"Conv2D"`.
    pub fn class_name(&self) -> &'static str {
        self.layer.class_name()
    }

    /// The layer's configuration (units, kernel size, activation, ...).
    pub fn config(&self) -> &Layer {
        &self.layer
    }

    pub fn output_shape(&self) -> SampleShape {
        SampleShape(self.output_shape.clone())
    }

    /// The weights with their names (`kernel`, `bias`, ...), as candle `Var`s:
    /// the trainable ones first, then those the optimizer leaves alone.
    pub fn weights(&self) -> &[(String, Var)] {
        &self.weights
    }

    /// The weights the optimizer trains.
    pub fn trainable_weights(&self) -> &[(String, Var)] {
        &self.weights[..self.trainable_weights]
    }

    /// The weights it does not (BatchNormalization's moving mean and variance).
    pub fn non_trainable_weights(&self) -> &[(String, Var)] {
        &self.weights[self.trainable_weights..]
    }

    /// One weight by name: `model.get_layer("conv2d")?.weight("kernel")?`.
    pub fn weight(&self, name: &str) -> Result<&Var> {
        self.weights
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v)
            .ok_or_else(|| {
                let names: Vec<&str> = self.weights.iter().map(|(n, _)| n.as_str()).collect();
                Error::InvalidArgument(format!(
                    "layer '{}' ({}) has no weight {name:?}; its weights are: [{}]",
                    self.name,
                    self.class_name(),
                    names.join(", ")
                ))
            })
    }

    pub fn param_count(&self) -> usize {
        self.weights.iter().map(|(_, v)| v.elem_count()).sum()
    }

    pub fn trainable_param_count(&self) -> usize {
        self.trainable_weights()
            .iter()
            .map(|(_, v)| v.elem_count())
            .sum()
    }
}
