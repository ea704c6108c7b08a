//! 2-d convolution with fused bias and relu: `y = act(conv(x, kernel) + bias)`.
//!
//! `x` is `(N, C, H, W)` (channels-first) or `(N, H, W, C)` (channels-last); the kernel is
//! always candle's `(K, C, kh, kw)`; the output is `(N, K, OH, OW)` or `(N, OH, OW, K)`.
//! Keras' `valid` and `same` paddings and any stride are supported.
//!
//! The CPU/f32 path unfolds images into a patch matrix (im2col) in a per-chunk scratch
//! buffer that stays in cache and multiplies it with the kernel matrix (gemm); small images
//! are grouped so that one product covers several of them, and channels-first images with
//! narrow outputs are computed in the channels-last formulation (transposed on the way in and
//! out), whose patch rows are long contiguous runs. Padded convolutions copy each image
//! into a zero-padded buffer first and run the unpadded im2col/col2im on it (whole-row
//! copies instead of border arithmetic per row: channels-first `same` layers ran 1.2-1.35x
//! slower per FLOP than `valid` ones before, as fast now). Chunks of the batch run in
//! parallel with single-threaded gemms. The backward pass recomputes the patch matrix for the kernel
//! gradient (gemm), sums the bias gradient, and computes the input gradient (gemm + col2im)
//! only when candle tracks the input. [`conv2d_max_pool`] fuses a following max pooling.
//!
//! ```
//! use dlkit::ops::{conv2d, Conv2dParams, FusedActivation, Padding};
//! use dlkit::{Device, Tensor};
//! let x = Tensor::ones((2, 1, 28, 28), dlkit::DType::F32, &Device::Cpu)?;
//! let k = Tensor::ones((32, 1, 3, 3), dlkit::DType::F32, &Device::Cpu)?;
//! let params = Conv2dParams { activation: FusedActivation::Relu, ..Default::default() };
//! assert_eq!(conv2d(&x, &k, None, &params)?.dims(), &[2, 32, 26, 26]);
//! let same = Conv2dParams { padding: Padding::Same, stride: (2, 2), ..Default::default() };
//! assert_eq!(conv2d(&x, &k, None, &same)?.dims(), &[2, 32, 14, 14]);
//! # Ok::<(), candle_core::Error>(())
//! ```
//!
//! The op's parts, each in a file of its own: [`layout`] (the computing layout and how an
//! image and the kernel are laid out for gemm), [`forward`] (the products, bias, relu and
//! pooling), [`backward`] (the gradient through the relu and pooling, the kernel gradient
//! and the input gradient).

mod backward;
mod forward;
mod layout;
mod one_channel;
mod winograd;

use std::sync::Mutex;

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::cpu::bias::{apply_with_bias, check_bias};
use super::cpu::data::{all_cpu_f32, expect_len, storage_f32};
use super::params::{image_dims, Conv2dParams, DataLayout, FusedActivation, Geometry, Padding};
use super::reference;
use winograd::Winograd;

const OP: &str = "conv2d";

/// Patch-matrix floats per gemm group (256 KiB): small layers get products wide enough to
/// run gemm near its best, large ones one image per product. A quarter of this machine's
/// 1 MiB L2 per core, so that the group's convolution output (as large again or larger)
/// stays in cache until it is pooled; twice this made the epochs of the 001–004 CNNs,
/// whose first layers have small patch matrices, 3–8 % slower.
const GROUP_FLOATS: usize = 1 << 16;

/// `act(conv2d(x, kernel) + bias)`; see the module documentation for shapes and layouts.
pub fn conv2d(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    params: &Conv2dParams,
) -> Result<Tensor> {
    let (n, g, k) = check_shapes(x, kernel, bias, params)?;
    if !all_cpu_f32(x, kernel, bias) {
        return reference::conv2d(x, kernel, bias, params);
    }
    apply_with_bias(Conv2dOp::new(*params, g, n, k, None), [x, kernel], bias, k)
}

/// The window of a max pooling fused after a convolution, Keras `MaxPooling2D` semantics
/// (see [`max_pool2d`](super::max_pool2d)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MaxPoolParams {
    pub pool: (usize, usize),
    pub stride: (usize, usize),
    pub padding: Padding,
}

