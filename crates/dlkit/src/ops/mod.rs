//! Tensor operations behind the layers (interim version: plain candle ops;
//! the fast CPU kernels with their own backward replace these bodies).

use candle_core::{DType, Result, Tensor, D};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataLayout {
    ChannelsFirst,
    ChannelsLast,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    Valid,
    Same,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FusedActivation {
    Linear,
    Relu,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LstmActivation {
    Tanh,
    Relu,
    Sigmoid,
    Linear,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    pub stride: (usize, usize),
    pub padding: Padding,
    pub layout: DataLayout,
    pub activation: FusedActivation,
}

fn same_pads(input: usize, k: usize, s: usize) -> (usize, usize) {
    let out = input.div_ceil(s);
    let total = ((out - 1) * s + k).saturating_sub(input);
    (total / 2, total - total / 2)
}

fn fused(y: Tensor, a: FusedActivation) -> Result<Tensor> {
    match a {
        FusedActivation::Linear => Ok(y),
        FusedActivation::Relu => y.relu(),
    }
}

pub fn conv2d(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, p: &Conv2dParams) -> Result<Tensor> {
    let x = match p.layout {
        DataLayout::ChannelsFirst => x.clone(),
        DataLayout::ChannelsLast => x.permute((0, 3, 1, 2))?,
    };
    let (_, _, h, w) = x.dims4()?;
    let (_, _, kh, kw) = kernel.dims4()?;
    let x = if p.padding == Padding::Same {
        let (t, b) = same_pads(h, kh, p.stride.0);
        let (l, r) = same_pads(w, kw, p.stride.1);
        x.pad_with_zeros(2, t, b)?.pad_with_zeros(3, l, r)?
    } else {
        x
    };
    if p.stride.0 != p.stride.1 {
        candle_core::bail!("conv2d: unequal strides {:?} not supported yet", p.stride)
    }
    let mut y = x.contiguous()?.conv2d(kernel, 0, p.stride.0, 1, 1)?;
    if let Some(b) = bias {
        y = y.broadcast_add(&b.reshape((1, b.dim(0)?, 1, 1))?)?;
    }
    let y = fused(y, p.activation)?;
    match p.layout {
        DataLayout::ChannelsFirst => Ok(y),
        DataLayout::ChannelsLast => y.permute((0, 2, 3, 1))?.contiguous(),
    }
}

pub fn max_pool2d(
    x: &Tensor,
    pool: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
    layout: DataLayout,
) -> Result<Tensor> {
    if padding == Padding::Same {
        candle_core::bail!("max_pool2d: same padding not supported yet")
    }
    let x = match layout {
        DataLayout::ChannelsFirst => x.clone(),
        DataLayout::ChannelsLast => x.permute((0, 3, 1, 2))?.contiguous()?,
    };
    let y = x.max_pool2d_with_stride(pool, stride)?;
    match layout {
        DataLayout::ChannelsFirst => Ok(y),
        DataLayout::ChannelsLast => y.permute((0, 2, 3, 1))?.contiguous(),
    }
}

pub fn dropout(x: &Tensor, rate: f32, seed: u64) -> Result<Tensor> {
    let mut rng = crate::rng::Rng::new(seed);
    let scale = 1.0 / (1.0 - rate);
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| if rng.next_f32() < rate { 0.0 } else { scale })
        .collect();
    x * Tensor::from_vec(mask, x.shape(), x.device())?
}

pub fn dense(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, a: FusedActivation) -> Result<Tensor> {
    let mut y = x.matmul(kernel)?;
    if let Some(b) = bias {
        y = y.broadcast_add(b)?;
    }
    fused(y, a)
}

pub fn lstm(
    x: &Tensor,
    kernel: &Tensor,
    recurrent: &Tensor,
    bias: &Tensor,
    activation: LstmActivation,
    return_sequences: bool,
) -> Result<Tensor> {
    let (n, t, f) = x.dims3()?;
    let h = recurrent.dim(0)?;
    let act = |v: &Tensor| -> Result<Tensor> {
        match activation {
            LstmActivation::Tanh => v.tanh(),
            LstmActivation::Relu => v.relu(),
            LstmActivation::Sigmoid => candle_nn::ops::sigmoid(v),
            LstmActivation::Linear => Ok(v.clone()),
        }
    };
    let proj = x.reshape((n * t, f))?.matmul(kernel)?.broadcast_add(bias)?.reshape((n, t, 4 * h))?;
    let mut hs = Tensor::zeros((n, h), x.dtype(), x.device())?;
    let mut cs = hs.clone();
    let mut outs = Vec::new();
    for step in 0..t {
        let z = (proj.narrow(1, step, 1)?.squeeze(1)? + hs.matmul(recurrent)?)?;
        let i = candle_nn::ops::sigmoid(&z.narrow(1, 0, h)?)?;
        let fg = candle_nn::ops::sigmoid(&z.narrow(1, h, h)?)?;
        let g = act(&z.narrow(1, 2 * h, h)?)?;
        let o = candle_nn::ops::sigmoid(&z.narrow(1, 3 * h, h)?)?;
        cs = ((fg * &cs)? + (i * g)?)?;
        hs = (o * act(&cs)?)?;
        if return_sequences {
            outs.push(hs.clone());
        }
    }
    if return_sequences {
        Tensor::stack(&outs, 1)
    } else {
        Ok(hs)
    }
}

/// Mean cross-entropy of softmax(logits) against one-hot (N, C) or integer (N,) targets.
pub fn softmax_cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let log_p = candle_nn::ops::log_softmax(logits, D::Minus1)?;
    let n = logits.dim(0)? as f64;
    let picked = if targets.rank() == 1 {
        let idx = targets.to_dtype(DType::U32)?.unsqueeze(1)?;
        log_p.gather(&idx, 1)?.sum_all()?
    } else {
        (log_p * targets.to_dtype(logits.dtype())?)?.sum_all()?
    };
    picked.affine(-1.0 / n, 0.0)
}
