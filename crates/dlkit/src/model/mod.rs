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
mod plan;
pub mod save;
mod sequential;
mod shape;
pub mod summary;

pub use functional::{Apply, Input, SymbolicTensor};
pub use layer_ref::ModelLayer;
pub use save::{load_model, load_model_from_memory, load_model_uncompiled};
pub use sequential::Sequential;
pub use shape::SampleShape;
pub use summary::Summary;

use crate::error::{Error, Result};
use crate::layers::{format_shape, ForwardCtx, Layer};
use crate::rng::Rng;
use crate::train::Compiled;
use candle_core::{Device, Tensor, Var};
use plan::Plan;

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
    /// How the built graph runs; made on first use after the graph changes.
    pub(crate) plan: Option<Plan>,
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
            plan: None,
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
            if let Ok((weights, _)) =
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

    /// Shapes of one sample of each input of the layer named `name` (Keras'
    /// `layer.input.shape`; one shape per input, so two for a `Concatenate`
    /// of two branches). In a functional model a layer's input need not be
    /// the output of the layer listed before it.
    pub fn layer_input_shapes(&self, name: &str) -> Result<Vec<SampleShape>> {
        self.get_layer(name)?;
        let i = self
            .nodes
            .iter()
            .position(|n| n.name == name)
            .expect("found by get_layer");
        Ok(self
            .input_shapes_of(i)
            .into_iter()
            .map(SampleShape)
            .collect())
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

    /// All trainable weights, layer by layer: the candle `Var`s themselves,
    /// so changing them changes the model (Keras' `trainable_variables`).
    pub fn trainable_variables(&self) -> Vec<Var> {
        self.nodes
            .iter()
            .flat_map(|n| n.trainable_weights().iter().map(|(_, v)| v.clone()))
            .collect()
    }

    /// Every weight, trainable or not (BatchNormalization's moving
    /// statistics), layer by layer: Keras' `model.variables`.
    pub fn variables(&self) -> Vec<Var> {
        self.nodes
            .iter()
            .flat_map(|n| n.weights.iter().map(|(_, v)| v.clone()))
            .collect()
    }

    /// Number of weights (scalars) in the model, trainable or not.
    pub fn count_params(&self) -> usize {
        self.nodes.iter().map(|n| n.param_count()).sum()
    }

    /// Number of trainable weights (scalars).
    pub fn count_trainable_params(&self) -> usize {
        self.nodes.iter().map(|n| n.trainable_param_count()).sum()
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

    /// Runs the layers on a batch, following the execution plan. `training`
    /// turns dropout on and records the graph for gradients; `logits` leaves a
    /// final softmax to the loss, which then works on logits.
    pub(crate) fn run(&mut self, x: &Tensor, training: bool, logits: bool) -> Result<Tensor> {
        if !self
            .plan
            .as_ref()
            .is_some_and(|p| p.fits(self.nodes.len(), self.output))
        {
            self.plan = Some(Plan::new(&self.nodes, self.output));
        }
        let Model {
            nodes,
            rng,
            output,
            plan,
            ..
        } = self;
        let plan = plan.as_ref().expect("made above");
        let mut values: Vec<Option<Tensor>> = vec![None; nodes.len()];
        values[0] = Some(x.clone());
        for step in &plan.steps {
            let node = &nodes[step.node];
            let inputs = node
                .inputs
                .iter()
                .map(|&j| {
                    values[j].clone().ok_or_else(|| {
                        Error::Shape(format!(
                            "internal: layer '{}' runs before its input",
                            node.name
                        ))
                    })
                })
                .collect::<Result<Vec<Tensor>>>()?;
            let weights: Vec<Tensor> = node
                .weights
                .iter()
                .enumerate()
                .map(|(k, (_, v))| {
                    if training && k < node.trainable_weights {
                        v.as_tensor().clone()
                    } else {
                        v.as_detached_tensor()
                    }
                })
                .collect();
            let mut ctx = ForwardCtx {
                training,
                rng,
                activation: plan.activation_of(node, step.node, logits),
                variables: &node.weights,
            };
            let result = match step.fused {
                Some(next) => {
                    node.layer
                        .kind()
                        .forward_fused(&nodes[next].layer, &inputs, &weights, &mut ctx)
                }
                None => node.layer.kind().forward(&inputs, &weights, &mut ctx),
            };
            let value = result.map_err(|e| layer_failed(node, &inputs, e))?;
            values[step.produces()] = Some(value);
        }
        values[*output]
            .take()
            .ok_or_else(|| Error::Shape("model has no output".into()))
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

/// A layer's forward pass failed: say which layer, on what inputs, and keep
/// the category (a shape problem is `Error::Shape`, anything else is not).
fn layer_failed(node: &ModelLayer, inputs: &[Tensor], e: candle_core::Error) -> Error {
    let shapes = inputs
        .iter()
        .map(|t| format!("{:?}", t.dims()))
        .collect::<Vec<_>>()
        .join(", ");
    let message = format!(
        "layer '{}' ({}) failed on inputs of shape {shapes}: {e}",
        node.name,
        node.class_name()
    );
    match e {
        candle_core::Error::ShapeMismatchBinaryOp { .. }
        | candle_core::Error::UnexpectedShape { .. }
        | candle_core::Error::ShapeMismatch { .. }
        | candle_core::Error::ShapeMismatchCat { .. }
        | candle_core::Error::UnexpectedNumberOfDims { .. }
        | candle_core::Error::DimOutOfRange { .. }
        | candle_core::Error::BroadcastIncompatibleShapes { .. } => Error::Shape(message),
        _ => Error::Training(message),
    }
}
