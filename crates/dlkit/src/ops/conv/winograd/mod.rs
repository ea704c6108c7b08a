//! Winograd's minimal filtering for stride-1 3×3 and 5×5 convolutions: the forward pass,
//! the input gradient (a correlation of the output gradient with the turned kernel) and the
//! kernel gradient (the tile roles exchanged: F(r, m) with the output-gradient tile as the
//! filter). 3×3 layers run F(4×4, 3×3), 36 multiplications per 16 outputs instead of 144;
//! 5×5 layers F(2×2, 5×5), 36 per 4 instead of 100. Chosen per layer by shape in
//! [`Winograd::choose`] when the op is built; bias, relu and a fused pooling run as for the
//! direct path, and both layouts go through channels-last tiles.
//!
//! Precision: the transforms round differently from a direct sum. Against the direct path
//! and candle's conv2d, outputs and all gradients agree to 7.4e-6 of their largest
//! magnitude on the cases of `tests/tests/ops_conv_winograd.rs` (tolerance 2e-5).

mod kernels;
mod tiles;
pub(crate) mod toom_cook;

use std::cell::RefCell;
use std::ops::Range;

use candle_core::Result;

pub(super) use self::tiles::Workspace;
use self::tiles::{
    accumulate_kernel_gradient, finish_kernel_gradient, tile_grid, transform_filter, Correlation,
    Plane, TILE_BLOCK,
};
use self::toom_cook::Transform;
use super::Conv2dOp;
use crate::ops::cpu::transpose::transpose;
use crate::ops::params::{Conv2dParams, ConvAlgorithm, Geometry};

/// The transforms a layer runs with.
pub(super) struct Winograd {
    /// F(m, r): the forward pass and the input gradient.
    forward: Transform,
    /// F(r, m): the kernel gradient.
    kernel_gradient: Transform,
}

/// `Auto` runs Winograd on 3×3 layers whose products have at least this many
/// input·output channel pairs. Measured per layer, forward + backward at the tutorials'
/// batch sizes on 2 cores (`ops_bench -- winograd`): 32→64 channels (000's second layer)
/// 1.7–2.3× faster than direct, 32→32 (001's) 1.13–1.17×, but 16→15 (002's branches)
/// 0.76×, 30→15 0.6–0.7×, and 5×5 16→16 (003's) 0.6×: the transforms cost per channel
/// and per tile, the products they save per channel pair, and the direct path's long
/// products already run near the machine's peak.
const MIN_CHANNEL_PAIRS: usize = 32 * 32;

impl Winograd {
    /// The transforms for a convolution of geometry `g` with `k` output channels, or `None`
    /// where the direct path runs: strides other than 1, windows other than 3×3 and 5×5,
    /// and with [`ConvAlgorithm::Auto`], 5×5 windows (F(2×2, 5×5) was slower than direct
    /// on every tutorial layer) and 3×3 layers with few channels.
    pub(super) fn choose(params: &Conv2dParams, g: &Geometry, k: usize) -> Option<Winograd> {
        if params.algorithm == ConvAlgorithm::Direct || (g.sh, g.sw) != (1, 1) || g.kh != g.kw {
            return None;
        }
        let m = match g.kh {
            3 => 4,
            5 => 2,
            _ => return None,
        };
        if params.algorithm == ConvAlgorithm::Auto && (g.kh != 3 || g.c * k < MIN_CHANNEL_PAIRS) {
            return None;
        }
        Some(Winograd {
            forward: Transform::new(m, g.kh),
            kernel_gradient: Transform::new(g.kh, m),
        })
    }

    /// Images per group: about one gemm block of tiles.
    pub(super) fn group(&self, g: &Geometry, n: usize) -> usize {
        let (th, tw) = tile_grid((g.oh, g.ow), self.forward.m);
        (TILE_BLOCK / (th * tw).max(1)).clamp(1, n.max(1))
    }

    /// The kernel `(K, C, r, r)` transformed for the forward pass.
    pub(super) fn forward_filter(&self, w: &[f32], k: usize, c: usize) -> Vec<f32> {
        transform_filter(&self.forward, w, (k, c), false)
    }

    /// The kernel transformed for the input gradient.
    pub(super) fn input_gradient_filter(&self, w: &[f32], k: usize, c: usize) -> Vec<f32> {
        transform_filter(&self.forward, w, (k, c), true)
    }

    /// Values of a chunk's kernel-gradient sums (see [`Conv2dOp::winograd_kernel_gradient`]).
    pub(super) fn kernel_sums_len(&self, k: usize, c: usize) -> usize {
        self.kernel_gradient.n * self.kernel_gradient.n * k * c
    }

    /// The `(K, C, r, r)` kernel gradient from the summed chunk sums.
    pub(super) fn finish_kernel_gradient(&self, sums: &[f32], k: usize, c: usize) -> Vec<f32> {
        finish_kernel_gradient(&self.kernel_gradient, sums, (k, c))
    }
}

/// The buffers of the Winograd path: the tiles' workspace and channels-last copies of
/// channels-first images and results.
#[derive(Default)]
pub(super) struct WinogradScratch {
    tiles: Workspace,
    images: Vec<f32>,
    results: Vec<f32>,
}

thread_local! {
    /// Each thread's buffers, kept from call to call: a few MB per thread at the
    /// tutorials' sizes. Allocated afresh on every call they cost more in page faults than
    /// the transforms themselves (001's second layer ran 1.3x slower).
    static SCRATCH: RefCell<WinogradScratch> = RefCell::default();
}

/// Runs `f` with this thread's buffers (fresh ones if they are in use further up).
pub(super) fn with_scratch<R>(f: impl FnOnce(&mut WinogradScratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => f(&mut s),
        Err(_) => f(&mut WinogradScratch::default()),
    })
}

