//! The same ops written with plain candle ops: the path for GPUs and dtypes other than f32,
//! and the yardstick the tests measure the fast kernels against.
//!
//! They take and return exactly what the fast ops do (same shapes, layouts, paddings and
//! semantics), and their gradients come from candle's own autograd.

use candle_core::{bail, DType, Device, Tensor, D};

use super::params::{
    axis_geometry, image_dims, Conv2dParams, DataLayout, FusedActivation, LstmActivation, Padding,
};
use candle_core::Result;

fn to_channels_first(x: &Tensor, layout: DataLayout) -> Result<Tensor> {
    match layout {
        DataLayout::ChannelsFirst => Ok(x.clone()),
        DataLayout::ChannelsLast => x.permute((0, 3, 1, 2)),
    }
}

fn from_channels_first(y: Tensor, layout: DataLayout) -> Result<Tensor> {
    match layout {
        DataLayout::ChannelsFirst => Ok(y),
        DataLayout::ChannelsLast => y.permute((0, 2, 3, 1))?.contiguous(),
    }
}

/// `(before, after)` padding along one axis.
fn pads(op: &str, len: usize, k: usize, s: usize, padding: Padding) -> Result<(usize, usize)> {
    let Some((out, before)) = axis_geometry(len, k, s, padding) else {
        bail!("{op}: a window of {k} with stride {s} and {padding:?} padding does not fit a length of {len}");
    };
    let total = ((out - 1) * s + k).saturating_sub(len);
    Ok((before, total.saturating_sub(before)))
}

/// [`super::conv2d`] with candle's `conv2d`.
pub fn conv2d(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    params: &Conv2dParams,
) -> Result<Tensor> {
    let (_, (_, h, w)) = image_dims("conv2d", x.dims(), params.layout)?;
    let (k, kh, kw) = match kernel.dims() {
        &[k, _, kh, kw] => (k, kh, kw),
        d => {
            bail!("conv2d: the kernel must be (out_channels, in_channels, kh, kw), got shape {d:?}")
        }
    };
    let (sh, sw) = params.stride;
    let (pt, pb) = pads("conv2d", h, kh, sh, params.padding)?;
    let (pl, pr) = pads("conv2d", w, kw, sw, params.padding)?;
    let x = to_channels_first(x, params.layout)?
        .pad_with_zeros(2, pt, pb)?
        .pad_with_zeros(3, pl, pr)?;
    if sh != sw {
        bail!(
            "conv2d: the reference path needs equal strides, got {:?}",
            params.stride
        );
    }
    // Drop the rows/columns no window reaches: candle's conv2d backward fails on them
    // (its transposed convolution comes out smaller than the input).
    let (hp, wp) = (h + pt + pb, w + pl + pr);
    let x = x
        .narrow(2, 0, (hp - kh) / sh * sh + kh)?
        .narrow(3, 0, (wp - kw) / sw * sw + kw)?;
    let mut y = x.contiguous()?.conv2d(kernel, 0, sh, 1, 1)?;
    if let Some(b) = bias {
        y = y.broadcast_add(&b.reshape((1, k, 1, 1))?)?;
    }
    if params.activation == FusedActivation::Relu {
        y = y.relu()?;
    }
    from_channels_first(y, params.layout)
}

/// [`super::max_pool2d`] as a maximum over gathered window positions (exact gradients for
/// any size, unlike candle's `max_pool2d`, whose backward assumes the pool divides the image).
pub fn max_pool2d(
    x: &Tensor,
    pool: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
    layout: DataLayout,
) -> Result<Tensor> {
    let (n, (c, h, w)) = image_dims("max_pool2d", x.dims(), layout)?;
    let (pt, pb) = pads("max_pool2d", h, pool.0, stride.0, padding)?;
    let (pl, pr) = pads("max_pool2d", w, pool.1, stride.1, padding)?;
    let (hp, wp) = (h + pt + pb, w + pl + pr);
    let (oh, ow) = ((hp - pool.0) / stride.0 + 1, (wp - pool.1) / stride.1 + 1);
    let xf = to_channels_first(x, layout)?;
    // Pad with -inf so padded positions never win.
    let xf = if pt + pb + pl + pr > 0 {
        let neg = |hh: usize, ww: usize| {
            Tensor::full(f32::NEG_INFINITY, (n, c, hh, ww), x.device())?.to_dtype(x.dtype())
        };
        let mut parts = Vec::new();
        if pt > 0 {
            parts.push(neg(pt, w)?);
        }
        parts.push(xf);
        if pb > 0 {
            parts.push(neg(pb, w)?);
        }
        let xf = Tensor::cat(&parts, 2)?;
        let mut parts = Vec::new();
        if pl > 0 {
            parts.push(neg(hp, pl)?);
        }
        parts.push(xf);
        if pr > 0 {
            parts.push(neg(hp, pr)?);
        }
        Tensor::cat(&parts, 3)?
    } else {
        xf
    };
    let flat = xf.contiguous()?.reshape((n, c, hp * wp))?;
    let mut windows = Vec::with_capacity(pool.0 * pool.1);
    for r in 0..pool.0 {
        for s in 0..pool.1 {
            let idx: Vec<u32> = (0..oh)
                .flat_map(|i| {
                    (0..ow).map(move |j| ((i * stride.0 + r) * wp + j * stride.1 + s) as u32)
                })
                .collect();
            let idx = Tensor::from_vec(idx, oh * ow, x.device())?;
            windows.push(flat.index_select(&idx, 2)?);
        }
    }
    let y = Tensor::stack(&windows, 0)?
        .max(0)?
        .reshape((n, c, oh, ow))?;
    from_channels_first(y, layout)
}

