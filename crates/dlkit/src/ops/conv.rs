//! 2-d convolution with fused bias and relu: `y = act(conv(x, kernel) + bias)`.
//!
//! `x` is `(N, C, H, W)` (channels-first) or `(N, H, W, C)` (channels-last); the kernel is
//! always candle's `(K, C, kh, kw)`; the output is `(N, K, OH, OW)` or `(N, OH, OW, K)`.
//! Keras' `valid` and `same` paddings and any stride are supported.
//!
//! The CPU/f32 path unfolds each image into a patch matrix (im2col) in a per-chunk scratch
//! buffer that stays in cache and multiplies it with the kernel matrix (gemm); chunks of the
//! batch run in parallel with single-threaded gemms. The backward pass recomputes the patch
//! matrix to get the kernel gradient (gemm), sums the bias gradient, and computes the input
//! gradient (gemm + col2im) only when candle tracks the input.
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

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::cpu::data::{expect_len, is_cpu_f32, storage_f32, tensor, CpuF32};
use super::cpu::gemm::{matmul, Mat};
use super::cpu::im2col::{col2im_cf, col2im_cl, col_len, im2col_cf, im2col_cl};
use super::cpu::math::{add_assign, add_row, add_scalar, relu_backward_inplace, sum};
use super::cpu::parallel::{batch_chunks, map_chunks_mut, threads};
use super::params::{image_dims, Conv2dParams, DataLayout, FusedActivation, Geometry};
use super::reference;

const OP: &str = "conv2d";

/// `act(conv2d(x, kernel) + bias)`; see the module documentation for shapes and layouts.
pub fn conv2d(x: &Tensor, kernel: &Tensor, bias: Option<&Tensor>, params: &Conv2dParams) -> Result<Tensor> {
    let (n, g, k) = check_shapes(x, kernel, bias, params)?;
    let fast = is_cpu_f32(x) && is_cpu_f32(kernel) && bias.is_none_or(is_cpu_f32);
    if !fast {
        return reference::conv2d(x, kernel, bias, params);
    }
    let op = Conv2dOp { params: *params, g, n, k };
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
        bail!("{OP}: the kernel must be (out_channels, in_channels, kh, kw), got shape {:?}", kernel.dims());
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
            bail!("{OP}: the bias must be ({k}) for kernel {:?}, got shape {:?}", kernel.dims(), b.dims());
        }
    }
    let g = Geometry::new(OP, (c, h, w), (kh, kw), params.stride, params.padding)?;
    Ok((n, g, k))
}

struct Conv2dOp {
    params: Conv2dParams,
    g: Geometry,
    n: usize,
    k: usize,
}

impl Conv2dOp {
    fn channels_last(&self) -> bool {
        self.params.layout == DataLayout::ChannelsLast
    }

    fn out_shape(&self) -> Shape {
        let (n, k, g) = (self.n, self.k, &self.g);
        match self.params.layout {
            DataLayout::ChannelsFirst => (n, k, g.oh, g.ow).into(),
            DataLayout::ChannelsLast => (n, g.oh, g.ow, k).into(),
        }
    }

