//! The functional API: layers applied to symbolic tensors, for models with
//! branches.
//!
//! ```
//! use dlkit::layers::{Activation::{Relu, Softmax}, Concatenate, Conv2D, Dense, Flatten, Padding};
//! use dlkit::model::{Apply, Input, Model};
//! # fn main() -> dlkit::Result<()> {
//! let inputs = Input::new((1, 28, 28));
//! let stem = Conv2D::new(16, 3).activation(Relu).apply(&inputs)?;
//! let a = Conv2D::new(8, 3).padding(Padding::Same).apply(&stem)?;
//! let b = Conv2D::new(8, 5).padding(Padding::Same).apply(&stem)?;
//! let joined = Concatenate::new().axis(1).apply_many(&[&a, &b])?; // channels first: axis 1, as in Keras
//! let flat = Flatten::new().apply(&joined)?;
//! let outputs = Dense::new(10).activation(Softmax).apply(&flat)?;
//! let model = Model::new(&inputs, &outputs)?.with_seed(7);
//! assert_eq!(model.output_shape()?.to_vec(), vec![10]);
//! # Ok(()) }
//! ```

use super::Model;
use crate::error::{Error, Result};
use crate::layers::{format_shape, DataFormat, InputLayer, Layer};
use crate::rng::Rng;
use std::collections::HashMap;
use std::sync::Arc;

/// A placeholder for the data flowing through a model under construction: it
/// knows its shape and the layer that produces it.
#[derive(Clone)]
pub struct SymbolicTensor(Arc<SymbolicNode>);

struct SymbolicNode {
    layer: Layer,
    inputs: Vec<SymbolicTensor>,
    shape: Vec<usize>,
    format: Option<DataFormat>,
}

impl SymbolicTensor {
    /// Shape of one sample of this tensor.
    pub fn shape(&self) -> &[usize] {
        &self.0.shape
    }

    fn key(&self) -> *const SymbolicNode {
        Arc::as_ptr(&self.0)
    }
}

impl std::fmt::Debug for SymbolicTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SymbolicTensor {} from {}",
            format_shape(&self.0.shape),
            self.0.layer.class_name()
        )
    }
}

/// The model's input: `Input::new((1, 28, 28))`, Keras' `Input(shape=...)`.
pub struct Input;

impl Input {
    #[allow(clippy::new_ret_no_self)]
    pub fn new(shape: impl crate::layers::IntoShape) -> SymbolicTensor {
        let shape = shape.into_shape();
        SymbolicTensor(Arc::new(SymbolicNode {
            layer: Layer::InputLayer(InputLayer::new(shape.clone())),
            inputs: vec![],
            shape,
            format: None,
        }))
    }
}

/// Applying a layer to symbolic tensors: `Dense::new(10).apply(&x)?`.
/// Shapes are checked here, so a layer that does not fit fails at this line.
pub trait Apply: Into<Layer> {
    fn apply(self, input: &SymbolicTensor) -> Result<SymbolicTensor> {
        self.apply_many(&[input])
    }

    /// For layers with several inputs (`Concatenate`, `Add`).
    fn apply_many(self, inputs: &[&SymbolicTensor]) -> Result<SymbolicTensor> {
        let mut layer: Layer = self.into();
        let class = layer.class_name();
        let shapes: Vec<Vec<usize>> = inputs.iter().map(|t| t.0.shape.clone()).collect();
        let fail = |reason: String| {
            let got = shapes
                .iter()
                .map(|s| format_shape(s))
                .collect::<Vec<_>>()
                .join(", ");
            Error::Shape(format!("{class} cannot be applied to {got}: {reason}"))
        };
        let first = shapes
            .first()
            .ok_or_else(|| fail("no input given".into()))?;
        if let Some(declared) = layer.declared_input_shape() {
            if &declared != first {
                return Err(fail(format!(
                    "it declares input shape {}",
                    format_shape(&declared)
                )));
            }
        }
        let format = layer
            .resolve_format(inputs[0].0.format, first)
            .map_err(fail)?;
        let shape = layer.output_shape(&shapes).map_err(fail)?;
        Ok(SymbolicTensor(Arc::new(SymbolicNode {
            layer,
            inputs: inputs.iter().map(|t| (*t).clone()).collect(),
            shape,
            format,
        })))
    }
}

impl<T: Into<Layer>> Apply for T {}

impl Model {
    /// A model from its input to its output, Keras' `Model(inputs, outputs)`.
    /// Weights are drawn from a random seed; use `.with_seed(n)` to fix them.
    pub fn new(inputs: &SymbolicTensor, outputs: &SymbolicTensor) -> Result<Model> {
        if !matches!(inputs.0.layer, Layer::InputLayer(_)) {
            return Err(Error::InvalidArgument(
                "Model::new: `inputs` must come from Input::new(...)".into(),
            ));
        }
        let order = topological_order(outputs);
        let mut model = Model::empty("functional", Rng::from_entropy());
        let mut index: HashMap<*const SymbolicNode, usize> = HashMap::new();
        for t in order {
            if let Layer::InputLayer(InputLayer { shape, .. }) = &t.0.layer {
                if t.key() != inputs.key() {
                    return Err(Error::InvalidArgument(format!(
                        "Model::new: the output depends on an Input of shape {} that is not the \
                         model's input; dlkit models have one input",
                        format_shape(shape)
                    )));
                }
                model.start_with_input(shape.clone())?;
                index.insert(t.key(), 0);
                continue;
            }
            let feeds: Vec<usize> = t.0.inputs.iter().map(|i| index[&i.key()]).collect();
            let at = model.push_node(t.0.layer.clone(), feeds)?;
            index.insert(t.key(), at);
        }
        if !index.contains_key(&inputs.key()) {
            return Err(Error::InvalidArgument(
                "Model::new: the output does not depend on the given input".into(),
            ));
        }
        model.output = index[&outputs.key()];
        Ok(model)
    }
}

/// Every tensor the output depends on, each after all of its inputs.
fn topological_order(output: &SymbolicTensor) -> Vec<SymbolicTensor> {
    let mut order = Vec::new();
    let mut seen = std::collections::HashSet::new();
    // Iterative depth-first search: deep models must not overflow the stack.
    let mut stack: Vec<(SymbolicTensor, bool)> = vec![(output.clone(), false)];
    while let Some((t, expanded)) = stack.pop() {
        if expanded {
            order.push(t);
            continue;
        }
        if !seen.insert(t.key()) {
            continue;
        }
        stack.push((t.clone(), true));
        for input in t.0.inputs.iter().rev() {
            if !seen.contains(&input.key()) {
                stack.push((input.clone(), false));
            }
        }
    }
    order
}
