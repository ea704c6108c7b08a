//! Saving and loading: weights alone, or the whole model (architecture as JSON
//! in the safetensors header, beside the weights) in one `.safetensors` file.
//!
//! ```no_run
//! # use dlkit::prelude::*;
//! # fn demo(model: &Model) -> dlkit::Result<()> {
//! model.save("mnist_cnn.safetensors")?;
//! let mut again = dlkit::model::load_model("mnist_cnn.safetensors")?;
//! # Ok(()) }
//! ```
//!
//! Files are written to a temporary file beside the target and renamed into
//! place, so an interrupted save never leaves a truncated model behind.

use super::Model;
use crate::error::{Error, Result};
use crate::layers::Layer;
use crate::optim::Optimizer;
use crate::rng::Rng;
use crate::train::{Loss, Metric};
use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::Path;

/// Key of the architecture in the safetensors metadata.
const MODEL_KEY: &str = "dlkit.model";
/// Format 2 counts layers' `axis` arguments as Keras does (batch axis 0);
/// format 1 counted them per sample (0 the first axis of a sample), and is
/// still read, its axes converted.
const FORMAT_VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct SavedModel {
    format_version: u32,
    name: String,
    layers: Vec<SavedLayer>,
    output: usize,
    /// A [`SavedCompile`], read as JSON first: custom parts are written by
    /// name only, and are told apart before anything is rebuilt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    compile: Option<serde_json::Value>,
}

#[derive(Serialize, Deserialize)]
struct SavedLayer {
    name: String,
    layer: Layer,
    inputs: Vec<usize>,
}

#[derive(Serialize, Deserialize)]
struct SavedCompile {
    loss: Loss,
    optimizer: Optimizer,
    metrics: Vec<Metric>,
}

