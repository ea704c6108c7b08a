//! `Flatten`: each sample's values in one row, e.g. `(32, 12, 12)` → `(4608,)`.

use super::{
    common_builders, first, single_input, ForwardCtx, LayerCommon, LayerKind, Layout,
    };
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Flatten {
    #[serde(flatten)]
    pub common: LayerCommon,
}

common_builders!(Flatten);

impl Flatten {
    pub fn new() -> Self {
        Self::default()
    }
}

impl LayerKind for Flatten {
    fn name_stem(&self) -> &'static str {
        "flatten"
    }
    fn layout(&mut self) -> Layout<'_> {
        Layout::Ends
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
