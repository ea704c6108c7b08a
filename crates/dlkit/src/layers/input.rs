//! The input node of a model: it only declares the shape of one sample.

use super::{first, ForwardCtx, LayerCommon, LayerKind, Layout};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputLayer {
    pub shape: Vec<usize>,
    #[serde(flatten)]
    pub common: LayerCommon,
}

impl InputLayer {
    pub(crate) fn new(shape: Vec<usize>) -> Self {
        InputLayer {
            shape,
            common: LayerCommon::default(),
        }
    }
}

impl super::HasCommon for InputLayer {
    fn common(&self) -> &LayerCommon {
        &self.common
    }
}

impl LayerKind for InputLayer {
    fn name_stem(&self) -> &'static str {
        "input_layer"
    }
    fn layout(&mut self) -> Layout<'_> {
        Layout::Ends
    }
    fn output_shape(&self, _inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
        Ok(self.shape.clone())
    }
    fn declared_input_shape(&self) -> Option<Vec<usize>> {
        Some(self.shape.clone())
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