/// [`super::dropout`] with the same mask, materialised as a tensor.
pub fn dropout(x: &Tensor, rate: f32, seed: u64) -> Result<Tensor> {
    if rate == 0.0 {
        super::dropout::DropoutMask::new(rate, seed)?;
        return Ok(x.clone());
    }
    let mask = super::dropout::mask_values(rate, seed, x.elem_count())?;
    let scale = 1.0 / (1.0 - rate as f64);
    let mask = Tensor::from_vec(mask, x.shape(), &Device::Cpu)?
        .to_device(x.device())?
        .to_dtype(x.dtype())?;
    (x * mask)?.affine(scale, 0.0)
}

/// [`super::dense`] with `matmul`.
pub fn dense(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    activation: FusedActivation,
) -> Result<Tensor> {
    let mut y = x.matmul(kernel)?;
    if let Some(b) = bias {
        y = y.broadcast_add(b)?;
    }
    match activation {
        FusedActivation::Linear => Ok(y),
        FusedActivation::Relu => y.relu(),
    }
}

fn sigmoid(x: &Tensor) -> Result<Tensor> {
    // candle-nn's op: `1 / (1 + exp(-x))` written with candle ops has NaN gradients
    // where exp overflows.
    candle_nn::ops::sigmoid(x)
}

fn activate(x: &Tensor, a: LstmActivation) -> Result<Tensor> {
    match a {
        LstmActivation::Tanh => x.tanh(),
        LstmActivation::Relu => x.relu(),
        LstmActivation::Sigmoid => sigmoid(x),
        LstmActivation::Linear => Ok(x.clone()),
    }
}

/// [`super::lstm`] step by step with candle ops.
pub fn lstm(
    x: &Tensor,
    kernel: &Tensor,
    recurrent_kernel: &Tensor,
    bias: Option<&Tensor>,
    activation: LstmActivation,
    return_sequences: bool,
) -> Result<Tensor> {
    let (n, t, f) = x.dims3()?;
    let h = recurrent_kernel.dim(0)?;
    let mut xp = x.reshape((n * t, f))?.matmul(kernel)?;
    if let Some(b) = bias {
        xp = xp.broadcast_add(b)?;
    }
    let xp = xp.reshape((n, t, 4 * h))?;
    let mut hs = Tensor::zeros((n, h), x.dtype(), x.device())?;
    let mut cs = Tensor::zeros((n, h), x.dtype(), x.device())?;
    let mut outputs = Vec::with_capacity(t);
    for step in 0..t {
        let z = (xp.narrow(1, step, 1)?.squeeze(1)? + hs.matmul(recurrent_kernel)?)?;
        let i = sigmoid(&z.narrow(1, 0, h)?)?;
        let fg = sigmoid(&z.narrow(1, h, h)?)?;
        let g = activate(&z.narrow(1, 2 * h, h)?, activation)?;
        let o = sigmoid(&z.narrow(1, 3 * h, h)?)?;
        cs = ((fg * &cs)? + (i * g)?)?;
        hs = (o * activate(&cs, activation)?)?;
        outputs.push(hs.clone());
    }
    if return_sequences {
        Tensor::stack(&outputs, 1)
    } else {
        Ok(hs)
    }
}

/// [`super::softmax_cross_entropy`] with `log_softmax`.
pub fn softmax_cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let n = logits.dim(0)?;
    let picked = if targets.dtype().is_int() {
        let idx = targets.to_dtype(DType::U32)?.reshape((n, 1))?;
        logp.gather(&idx, 1)?.sum_all()?
    } else {
        (logp * targets.to_dtype(logits.dtype())?)?.sum_all()?
    };
    picked.affine(-1.0 / n as f64, 0.0)
}

/// [`super::softmax`] with candle-nn's.
pub fn softmax(logits: &Tensor) -> Result<Tensor> {
    candle_nn::ops::softmax(logits, D::Minus1)
}
