//! The layout side of the convolution: which layout the products run in, an image as
//! im2col wants it (transposed and/or zero-padded) and back for col2im, the patch matrix of
//! a group of images, and the kernel as the gemm wants it.

use std::borrow::Cow;
use std::ops::Range;

use candle_core::Shape;

use super::{Conv2dOp, GROUP_FLOATS};
use crate::ops::cpu::gemm::Mat;
use crate::ops::cpu::im2col::{col2im_cf, col2im_cl, col_len, im2col_cf, im2col_cl};
use crate::ops::cpu::pad::{crop_add, pad, Pad};
use crate::ops::cpu::transpose::transpose;
use crate::ops::params::DataLayout;

/// Per-worker scratch for [`Conv2dOp::input`] and [`Conv2dOp::fold`]: a transposed image
/// and a padded one.
#[derive(Default)]
pub(super) struct Scratch {
    transposed: Vec<f32>,
    padded: Vec<f32>,
}

impl Conv2dOp {
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
    pub(super) fn input<'a>(&self, x: &'a [f32], i: usize, s: &'a mut Scratch) -> &'a [f32] {
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
    pub(super) fn fold(&self, dcol: &[f32], ld: usize, dxi: &mut [f32], s: &mut Scratch) {
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

    pub(super) fn channels_last(&self) -> bool {
        self.params.layout == DataLayout::ChannelsLast
    }

    /// Whether the products run in the channels-last formulation. Channels-first images
    /// with several channels and narrow outputs take it too (transposed on the way in and
    /// out): their im2col would copy rows of a few values each, and the channels-last one
    /// copies whole `kw·C` runs and makes one tall product per group (2x faster on the
    /// 12x12 layers of tutorials 002 and 003).
    pub(super) fn compute_cl(&self) -> bool {
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
    pub(super) fn patch_rows<'a>(&self, col: &'a [f32], rows: usize) -> Mat<'a> {
        let crs = self.g.c * self.g.window();
        if self.g.c == 1 {
            Mat::transposed(col, rows, crs)
        } else {
            Mat::rows(col, rows, crs)
        }
    }

    pub(super) fn out_shape(&self) -> Shape {
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
    pub(super) fn out_img(&self) -> usize {
        match &self.pool {
            Some(p) => self.k * p.g.out_plane(),
            None => self.k * self.g.out_plane(),
        }
    }

    /// The patch matrix of the gemm group `range` of images of `x`, filled into `cols`:
    /// `(m·P, kh·kw·C)` rows when computing channels-last (read by [`Self::patch_rows`]),
    /// `(C·kh·kw, m·P)` channels-first, the images' patches side by side.
    pub(super) fn fill_patches(
        &self,
        x: &[f32],
        range: Range<usize>,
        cols: &mut [f32],
        s: &mut Scratch,
    ) {
        let (m, p) = (range.len(), self.g.out_plane());
        for (j, i) in range.enumerate() {
            let xi = self.input(x, i, s);
            if self.compute_cl() {
                self.im2col_rows(xi, cols, j, m);
            } else {
                im2col_cf(xi, &self.gp, &mut cols[j * p..], m * p);
            }
        }
    }

    /// The kernel as the gemm wants it: `(K, C·kh·kw)` channels-first (as given) or
    /// `(K, kh·kw·C)` channels-last.
    pub(super) fn kernel_matrix<'a>(&self, w: &'a [f32]) -> Cow<'a, [f32]> {
        if !self.compute_cl() || self.g.c == 1 {
            return w.into();
        }
        self.reorder_kernel(w, true).into()
    }

    /// The inverse of `kernel_matrix` for a gradient.
    pub(super) fn kernel_from_matrix(&self, m: Vec<f32>) -> Vec<f32> {
        if !self.compute_cl() || self.g.c == 1 {
            return m;
        }
        self.reorder_kernel(&m, false)
    }

    /// `w` reordered from `(K, C, kh·kw)` to `(K, kh·kw, C)`, or back when not `to_cl`.
    fn reorder_kernel(&self, w: &[f32], to_cl: bool) -> Vec<f32> {
        let (c, win) = (self.g.c, self.g.window());
        let mut out = vec![0.0; w.len()];
        for k in 0..self.k {
            for ci in 0..c {
                for rs in 0..win {
                    let (cf, cl) = ((k * c + ci) * win + rs, (k * win + rs) * c + ci);
                    if to_cl {
                        out[cl] = w[cf];
                    } else {
                        out[cf] = w[cl];
                    }
                }
            }
        }
        out
    }

    /// Images per gemm: enough that small patch matrices (first layers) make one product
    /// with a long inner dimension, few enough that the group's patch matrix stays in cache.
    /// With Winograd, about one block of tiles.
    pub(super) fn group(&self) -> usize {
        if let Some(wg) = &self.winograd {
            return wg.group(&self.g, self.n);
        }
        (GROUP_FLOATS / col_len(&self.g).max(1)).clamp(1, self.n.max(1))
    }
}
