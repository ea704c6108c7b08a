//! `Flatten`: each sample's values in one row, e.g. `(32, 12, 12)` → `(4608,)`.

use super::{first, single_input, ForwardCtx, LayerKind};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Flatten {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_shape: Option<Vec<usize>>,
}

impl Flatten {
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares the per-sample input shape, for a Flatten that is the first layer.
    pub fn input_shape(mut self, shape: impl super::IntoShape) -> Self {
        self.input_shape = Some(shape.into_shape());
        self
    }
}

impl LayerKind for Flatten {
    fn class_name(&self) -> &'static str {
        "Flatten"
    }
    fn name_stem(&self) -> &'static str {
        "flatten"
    }
    fn output_shape(&self, inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
        let input = single_input("Flatten", inputs)?;
        Ok(vec![input.iter().product()])
    }
    fn forward(
        &self,
        inputs: &[Tensor],
        _weights: &[Tensor],
        _ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        first("Flatten", inputs)?.flatten_from(1)
    }
}

impl From<Flatten> for super::Layer {
    fn from(l: Flatten) -> Self {
        super::Layer::Flatten(l)
    }
}
