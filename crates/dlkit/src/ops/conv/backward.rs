//! The backward pass, per gemm group of images: the output gradient through the relu and
//! the fused pooling into one matrix `dz` (and the bias gradient, its sums), the kernel
//! gradient from the recomputed patch matrix, and the input gradient by col2im, each only
//! when candle tracks that input.

use std::ops::Range;

use candle_core::{bail, Result, Tensor};

use super::layout::Scratch;
use super::winograd::with_scratch;
use super::{Conv2dOp, OP};
use crate::ops::cpu::data::{expect_len, tensor, CpuF32};
use crate::ops::cpu::gemm::{matmul, Mat};
use crate::ops::cpu::im2col::col_len;
use crate::ops::cpu::math::{add_assign, mask_copy, sum};
use crate::ops::cpu::parallel::{batch_chunks, gemm_threads, map_chunks_mut};
use crate::ops::cpu::transpose::transpose;
use crate::ops::params::{FusedActivation, Geometry};

/// What every chunk of the backward pass reads. With pooling, `dy` and `y` are the pooled
/// gradient and output ([`Conv2dOp::out_img`] values per image).
struct Upstream<'a> {
    dy: &'a [f32],
    /// The op's output, for the relu's mask; `None` without relu.
    y: Option<&'a [f32]>,
    /// With pooling, its geometry and the indices of the maxima from the forward pass.
    argmax: Option<(Geometry, &'a [u32])>,
    /// The input images; empty unless the kernel gradient is wanted.
    xs: &'a [f32],
    /// The kernel as the gemm wants it ([`Conv2dOp::kernel_matrix`]), or with Winograd
    /// transformed for the input gradient (empty when that is not wanted).
    wm: &'a [f32],
    want_x: bool,
    want_w: bool,
    /// Threads for each chunk's gemms.
    threads: usize,
}