impl Model {
    /// Saves the architecture, the compile settings and the weights to one
    /// safetensors file (the optimizer's running state is not saved). A custom
    /// loss, metric or optimizer is saved by name: see [`load_model`].
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.require_built()?;
        // A file load_model would refuse is not worth writing.
        if let Some(problem) = self.graph_problem() {
            return Err(Error::InvalidArgument(format!(
                "model '{}' cannot be saved: {problem}",
                self.name
            )));
        }
        let saved = SavedModel {
            format_version: FORMAT_VERSION,
            name: self.name.clone(),
            layers: self
                .nodes
                .iter()
                .map(|n| SavedLayer {
                    name: n.name.clone(),
                    layer: n.layer.clone(),
                    inputs: n.inputs.clone(),
                })
                .collect(),
            output: self.output,
            compile: self
                .compiled
                .as_ref()
                .map(|c| {
                    serde_json::to_value(SavedCompile {
                        loss: c.loss.clone(),
                        optimizer: c.optimizer.clone(),
                        metrics: c.metrics.clone(),
                    })
                })
                .transpose()
                .map_err(|e| {
                    Error::ModelFile(format!("cannot describe the compile settings as JSON: {e}"))
                })?,
        };
        let json = serde_json::to_string(&saved)
            .map_err(|e| Error::ModelFile(format!("cannot describe the model as JSON: {e}")))?;
        let metadata = HashMap::from([(MODEL_KEY.to_string(), json)]);
        write_safetensors(path.as_ref(), &self.named_weights(), Some(metadata))
    }

    /// Saves only the weights, named `layer/weight` (e.g. `conv2d/kernel`).
    pub fn save_weights(&self, path: impl AsRef<Path>) -> Result<()> {
        self.require_built()?;
        write_safetensors(path.as_ref(), &self.named_weights(), None)
    }

    /// Loads weights saved by [`Model::save_weights`] or [`Model::save`] into
    /// this model; every weight must be present with the same shape.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.require_built()?;
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let tensors = candle_core::safetensors::load_buffer(&bytes, &self.device).map_err(|e| {
            Error::ModelFile(format!(
                "{}: not a readable safetensors file: {e}",
                path.display()
            ))
        })?;
        self.assign_weights(path, tensors)
    }

    /// The weights with their file names (`layer/weight`), in the model's weight order.
    pub(crate) fn named_weights(&self) -> Vec<(String, Tensor)> {
        self.nodes
            .iter()
            .flat_map(|n| {
                n.weights
                    .iter()
                    .map(move |(w, v)| (format!("{}/{w}", n.name), v.as_detached_tensor()))
            })
            .collect()
    }

    /// The file names of the trainable weights, in the optimizer's order
    /// (that of [`Model::trainable_variables`]).
    pub(crate) fn trainable_weight_names(&self) -> Vec<String> {
        self.nodes
            .iter()
            .flat_map(|n| {
                n.trainable_weights()
                    .iter()
                    .map(move |(w, _)| format!("{}/{w}", n.name))
            })
            .collect()
    }

    /// Checks every weight first and changes nothing unless all fit.
    pub(crate) fn assign_weights(
        &mut self,
        path: &Path,
        mut tensors: HashMap<String, Tensor>,
    ) -> Result<()> {
        let mut updates = Vec::new();
        let mut problems = Vec::new();
        for (i, node) in self.nodes.iter().enumerate() {
            for (j, (w, var)) in node.weights.iter().enumerate() {
                let key = format!("{}/{w}", node.name);
                match tensors.remove(&key) {
                    None => problems.push(format!("{key} is missing")),
                    Some(t) if t.dims() != var.dims() => problems.push(format!(
                        "{key} has shape {:?}, the model needs {:?}",
                        t.dims(),
                        var.dims()
                    )),
                    Some(t) => updates.push((i, j, t)),
                }
            }
        }
        if !tensors.is_empty() {
            problems.push(format!(
                "the file has weights the model does not: {}",
                sorted_names(tensors)
            ));
        }
        if !problems.is_empty() {
            return Err(Error::ModelFile(format!(
                "{} does not fit model '{}': {}",
                path.display(),
                self.name,
                problems.join("; ")
            )));
        }
        for (i, j, t) in updates {
            let t = t.to_dtype(self.nodes[i].weights[j].1.dtype())?;
            self.nodes[i].weights[j].1.set(&t)?;
        }
        Ok(())
    }
}

/// Loads a model saved by [`Model::save`]: architecture, compile settings and
/// weights, ready to `predict` (or to `fit` further, with a fresh optimizer).
///
/// A model compiled with a custom loss, metric or optimizer
/// ([`Loss::custom`], ...) is refused with an error naming them: their code is
/// not in the file. [`load_model_uncompiled`] loads it all but the compile
/// settings; compile it again with the same custom parts.
pub fn load_model(path: impl AsRef<Path>) -> Result<Model> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    load_model_named(&bytes, &path.display().to_string(), Compile::AsSaved)
}

/// Loads the architecture and the weights of a model saved by
/// [`Model::save`], uncompiled (Keras' `load_model(path, compile=False)`):
/// the way back for a model compiled with a custom loss, metric or optimizer.
pub fn load_model_uncompiled(path: impl AsRef<Path>) -> Result<Model> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    load_model_named(&bytes, &path.display().to_string(), Compile::No)
}

/// Whether loading compiles the model as it was saved.
#[derive(Clone, Copy, PartialEq)]
enum Compile {
    AsSaved,
    No,
}

/// Loads a model from the bytes of a file saved by [`Model::save`], e.g. one
/// received over the network or embedded with `include_bytes!`. Errors are
/// those of [`load_model`], naming the data `<memory>` instead of a path.
///
/// ```
/// let err = dlkit::model::load_model_from_memory(b"not a model").unwrap_err();
/// assert!(matches!(err, dlkit::Error::ModelFile(_)));
/// ```
pub fn load_model_from_memory(bytes: &[u8]) -> Result<Model> {
    load_model_named(bytes, "<memory>", Compile::AsSaved)
}

