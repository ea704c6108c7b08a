//! `LSTM`: a long short-term memory layer over sequences `(timesteps, features)`.
//!
//! Weights as in Keras: `kernel (features, 4·units)`, `recurrent_kernel
//! (units, 4·units)` and `bias (4·units)`, gates in the order input, forget,
//! cell, output. The recurrent activation is the sigmoid; `activation`
//! (tanh by default, relu in one tutorial) is applied to the cell candidate and
//! to the cell state on output.

use super::{
    common_builders, first, format_shape, single_input, Activation, ForwardCtx, Initializer,
    LayerCommon, LayerKind, Layout, WeightSpec,
};
use crate::ops::{self, LstmActivation};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LSTM {
    pub units: usize,
    pub activation: Activation,
    pub return_sequences: bool,
    pub kernel_initializer: Initializer,
    pub recurrent_initializer: Initializer,
    pub bias_initializer: Initializer,
    #[serde(flatten)]
    pub common: LayerCommon,
}

common_builders!(LSTM);

impl LSTM {
    pub fn new(units: usize) -> Self {
        LSTM {
            units,
            activation: Activation::Tanh,
            return_sequences: false,
            kernel_initializer: Initializer::GlorotUniform,
            recurrent_initializer: Initializer::Orthogonal { gain: 1.0 },
            bias_initializer: Initializer::UnitForgetBias,
            common: LayerCommon::default(),
        }
    }

    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Output the whole sequence `(timesteps, units)` instead of the last step.
    pub fn return_sequences(mut self, yes: bool) -> Self {
        self.return_sequences = yes;
        self
    }

    fn ops_activation(activation: Activation) -> Result<LstmActivation, String> {
        Ok(match activation {
            Activation::Tanh => LstmActivation::Tanh,
            Activation::Relu => LstmActivation::Relu,
            Activation::Sigmoid => LstmActivation::Sigmoid,
            Activation::Linear => LstmActivation::Linear,
            Activation::Softmax => return Err("softmax cannot be an LSTM's activation".into()),
        })
    }
}

impl LayerKind for LSTM {
    fn name_stem(&self) -> &'static str {
        "lstm"
    }
    fn activation(&self) -> Option<Activation> {
        Some(self.activation)
    }
    fn layout(&mut self) -> Layout<'_> {
        Layout::Ends
    }
    fn output_shape(&self, inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
        if self.units == 0 {
            return Err("units must be at least 1".into());
        }
        Self::ops_activation(self.activation)?;
        match single_input("LSTM", inputs)? {
            &[t, _] if self.return_sequences => Ok(vec![t, self.units]),
            &[_, _] => Ok(vec![self.units]),
            other => Err(format!(
                "takes sequences of shape (timesteps, features), but its input is {}; \
                 an LSTM after another LSTM needs .return_sequences(true) on the first",
                format_shape(other)
            )),
        }
    }
    fn weight_specs(&self, inputs: &[Vec<usize>]) -> Vec<WeightSpec> {
        let features = inputs[0].last().copied().unwrap_or(0);
        let gates = self.units.saturating_mul(4); // too large is refused with the weight sizes
        vec![
            WeightSpec::trainable("kernel", vec![features, gates], self.kernel_initializer),
            WeightSpec::trainable(
                "recurrent_kernel",
                vec![self.units, gates],
                self.recurrent_initializer,
            ),
            WeightSpec::trainable("bias", vec![gates], self.bias_initializer),
        ]
    }
    fn forward(
        &self,
        inputs: &[Tensor],
        weights: &[Tensor],
        ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        let x = first("LSTM", inputs)?;
        let activation = Self::ops_activation(ctx.activation).map_err(candle_core::Error::Msg)?;
        ops::lstm(
            x,
            &weights[0],
            &weights[1],
            Some(&weights[2]),
            activation,
            self.return_sequences,
        )
    }
}
