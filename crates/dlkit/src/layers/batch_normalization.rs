//! `BatchNormalization`: normalises each channel with the batch's statistics
//! while training, and with their moving averages at inference, then scales
//! and shifts it by trained `gamma` and `beta` — Keras' layer and defaults.
//!
//! Weights in Keras' order: `gamma`, `beta` (trained), `moving_mean`,
//! `moving_variance` (not trained: updated by the forward pass in training,
//! `moving = momentum·moving + (1 − momentum)·batch`, with the batch's biased
//! variance, as Keras 3 does).
//!
//! ```
//! use dlkit::layers::{Activation::Relu, BatchNormalization, Conv2D, Flatten, Dense};
//! use dlkit::model::Sequential;
//! let mut model = Sequential::with_seed(1);
//! model.add(Conv2D::new(32, 3).activation(Relu).input_shape((28, 28, 1))).unwrap();
//! model.add(BatchNormalization::new()).unwrap();
//! let summary = model.summary().unwrap();
//! assert_eq!(summary.rows[1][2], "128"); // gamma, beta, moving mean and variance: 4 × 32
//! assert_eq!(summary.total_params - summary.trainable_params, 64);
//! ```

use super::{
    common_builders, first, single_input, DataFormat, ForwardCtx, Initializer,
    LayerCommon, LayerKind, Layout, WeightSpec,
};
use crate::ops;
use candle_core::{Tensor, Var};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BatchNormalization {
    /// The channel axis, counted as in Keras: the batch axis is 0 (and
    /// refused), `1` the first axis of a sample, negative values from the end.
    /// `None`: the channel axis of an image input's data format, else the
    /// last axis (Keras' default, `-1`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub axis: Option<isize>,
    pub momentum: f64,
    pub epsilon: f64,
    /// The data format of the input, when it is an image (set by the model).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_format: Option<DataFormat>,
    #[serde(flatten)]
    pub common: LayerCommon,
}

common_builders!(BatchNormalization);

impl BatchNormalization {
    /// Keras' defaults: momentum 0.99, epsilon 0.001, the channel axis.
    pub fn new() -> Self {
        BatchNormalization {
            axis: None,
            momentum: 0.99,
            epsilon: 1e-3,
            data_format: None,
            common: LayerCommon::default(),
        }
    }

    /// Normalise along another axis, counted as in Keras with the batch axis
    /// as 0 (e.g. `1` for `(C, H, W)` data that the model does not know as an
    /// image, `-1` for the last axis).
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = Some(axis);
        self
    }

    pub fn momentum(mut self, momentum: f64) -> Self {
        self.momentum = momentum;
        self
    }

    pub fn epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon;
        self
    }

    /// The channel axis within one sample of rank `rank`.
    fn channel_axis(&self, rank: usize) -> Result<usize, String> {
        match (self.axis, self.data_format) {
            (Some(axis), _) => super::keras_axis(axis, rank),
            (None, Some(DataFormat::ChannelsFirst)) if rank == 3 => Ok(0),
            (None, _) => super::keras_axis(-1, rank),
        }
    }
}

impl Default for BatchNormalization {
    fn default() -> Self {
        Self::new()
    }
}

impl LayerKind for BatchNormalization {
    fn name_stem(&self) -> &'static str {
        "batch_normalization"
    }
    fn layout(&mut self) -> Layout<'_> {
        Layout::Follows(&mut self.data_format)
    }
    fn output_shape(&self, inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
        if !(0.0..=1.0).contains(&self.momentum) {
            return Err(format!("momentum must be in [0, 1], got {}", self.momentum));
        }
        if !(self.epsilon > 0.0 && self.epsilon.is_finite()) {
            return Err(format!("epsilon must be positive, got {}", self.epsilon));
        }
        let input = single_input("BatchNormalization", inputs)?;
        if input.is_empty() {
            return Err("cannot take a scalar input".into());
        }
        self.channel_axis(input.len())?;
        Ok(input.to_vec())
    }
    fn weight_specs(&self, inputs: &[Vec<usize>]) -> Vec<WeightSpec> {
        let input = &inputs[0];
        let channels = self.channel_axis(input.len()).map_or(0, |a| input[a]);
        let stat = |name, init| WeightSpec {
            name,
            shape: vec![channels],
            init,
            trainable: false,
        };
        vec![
            WeightSpec::trainable("gamma", vec![channels], Initializer::Ones),
            WeightSpec::trainable("beta", vec![channels], Initializer::Zeros),
            stat("moving_mean", Initializer::Zeros),
            stat("moving_variance", Initializer::Ones),
        ]
    }
    fn forward(
        &self,
        inputs: &[Tensor],
        weights: &[Tensor],
        ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        let x = first("BatchNormalization", inputs)?;
        let [gamma, beta, moving_mean, moving_variance] = weights else {
            candle_core::bail!("BatchNormalization: expected 4 weights, got {}", weights.len());
        };
        let axis = 1 + self
            .channel_axis(x.rank() - 1)
            .map_err(candle_core::Error::Msg)?;
        // [1, .., C, .., 1]: per-channel values broadcast over the batch.
        let mut per_channel = vec![1; x.rank()];
        per_channel[axis] = x.dim(axis)?;
        let as_channels = |t: &Tensor| t.reshape(per_channel.as_slice());
        if !ctx.training {
            // (x − mean)/√(var + ε)·γ + β as one scale and one shift.
            let scale = (gamma / (moving_variance + self.epsilon)?.sqrt()?)?;
            let shift = (beta - (moving_mean * &scale)?)?;
            return x
                .broadcast_mul(&as_channels(&scale)?)?
                .broadcast_add(&as_channels(&shift)?);
        }
        let (y, mean, variance) = ops::batch_norm_train(x, gamma, beta, axis, self.epsilon)?;
        let [_, _, (_, mean_var), (_, variance_var)] = ctx.variables else {
            candle_core::bail!("BatchNormalization: its moving statistics are missing");
        };
        update_moving(mean_var, &mean.detach(), self.momentum)?;
        update_moving(variance_var, &variance.detach(), self.momentum)?;
        Ok(y)
    }
}

/// `moving ← momentum·moving + (1 − momentum)·batch`, outside the autograd graph.
fn update_moving(moving: &Var, batch: &Tensor, momentum: f64) -> candle_core::Result<()> {
    let updated = ((moving.as_detached_tensor() * momentum)? + (batch * (1.0 - momentum))?)?;
    moving.set(&updated)
}
