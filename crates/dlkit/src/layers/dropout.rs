//! `Dropout`: while training, zero each value with probability `rate` and scale
//! the rest by `1 / (1 - rate)`; at inference, pass values through unchanged.

use super::{
    common_builders, first, single_input, ForwardCtx, LayerCommon, LayerKind, Layout,
    };
use crate::ops;
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Dropout {
    pub rate: f32,
    #[serde(flatten)]
    pub common: LayerCommon,
}

common_builders!(Dropout);

impl Dropout {
    pub fn new(rate: f32) -> Self {
        Dropout {
            rate,
            common: LayerCommon::default(),
        }
    }
}

impl LayerKind for Dropout {
    fn name_stem(&self) -> &'static str {
        "dropout"
    }
    fn layout(&mut self) -> Layout<'_> {
        Layout::Preserves
    }
    fn output_shape(&self, inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
        if !(0.0..1.0).contains(&self.rate) {
            return Err(format!("rate must be in [0, 1), got {}", self.rate));
        }
        Ok(single_input("Dropout", inputs)?.to_vec())
    }
    fn forward(
        &self,
        inputs: &[Tensor],
        _weights: &[Tensor],
        ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        let x = first("Dropout", inputs)?;
        if !ctx.training || self.rate == 0.0 {
            return Ok(x.clone());
        }
        // One draw per call keeps every batch's mask reproducible from the model's seed.
        let seed = ctx.rng.next_u64();
        ops::dropout(x, self.rate, seed)
    }
}