/// [`load_model`] on bytes, with `origin` naming them in errors.
fn load_model_named(bytes: &[u8], origin: &str, compile: Compile) -> Result<Model> {
    let bad = |what: String| Error::ModelFile(format!("{origin}: {what}"));
    let (_, header) = safetensors::SafeTensors::read_metadata(bytes)
        .map_err(|e| bad(format!("not a safetensors file ({e})")))?;
    let json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(MODEL_KEY))
        .ok_or_else(|| bad("holds weights only, no model description; build the model in code and use load_weights".into()))?;
    let mut saved: SavedModel = serde_json::from_str(json)
        .map_err(|e| bad(format!("model description is not valid: {e}")))?;
    if compile == Compile::No {
        saved.compile = None;
    }
    if let Some(settings) = &saved.compile {
        let custom = custom_parts(settings);
        if !custom.is_empty() {
            return Err(bad(format!(
                "the model was compiled with {}, whose code a file cannot hold; load it with \
                 dlkit::model::load_model_uncompiled and compile it again with them",
                custom.join(", ")
            )));
        }
    }
    match saved.format_version {
        1 => saved
            .layers
            .iter_mut()
            .for_each(|s| count_axis_as_keras(&mut s.layer)),
        FORMAT_VERSION => {}
        other => {
            return Err(bad(format!(
                "written in model format {other}, this dlkit reads formats 1 and {FORMAT_VERSION}"
            )))
        }
    }
    // The weights are the file's own tensors: nothing is drawn or allocated
    // beyond what the file holds, whatever sizes its description claims.
    let tensors = candle_core::safetensors::load_buffer(bytes, &Device::Cpu)
        .map_err(|e| bad(format!("weights are not readable: {e}")))?;
    rebuild(saved, tensors, &bad)
}

/// Converts a format-1 layer's `axis` (per sample: 0 the first axis of a
/// sample) to Keras' count (0 the batch axis). Counts from the end mean the
/// same in both.
fn count_axis_as_keras(layer: &mut Layer) {
    let axis = match layer {
        Layer::Concatenate(c) => Some(&mut c.axis),
        Layer::BatchNormalization(b) => b.axis.as_mut(),
        _ => None,
    };
    if let Some(axis) = axis.filter(|a| **a >= 0) {
        *axis += 1;
    }
}

/// The model a file describes, with the file's tensors as its weights. The
/// description is untrusted: every index, name and weight shape is checked
/// against the layers and the tensors before a layer is added.
fn rebuild(
    saved: SavedModel,
    mut tensors: HashMap<String, Tensor>,
    bad: &dyn Fn(String) -> Error,
) -> Result<Model> {
    let mut model = Model::empty(&saved.name, Rng::from_entropy());
    let mut names = std::collections::HashSet::new();
    for (i, s) in saved.layers.into_iter().enumerate() {
        if !names.insert(s.name.clone()) {
            return Err(bad(format!("two layers are named {:?}", s.name)));
        }
        match (&s.layer, i) {
            (Layer::InputLayer(input), 0) => model
                .start_with_input(input.shape.clone())
                .map_err(|e| bad(format!("layer 0: {e}")))?,
            (Layer::InputLayer(_), _) | (_, 0) => {
                return Err(bad(
                    "model description must start with (only) one input layer".into(),
                ))
            }
            _ => {
                let (mut node, input_shapes) = model
                    .prepare_node(s.layer, s.inputs)
                    .map_err(|e| bad(format!("layer {i}: {e}")))?;
                node.name = s.name;
                let specs = node.layer.weight_specs(&input_shapes);
                for spec in &specs {
                    let key = format!("{}/{}", node.name, spec.name);
                    let t = tensors
                        .remove(&key)
                        .ok_or_else(|| bad(format!("weight {key} is missing")))?;
                    if t.dims() != spec.shape.as_slice() {
                        return Err(bad(format!(
                            "weight {key} has shape {:?}, its layer needs {:?}",
                            t.dims(),
                            spec.shape
                        )));
                    }
                    let var = candle_core::Var::from_tensor(&t.to_dtype(DType::F32)?)?;
                    node.weights.push((spec.name.to_string(), var));
                }
                node.trainable_weights = super::graph::trainable_count(&node.name, &specs)?;
                model.insert_node(node);
            }
        }
    }
    if !tensors.is_empty() {
        return Err(bad(format!(
            "the file has weights its model description does not: {}",
            sorted_names(tensors)
        )));
    }
    if saved.output >= model.nodes.len() {
        return Err(bad("output layer index is out of range".into()));
    }
    model.output = saved.output;
    if let Some(problem) = model.graph_problem() {
        return Err(bad(format!(
            "the model description is not a usable model: {problem}"
        )));
    }
    if let Some(settings) = saved.compile {
        let c: SavedCompile = serde_json::from_value(settings)
            .map_err(|e| bad(format!("compile settings are not valid: {e}")))?;
        model.compile(c.loss, c.optimizer, &c.metrics)?;
    }
    Ok(model)
}

