//! The small configuration types the ops take, and the output-size/padding arithmetic
//! shared by convolution and pooling (Keras/TensorFlow semantics).
//!
//! [`Padding`] and [`DataLayout`] are also the layers' types (`layers::Padding`,
//! `layers::DataFormat`), so their serde names are those of Keras' saved configs:
//! `"valid"`, `"same"`, `"channels_first"`, `"channels_last"`.

use serde::{Deserialize, Serialize};

/// How a convolution or pooling window treats the border.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Padding {
    /// No padding, only windows that fit inside the input: the output is
    /// `floor((H - k) / s) + 1` long.
    #[default]
    Valid,
    /// TensorFlow's `same`: the output is `ceil(H / s)` long; the total padding
    /// `max((ceil(H/s) - 1)·s + k - H, 0)` is split with the extra on the bottom/right.
    Same,
}

impl Padding {
    /// Output length along one axis, or `None` when the window does not fit
    /// (valid padding with `window > input`) or an argument is zero.
    pub fn output_len(self, input: usize, window: usize, stride: usize) -> Option<usize> {
        axis_geometry(input, window, stride, self).map(|(len, _)| len)
    }
}

/// Where the channels are in an image batch (Keras' `data_format`).
///
/// The tutorials use both: Theano-era ones reshape MNIST to `(N, 1, 28, 28)`
/// (channels first), TensorFlow-era ones to `(N, 28, 28, 1)` (channels last).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DataLayout {
    /// `(N, C, H, W)`, candle's and PyTorch's convention.
    #[default]
    ChannelsFirst,
    /// `(N, H, W, C)`, Keras' default.
    ChannelsLast,
}

impl DataLayout {
    /// Splits a per-sample image shape into (channels, height, width).
    pub fn chw(self, shape: &[usize]) -> Option<(usize, usize, usize)> {
        match (self, shape) {
            (DataLayout::ChannelsFirst, &[c, h, w]) => Some((c, h, w)),
            (DataLayout::ChannelsLast, &[h, w, c]) => Some((c, h, w)),
            _ => None,
        }
    }

    /// The per-sample shape of an image with these dimensions in this layout.
    pub fn shape(self, c: usize, h: usize, w: usize) -> Vec<usize> {
        match self {
            DataLayout::ChannelsFirst => vec![c, h, w],
            DataLayout::ChannelsLast => vec![h, w, c],
        }
    }
}

/// An activation applied inside an op's forward pass (and undone in its backward pass),
/// saving a separate pass over the output and its gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FusedActivation {
    #[default]
    Linear,
    Relu,
}

/// The activation of an LSTM's cell input and output (Keras' `activation` argument); the
/// gates always use the sigmoid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LstmActivation {
    #[default]
    Tanh,
    Relu,
    Sigmoid,
    Linear,
}

/// Everything [`conv2d`](super::conv2d) needs besides its tensors.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    /// (vertical, horizontal) step of the window.
    pub stride: (usize, usize),
    pub padding: Padding,
    pub layout: DataLayout,
    pub activation: FusedActivation,
    /// How the products are computed; [`ConvAlgorithm::Auto`] unless comparing them.
    pub algorithm: ConvAlgorithm,
}

impl Default for Conv2dParams {
    fn default() -> Self {
        Conv2dParams {
            stride: (1, 1),
            padding: Padding::Valid,
            layout: DataLayout::ChannelsFirst,
            activation: FusedActivation::Linear,
            algorithm: ConvAlgorithm::Auto,
        }
    }
}

/// How [`conv2d`](super::conv2d) computes a convolution. Both give the same values up to
/// `f32` rounding; the choice is about speed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ConvAlgorithm {
    /// Winograd where it was measured to pay on this project's machine (stride-1 3×3
    /// layers with at least 32×32 input·output channels), direct elsewhere.
    #[default]
    Auto,
    /// Every multiplication of the window (im2col and a matrix product).
    Direct,
    /// Winograd's minimal filtering wherever it applies (stride 1, 3×3 or 5×5 windows),
    /// whatever the channel counts; direct elsewhere.
    Winograd,
}

/// Output length and padding before (top/left) along one spatial axis, or `None` when the
/// window does not fit (valid padding with `k > len`) or an argument is zero.
pub(crate) fn axis_geometry(
    len: usize,
    k: usize,
    s: usize,
    padding: Padding,
) -> Option<(usize, usize)> {
    if len == 0 || k == 0 || s == 0 {
        return None;
    }
    match padding {
        Padding::Valid => (k <= len).then(|| ((len - k) / s + 1, 0)),
        Padding::Same => {
            let out = len.div_ceil(s);
            let total = ((out - 1) * s + k).saturating_sub(len);
            Some((out, total / 2))
        }
    }
}

/// The spatial geometry of a 2-d window op on one image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Geometry {
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub sh: usize,
    pub sw: usize,
    pub oh: usize,
    pub ow: usize,
    /// Padding before the first row / column.
    pub pt: usize,
    pub pl: usize,
}

impl Geometry {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        op: &str,
        (c, h, w): (usize, usize, usize),
        (kh, kw): (usize, usize),
        (sh, sw): (usize, usize),
        padding: Padding,
    ) -> candle_core::Result<Self> {
        let rows = axis_geometry(h, kh, sh, padding);
        let cols = axis_geometry(w, kw, sw, padding);
        match (rows, cols) {
            (Some((oh, pt)), Some((ow, pl))) => Ok(Geometry { c, h, w, kh, kw, sh, sw, oh, ow, pt, pl }),
            _ => candle_core::bail!(
                "{op}: a {kh}x{kw} window with stride ({sh}, {sw}) and {padding:?} padding does not fit \
                 an image of {h}x{w} (window and stride must be at least 1 and, with Valid padding, \
                 no larger than the image)"
            ),
        }
    }

    pub fn in_plane(&self) -> usize {
        self.h * self.w
    }
    pub fn out_plane(&self) -> usize {
        self.oh * self.ow
    }
    pub fn window(&self) -> usize {
        self.kh * self.kw
    }
}

/// Splits `(N, C, H, W)` or `(N, H, W, C)` dims into `(n, (c, h, w))`.
pub(crate) fn image_dims(
    op: &str,
    dims: &[usize],
    layout: DataLayout,
) -> candle_core::Result<(usize, (usize, usize, usize))> {
    match (dims, layout) {
        (&[n, c, h, w], DataLayout::ChannelsFirst) => Ok((n, (c, h, w))),
        (&[n, h, w, c], DataLayout::ChannelsLast) => Ok((n, (c, h, w))),
        _ => candle_core::bail!(
            "{op}: expected a 4-d image batch {}, got shape {dims:?}",
            match layout {
                DataLayout::ChannelsFirst => "(N, C, H, W)",
                DataLayout::ChannelsLast => "(N, H, W, C)",
            }
        ),
    }
}
