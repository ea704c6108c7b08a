//! Growing a model's graph: the input layer, appending layers with their
//! shape checks and names, and creating their weights.

use super::{Model, ModelLayer};
use crate::error::{Error, Result};
use crate::layers::{format_shape, InputLayer, Layer, WeightSpec};
use crate::rng::Rng;
use candle_core::{Device, Var};

impl Model {
    pub(crate) fn start_with_input(&mut self, shape: Vec<usize>) -> Result<()> {
        if shape.is_empty() || shape.contains(&0) {
            return Err(Error::Shape(format!(
                "input shape {} is not a valid sample shape",
                format_shape(&shape)
            )));
        }
        self.nodes.push(ModelLayer {
            name: "input_layer".into(),
            layer: Layer::InputLayer(InputLayer::new(shape.clone())),
            inputs: vec![],
            output_shape: shape,
            format: None,
            weights: vec![],
            trainable_weights: 0,
        });
        self.output = 0;
        self.plan = None;
        Ok(())
    }

    /// Adds a layer after the current output (the Sequential way).
    pub(crate) fn append(&mut self, layer: Layer) -> Result<()> {
        let from = self.output;
        let index = self.push_node(layer, vec![from])?;
        self.output = index;
        Ok(())
    }

    /// Creates a node fed by `inputs`, checking shapes and creating weights.
    /// Returns its index.
    pub(crate) fn push_node(&mut self, layer: Layer, inputs: Vec<usize>) -> Result<usize> {
        let (mut node, input_shapes) = self.prepare_node(layer, inputs)?;
        (node.weights, node.trainable_weights) =
            init_weights(&node, &input_shapes, &mut self.rng, &self.device)?;
        Ok(self.insert_node(node))
    }

    /// Adds a node whose weights are in place; returns its index.
    pub(crate) fn insert_node(&mut self, node: ModelLayer) -> usize {
        self.nodes.push(node);
        self.plan = None;
        self.nodes.len() - 1
    }

    /// A node for `layer` fed by `inputs`, with its shapes and data format
    /// checked and decided but no weights yet, and its input shapes.
    pub(crate) fn prepare_node(
        &self,
        mut layer: Layer,
        inputs: Vec<usize>,
    ) -> Result<(ModelLayer, Vec<Vec<usize>>)> {
        let position = self.nodes.len();
        let name = self.unique_name(&layer)?;
        let class = layer.class_name();
        if inputs.is_empty() || inputs.iter().any(|&j| j >= position) {
            return Err(Error::Shape(format!(
                "layer {position} '{name}' ({class}) must take its input from layers before it,                  got inputs {inputs:?}"
            )));
        }
        let input_shapes: Vec<Vec<usize>> = inputs
            .iter()
            .map(|&j| self.nodes[j].output_shape.clone())
            .collect();
        let describe_inputs = || {
            inputs
                .iter()
                .map(|&j| {
                    let n = &self.nodes[j];
                    format!(
                        "'{}' ({}) with output shape {}",
                        n.name,
                        n.class_name(),
                        format_shape(&n.output_shape)
                    )
                })
                .collect::<Vec<_>>()
                .join(" and ")
        };
        let fail = |reason: String| {
            Error::Shape(format!(
                "layer {position} '{name}' ({class}) does not fit after {}: {reason}",
                describe_inputs()
            ))
        };
        if let Some(declared) = layer.declared_input_shape() {
            if input_shapes.len() == 1 && declared != input_shapes[0] {
                return Err(fail(format!(
                    "it declares input shape {}",
                    format_shape(&declared)
                )));
            }
        }
        let incoming = inputs.first().and_then(|&j| self.nodes[j].format);
        let format = layer
            .resolve_format(incoming, &input_shapes[0])
            .map_err(&fail)?;
        let output_shape = layer.output_shape(&input_shapes).map_err(fail)?;
        let node = ModelLayer {
            name,
            layer,
            inputs,
            output_shape,
            format,
            weights: vec![],
            trainable_weights: 0,
        };
        Ok((node, input_shapes))
    }