/// The custom parts of saved compile settings, as `custom loss "name"`, for
/// the error that says they cannot be loaded.
fn custom_parts(settings: &serde_json::Value) -> Vec<String> {
    let by_name = |v: &serde_json::Value| {
        v.get("custom")
            .map(|c| c.get("name").unwrap_or(c).to_string())
    };
    let mut parts = Vec::new();
    if let Some(name) = by_name(&settings["loss"]) {
        parts.push(format!("custom loss {name}"));
    }
    if settings["optimizer"]["class_name"] == "Custom" {
        parts.push(format!(
            "custom optimizer {}",
            settings["optimizer"]["config"]["name"]
        ));
    }
    if let Some(metrics) = settings["metrics"].as_array() {
        parts.extend(
            metrics
                .iter()
                .filter_map(by_name)
                .map(|n| format!("custom metric {n}")),
        );
    }
    parts
}

/// The names of tensors a file holds beyond its model, sorted, for errors.
fn sorted_names(tensors: HashMap<String, Tensor>) -> String {
    let mut names: Vec<String> = tensors.into_keys().collect();
    names.sort();
    names.join(", ")
}

/// Serialises and writes a safetensors file atomically.
pub(crate) fn write_safetensors(
    path: &Path,
    weights: &[(String, Tensor)],
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let bytes = safetensors::serialize(weights.iter().map(|(k, t)| (k.as_str(), t)), metadata)
        .map_err(|e| Error::ModelFile(format!("cannot serialise weights: {e}")))?;
    crate::fs::write_atomic(path, &bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::{Dense, Flatten};
    use crate::model::Sequential;

    #[test]
    fn a_model_loads_from_memory_as_from_its_file_and_errors_name_the_origin() {
        let mut model = Sequential::with_seed(2);
        model.add(Flatten::new().input_shape((2, 3))).unwrap();
        model.add(Dense::new(4)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        model.save(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();

        let x = Tensor::ones((2, 2, 3), DType::F32, &Device::Cpu).unwrap();
        let from_file = load_model(&path).unwrap().predict(&x).unwrap();
        let from_memory = load_model_from_memory(&bytes).unwrap().predict(&x).unwrap();
        let (a, b) = (
            from_file.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            from_memory.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        assert_eq!(a, b);

        let cut = &bytes[..bytes.len() - 3];
        let msg = load_model_from_memory(cut).unwrap_err().to_string();
        assert!(msg.starts_with("<memory>: not a safetensors file"), "{msg}");
        std::fs::write(&path, cut).unwrap();
        let msg = load_model(&path).unwrap_err().to_string();
        assert!(
            msg.contains(&format!("{}: not a safetensors", path.display())),
            "{msg}"
        );
    }
}
