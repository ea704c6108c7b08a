//! `Dense`: a fully connected layer, `output = activation(input · kernel + bias)`.
//!
//! The kernel is stored as `(input_dim, units)`, Keras' layout. Inputs with more
//! than one axis per sample are transformed along their last axis, as in Keras.

use super::{
    common_builders, first, single_input, Activation, ForwardCtx, Initializer, LayerCommon,
    LayerKind, Layout, WeightSpec,
};
use crate::ops;
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dense {
    pub units: usize,
    pub activation: Activation,
    pub use_bias: bool,
    pub kernel_initializer: Initializer,
    pub bias_initializer: Initializer,
    #[serde(flatten)]
    pub common: LayerCommon,
}

common_builders!(Dense);

impl Dense {
    pub fn new(units: usize) -> Self {
        Dense {
            units,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            common: LayerCommon::default(),
        }
    }

    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
        self
    }

    /// Keras' `input_dim=784`: the layer is the first one and takes vectors.
    pub fn input_dim(mut self, dim: usize) -> Self {
        self.common.input_shape = Some(vec![dim]);
        self
    }

    pub fn kernel_initializer(mut self, init: Initializer) -> Self {
        self.kernel_initializer = init;
        self
    }

    pub fn bias_initializer(mut self, init: Initializer) -> Self {
        self.bias_initializer = init;
        self
    }

    /// Sets both initializers, like the old Keras `init='normal'`.
    pub fn init(self, init: Initializer) -> Self {
        self.kernel_initializer(init).bias_initializer(init)
    }

    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.use_bias = use_bias;
        self
    }
}

impl LayerKind for Dense {
    fn name_stem(&self) -> &'static str {
        "dense"
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
        let input = single_input("Dense", inputs)?;
        match input {
            [] => Err("cannot take a scalar input".into()),
            [_] => Ok(vec![self.units]),
            [.., _] if input.len() >= 3 => Err(format!(
                "takes vectors (or sequences of vectors), but its input is {}; \
                 add a Flatten() layer before it",
                super::format_shape(input)
            )),
            [rest @ .., _] => Ok([rest, &[self.units]].concat()),
        }
    }
    fn weight_specs(&self, inputs: &[Vec<usize>]) -> Vec<WeightSpec> {
        let input_dim = inputs[0].last().copied().unwrap_or(0);
        WeightSpec::kernel_and_bias(
            vec![input_dim, self.units],
            self.kernel_initializer,
            self.use_bias.then_some((self.units, self.bias_initializer)),
        )
    }
    fn forward(
        &self,
        inputs: &[Tensor],
        weights: &[Tensor],
        ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        let x = first("Dense", inputs)?;
        let (fused, after) = ctx.activation.split_fused();
        let bias = weights.get(1);
        // Sequences of vectors: treat every step as a row, then restore the axes.
        let y = if x.rank() > 2 {
            let dims = x.dims().to_vec();
            let rows: usize = dims[..dims.len() - 1].iter().product();
            let flat = x.reshape((rows, dims[dims.len() - 1]))?;
            let y = ops::dense(&flat, &weights[0], bias, fused)?;
            let mut out_dims = dims;
            *out_dims.last_mut().unwrap_or(&mut 0) = self.units;
            y.reshape(out_dims)?
        } else {
            ops::dense(x, &weights[0], bias, fused)?
        };
        after.apply(&y)
    }
}
