//! `Concatenate`: joins the branches of a functional model along one axis.

use super::{
    common_builders, format_shape, Activation, ForwardCtx, LayerCommon, LayerKind, Layout, WeightSpec,
};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Joins its inputs along one axis (default the last, Keras' default). The
/// axis counts per-sample dimensions from 0, or from the end when negative.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Concatenate {
    pub axis: isize,
    #[serde(flatten)]
    pub common: LayerCommon,
}

common_builders!(Concatenate);

impl Concatenate {
    pub fn new() -> Self {
        Concatenate {
            axis: -1,
            common: LayerCommon::default(),
        }
    }

    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }

    fn sample_axis(&self, rank: usize) -> Result<usize, String> {
        super::sample_axis(self.axis, rank)
    }
}

impl Default for Concatenate {
    fn default() -> Self {
        Self::new()
    }
}

pub(crate) fn shapes_list(inputs: &[Vec<usize>]) -> String {
    inputs
        .iter()
        .map(|s| format_shape(s))
        .collect::<Vec<_>>()
        .join(", ")
}

impl LayerKind for Concatenate {
    fn name_stem(&self) -> &'static str {
        "concatenate"
    }
    fn activation(&self) -> Option<Activation> {
        None
    }
    fn layout(&mut self) -> Layout<'_> {
        Layout::Preserves
    }
    fn weight_specs(&self, _inputs: &[Vec<usize>]) -> Vec<WeightSpec> {
        Vec::new()
    }
    fn output_shape(&self, inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
        if inputs.len() < 2 {
            return Err("needs at least two inputs".into());
        }
        let rank = inputs[0].len();
        let axis = self.sample_axis(rank)?;
        let mut out = inputs[0].clone();
        for shape in &inputs[1..] {
            let fits =
                shape.len() == rank && (0..rank).all(|d| d == axis || shape[d] == inputs[0][d]);
            if !fits {
                return Err(format!(
                    "inputs must match on every axis except axis {}, got {}",
                    self.axis,
                    shapes_list(inputs)
                ));
            }
            out[axis] += shape[axis];
        }
        Ok(out)
    }
    fn forward(
        &self,
        inputs: &[Tensor],
        _weights: &[Tensor],
        _ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        let rank = inputs.first().map_or(1, |t| t.rank()) - 1;
        let axis = self.sample_axis(rank).map_err(candle_core::Error::Msg)?;
        Tensor::cat(inputs, axis + 1)
    }
}

