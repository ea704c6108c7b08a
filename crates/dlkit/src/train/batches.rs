//! The samples `fit` and `evaluate` work on, cut into (optionally shuffled) batches.

use crate::rng::Rng;
use candle_core::{DType, Device, Tensor};

/// Inputs and targets `(x, y)` held as tensors whose first axis is the sample,
/// checked against the model and its loss.
pub(crate) struct Samples {
    pub x: Tensor,
    pub y: Tensor,
    /// Target class per sample, for classification losses (accuracy needs it).
    pub classes: Option<Vec<u32>>,
}

/// One batch: f32 inputs and the targets on the model's device, and the
/// target classes when the loss has classes.
pub(crate) type Batch = (Tensor, Tensor, Option<Vec<u32>>);

impl Samples {
    pub fn len(&self) -> usize {
        self.x.dims().first().copied().unwrap_or(0)
    }

    /// Index lists of the batches of one epoch, in a random order when `rng` is given.
    pub fn batch_indices(&self, batch_size: usize, rng: Option<&mut Rng>) -> Vec<Vec<u32>> {
        let order: Vec<u32> = match rng {
            Some(rng) => rng.permutation(self.len()),
            None => (0..self.len() as u32).collect(),
        };
        order.chunks(batch_size).map(|c| c.to_vec()).collect()
    }

    /// The samples at `indices`, as f32 inputs and targets on `device`.
    pub fn gather(&self, indices: &[u32], device: &Device) -> candle_core::Result<Batch> {
        let contiguous_run = indices.windows(2).all(|w| w[1] == w[0] + 1);
        let (x, y) = if contiguous_run && !indices.is_empty() {
            // Unshuffled batches are slices: no copy through an index tensor.
            let (start, len) = (indices[0] as usize, indices.len());
            (self.x.narrow(0, start, len)?, self.y.narrow(0, start, len)?)
        } else {
            let idx = Tensor::from_slice(indices, indices.len(), self.x.device())?;
            (self.x.index_select(&idx, 0)?, self.y.index_select(&idx, 0)?)
        };
        let classes = self
            .classes
            .as_ref()
            .map(|c| indices.iter().map(|&i| c[i as usize]).collect());
        // Inputs are computed in f32 whatever they were stored as (Keras casts too).
        let x = x.to_dtype(DType::F32)?.to_device(device)?;
        let y = y.to_device(device)?;
        Ok((x, y, classes))
    }

    /// The last `fraction` of the samples as a separate set (Keras' `validation_split`).
    pub fn split_off_last(&mut self, fraction: f64) -> candle_core::Result<Samples> {
        let n = self.len();
        let keep = ((n as f64) * (1.0 - fraction)).floor() as usize;
        let tail = Samples {
            x: self.x.narrow(0, keep, n - keep)?,
            y: self.y.narrow(0, keep, n - keep)?,
            classes: self.classes.as_ref().map(|c| c[keep..].to_vec()),
        };
        self.x = self.x.narrow(0, 0, keep)?;
        self.y = self.y.narrow(0, 0, keep)?;
        if let Some(c) = &mut self.classes {
            c.truncate(keep);
        }
        Ok(tail)
    }
}