/// `max_pool2d(act(conv2d(x, kernel) + bias))` in one op: the same values and gradients as
/// [`conv2d`] followed by [`max_pool2d`](super::max_pool2d), but the full-size convolution
/// output and its gradient never exist in memory (each image's is made in a cache-sized
/// scratch buffer and pooled at once), and candle tracks one node instead of two. Use it
/// for a `Conv2D` directly followed by `MaxPooling2D`.
pub fn conv2d_max_pool(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    params: &Conv2dParams,
    pool: &MaxPoolParams,
) -> Result<Tensor> {
    let (n, g, k) = check_shapes(x, kernel, bias, params)?;
    let pg = Geometry::new(
        "conv2d_max_pool",
        (k, g.oh, g.ow),
        pool.pool,
        pool.stride,
        pool.padding,
    )?;
    if !all_cpu_f32(x, kernel, bias) {
        let y = reference::conv2d(x, kernel, bias, params)?;
        return reference::max_pool2d(&y, pool.pool, pool.stride, pool.padding, params.layout);
    }
    // Without a tracked input there is no backward pass: keep no indices (inference).
    let keep = x.track_op() || kernel.track_op() || bias.is_some_and(|b| b.track_op());
    let plan = PoolPlan {
        g: pg,
        keep,
        argmax: Mutex::new(None),
    };
    let op = Conv2dOp::new(*params, g, n, k, Some(plan));
    apply_with_bias(op, [x, kernel], bias, k)
}

fn check_shapes(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    params: &Conv2dParams,
) -> Result<(usize, Geometry, usize)> {
    let (n, (c, h, w)) = image_dims(OP, x.dims(), params.layout)?;
    let &[k, kc, kh, kw] = kernel.dims() else {
        bail!(
            "{OP}: the kernel must be (out_channels, in_channels, kh, kw), got shape {:?}",
            kernel.dims()
        );
    };
    if kc != c {
        bail!(
            "{OP}: the input {:?} has {c} channels but the kernel {:?} expects {kc}",
            x.dims(),
            kernel.dims()
        );
    }
    check_bias(OP, bias, k, kernel)?;
    let g = Geometry::new(OP, (c, h, w), (kh, kw), params.stride, params.padding)?;
    Ok((n, g, k))
}

/// A max pooling applied to each image's convolution output inside the op.
struct PoolPlan {
    /// The pooling geometry over one convolution output `(K, OH, OW)`.
    g: Geometry,
    /// Whether to keep the indices for a backward pass.
    keep: bool,
    /// Per pooled value, the index of its maximum in its convolution output plane
    /// (`oh·OW + ow`), from the forward pass for the backward pass.
    argmax: Mutex<Option<Vec<u32>>>,
}

struct Conv2dOp {
    params: Conv2dParams,
    g: Geometry,
    /// The geometry im2col and col2im run on: `g` itself, or for a padded convolution that
    /// of the zero-padded image ([`Self::input`]) with no padding left.
    gp: Geometry,
    n: usize,
    k: usize,
    pool: Option<PoolPlan>,
    /// The Winograd transforms where they replace the direct products.
    winograd: Option<Winograd>,
    /// The forward pass of a one-channel layer without a patch matrix, where it runs.
    one_channel: Option<one_channel::Plan>,
}

impl Conv2dOp {
    fn new(params: Conv2dParams, g: Geometry, n: usize, k: usize, pool: Option<PoolPlan>) -> Self {
        // Rows and columns the windows reach, at least the image (plus its top/left padding).
        let hp = ((g.oh - 1) * g.sh + g.kh).max(g.h + g.pt);
        let wp = ((g.ow - 1) * g.sw + g.kw).max(g.w + g.pl);
        let gp = Geometry {
            h: hp,
            w: wp,
            pt: 0,
            pl: 0,
            ..g
        };
        let winograd = Winograd::choose(&params, &g, k);
        // Stride-1 one-channel layers (padded ones through their padded copy).
        let one_channel = if winograd.is_none() && g.c == 1 && (g.sh, g.sw) == (1, 1) {
            let relu = params.activation == FusedActivation::Relu;
            let channels_last = params.layout == DataLayout::ChannelsLast;
            one_channel::Plan::new(wp, (g.kh, g.kw), (g.oh, g.ow), k, channels_last, relu)
        } else {
            None
        };
        Conv2dOp {
            params,
            g,
            gp,
            n,
            k,
            pool,
            winograd,
            one_channel,
        }
    }
}

impl CustomOp3 for Conv2dOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = &self.g;
        let x = storage_f32(OP, s1, l1)?;
        let w = storage_f32(OP, s2, l2)?;
        let b = storage_f32(OP, s3, l3)?;
        expect_len(OP, "the input", &x, self.n * g.c * g.in_plane())?;
        expect_len(OP, "the kernel", &w, self.k * g.c * g.window())?;
        expect_len(OP, "the bias", &b, self.k)?;
        let y = self.forward(&x, &w, &b)?;
        Ok((CpuStorage::F32(y), self.out_shape()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        kernel: &Tensor,
        bias: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        self.backward([x, kernel], bias.track_op(), (res, grad))
    }
}
