//! `Conv2D`: 2-D convolution over images in either data format.
//!
//! The kernel is stored as `(filters, in_channels, kernel_h, kernel_w)`, candle's
//! layout, so `candle_core::Tensor::conv2d` accepts it as it is. Input
//! `(C, H, W)` (channels first) gives `(filters, H', W')`; input `(H, W, C)`
//! (channels last) gives `(H', W', filters)`, as in Keras.

use super::{
    common_builders, first, format_shape, single_input, Activation, DataFormat, ForwardCtx,
    Initializer, Layer, LayerCommon, LayerKind, Layout, Padding, WeightSpec,
};
use crate::ops::{self, Conv2dParams, FusedActivation};
use candle_core::Tensor;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Conv2D {
    pub filters: usize,
    pub kernel_size: (usize, usize),
    pub strides: (usize, usize),
    pub padding: Padding,
    /// `None` until the model decides it from the input shape or the layer before.
    pub data_format: Option<DataFormat>,
    pub activation: Activation,
    pub use_bias: bool,
    pub kernel_initializer: Initializer,
    pub bias_initializer: Initializer,
    #[serde(flatten)]
    pub common: LayerCommon,
}

common_builders!(Conv2D);

impl Conv2D {
    /// `filters` output channels, each a `kernel_size` window: `Conv2D::new(32, (3, 3))`.
    pub fn new(filters: usize, kernel_size: impl Into<Window>) -> Self {
        Conv2D {
            filters,
            kernel_size: kernel_size.into().0,
            strides: (1, 1),
            padding: Padding::Valid,
            data_format: None,
            activation: Activation::Linear,
            use_bias: true,
            kernel_initializer: Initializer::GlorotUniform,
            bias_initializer: Initializer::Zeros,
            common: LayerCommon::default(),
        }
    }

    pub fn strides(mut self, strides: impl Into<Window>) -> Self {
        self.strides = strides.into().0;
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

    pub fn activation(mut self, activation: Activation) -> Self {
        self.activation = activation;
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

    pub fn use_bias(mut self, use_bias: bool) -> Self {
        self.use_bias = use_bias;
        self
    }

    fn format(&self) -> Result<DataFormat, String> {
        self.data_format.ok_or_else(|| {
            "data format not decided yet (internal: model did not resolve it)".into()
        })
    }
}

/// A window or stride size: `3` for 3×3, or `(3, 5)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window(pub (usize, usize));

impl From<usize> for Window {
    fn from(n: usize) -> Self {
        Window((n, n))
    }
}
impl From<(usize, usize)> for Window {
    fn from(hw: (usize, usize)) -> Self {
        Window(hw)
    }
}

/// Output (height, width) of a sliding window, or why it does not fit.
pub(crate) fn window_output(
    what: &str,
    (h, w): (usize, usize),
    (kh, kw): (usize, usize),
    (sh, sw): (usize, usize),
    padding: Padding,
    input: &[usize],
) -> Result<(usize, usize), String> {
    if kh == 0 || kw == 0 || sh == 0 || sw == 0 {
        return Err(format!("{what} and strides must be at least 1"));
    }
    match (padding.output_len(h, kh, sh), padding.output_len(w, kw, sw)) {
        (Some(oh), Some(ow)) => Ok((oh, ow)),
        _ => Err(format!(
            "{what} {kh}×{kw} is larger than its input {h}×{w} (input shape {}); \
             use a smaller {what}, padding Same, or remove a pooling layer before it",
            format_shape(input)
        )),
    }
}

impl Conv2D {
    fn ops_params(&self, activation: FusedActivation) -> candle_core::Result<Conv2dParams> {
        let format = self.format().map_err(candle_core::Error::Msg)?;
        Ok(Conv2dParams {
            stride: self.strides,
            padding: self.padding,
            layout: format,
            activation,
            algorithm: Default::default(),
        })
    }
}

impl LayerKind for Conv2D {
    fn name_stem(&self) -> &'static str {
        "conv2d"
    }
    fn activation(&self) -> Option<Activation> {
        Some(self.activation)
    }
    fn layout(&mut self) -> Layout<'_> {
        Layout::Spatial(&mut self.data_format)
    }
    fn output_shape(&self, inputs: &[Vec<usize>]) -> Result<Vec<usize>, String> {
        if self.filters == 0 {
            return Err("filters must be at least 1".into());
        }
        let input = single_input("Conv2D", inputs)?;
        let format = self.format()?;
        let (_, h, w) = format.chw(input).ok_or_else(|| {
            format!(
                "expects images of rank 3 per sample, but its input is {}",
                format_shape(input)
            )
        })?;
        let (oh, ow) = window_output(
            "kernel",
            (h, w),
            self.kernel_size,
            self.strides,
            self.padding,
            input,
        )?;
        Ok(format.shape(self.filters, oh, ow))
    }
    fn weight_specs(&self, inputs: &[Vec<usize>]) -> Vec<WeightSpec> {
        let in_channels = self
            .data_format
            .and_then(|f| f.chw(&inputs[0]))
            .map_or(0, |(c, _, _)| c);
        let (kh, kw) = self.kernel_size;
        WeightSpec::kernel_and_bias(
            vec![self.filters, in_channels, kh, kw],
            self.kernel_initializer,
            self.use_bias
                .then_some((self.filters, self.bias_initializer)),
        )
    }
    fn forward(
        &self,
        inputs: &[Tensor],
        weights: &[Tensor],
        ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        let x = first("Conv2D", inputs)?;
        let (fused, after) = ctx.activation.split_fused();
        let y = ops::conv2d(x, &weights[0], weights.get(1), &self.ops_params(fused)?)?;
        after.apply(&y)
    }

    /// A MaxPooling2D right after this convolution runs inside it, so the
    /// full-size convolution output and its gradient never exist; the
    /// activation must be one the kernel applies itself.
    fn fuses_with(&self, next: &Layer) -> bool {
        let (_, after) = self.activation.split_fused();
        matches!(next, Layer::MaxPooling2D(_)) && after == Activation::Linear
    }

    fn forward_fused(
        &self,
        next: &Layer,
        inputs: &[Tensor],
        weights: &[Tensor],
        ctx: &mut ForwardCtx,
    ) -> candle_core::Result<Tensor> {
        let Layer::MaxPooling2D(pool) = next else {
            candle_core::bail!("internal: Conv2D fuses only with MaxPooling2D");
        };
        let x = first("Conv2D", inputs)?;
        let (fused, _) = ctx.activation.split_fused();
        let pool = ops::MaxPoolParams {
            pool: pool.pool_size,
            stride: pool.strides.unwrap_or(pool.pool_size),
            padding: pool.padding,
        };
        ops::conv2d_max_pool(x, &weights[0], weights.get(1), &self.ops_params(fused)?, &pool)
    }
}