impl Conv2dOp {
    /// Where output pixel (0, 0)'s window starts in the unpadded image.
    fn window_origin(&self) -> (isize, isize) {
        (-(self.g.pt as isize), -(self.g.pl as isize))
    }

    /// The images `range` of `x` as channels-last planes: borrowed, or transposed into `buf`.
    fn image_planes<'a>(
        &self,
        x: &'a [f32],
        range: Range<usize>,
        buf: &'a mut Vec<f32>,
    ) -> Vec<Plane<'a>> {
        let g = &self.g;
        let img = g.c * g.in_plane();
        let data: &'a [f32] = if self.channels_last() {
            &x[range.start * img..range.end * img]
        } else {
            buf.resize(range.len() * img, 0.0);
            for (i, dst) in range.zip(buf.chunks_exact_mut(img)) {
                transpose(&x[i * img..(i + 1) * img], g.c, g.in_plane(), dst);
            }
            buf
        };
        planes(data, img, (g.h, g.w, g.c))
    }

    /// The forward pass of images `range` into `ys` (their outputs, bias and relu added).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn winograd_forward_range(
        &self,
        wg: &Winograd,
        x: &[f32],
        u: &[f32],
        b: &[f32],
        range: Range<usize>,
        ys: &mut [f32],
        s: &mut WinogradScratch,
    ) -> Result<()> {
        let (g, k) = (&self.g, self.k);
        let out_img = k * g.out_plane();
        let group = self.group();
        let mut s0 = range.start;
        while s0 < range.end {
            let s1 = (s0 + group).min(range.end);
            let y = &mut ys[(s0 - range.start) * out_img..(s1 - range.start) * out_img];
            let images = self.image_planes(x, s0..s1, &mut s.images);
            let corr = Correlation {
                tf: &wg.forward,
                u,
                cout: k,
                origin: self.window_origin(),
                out: (g.oh, g.ow),
            };
            if self.channels_last() {
                corr.run(&images, y, &mut s.tiles)?;
            } else {
                s.results.resize(y.len(), 0.0);
                corr.run(&images, &mut s.results, &mut s.tiles)?;
                for (src, dst) in s
                    .results
                    .chunks_exact(out_img)
                    .zip(y.chunks_exact_mut(out_img))
                {
                    transpose(src, g.out_plane(), k, dst);
                }
            }
            for yi in y.chunks_exact_mut(out_img) {
                self.add_bias(yi, b);
            }
            s0 = s1;
        }
        Ok(())
    }

    /// The output gradient `dz` of a group of `m` images (laid out as
    /// [`Conv2dOp::output_gradient`] leaves it) as channels-last planes.
    fn gradient_planes<'a>(
        &self,
        dz: &'a [f32],
        m: usize,
        buf: &'a mut Vec<f32>,
    ) -> Vec<Plane<'a>> {
        let (g, k, p) = (&self.g, self.k, self.g.out_plane());
        let data: &'a [f32] = if self.channels_last() {
            dz
        } else {
            // (K, m·P) transposed is (m·P, K): the m images' (P, K) planes one after another.
            buf.resize(m * p * k, 0.0);
            transpose(dz, k, m * p, buf);
            buf
        };
        planes(data, p * k, (g.oh, g.ow, k))
    }

    /// `sums +=` the kernel gradient of a group (transformed; see [`Winograd::finish_kernel_gradient`]).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn winograd_kernel_gradient(
        &self,
        wg: &Winograd,
        xs: &[f32],
        range: Range<usize>,
        dz: &[f32],
        sums: &mut [f32],
        s: &mut WinogradScratch,
    ) -> Result<()> {
        let m = range.len();
        let images = self.image_planes(xs, range, &mut s.images);
        let grads = self.gradient_planes(dz, m, &mut s.results);
        accumulate_kernel_gradient(
            &wg.kernel_gradient,
            self.window_origin(),
            &images,
            &grads,
            sums,
            &mut s.tiles,
        )
    }

    /// The input gradients `dxg` (zeros before) of a group of `m` images from their output
    /// gradient `dz`: the correlation of `dz` with the turned kernel `ub`
    /// ([`Winograd::input_gradient_filter`]).
    pub(super) fn winograd_input_gradient(
        &self,
        wg: &Winograd,
        dz: &[f32],
        m: usize,
        ub: &[f32],
        dxg: &mut [f32],
        s: &mut WinogradScratch,
    ) -> Result<()> {
        let g = &self.g;
        let img = g.c * g.in_plane();
        // Input pixel (y, x) reads output pixels y + pt - (r-1) .. y + pt.
        let origin = (
            g.pt as isize - (g.kh as isize - 1),
            g.pl as isize - (g.kw as isize - 1),
        );
        let WinogradScratch {
            tiles,
            images,
            results,
        } = s;
        let grads = self.gradient_planes(dz, m, results);
        let corr = Correlation {
            tf: &wg.forward,
            u: ub,
            cout: g.c,
            origin,
            out: (g.h, g.w),
        };
        if self.channels_last() {
            return corr.run(&grads, dxg, tiles);
        }
        images.resize(m * img, 0.0);
        corr.run(&grads, images, tiles)?;
        for (src, dst) in images.chunks_exact(img).zip(dxg.chunks_exact_mut(img)) {
            transpose(src, g.in_plane(), g.c, dst);
        }
        Ok(())
    }
}

/// `data` cut into channels-last images of `len` values and dims `(h, w, c)`.
fn planes(data: &[f32], len: usize, (h, w, c): (usize, usize, usize)) -> Vec<Plane<'_>> {
    data.chunks_exact(len)
        .map(|data| Plane { data, h, w, c })
        .collect()
}
