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

use std::ops::Range;
use std::sync::Mutex;

use rayon::prelude::*;

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::cpu::data::{expect_len, is_cpu_f32, storage_f32, tensor, CpuF32};
use super::cpu::gemm::{matmul, Mat};
use super::cpu::im2col::{col2im_cf, col2im_cl, col_len, im2col_cf, im2col_cl};
use super::cpu::math::{add_assign, add_row, add_scalar, mask_copy, sum};
use super::cpu::pad::{crop_add, pad, Pad};
use super::cpu::parallel::{batch_chunks, map_chunks_mut, threads};
use super::cpu::transpose::transpose;
use super::params::{image_dims, Conv2dParams, DataLayout, FusedActivation, Geometry, Padding};
use super::pool::{pool_cf, pool_cl};
use super::reference;

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
    let fast = is_cpu_f32(x) && is_cpu_f32(kernel) && bias.is_none_or(is_cpu_f32);
    if !fast {
        return reference::conv2d(x, kernel, bias, params);
    }
    apply(x, kernel, bias, Conv2dOp::new(*params, g, n, k, None))
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
    let fast = is_cpu_f32(x) && is_cpu_f32(kernel) && bias.is_none_or(is_cpu_f32);
    if !fast {
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
    apply(x, kernel, bias, Conv2dOp::new(*params, g, n, k, Some(plan)))
}

fn apply(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, op: Conv2dOp) -> Result<Tensor> {
    let k = op.k;
    match bias {
        Some(b) => x.apply_op3(kernel, b, op),
        // A constant zero bias keeps one op type; its gradient is never computed.
        None => x.apply_op3(kernel, &Tensor::zeros(k, x.dtype(), x.device())?, op),
    }
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
    if let Some(b) = bias {
        if b.dims() != [k] {
            bail!(
                "{OP}: the bias must be ({k}) for kernel {:?}, got shape {:?}",
                kernel.dims(),
                b.dims()
            );
        }
    }
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
}