    /// The kernel as the gemm wants it: `(K, C·kh·kw)` channels-first (as given) or
    /// `(K, kh·kw·C)` channels-last.
    fn kernel_matrix<'a>(&self, w: &'a [f32]) -> std::borrow::Cow<'a, [f32]> {
        if !self.channels_last() || self.g.c == 1 {
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
        if !self.channels_last() || self.g.c == 1 {
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

    fn im2col(&self, x: &[f32], col: &mut [f32]) {
        if self.channels_last() {
            im2col_cl(x, &self.g, col)
        } else {
            im2col_cf(x, &self.g, col)
        }
    }

    /// `y_img = W · col` for one image, in the output layout.
    fn forward_gemm(&self, wm: &[f32], col: &[f32], y: &mut [f32], threads: usize) -> Result<()> {
        let (k, crs, p) = (self.k, self.g.c * self.g.window(), self.g.out_plane());
        if self.channels_last() {
            // (P, K) = col (P, RSC) · Wᵀ
            matmul(OP, y, k, Mat::rows(col, p, crs), Mat::transposed(wm, crs, k), false, threads)
        } else {
            // (K, P) = W (K, CRS) · col (CRS, P)
            matmul(OP, y, p, Mat::rows(wm, k, crs), Mat::rows(col, crs, p), false, threads)
        }
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
        let mut y = vec![0.0f32; self.n * out_img];
        let chunks = batch_chunks(self.n);
        // Small batches leave cores idle between chunks: let gemm split instead.
        let inner = if chunks.len() < threads() { threads() } else { 1 };
        let results = map_chunks_mut(&mut y, out_img, &chunks, |range, ys| -> Result<()> {
            let mut col = vec![0.0f32; col_len(g)];
            for (i, yi) in range.zip(ys.chunks_exact_mut(out_img)) {
                self.im2col(&x[i * img..(i + 1) * img], &mut col);
                self.forward_gemm(&wm, &col, yi, inner)?;
                self.add_bias(yi, &b);
            }
            Ok(())
        });
        results.into_iter().collect::<Result<Vec<()>>>()?;
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

        let grad_guard = CpuF32::new(OP, grad)?;
        let mut dz = grad_guard.data()?;
        expect_len(OP, "the output gradient", &dz, self.n * out_img)?;
        if self.params.activation == FusedActivation::Relu {
            let res_guard = CpuF32::new(OP, res)?;
            let y = res_guard.data()?;
            expect_len(OP, "the output", &y, self.n * out_img)?;
            relu_backward_inplace(dz.to_mut(), &y);
        }
        let dz: &[f32] = &dz;

        let db = want_b.then(|| {
            let mut db = vec![0.0f32; k];
            for zi in dz.chunks_exact(out_img) {
                if self.channels_last() {
                    for row in zi.chunks_exact(k) {
                        add_assign(&mut db, row);
                    }
                } else {
                    for (d, row) in db.iter_mut().zip(zi.chunks_exact(p)) {
                        *d += sum(row);
                    }
                }
            }
            db
        });

        if !want_x && !want_w {
            return Ok((None, None, db.map(|d| tensor(d, k)).transpose()?));
        }
        let x_guard = CpuF32::new(OP, x)?;
        let xs = x_guard.data()?;
        expect_len(OP, "the input", &xs, self.n * img)?;
        let w_guard = CpuF32::new(OP, kernel)?;
        let w = w_guard.data()?;
        let wm = self.kernel_matrix(&w);

        let chunks = batch_chunks(self.n);
        let inner = if chunks.len() < threads() { threads() } else { 1 };
        let mut dx = if want_x { vec![0.0f32; self.n * img] } else { Vec::new() };
        let dx_item = if want_x { img } else { 0 };
        // Each chunk returns its partial kernel gradient; they are summed in chunk order.
        let partials = map_chunks_mut(&mut dx, dx_item, &chunks, |range, dxs| -> Result<Vec<f32>> {
            let mut col = vec![0.0f32; if want_w { col_len(g) } else { 0 }];
            let mut dcol = vec![0.0f32; if want_x { col_len(g) } else { 0 }];
            let mut dw = vec![0.0f32; if want_w { k * crs } else { 0 }];
            for (j, i) in range.enumerate() {
                let zi = &dz[i * out_img..(i + 1) * out_img];
                if want_w {
                    self.im2col(&xs[i * img..(i + 1) * img], &mut col);
                    if self.channels_last() {
                        // dW (K, RSC) += dzᵀ (K, P) · col (P, RSC)
                        matmul(OP, &mut dw, crs, Mat::transposed(zi, k, p), Mat::rows(&col, p, crs), true, inner)?;
                    } else {
                        // dW (K, CRS) += dz (K, P) · colᵀ (P, CRS)
                        matmul(OP, &mut dw, crs, Mat::rows(zi, k, p), Mat::transposed(&col, p, crs), true, inner)?;
                    }
                }
                if want_x {
                    let dxi = &mut dxs[j * img..(j + 1) * img];
                    if self.channels_last() {
                        // dcol (P, RSC) = dz (P, K) · W (K, RSC)
                        matmul(OP, &mut dcol, crs, Mat::rows(zi, p, k), Mat::rows(&wm, k, crs), false, inner)?;
                        col2im_cl(&dcol, g, dxi);
                    } else {
                        // dcol (CRS, P) = Wᵀ (CRS, K) · dz (K, P)
                        matmul(OP, &mut dcol, p, Mat::transposed(&wm, crs, k), Mat::rows(zi, k, p), false, inner)?;
                        col2im_cf(&dcol, g, dxi);
                    }
                }
            }
            Ok(dw)
        });
        let dw = if want_w {
            let mut total = vec![0.0f32; k * crs];
            for part in partials {
                add_assign(&mut total, &part?);
            }
            Some(tensor(self.kernel_from_matrix(total), kernel.shape().clone())?)
        } else {
            partials.into_iter().collect::<Result<Vec<_>>>()?;
            None
        };
        let dx = if want_x { Some(tensor(dx, x.shape().clone())?) } else { None };
        Ok((dx, dw, db.map(|d| tensor(d, k)).transpose()?))
    }
}
