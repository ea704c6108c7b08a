//! `Concatenate`: joins the branches of a functional model along one axis.

use super::{
    common_builders, format_shape, ForwardCtx, LayerCommon, LayerKind, Layout, };
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

/// Joins its inputs along one axis, counted as Keras' `Concatenate(axis=...)`
/// counts it: the batch axis is 0 (and refused), `1` the first axis of a
/// sample, negative values from the end; the default, `-1`, is the last axis.
/// For channels-first images `(C, H, W)`, `axis(1)` joins the channels; for
/// channels-last `(H, W, C)`, the default does.
///
/// ```
/// use dlkit::layers::{Concatenate, Conv2D, Padding};
/// use dlkit::model::{Apply, Input};
/// # fn main() -> dlkit::Result<()> {
/// let inputs = Input::new((1, 28, 28));
/// let a = Conv2D::new(8, 3).padding(Padding::Same).apply(&inputs)?;
/// let b = Conv2D::new(4, 3).padding(Padding::Same).apply(&inputs)?;
/// let joined = Concatenate::new().axis(1).apply_many(&[&a, &b])?;
/// assert_eq!(joined.shape().to_vec(), vec![12, 28, 28]);
/// assert!(Concatenate::new().axis(0).apply_many(&[&a, &b]).is_err()); // the batch axis
/// # Ok(()) }
/// ```
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

    /// The axis to join along, counted as in Keras (batch axis 0).
    pub fn axis(mut self, axis: isize) -> Self {
        self.axis = axis;
        self
    }

    fn sample_axis(&self, rank: usize) -> Result<usize, String> {
        super::keras_axis(self.axis, rank)
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
    fn layout(&mut self) -> Layout<'_> {
        Layout::Preserves
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