/// Per-worker scratch for [`Conv2dOp::input`] and [`Conv2dOp::fold`]: a transposed image
/// and a padded one.
#[derive(Default)]
struct Scratch {
    transposed: Vec<f32>,
    padded: Vec<f32>,
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
        Conv2dOp {
            params,
            g,
            gp,
            n,
            k,
            pool,
        }
    }

    /// Whether the images are copied into zero-padded buffers first.
    fn padded(&self) -> bool {
        self.gp != self.g
    }

    /// Where an image (in the computing layout) sits in its padded copy.
    fn pad_shape(&self) -> Pad {
        let (g, gp) = (&self.g, &self.gp);
        if self.compute_cl() {
            // One plane of (W·C)-value rows.
            let c = g.c;
            Pad {
                planes: 1,
                h: g.h,
                w: g.w * c,
                hp: gp.h,
                wp: gp.w * c,
                top: g.pt,
                left: g.pl * c,
            }
        } else {
            Pad {
                planes: g.c,
                h: g.h,
                w: g.w,
                hp: gp.h,
                wp: gp.w,
                top: g.pt,
                left: g.pl,
            }
        }
    }

    /// Image `i` of `x` as im2col wants it (geometry `gp`, computing layout): borrowed, or
    /// transposed and/or zero-padded into `s`.
    fn input<'a>(&self, x: &'a [f32], i: usize, s: &'a mut Scratch) -> &'a [f32] {
        let (c, hw) = (self.g.c, self.g.in_plane());
        let mut xi = &x[i * c * hw..(i + 1) * c * hw];
        if self.transposing() {
            s.transposed.resize(c * hw, 0.0);
            transpose(xi, c, hw, &mut s.transposed);
            xi = &s.transposed;
        }
        if !self.padded() {
            return xi;
        }
        let p = self.pad_shape();
        s.padded.resize(p.padded_len(), 0.0);
        pad(xi, &p, &mut s.padded);
        &s.padded
    }

    /// `dxi += col2im(dcol)` for one image: the inverse of [`Self::input`] (folded in the
    /// padded geometry, cropped, transposed back).
    fn fold(&self, dcol: &[f32], ld: usize, dxi: &mut [f32], s: &mut Scratch) {
        let (c, hw) = (self.g.c, self.g.in_plane());
        let Scratch { transposed, padded } = s;
        if self.transposing() {
            transposed.clear();
            transposed.resize(c * hw, 0.0);
            self.fold_padded(dcol, ld, transposed, padded);
            transpose(transposed, hw, c, dxi);
        } else {
            self.fold_padded(dcol, ld, dxi, padded);
        }
    }

    /// `out += col2im(dcol)` in the computing layout, through a padded buffer if padded.
    fn fold_padded(&self, dcol: &[f32], ld: usize, out: &mut [f32], padded: &mut Vec<f32>) {
        let col2im = |dx: &mut [f32]| {
            if self.compute_cl() {
                col2im_cl(dcol, &self.gp, dx);
            } else {
                col2im_cf(dcol, &self.gp, dx, ld);
            }
        };
        if !self.padded() {
            col2im(out);
            return;
        }
        let p = self.pad_shape();
        padded.clear();
        padded.resize(p.padded_len(), 0.0);
        col2im(padded);
        crop_add(padded, &p, out);
    }

    fn channels_last(&self) -> bool {
        self.params.layout == DataLayout::ChannelsLast
    }

    /// Whether the products run in the channels-last formulation. Channels-first images
    /// with several channels and narrow outputs take it too (transposed on the way in and
    /// out): their im2col would copy rows of a few values each, and the channels-last one
    /// copies whole `kw·C` runs and makes one tall product per group (2x faster on the
    /// 12x12 layers of tutorials 002 and 003).
    fn compute_cl(&self) -> bool {
        self.channels_last() || (self.g.c > 1 && self.g.ow < 16)
    }

    /// Channels-first data computed channels-last.
    fn transposing(&self) -> bool {
        self.compute_cl() && !self.channels_last()
    }

    /// The channels-last patch matrix of image `j` of a group of `m`, as rows `j·P..(j+1)·P`
    /// of the group's `(m·P, kh·kw·C)` matrix. With one channel both layouts of the image are
    /// the same and the channels-first im2col (long row copies instead of copies of `kw`
    /// values) fills the transposed matrix; [`Self::patch_rows`] reads it back as rows.
    fn im2col_rows(&self, x: &[f32], col: &mut [f32], j: usize, m: usize) {
        let (g, p) = (&self.gp, self.g.out_plane());
        if g.c == 1 {
            im2col_cf(x, g, &mut col[j * p..], m * p);
        } else {
            im2col_cl(x, g, &mut col[j * col_len(g)..(j + 1) * col_len(g)]);
        }
    }

    /// The `(rows, kh·kw·C)` patch matrix filled by [`Self::im2col_rows`].
    fn patch_rows<'a>(&self, col: &'a [f32], rows: usize) -> Mat<'a> {
        let crs = self.g.c * self.g.window();
        if self.g.c == 1 {
            Mat::transposed(col, rows, crs)
        } else {
            Mat::rows(col, rows, crs)
        }
    }

    fn out_shape(&self) -> Shape {
        let (n, k) = (self.n, self.k);
        let (oh, ow) = match &self.pool {
            Some(p) => (p.g.oh, p.g.ow),
            None => (self.g.oh, self.g.ow),
        };
        match self.params.layout {
            DataLayout::ChannelsFirst => (n, k, oh, ow).into(),
            DataLayout::ChannelsLast => (n, oh, ow, k).into(),
        }
    }

    /// Values per image of the op's output (pooled, if pooling).
    fn out_img(&self) -> usize {
        match &self.pool {
            Some(p) => self.k * p.g.out_plane(),
            None => self.k * self.g.out_plane(),
        }
    }

    /// Forward pass with pooling: each group's convolution output goes to a scratch buffer
    /// and is pooled into `ys`/`ids` at once.
    #[allow(clippy::too_many_arguments)]
    fn forward_pooled(
        &self,
        pg: Geometry,
        x: &[f32],
        wm: &[f32],
        b: &[f32],
        range: Range<usize>,
        ys: &mut [f32],
        ids: &mut [u32],
        threads: usize,
    ) -> Result<()> {
        let conv_img = self.k * self.g.out_plane();
        let pool_img = self.k * pg.out_plane();
        let group = self.group();
        let mut scratch = vec![0.0f32; group.min(range.len()) * conv_img];
        let mut col = Vec::new();
        let mut s0 = range.start;
        while s0 < range.end {
            let s1 = (s0 + group).min(range.end);
            let conv = &mut scratch[..(s1 - s0) * conv_img];
            self.forward_range(x, wm, b, s0..s1, conv, &mut col, threads)?;
            for (j, i) in (s0..s1).enumerate() {
                let at = (i - range.start) * pool_img;
                let (yc, yo, io) = (
                    &conv[j * conv_img..(j + 1) * conv_img],
                    &mut ys[at..at + pool_img],
                    &mut ids[at..at + pool_img],
                );
                match self.params.layout {
                    DataLayout::ChannelsFirst => pool_cf(pg, yc, yo, io),
                    DataLayout::ChannelsLast => pool_cl(pg, yc, yo, io),
                }
            }
            s0 = s1;
        }
        Ok(())
    }

    /// The kernel as the gemm wants it: `(K, C·kh·kw)` channels-first (as given) or
    /// `(K, kh·kw·C)` channels-last.
    fn kernel_matrix<'a>(&self, w: &'a [f32]) -> std::borrow::Cow<'a, [f32]> {
        if !self.compute_cl() || self.g.c == 1 {
            return w.into();
        }
        let (c, win) = (self.g.c, self.g.window());
        let mut out = vec![0.0; w.len()];
        for k in 0..self.k {
            for ci in 0..c {
                for rs in 0..win {
                    out[(k * win + rs) * c + ci] = w[(k * c + ci) * win + rs];
                }
            }
        }
        out.into()
    }

    /// The inverse of `kernel_matrix` for a gradient.
    fn kernel_from_matrix(&self, m: Vec<f32>) -> Vec<f32> {
        if !self.compute_cl() || self.g.c == 1 {
            return m;
        }
        let (c, win) = (self.g.c, self.g.window());
        let mut out = vec![0.0; m.len()];
        for k in 0..self.k {
            for ci in 0..c {
                for rs in 0..win {
                    out[(k * c + ci) * win + rs] = m[(k * win + rs) * c + ci];
                }
            }
        }
        out
    }

    /// Images per gemm: enough that small patch matrices (first layers) make one product
    /// with a long inner dimension, few enough that the group's patch matrix stays in cache.
    fn group(&self) -> usize {
        (GROUP_FLOATS / col_len(&self.g).max(1)).clamp(1, self.n.max(1))
    }

    /// Forward pass of images `range` into `ys` (their outputs), reusing `col`.
    #[allow(clippy::too_many_arguments)]
    fn forward_range(
        &self,
        x: &[f32],
        wm: &[f32],
        b: &[f32],
        range: Range<usize>,
        ys: &mut [f32],
        col: &mut Vec<f32>,
        threads: usize,
    ) -> Result<()> {
        let g = &self.g;
        let (k, crs, p) = (self.k, g.c * g.window(), g.out_plane());
        let out_img = k * p;
        let group = self.group();
        let mut s = Scratch::default();
        let mut s0 = range.start;
        while s0 < range.end {
            let s1 = (s0 + group).min(range.end);
            let m = s1 - s0;
            let y = &mut ys[(s0 - range.start) * out_img..(s1 - range.start) * out_img];
            if self.channels_last() {
                // All the group's patches in one product: (m·P, K) = col (m·P, RSC) · Wᵀ.
                col.resize(m * col_len(g), 0.0);
                for (j, i) in (s0..s1).enumerate() {
                    self.im2col_rows(self.input(x, i, &mut s), col, j, m);
                }
                matmul(
                    OP,
                    y,
                    k,
                    self.patch_rows(col, m * p),
                    Mat::transposed(wm, crs, k),
                    false,
                    threads,
                )?;
            } else if self.transposing() {
                // As above from transposed images, then each image's (P, K) result transposed.
                col.resize(m * col_len(g) + m * p * k, 0.0);
                let (cols, prod) = col.split_at_mut(m * col_len(g));
                for (j, i) in (s0..s1).enumerate() {
                    let xi = self.input(x, i, &mut s);
                    im2col_cl(
                        xi,
                        &self.gp,
                        &mut cols[j * col_len(g)..(j + 1) * col_len(g)],
                    );
                }
                matmul(
                    OP,
                    prod,
                    k,
                    Mat::rows(cols, m * p, crs),
                    Mat::transposed(wm, crs, k),
                    false,
                    threads,
                )?;
                for (j, yj) in y.chunks_exact_mut(out_img).enumerate() {
                    transpose(&prod[j * p * k..(j + 1) * p * k], p, k, yj);
                }
            } else if m == 1 {
                // (K, P) = W (K, CRS) · col (CRS, P), straight into the output.
                col.resize(col_len(g), 0.0);
                im2col_cf(self.input(x, s0, &mut s), &self.gp, col, p);
                matmul(
                    OP,
                    y,
                    p,
                    Mat::rows(wm, k, crs),
                    Mat::rows(col, crs, p),
                    false,
                    threads,
                )?;
            } else {
                // The group's patches side by side, (CRS, m·P), make one wide product
                // (K, m·P), whose column blocks are then each image's (K, P) output.
                let mp = m * p;
                col.resize(m * col_len(g) + k * mp, 0.0);
                let (cols, prod) = col.split_at_mut(m * col_len(g));
                for (j, i) in (s0..s1).enumerate() {
                    im2col_cf(self.input(x, i, &mut s), &self.gp, &mut cols[j * p..], mp);
                }
                matmul(
                    OP,
                    prod,
                    mp,
                    Mat::rows(wm, k, crs),
                    Mat::rows(cols, crs, mp),
                    false,
                    threads,
                )?;
                for (kk, row) in prod.chunks_exact(mp).enumerate() {
                    for (j, part) in row.chunks_exact(p).enumerate() {
                        y[j * out_img + kk * p..j * out_img + (kk + 1) * p].copy_from_slice(part);
                    }
                }
            }
            for yi in y.chunks_exact_mut(out_img) {
                self.add_bias(yi, b);
            }
            s0 = s1;
        }
        Ok(())
    }

    fn add_bias(&self, y: &mut [f32], bias: &[f32]) {
        let relu = self.params.activation == FusedActivation::Relu;
        if self.channels_last() {
            for row in y.chunks_exact_mut(self.k) {
                add_row(row, bias, relu);
            }
        } else {
            for (row, &b) in y.chunks_exact_mut(self.g.out_plane()).zip(bias) {
                add_scalar(row, b, relu);
            }
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
        let (img, out_img) = (g.c * g.in_plane(), self.k * g.out_plane());
        let x = storage_f32(OP, s1, l1)?;
        let w = storage_f32(OP, s2, l2)?;
        let b = storage_f32(OP, s3, l3)?;
        expect_len(OP, "the input", &x, self.n * img)?;
        expect_len(OP, "the kernel", &w, self.k * g.c * g.window())?;
        expect_len(OP, "the bias", &b, self.k)?;
        let wm = self.kernel_matrix(&w);
        let chunks = batch_chunks(self.n);
        // Small batches leave cores idle between chunks: let gemm split instead.
        let inner = if chunks.len() < threads() {
            threads()
        } else {
            1
        };
        let y = match &self.pool {
            None => {
                let mut y = vec![0.0f32; self.n * out_img];
                let results = map_chunks_mut(&mut y, out_img, &chunks, |range, ys| -> Result<()> {
                    let mut col = Vec::new();
                    self.forward_range(&x, &wm, &b, range, ys, &mut col, inner)
                });
                results.into_iter().collect::<Result<Vec<()>>>()?;
                y
            }
            Some(plan) => {
                let pool_img = self.out_img();
                let mut y = vec![0.0f32; self.n * pool_img];
                let mut idx = vec![0u32; self.n * pool_img];
                let mut parts = Vec::with_capacity(chunks.len());
                let (mut y_rest, mut i_rest) = (&mut y[..], &mut idx[..]);
                for r in &chunks {
                    let (yh, yt) = y_rest.split_at_mut(r.len() * pool_img);
                    let (ih, it) = i_rest.split_at_mut(r.len() * pool_img);
                    parts.push((r.clone(), yh, ih));
                    (y_rest, i_rest) = (yt, it);
                }
                parts
                    .into_par_iter()
                    .map(|(r, ys, ids)| self.forward_pooled(plan.g, &x, &wm, &b, r, ys, ids, inner))
                    .collect::<Result<Vec<()>>>()?;
                if plan.keep {
                    if let Ok(mut slot) = plan.argmax.lock() {
                        *slot = Some(idx);
                    }
                }
                y
            }
        };
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
        let g = &self.g;
        let (k, p) = (self.k, g.out_plane());
        let (img, out_img, crs) = (g.c * g.in_plane(), k * p, g.c * g.window());
        let (want_x, want_w, want_b) = (x.track_op(), kernel.track_op(), bias.track_op());

        // With pooling, `dy` and `y` are the pooled gradient and output (`res_img` per image).
        let res_img = self.out_img();
        let grad_guard = CpuF32::new(OP, grad)?;
        let dy = grad_guard.data()?;
        expect_len(OP, "the output gradient", &dy, self.n * res_img)?;
        let res_guard = CpuF32::new(OP, res)?;
        let y = if self.params.activation == FusedActivation::Relu {
            Some(res_guard.data()?)
        } else {
            None
        };
        if let Some(y) = &y {
            expect_len(OP, "the output", y, self.n * res_img)?;
        }
        let y = y.as_deref();
        // The guard holds the pooling indices for the whole backward pass (and leaves them
        // in place for another backward pass through the same graph).
        let argmax_guard = match &self.pool {
            None => None,
            Some(plan) => match plan.argmax.lock() {
                Ok(guard) => Some((plan.g, guard)),
                Err(_) => bail!("{OP}: the pooling indices were poisoned by a panic"),
            },
        };
        let argmax = match &argmax_guard {
            None => None,
            Some((pg, guard)) => match guard.as_ref() {
                Some(idx) if idx.len() == self.n * res_img => Some((*pg, idx.as_slice())),
                _ => bail!("{OP}: the pooling indices of the forward pass are missing"),
            },
        };
        let x_guard = CpuF32::new(OP, x)?;
        let xs = if want_w {
            x_guard.data()?
        } else {
            Vec::new().into()
        };
        if want_w {
            expect_len(OP, "the input", &xs, self.n * img)?;
        }
        let w_guard = CpuF32::new(OP, kernel)?;
        let w = w_guard.data()?;
        expect_len(OP, "the kernel", &w, k * crs)?;
        let wm = self.kernel_matrix(&w);

        let chunks = batch_chunks(self.n);
        let inner = if chunks.len() < threads() {
            threads()
        } else {
            1
        };
        let mut dx = if want_x {
            vec![0.0f32; self.n * img]
        } else {
            Vec::new()
        };
        let dx_item = if want_x { img } else { 0 };
        let group = self.group();
        // Each chunk returns its partial kernel and bias gradients; they are summed in chunk order.
        let partials = map_chunks_mut(
            &mut dx,
            dx_item,
            &chunks,
            |range, dxs| -> Result<(Vec<f32>, Vec<f32>)> {
                let mut dz = vec![0.0f32; group.min(range.len()) * out_img];
                let mut col = vec![
                    0.0f32;
                    if want_w {
                        group.min(range.len()) * col_len(g)
                    } else {
                        0
                    }
                ];
                let mut dcol = vec![
                    0.0f32;
                    if want_x {
                        group.min(range.len()) * col_len(g)
                    } else {
                        0
                    }
                ];
                let mut dw = vec![0.0f32; if want_w { k * crs } else { 0 }];
                let mut db = vec![0.0f32; k];
                let mut s = Scratch::default();
                let mut s0 = range.start;
                while s0 < range.end {
                    let s1 = (s0 + group).min(range.end);
                    let m = s1 - s0;
                    let mp = m * p;
                    // The group's output gradient through the relu, as one matrix:
                    // (K, m·P) channels-first, (m·P, K) channels-last.
                    let dz = &mut dz[..m * out_img];
                    let (dy_g, y_g) = (
                        &dy[s0 * res_img..s1 * res_img],
                        y.map(|y| &y[s0 * res_img..s1 * res_img]),
                    );
                    if let Some((pg, idx)) = &argmax {
                        // Un-pool: each pooled gradient goes to its maximum, through the relu
                        // (the maximum was positive exactly when the pooled value is).
                        dz.fill(0.0);
                        let idx_g = &idx[s0 * res_img..s1 * res_img];
                        let pp = pg.out_plane();
                        let relu_mask = |d: f32, q: usize, base: usize| match y_g {
                            Some(y) if y[base + q] <= 0.0 => 0.0,
                            _ => d,
                        };
                        for j in 0..m {
                            let base = j * res_img;
                            let (dyj, idj) =
                                (&dy_g[base..base + res_img], &idx_g[base..base + res_img]);
                            if self.channels_last() {
                                let dzj = &mut dz[j * p * k..(j + 1) * p * k];
                                for (pos, (dq, iq)) in
                                    dyj.chunks_exact(k).zip(idj.chunks_exact(k)).enumerate()
                                {
                                    for (ci, (&d, &at)) in dq.iter().zip(iq).enumerate() {
                                        if let Some(v) = dzj.get_mut(at as usize * k + ci) {
                                            *v += relu_mask(d, pos * k + ci, base);
                                        }
                                    }
                                }
                            } else {
                                for (kk, (dq, iq)) in
                                    dyj.chunks_exact(pp).zip(idj.chunks_exact(pp)).enumerate()
                                {
                                    let dzk = &mut dz[kk * mp + j * p..kk * mp + (j + 1) * p];
                                    for (q, (&d, &at)) in dq.iter().zip(iq).enumerate() {
                                        if let Some(v) = dzk.get_mut(at as usize) {
                                            *v += relu_mask(d, kk * pp + q, base);
                                        }
                                    }
                                }
                            }
                        }
                        if self.channels_last() {
                            for row in dz.chunks_exact(k) {
                                add_assign(&mut db, row);
                            }
                        } else {
                            for (d, row) in db.iter_mut().zip(dz.chunks_exact(mp)) {
                                *d += sum(row);
                            }
                        }
                    } else if self.channels_last() {
                        mask_copy(dy_g, y_g, dz);
                        for row in dz.chunks_exact(k) {
                            add_assign(&mut db, row);
                        }
                    } else {
                        for j in 0..m {
                            for kk in 0..k {
                                let src = j * out_img + kk * p;
                                mask_copy(
                                    &dy_g[src..src + p],
                                    y_g.map(|y| &y[src..src + p]),
                                    &mut dz[kk * mp + j * p..kk * mp + (j + 1) * p],
                                );
                            }
                        }
                        for (d, row) in db.iter_mut().zip(dz.chunks_exact(mp)) {
                            *d += sum(row);
                        }
                    }
                    // dz is (m·P, K) channels-last and (K, m·P) channels-first; the transposing
                    // path reads the latter through transposed views.
                    let dz_cl = if self.channels_last() {
                        Mat::rows(dz, mp, k)
                    } else {
                        Mat::transposed(dz, mp, k)
                    };
                    if want_w {
                        let col = &mut col[..m * col_len(g)];
                        for (j, i) in (s0..s1).enumerate() {
                            if self.compute_cl() {
                                self.im2col_rows(self.input(&xs, i, &mut s), col, j, m);
                            } else {
                                let xi = self.input(&xs, i, &mut s);
                                im2col_cf(xi, &self.gp, &mut col[j * p..], mp);
                            }
                        }
                        // The kernel gradient is accumulated transposed, (CRS, K): gemm runs
                        // this orientation 1.2-1.5x faster (its 16x6 tiles fit K = 32/64 rows).
                        if self.compute_cl() {
                            // dWᵀ (RSC, K) += colᵀ (RSC, m·P) · dz (m·P, K)
                            matmul(
                                OP,
                                &mut dw,
                                k,
                                self.patch_rows(col, mp).t(),
                                dz_cl,
                                true,
                                inner,
                            )?;
                        } else {
                            // dWᵀ (CRS, K) += col (CRS, m·P) · dzᵀ (m·P, K)
                            matmul(
                                OP,
                                &mut dw,
                                k,
                                Mat::rows(col, crs, mp),
                                Mat::transposed(dz, mp, k),
                                true,
                                inner,
                            )?;
                        }
                    }
                    if want_x {
                        let dcol = &mut dcol[..m * col_len(g)];
                        if self.compute_cl() {
                            // dcol (m·P, RSC) = dz (m·P, K) · W (K, RSC)
                            matmul(OP, dcol, crs, dz_cl, Mat::rows(&wm, k, crs), false, inner)?;
                        } else {
                            // dcol (CRS, m·P) = Wᵀ (CRS, K) · dz (K, m·P)
                            matmul(
                                OP,
                                dcol,
                                mp,
                                Mat::transposed(&wm, crs, k),
                                Mat::rows(dz, k, mp),
                                false,
                                inner,
                            )?;
                        }
                        for j in 0..m {
                            let at = s0 - range.start + j;
                            let dxi = &mut dxs[at * img..(at + 1) * img];
                            let dcol_j = if self.compute_cl() {
                                &dcol[j * col_len(g)..(j + 1) * col_len(g)]
                            } else {
                                &dcol[j * p..]
                            };
                            self.fold(dcol_j, mp, dxi, &mut s);
                        }
                    }
                    s0 = s1;
                }
                Ok((dw, db))
            },
        );
        let (mut dw_total, mut db_total) = (vec![0.0f32; k * crs], vec![0.0f32; k]);
        for part in partials {
            let (dw, db) = part?;
            if want_w {
                add_assign(&mut dw_total, &dw);
            }
            add_assign(&mut db_total, &db);
        }
        let dw = if want_w {
            let mut dw_rows = vec![0.0f32; k * crs];
            transpose(&dw_total, crs, k, &mut dw_rows);
            Some(tensor(
                self.kernel_from_matrix(dw_rows),
                kernel.shape().clone(),
            )?)
        } else {
            None
        };
        let db = if want_b {
            Some(tensor(db_total, k)?)
        } else {
            None
        };
        let dx = if want_x {
            Some(tensor(dx, x.shape().clone())?)
        } else {
            None
        };
        Ok((dx, dw, db))
    }
}