impl Conv2dOp {
    /// The gradients of the input, the kernel and (when `want_b`) the bias, each only
    /// when candle tracks it; `res` is the op's output and `grad` its gradient.
    pub(super) fn backward(
        &self,
        [x, kernel]: [&Tensor; 2],
        want_b: bool,
        (res, grad): (&Tensor, &Tensor),
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = &self.g;
        let k = self.k;
        let (img, crs) = (g.c * g.in_plane(), g.c * g.window());
        let (want_x, want_w) = (x.track_op(), kernel.track_op());

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
        let wm = match &self.winograd {
            Some(wg) if want_x => wg.input_gradient_filter(&w, k, g.c).into(),
            Some(_) => Vec::new().into(),
            None => self.kernel_matrix(&w),
        };

        let chunks = batch_chunks(self.n);
        let upstream = Upstream {
            dy: &dy,
            y: y.as_deref(),
            argmax,
            xs: &xs,
            wm: &wm,
            want_x,
            want_w,
            threads: gemm_threads(&chunks),
        };
        let mut dx = if want_x {
            vec![0.0f32; self.n * img]
        } else {
            Vec::new()
        };
        let dx_item = if want_x { img } else { 0 };
        // Each chunk returns its partial kernel and bias gradients; they are summed in chunk order.
        let partials = map_chunks_mut(&mut dx, dx_item, &chunks, |range, dxs| {
            self.backward_range(&upstream, range, dxs)
        });
        let dw_len = self.kernel_gradient_len();
        let (mut dw_total, mut db_total) = (vec![0.0f32; dw_len], vec![0.0f32; k]);
        for part in partials {
            let (dw, db) = part?;
            if want_w {
                add_assign(&mut dw_total, &dw);
            }
            add_assign(&mut db_total, &db);
        }
        let dw = if let (true, Some(wg)) = (want_w, &self.winograd) {
            let dw = wg.finish_kernel_gradient(&dw_total, k, g.c);
            Some(tensor(dw, kernel.shape().clone())?)
        } else if want_w {
            let dw_rows = if self.kernel_gradient_transposed() {
                let mut dw_rows = vec![0.0f32; k * crs];
                transpose(&dw_total, crs, k, &mut dw_rows);
                dw_rows
            } else {
                dw_total
            };
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

    /// Values of a chunk's kernel gradient as [`Self::backward_range`] returns it: the
    /// `(C·kh·kw, K)` or `(K, C·kh·kw)` matrix (see [`Self::kernel_gradient_transposed`]),
    /// or with Winograd its transformed sums.
    fn kernel_gradient_len(&self) -> usize {
        match &self.winograd {
            Some(wg) => wg.kernel_sums_len(self.k, self.g.c),
            None => self.k * self.g.c * self.g.window(),
        }
    }

    /// The backward pass of images `range`, group by group: adds their input gradients to
    /// `dxs` and returns their kernel gradient (as [`Self::add_kernel_gradient`] leaves it;
    /// with Winograd, still in the transformed domain) and bias gradient.
    fn backward_range(
        &self,
        up: &Upstream,
        range: Range<usize>,
        dxs: &mut [f32],
    ) -> Result<(Vec<f32>, Vec<f32>)> {
        let g = &self.g;
        let (k, p) = (self.k, g.out_plane());
        let (img, out_img) = (g.c * g.in_plane(), k * p);
        let group = self.group();
        let most = group.min(range.len());
        let mut dz = vec![0.0f32; most * out_img];
        let direct = self.winograd.is_none();
        let col_values = |wanted: bool| {
            if wanted && direct {
                most * col_len(g)
            } else {
                0
            }
        };
        let mut col = vec![0.0f32; col_values(up.want_w)];
        let mut dcol = vec![0.0f32; col_values(up.want_x)];
        let dw_len = if up.want_w {
            self.kernel_gradient_len()
        } else {
            0
        };
        let mut dw = vec![0.0f32; dw_len];
        let mut db = vec![0.0f32; k];
        let mut s = Scratch::default();
        let mut s0 = range.start;
        while s0 < range.end {
            let s1 = (s0 + group).min(range.end);
            let m = s1 - s0;
            let dz = &mut dz[..m * out_img];
            self.output_gradient(up, s0..s1, dz);
            self.add_bias_gradient(dz, m * p, &mut db);
            if let Some(wg) = &self.winograd {
                let (from, to) = (s0 - range.start, s1 - range.start);
                let dxg = &mut dxs[from * img..to * img];
                with_scratch(|ws| -> Result<()> {
                    if up.want_w {
                        self.winograd_kernel_gradient(wg, up.xs, s0..s1, dz, &mut dw, ws)?;
                    }
                    if up.want_x {
                        self.winograd_input_gradient(wg, dz, m, up.wm, dxg, ws)?;
                    }
                    Ok(())
                })?;
                s0 = s1;
                continue;
            }
            if up.want_w {
                let col = &mut col[..m * col_len(g)];
                self.fill_patches(up.xs, s0..s1, col, &mut s);
                self.add_kernel_gradient(up, col, dz, m, &mut dw)?;
            }
            if up.want_x {
                let dcol = &mut dcol[..m * col_len(g)];
                let (from, to) = (s0 - range.start, s1 - range.start);
                let dxg = &mut dxs[from * img..to * img];
                self.add_input_gradient(dz, m, up, dcol, dxg, &mut s)?;
            }
            s0 = s1;
        }
        Ok((dw, db))
    }

    /// The output gradient of the group `range` through the relu (and the pooling) into
    /// `dz`, as one matrix: `(K, m·P)` channels-first, `(m·P, K)` channels-last.
    fn output_gradient(&self, up: &Upstream, range: Range<usize>, dz: &mut [f32]) {
        let (k, p) = (self.k, self.g.out_plane());
        let (res_img, out_img, m) = (self.out_img(), k * p, range.len());
        let at = range.start * res_img..range.end * res_img;
        let (dy, y) = (&up.dy[at.clone()], up.y.map(|y| &y[at.clone()]));
        if let Some((pg, idx)) = up.argmax {
            self.unpool(pg, &idx[at], dy, y, m, dz);
        } else if self.channels_last() {
            mask_copy(dy, y, dz);
        } else {
            let mp = m * p;
            for j in 0..m {
                for kk in 0..k {
                    let src = j * out_img + kk * p;
                    mask_copy(
                        &dy[src..src + p],
                        y.map(|y| &y[src..src + p]),
                        &mut dz[kk * mp + j * p..kk * mp + (j + 1) * p],
                    );
                }
            }
        }
    }

    /// Un-pools the `m` images' pooled gradient `dy` into `dz` (laid out as in
    /// [`Self::output_gradient`]): each pooled gradient goes to its maximum, through the
    /// relu (the maximum was positive exactly when the pooled value is).
    fn unpool(
        &self,
        pg: Geometry,
        idx: &[u32],
        dy: &[f32],
        y: Option<&[f32]>,
        m: usize,
        dz: &mut [f32],
    ) {
        let (k, p) = (self.k, self.g.out_plane());
        let (res_img, mp, pp) = (self.out_img(), m * p, pg.out_plane());
        dz.fill(0.0);
        let relu_mask = |d: f32, q: usize, base: usize| match y {
            Some(y) if y[base + q] <= 0.0 => 0.0,
            _ => d,
        };
        for j in 0..m {
            let base = j * res_img;
            let (dyj, idj) = (&dy[base..base + res_img], &idx[base..base + res_img]);
            if self.channels_last() {
                let dzj = &mut dz[j * p * k..(j + 1) * p * k];
                for (pos, (dq, iq)) in dyj.chunks_exact(k).zip(idj.chunks_exact(k)).enumerate() {
                    for (ci, (&d, &at)) in dq.iter().zip(iq).enumerate() {
                        if let Some(v) = dzj.get_mut(at as usize * k + ci) {
                            *v += relu_mask(d, pos * k + ci, base);
                        }
                    }
                }
            } else {
                for (kk, (dq, iq)) in dyj.chunks_exact(pp).zip(idj.chunks_exact(pp)).enumerate() {
                    let dzk = &mut dz[kk * mp + j * p..kk * mp + (j + 1) * p];
                    for (q, (&d, &at)) in dq.iter().zip(iq).enumerate() {
                        if let Some(v) = dzk.get_mut(at as usize) {
                            *v += relu_mask(d, kk * pp + q, base);
                        }
                    }
                }
            }
        }
    }

    /// `db +=` the sums of `dz` (a group's `mp` positions) per output channel.
    fn add_bias_gradient(&self, dz: &[f32], mp: usize, db: &mut [f32]) {
        if self.channels_last() {
            for row in dz.chunks_exact(self.k) {
                add_assign(db, row);
            }
        } else {
            for (d, row) in db.iter_mut().zip(dz.chunks_exact(mp)) {
                *d += sum(row);
            }
        }
    }

    /// `dz` of `m` images as the `(m·P, K)` matrix: its rows channels-last, a transposed
    /// view of the `(K, m·P)` matrix channels-first.
    fn dz_rows<'a>(&self, dz: &'a [f32], m: usize) -> Mat<'a> {
        let mp = m * self.g.out_plane();
        if self.channels_last() {
            Mat::rows(dz, mp, self.k)
        } else {
            Mat::transposed(dz, mp, self.k)
        }
    }

