//! Models: a graph of layers with their weights.
//!
//! [`Sequential`] stacks layers one after another (`model.add(...)`), and
//! [`Model::new`] builds a graph from symbolic tensors (the functional API,
//! for branches). Both are a [`Model`]: training ([`Model::compile`],
//! [`Model::fit`], ...) lives in [`crate::train`], summaries in
//! [`summary`], saving in [`save`].

mod functional;
mod graph;
mod layer_ref;
pub mod save;
mod sequential;
mod shape;
pub mod summary;

pub use functional::{Apply, Input, SymbolicTensor};
pub use layer_ref::ModelLayer;
pub use save::load_model;
pub use sequential::Sequential;
pub use shape::SampleShape;
pub use summary::Summary;

use crate::error::{Error, Result};
use crate::layers::{format_shape, ForwardCtx, Layer};
use crate::rng::Rng;
use crate::train::Compiled;
use candle_core::{Device, Tensor, Var};

/// A model: layers connected from one input to one output, with their weights.
pub struct Model {
    pub(crate) name: String,
    /// Layers in an order where every layer comes after its inputs; the first
    /// is the input layer once the model is built.
    pub(crate) nodes: Vec<ModelLayer>,
    pub(crate) output: usize,
    /// Layers added before the input shape was known (built on first use).
    pub(crate) pending: Vec<Layer>,
    pub(crate) rng: Rng,
    pub(crate) device: Device,
    pub(crate) compiled: Option<Compiled>,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Model {:?} (", self.name)?;
        for (i, node) in self.nodes.iter().enumerate() {
            let sep = if i == 0 { "" } else { " → " };
            write!(f, "{sep}{}", node.class_name())?;
        }
        for layer in &self.pending {
            write!(f, " → {}", layer.class_name())?;
        }
        write!(f, ")")
    }
}

