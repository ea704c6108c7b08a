//! The input node of a model: it only declares the shape of one sample.

use super::{first, ForwardCtx, LayerKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputLayer {
    pub shape: Vec<usize>,
}

impl LayerKind for InputLayer {
    fn class_name(&self) -> &'static str {
        "InputLayer"
    }
    fn name_stem(&self) -> &'static str {
        "input_layer"
    }
    fn output_shape(&self, _inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
        Ok(self.shape.clone())
    }
    fn forward(
        &self,
        inputs: &[Tensor],
        _weights: &[Tensor],
        _ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        Ok(first("InputLayer", inputs)?.clone())
    }
}