    /// `dWᵀ += colᵀ · dz` (or `dW += dzᵀ · col`) for a group of `m` images with patch
    /// matrix `col`. Transposed, `(C·kh·kw, K)`, gemm runs 1.2-1.5x faster where K = 32/64
    /// rows fill its 16x6 tiles; see [`Self::kernel_gradient_transposed`].
    fn add_kernel_gradient(
        &self,
        up: &Upstream,
        col: &[f32],
        dz: &[f32],
        m: usize,
        dw: &mut [f32],
    ) -> Result<()> {
        let (crs, mp) = (self.g.c * self.g.window(), m * self.g.out_plane());
        let col_t = if self.compute_cl() {
            // colᵀ (RSC, m·P) of the (m·P, RSC) patch rows
            self.patch_rows(col, mp).t()
        } else {
            // col (CRS, m·P) as it is
            Mat::rows(col, crs, mp)
        };
        let dz_rows = self.dz_rows(dz, m);
        if self.kernel_gradient_transposed() {
            matmul(OP, dw, self.k, col_t, dz_rows, true, up.threads)
        } else {
            matmul(OP, dw, crs, dz_rows.t(), col_t.t(), true, up.threads)
        }
    }

    /// Whether the kernel gradient is accumulated transposed, `(C·kh·kw, K)`: gemm
    /// vectorises the destination's contiguous axis, and K = 16, 32 or 64 output channels
    /// fill its 16-lane blocks. Layers computed channels-last with fewer than 32 channels
    /// accumulate `(K, kh·kw·C)` instead: then the patch rows are the vectorised side, read
    /// in place without packing (the 12x12 layers of tutorials 002 and 003: 4-9 % faster
    /// through the whole layer, the same bits).
    fn kernel_gradient_transposed(&self) -> bool {
        !(self.compute_cl() && self.k < 32)
    }

    /// `dx += col2im(dcol)` with `dcol = dz · W` for a group of `m` images, `dxg` their
    /// input gradients.
    fn add_input_gradient(
        &self,
        dz: &[f32],
        m: usize,
        up: &Upstream,
        dcol: &mut [f32],
        dxg: &mut [f32],
        s: &mut Scratch,
    ) -> Result<()> {
        let g = &self.g;
        let (k, p) = (self.k, g.out_plane());
        let (img, crs, mp) = (g.c * g.in_plane(), g.c * g.window(), m * p);
        if self.compute_cl() {
            // dcol (m·P, RSC) = dz (m·P, K) · W (K, RSC)
            let w = Mat::rows(up.wm, k, crs);
            matmul(OP, dcol, crs, self.dz_rows(dz, m), w, false, up.threads)?;
        } else {
            // dcol (CRS, m·P) = Wᵀ (CRS, K) · dz (K, m·P)
            let w_t = Mat::transposed(up.wm, crs, k);
            matmul(OP, dcol, mp, w_t, Mat::rows(dz, k, mp), false, up.threads)?;
        }
        for j in 0..m {
            let dxi = &mut dxg[j * img..(j + 1) * img];
            let dcol_j = if self.compute_cl() {
                &dcol[j * col_len(g)..(j + 1) * col_len(g)]
            } else {
                &dcol[j * p..]
            };
            self.fold(dcol_j, mp, dxi, s);
        }
        Ok(())
    }
}
