//! `MaxPooling2D`: the largest value of each window, per channel.

use super::conv2d::{window_output, Window};
use super::{
    common_builders, first, format_shape, single_input, DataFormat, ForwardCtx,
    LayerCommon, LayerKind, Layout, Padding, };
use crate::ops;
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MaxPooling2D {
    pub pool_size: (usize, usize),
    /// Defaults to the pool size, as in Keras.
    pub strides: Option<(usize, usize)>,
    pub padding: Padding,
    pub data_format: Option<DataFormat>,
    #[serde(flatten)]
    pub common: LayerCommon,
}

common_builders!(MaxPooling2D);

impl MaxPooling2D {
    /// `MaxPooling2D::new((2, 2))` or `MaxPooling2D::new(2)`.
    pub fn new(pool_size: impl Into<Window>) -> Self {
        MaxPooling2D {
            pool_size: pool_size.into().0,
            strides: None,
            padding: Padding::Valid,
            data_format: None,
            common: LayerCommon::default(),
        }
    }

    pub fn strides(mut self, strides: impl Into<Window>) -> Self {
        self.strides = Some(strides.into().0);
        self
    }

    pub fn padding(mut self, padding: Padding) -> Self {
        self.padding = padding;
        self
    }

    pub fn data_format(mut self, format: DataFormat) -> Self {
        self.data_format = Some(format);
        self
    }

    fn stride(&self) -> (usize, usize) {
        self.strides.unwrap_or(self.pool_size)
    }
}

impl Default for MaxPooling2D {
    /// Keras' default pool of 2×2.
    fn default() -> Self {
        MaxPooling2D::new(2)
    }
}

impl LayerKind for MaxPooling2D {
    fn name_stem(&self) -> &'static str {
        "max_pooling2d"
    }
    fn layout(&mut self) -> Layout<'_> {
        Layout::Spatial(&mut self.data_format)
    }
    fn output_shape(&self, inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
        let input = single_input("MaxPooling2D", inputs)?;
        let format = self
            .data_format
            .ok_or("data format not decided yet (internal: model did not resolve it)")?;
        let (c, h, w) = format.chw(input).ok_or_else(|| {
            format!(
                "expects images of rank 3 per sample, but its input is {}",
                format_shape(input)
            )
        })?;
        let (oh, ow) = window_output(
            "pool",
            (h, w),
            self.pool_size,
            self.stride(),
            self.padding,
            input,
        )?;
        Ok(format.shape(c, oh, ow))
    }
    fn forward(
        &self,
        inputs: &[Tensor],
        _weights: &[Tensor],
        _ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        let x = first("MaxPooling2D", inputs)?;
        let format = self.data_format.ok_or_else(|| {
            candle_core::Error::Msg("MaxPooling2D: data format not decided".into())
        })?;
        ops::max_pool2d(
            x,
            self.pool_size,
            self.stride(),
            self.padding,
            format,
        )
    }
}