impl Model {
    pub(crate) fn empty(name: &str, rng: Rng) -> Self {
        Model {
            name: name.to_string(),
            nodes: Vec::new(),
            output: 0,
            pending: Vec::new(),
            rng,
            device: Device::Cpu,
            compiled: None,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renames the model (shown by `summary()` and stored when saving).
    pub fn set_name(&mut self, name: impl Into<String>) {
        self.name = name.into();
    }

    /// The device the weights live on (the CPU unless moved with [`Model::to_device`]).
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Moves the weights to another device (e.g. `Device::new_cuda(0)?` with
    /// the `cuda` feature); data are moved batch by batch during training.
    pub fn to_device(&mut self, device: &Device) -> Result<()> {
        for node in &mut self.nodes {
            for (_, var) in node.weights.iter_mut() {
                *var = Var::from_tensor(&var.as_tensor().to_device(device)?)?;
            }
        }
        self.device = device.clone();
        // Optimizer state belongs to the old weights.
        if let Some(compiled) = &mut self.compiled {
            compiled.reset_optimizer();
        }
        Ok(())
    }

    /// Re-seeds the model's random generator and draws all weights again from
    /// it: the same seed gives the same weights, batches and dropout masks.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.reseed(seed);
        self
    }

    /// Like [`Model::with_seed`], in place.
    pub fn reseed(&mut self, seed: u64) {
        self.rng = Rng::new(seed);
        let device = self.device.clone();
        for i in 0..self.nodes.len() {
            let input_shapes = self.input_shapes_of(i);
            // Infallible for a model that built once: the same shapes again.
            if let Ok(weights) =
                graph::init_weights(&self.nodes[i], &input_shapes, &mut self.rng, &device)
            {
                self.nodes[i].weights = weights;
            }
        }
        if let Some(compiled) = &mut self.compiled {
            compiled.reset_optimizer();
        }
    }

    /// The layers, in order, without the input layer (Keras' `model.layers`).
    pub fn layers(&self) -> &[ModelLayer] {
        if self.nodes.is_empty() {
            &[]
        } else {
            &self.nodes[1..]
        }
    }

    /// A layer by name, e.g. `model.get_layer("conv2d")?.weight("kernel")?`.
    pub fn get_layer(&self, name: &str) -> Result<&ModelLayer> {
        self.nodes.iter().find(|n| n.name == name).ok_or_else(|| {
            let names: Vec<&str> = self.layers().iter().map(|n| n.name.as_str()).collect();
            Error::InvalidArgument(format!(
                "model '{}' has no layer named {name:?}; its layers are: {}",
                self.name,
                names.join(", ")
            ))
        })
    }

    /// Shape of one input sample, e.g. `(None, 1, 28, 28)` when printed.
    pub fn input_shape(&self) -> Result<SampleShape> {
        self.require_built()?;
        Ok(SampleShape(self.nodes[0].output_shape.clone()))
    }

    /// Shape of one output sample, e.g. `(None, 10)` when printed.
    pub fn output_shape(&self) -> Result<SampleShape> {
        self.require_built()?;
        Ok(SampleShape(self.nodes[self.output].output_shape.clone()))
    }

    /// All trainable weights, layer by layer (the candle `Var`s themselves:
    /// changing them changes the model). `fit` replaces them with copies under
    /// new ids when it starts, so take them again after training.
    pub fn trainable_variables(&self) -> Vec<Var> {
        self.nodes
            .iter()
            .flat_map(|n| n.weights.iter().map(|(_, v)| v.clone()))
            .collect()
    }

    /// Number of weights (scalars) in the model.
    pub fn count_params(&self) -> usize {
        self.nodes.iter().map(|n| n.param_count()).sum()
    }

    pub fn is_built(&self) -> bool {
        !self.nodes.is_empty() && self.pending.is_empty()
    }

    pub(crate) fn require_built(&self) -> Result<()> {
        if self.is_built() {
            return Ok(());
        }
        Err(Error::Shape(format!(
            "model '{}' is not built yet: its input shape is unknown. Give the first layer an \
             input shape (e.g. Dense::new(128).input_dim(784) or Flatten::new().input_shape((28, 28))), \
             or call fit/predict, which build it from the data",
            self.name
        )))
    }

    /// Builds a model whose layers were added without an input shape, from
    /// the shape of the data it is about to see.
    pub(crate) fn build_for(&mut self, sample_shape: &[usize]) -> Result<()> {
        if self.nodes.is_empty() {
            if self.pending.is_empty() {
                return Err(Error::Shape(format!("model '{}' has no layers", self.name)));
            }
            let pending = std::mem::take(&mut self.pending);
            self.start_with_input(sample_shape.to_vec())?;
            for layer in pending {
                self.append(layer)?;
            }
        }
        Ok(())
    }

    /// Checks that data of shape `dims` (batch first) fits the model's input.
    pub(crate) fn check_input(&mut self, what: &str, dims: &[usize]) -> Result<()> {
        if dims.is_empty() {
            return Err(Error::Shape(format!(
                "{what} is a scalar; it needs a batch dimension"
            )));
        }
        self.build_for(&dims[1..])?;
        let expected = &self.nodes[0].output_shape;
        if &dims[1..] != expected.as_slice() {
            let hint = shape::reshape_hint(&dims[1..], expected);
            return Err(Error::Shape(format!(
                "{what} has shape {:?} but model '{}' expects samples of shape {}{hint}",
                dims,
                self.name,
                format_shape(expected)
            )));
        }
        Ok(())
    }

    /// The model's output for a batch `x`, as a candle tensor. With `training`
    /// dropout is active and the result carries candle's autograd graph, so
    /// you can build your own loss on it and call `.backward()`.
    pub fn forward(&mut self, x: &Tensor, training: bool) -> Result<Tensor> {
        self.check_input("x", x.dims())?;
        self.run(x, training, false)
    }

    /// Runs the layers on a batch. `training` turns dropout on and records the
    /// graph for gradients; `skip_softmax` leaves a final softmax out so the
    /// loss can work on logits.
    pub(crate) fn run(&mut self, x: &Tensor, training: bool, skip_softmax: bool) -> Result<Tensor> {
        let fused_pools = self.fusable_pools();
        let Model {
            nodes, rng, output, ..
        } = self;
        let mut values: Vec<Option<Tensor>> = vec![None; nodes.len()];
        values[0] = Some(x.clone());
        for (i, node) in nodes.iter().enumerate().skip(1) {
            if values[i].is_some() {
                continue; // computed together with the layer before it
            }
            let inputs: Vec<Tensor> = node
                .inputs
                .iter()
                .map(|&j| values[j].clone().expect("inputs come before their users"))
                .collect();
            let weights: Vec<Tensor> = node
                .weights
                .iter()
                .map(|(_, v)| {
                    if training {
                        v.as_tensor().clone()
                    } else {
                        v.as_detached_tensor()
                    }
                })
                .collect();
            let mut ctx = ForwardCtx {
                training,
                rng,
                skip_softmax: skip_softmax && i == *output,
            };
            let fail = |e: candle_core::Error| {
                Error::Shape(format!(
                    "layer '{}' ({}) failed on inputs of shape {}: {e}",
                    node.name,
                    node.class_name(),
                    inputs
                        .iter()
                        .map(|t| format!("{:?}", t.dims()))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            };
            match (
                &node.layer,
                fused_pools.get(&i).map(|&j| (j, &nodes[j].layer)),
            ) {
                (Layer::Conv2D(conv), Some((j, Layer::MaxPooling2D(pool)))) => {
                    values[j] = Some(conv.forward_pooled(&inputs, &weights, pool).map_err(fail)?);
                }
                _ => {
                    values[i] = Some(
                        node.layer
                            .forward(&inputs, &weights, &mut ctx)
                            .map_err(fail)?,
                    )
                }
            }
        }
        values[*output]
            .take()
            .ok_or_else(|| Error::Shape("model has no output".into()))
    }

    /// Conv2D layers whose only reader is a MaxPooling2D right after them, mapped
    /// to that pooling layer: the two run as one fused op, so the full-size
    /// convolution output and its gradient never exist.
    fn fusable_pools(&self) -> std::collections::HashMap<usize, usize> {
        let mut readers = vec![0usize; self.nodes.len()];
        for node in &self.nodes {
            for &j in &node.inputs {
                readers[j] += 1;
            }
        }
        (1..self.nodes.len().saturating_sub(1))
            .filter(|&i| {
                let next = &self.nodes[i + 1];
                matches!(&self.nodes[i].layer, Layer::Conv2D(c) if c.fuses_with_pooling())
                    && matches!(next.layer, Layer::MaxPooling2D(_))
                    && next.inputs == [i]
                    && readers[i] == 1
                    && i != self.output
            })
            .map(|i| (i, i + 1))
            .collect()
    }

    /// The output layer's activation decides whether the loss can take logits.
    pub(crate) fn output_activation(&self) -> Option<crate::layers::Activation> {
        self.nodes
            .get(self.output)
            .and_then(|n| n.layer.activation())
    }

    pub(crate) fn input_shapes_of(&self, i: usize) -> Vec<Vec<usize>> {
        self.nodes[i]
            .inputs
            .iter()
            .map(|&j| self.nodes[j].output_shape.clone())
            .collect()
    }
}
