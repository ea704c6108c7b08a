//! Checks of what a user hands to `fit`, `evaluate` and `predict`, made before
//! any work starts: an empty set, NaN or infinite values, labels that are not
//! classes of the model. Each error names the tensor and the sample at fault
//! (its index in the tensor the user passed, not in a shuffled batch).

use crate::error::{Error, Result};
use crate::preprocessing::{label_indices, NotAClass};
use candle_core::{DType, Tensor};

/// `what` must hold at least one sample.
pub(crate) fn non_empty(what: &str, x: &Tensor) -> Result<usize> {
    let n = x.dims().first().copied().unwrap_or(0);
    if n == 0 {
        return Err(Error::InvalidArgument(format!(
            "{what} has no samples (shape {:?}): there is nothing to compute a loss or an \
             accuracy over",
            x.dims()
        )));
    }
    Ok(n)
}

/// Every value of a float tensor is finite. ReLU maps NaN to 0, so a NaN input
/// would otherwise train and predict without a word.
pub(crate) fn finite(what: &str, x: &Tensor) -> Result<()> {
    if !x.dtype().is_float() {
        return Ok(());
    }
    let n = x.dims().first().copied().unwrap_or(0);
    let per_sample = x.elem_count() / n.max(1);
    // In chunks of samples: one f32 copy of a chunk at a time, not of the whole set.
    const CHUNK: usize = 4096;
    let mut start = 0;
    while start < n {
        let len = CHUNK.min(n - start);
        let values = x
            .narrow(0, start, len)?
            .flatten_all()?
            .to_dtype(DType::F32)?
            .to_vec1::<f32>()?;
        if let Some(i) = values.iter().position(|v| !v.is_finite()) {
            let sample = start + i / per_sample.max(1);
            return Err(Error::InvalidArgument(format!(
                "{what}[{sample}] holds {} (value {} of the sample's {per_sample}); NaN or \
                 infinite inputs make every loss and prediction meaningless: check how the \
                 data were prepared",
                values[i],
                i % per_sample.max(1)
            )));
        }
        start += len;
    }
    Ok(())
}

/// Every weight of the model is finite: a NaN weight (set by hand, or from a
/// damaged file) would otherwise hide behind ReLUs and give finite outputs.
pub(crate) fn finite_weights(model: &crate::model::Model) -> Result<()> {
    for layer in model.layers() {
        for (name, var) in layer.weights() {
            let values = var.flatten_all()?.to_dtype(DType::F32)?.to_vec1::<f32>()?;
            if let Some(i) = values.iter().position(|v| !v.is_finite()) {
                return Err(Error::InvalidArgument(format!(
                    "weight {name} of layer '{}' holds {} at position {i}: the model's outputs \
                     would be meaningless; set its weights again or load a good file",
                    layer.name(),
                    values[i]
                )));
            }
        }
    }
    Ok(())
}

/// Every value of a batch of the model's outputs is finite; `first` is the
/// index of the batch's first sample in the data the user passed. Weights that
/// are finite but huge (after training diverged, or set by hand) overflow to
/// infinity and NaN here, and a NaN probability must not pass as an answer.
pub(crate) fn finite_outputs(output: &Tensor, first: usize) -> Result<()> {
    let n = output.dims().first().copied().unwrap_or(0);
    let per_sample = output.elem_count() / n.max(1);
    let values = output
        .flatten_all()?
        .to_dtype(DType::F32)?
        .to_vec1::<f32>()?;
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(Error::Training(format!(
            "the model's output for sample {} is {} (value {} of its {per_sample}): its weights \
             may have diverged (a fit that stopped on a NaN loss, weights set by hand) or \
             overflow on this input; train again with a smaller learning rate, or load good \
             weights",
            first + i / per_sample.max(1),
            values[i],
            i % per_sample.max(1)
        )));
    }
    Ok(())
}

/// The class of each sample of `y`: integer labels of shape (N,), which must be
/// whole numbers in `0..classes`, or one-hot rows of shape (N, classes).
pub(crate) fn target_classes(what: &str, y: &Tensor, classes: usize) -> Result<Vec<u32>> {
    if y.rank() != 1 {
        finite(what, y)?;
        return Ok(y.argmax(1)?.to_vec1::<u32>()?);
    }
    let last = classes.max(1) - 1;
    let bad = |i: usize, label: String, why: String| {
        Error::InvalidArgument(format!(
            "{what}[{i}] is {label}, {why}; labels are class numbers 0, 1, … {last}"
        ))
    };
    let not_a_class = || format!("not one of the model's {classes} classes (0 to {last})");
    let labels = label_indices(y, |i, label, why| match why {
        NotAClass::NotWhole => bad(i, label, "not a whole number".into()),
        NotAClass::Negative => bad(i, label, not_a_class()),
    })?;
    if let Some((i, &c)) = labels.iter().enumerate().find(|(_, &c)| c >= classes) {
        return Err(bad(i, c.to_string(), not_a_class()));
    }
    // Below `classes`, a model output width: fits in u32.
    Ok(labels.into_iter().map(|c| c as u32).collect())
}