    /// What makes the built graph something other than a model of its input,
    /// if anything: its output is the input layer itself (it would return its
    /// inputs unchanged), or some layer does not feed the output.
    pub(crate) fn graph_problem(&self) -> Option<String> {
        if self.output == 0 {
            return Some(
                "its output is the input layer, so it would return its inputs unchanged".into(),
            );
        }
        // Inputs come before the layers they feed (prepare_node checks it):
        // one pass from the output back marks everything the output uses.
        let mut used = vec![false; self.nodes.len()];
        used[self.output] = true;
        for i in (0..self.nodes.len()).rev() {
            if used[i] {
                for &j in &self.nodes[i].inputs {
                    used[j] = true;
                }
            }
        }
        let unused: Vec<String> = self
            .nodes
            .iter()
            .zip(&used)
            .filter(|(_, &u)| !u)
            .map(|(n, _)| format!("'{}'", n.name))
            .collect();
        (!unused.is_empty()).then(|| {
            format!(
                "layer(s) {} do not feed its output layer '{}'",
                unused.join(", "),
                self.nodes[self.output].name
            )
        })
    }

    fn unique_name(&self, layer: &Layer) -> Result<String> {
        let taken = |n: &str| self.nodes.iter().any(|node| node.name == n);
        if let Some(name) = layer.user_name() {
            if taken(name) {
                return Err(Error::InvalidArgument(format!(
                    "model '{}' already has a layer named {name:?}",
                    self.name
                )));
            }
            return Ok(name.to_string());
        }
        let stem = layer.name_stem();
        let mut candidate = stem.to_string();
        let mut k = 0;
        while taken(&candidate) {
            k += 1;
            candidate = format!("{stem}_{k}");
        }
        Ok(candidate)
    }
}

/// Fresh weights for a node, drawn from the model's generator in a fixed
/// order, and how many of them (the first ones) are trainable.
pub(crate) fn init_weights(
    node: &ModelLayer,
    input_shapes: &[Vec<usize>],
    rng: &mut Rng,
    device: &Device,
) -> Result<(Vec<(String, Var)>, usize)> {
    if input_shapes.is_empty() {
        return Ok((Vec::new(), 0));
    }
    let specs = node.layer.weight_specs(input_shapes);
    let trainable = trainable_count(&node.name, &specs)?;
    // Every size first: nothing is allocated for a layer that cannot be built.
    for spec in &specs {
        check_weight_size(&node.name, spec.name, &spec.shape)?;
    }
    let weights = specs
        .into_iter()
        .map(|spec| {
            let values = spec.init.generate(&spec.shape, rng);
            let var = Var::from_vec(values, spec.shape.as_slice(), device)?;
            Ok((spec.name.to_string(), var))
        })
        .collect::<Result<_>>()?;
    Ok((weights, trainable))
}

/// How many of a layer's weights are trainable: they come first, as the
/// optimizer's slots and `ModelLayer::trainable_weights` assume.
pub(crate) fn trainable_count(layer: &str, specs: &[WeightSpec]) -> Result<usize> {
    let trainable = specs.iter().take_while(|s| s.trainable).count();
    if specs[trainable..].iter().any(|s| s.trainable) {
        return Err(Error::InvalidArgument(format!(
            "internal: layer '{layer}' lists a trainable weight after a non-trainable one"
        )));
    }
    Ok(trainable)
}

/// The most values one weight tensor may hold: 2^28 f32, 1 GiB — thousands of
/// times the largest weight of the tutorials' models (401,408 in 002's MLP),
/// and with Adam's two moments still 3 GiB of a 24 GiB machine. A larger layer
/// is a typo (`Dense::new(1 << 40)`) far more often than a plan, and would
/// otherwise abort the process when the allocation fails.
pub(crate) const MAX_WEIGHT_VALUES: usize = 1 << 28;

pub(crate) fn check_weight_size(layer: &str, weight: &str, shape: &[usize]) -> Result<()> {
    let values = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    match values {
        Some(n) if n <= MAX_WEIGHT_VALUES => Ok(()),
        _ => Err(Error::InvalidArgument(format!(
            "layer '{layer}' would need a {weight} of shape {shape:?}, {} values; the largest \
             weight dlkit creates has 2^28 values (1 GiB of f32): check the layer's size",
            values.map_or("more than 2^64".to_string(), |n| n.to_string())
        ))),
    }
}
