//! `Add`: sums the branches of a functional model element by element.

use super::{
    common_builders, first, ForwardCtx, LayerCommon, LayerKind, Layout, };
use candle_core::Tensor;
use serde::{Deserialize, Serialize};
use super::concatenate::shapes_list;

/// Adds its inputs element by element (all must have the same shape).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Add {
    #[serde(flatten)]
    pub common: LayerCommon,
}

common_builders!(Add);

impl Add {
    pub fn new() -> Self {
        Add::default()
    }
}

impl LayerKind for Add {
    fn name_stem(&self) -> &'static str {
        "add"
    }
    fn layout(&mut self) -> Layout<'_> {
        Layout::Preserves
    }
    fn output_shape(&self, inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
        if inputs.len() < 2 {
            return Err("needs at least two inputs".into());
        }
        if inputs.iter().any(|s| s != &inputs[0]) {
            return Err(format!(
                "inputs must all have the same shape, got {}",
                shapes_list(inputs)
            ));
        }
        Ok(inputs[0].clone())
    }
    fn forward(
        &self,
        inputs: &[Tensor],
        _weights: &[Tensor],
        _ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        let mut sum = first("Add", inputs)?.clone();
        for x in &inputs[1..] {
            sum = (sum + x)?;
        }
        Ok(sum)
    }
}

