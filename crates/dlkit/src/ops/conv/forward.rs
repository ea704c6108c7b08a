//! The forward pass: each gemm group of images unfolded into one patch matrix and
//! multiplied with the kernel matrix, then bias and relu added, and with a fused pooling,
//! the group's output pooled at once.

use std::ops::Range;

use candle_core::Result;

use super::layout::Scratch;
use super::winograd::with_scratch;
use super::{Conv2dOp, OP};
use crate::ops::cpu::gemm::{matmul, Mat};
use crate::ops::cpu::im2col::col_len;
use crate::ops::cpu::math::{add_row, add_scalar};
use crate::ops::cpu::parallel::{batch_chunks, gemm_threads, map_chunk_pairs_mut, map_chunks_mut};
use crate::ops::cpu::transpose::transpose;
use crate::ops::params::{DataLayout, FusedActivation, Geometry};
use crate::ops::pool::{pool_cf, pool_cl};

impl Conv2dOp {
    /// The op's output for the batch `x` (pooled, if pooling), chunks of the batch in
    /// parallel; with pooling, the indices of the maxima are kept for the backward pass.
    pub(super) fn forward(&self, x: &[f32], w: &[f32], b: &[f32]) -> Result<Vec<f32>> {
        // The kernel as the products want it: a matrix, transformed for Winograd, or laid
        // out for the one-channel kernels.
        let wm = match (&self.winograd, &self.one_channel) {
            (Some(wg), _) => wg.forward_filter(w, self.k, self.g.c).into(),
            (None, Some(plan)) => plan.weights(w).into(),
            (None, None) => self.kernel_matrix(w),
        };
        let chunks = batch_chunks(self.n);
        let inner = gemm_threads(&chunks);
        let out_img = self.out_img();
        let mut y = vec![0.0f32; self.n * out_img];
        let Some(plan) = &self.pool else {
            let results = map_chunks_mut(&mut y, out_img, &chunks, |range, ys| -> Result<()> {
                let mut col = Vec::new();
                self.forward_range(x, &wm, b, range, ys, &mut col, inner)
            });
            results.into_iter().collect::<Result<Vec<()>>>()?;
            return Ok(y);
        };
        let mut idx = vec![0u32; self.n * out_img];
        map_chunk_pairs_mut((&mut y, &mut idx), out_img, &chunks, |range, ys, ids| {
            self.forward_pooled(plan.g, x, &wm, b, range, ys, ids, inner)
        })
        .into_iter()
        .collect::<Result<Vec<()>>>()?;
        if plan.keep {
            if let Ok(mut slot) = plan.argmax.lock() {
                *slot = Some(idx);
            }
        }
        Ok(y)
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
        if let Some(wg) = &self.winograd {
            return with_scratch(|s| self.winograd_forward_range(wg, x, wm, b, range, ys, s));
        }
        if let Some(plan) = &self.one_channel {
            let mut s = Scratch::default();
            for (i, yi) in range.zip(ys.chunks_exact_mut(self.k * self.g.out_plane())) {
                plan.forward(self.input(x, i, &mut s), wm, b, yi);
            }
            return Ok(());
        }
        let g = &self.g;
        let (k, crs, p) = (self.k, g.c * g.window(), g.out_plane());
        let out_img = k * p;
        let group = self.group();
        let mut s = Scratch::default();
        let mut s0 = range.start;
        while s0 < range.end {
            let s1 = (s0 + group).min(range.end);
            let (m, mp) = (s1 - s0, (s1 - s0) * p);
            let y = &mut ys[(s0 - range.start) * out_img..(s1 - range.start) * out_img];
            // The product lands in the output directly where its layout is the output's:
            // channels-last, or one channels-first image. Otherwise it goes to `prod` first.
            let direct = self.channels_last() || (!self.compute_cl() && m == 1);
            let prod_len = if direct { 0 } else { m * out_img };
            col.resize(m * col_len(g) + prod_len, 0.0);
            let (cols, prod) = col.split_at_mut(m * col_len(g));
            self.fill_patches(x, s0..s1, cols, &mut s);
            let out = if direct { &mut *y } else { &mut *prod };
            if self.compute_cl() {
                // All the group's patches in one product: (m·P, K) = col (m·P, RSC) · Wᵀ.
                let patches = self.patch_rows(cols, mp);
                matmul(
                    OP,
                    out,
                    k,
                    patches,
                    Mat::transposed(wm, crs, k),
                    false,
                    threads,
                )?;
                if !direct {
                    // Channels-first images computed channels-last: each image's (P, K)
                    // result transposed.
                    for (j, yj) in y.chunks_exact_mut(out_img).enumerate() {
                        transpose(&prod[j * out_img..(j + 1) * out_img], p, k, yj);
                    }
                }
            } else {
                // The group's patches side by side, (CRS, m·P), make one wide product
                // (K, m·P) = W (K, CRS) · col (CRS, m·P).
                let patches = Mat::rows(cols, crs, mp);
                matmul(OP, out, mp, Mat::rows(wm, k, crs), patches, false, threads)?;
                if !direct {
                    // Its column blocks are each image's (K, P) output.
                    for (kk, row) in prod.chunks_exact(mp).enumerate() {
                        for (j, part) in row.chunks_exact(p).enumerate() {
                            y[j * out_img + kk * p..j * out_img + (kk + 1) * p]
                                .copy_from_slice(part);
                        }
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

    pub(super) fn add_bias(&self, y: &mut [f32], bias: &[f32]) {
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
