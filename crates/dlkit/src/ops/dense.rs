//! A fully connected layer's product with fused bias and relu: `y = act(x·W + b)`.
//!
//! `x` is `(N, in)`, the kernel `(in, out)` (Keras' layout, not candle-nn's `(out, in)`),
//! the bias `(out)`, the output `(N, out)`. The backward pass gives the kernel and bias
//! gradients, and the input gradient only when candle tracks the input (not for the
//! first layer's data).
//!
//! ```
//! use dlkit::ops::{dense, FusedActivation};
//! use dlkit::{Device, Tensor};
//! let x = Tensor::new(&[[1f32, -2.0]], &Device::Cpu)?;
//! let w = Tensor::new(&[[1f32, 0.0, 2.0], [0.0, 1.0, 1.0]], &Device::Cpu)?;
//! let b = Tensor::new(&[0f32, 0.5, 0.0], &Device::Cpu)?;
//! let y = dense(&x, &w, Some(&b), FusedActivation::Relu)?;
//! assert_eq!(y.to_vec2::<f32>()?, vec![vec![1.0, 0.0, 0.0]]);
//! # Ok::<(), candle_core::Error>(())
//! ```

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::cpu::bias::{apply_with_bias, check_bias};
use super::cpu::data::{all_cpu_f32, expect_len, storage_f32, tensor, CpuF32};
use super::cpu::gemm::{matmul, Mat};
use super::cpu::math::{add_assign, add_row, mask_copy};
use super::cpu::parallel::{split, threads};
use super::params::FusedActivation;
use super::reference;

const OP: &str = "dense";

/// Products smaller than this many multiply-adds run on one thread. Each parallel region
/// wakes rayon's sleeping worker, about 20 µs on the development machine (a virtual
/// machine, where waking another core is an interrupt through the hypervisor): 004's DNN
/// at batch 32, whose products are 0.5-3.2 M multiply-adds (10-55 µs on one core), trained
/// 1.7x faster with all of them on one thread (with the optimizer's updates, see
/// `optim::apply`) than split.
const PARALLEL_MACS: usize = 1 << 22;

/// Bias gradients over fewer values than this are summed on one thread. Kept apart from
/// [`PARALLEL_MACS`]: the split changes the order of the sums, and with it the bits of
/// models' results (the LSTMs' gate biases sum 896 × 512 values).
const PARALLEL_SUMS: usize = 1 << 18;

/// `act(x·kernel + bias)` for `x (N, in)`, `kernel (in, out)`, `bias (out)`.
pub fn dense(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
    activation: FusedActivation,
) -> Result<Tensor> {
    let (n, din, dout) = check_shapes(x, kernel, bias)?;
    if !all_cpu_f32(x, kernel, bias) {
        return reference::dense(x, kernel, bias, activation);
    }
    let op = DenseOp {
        n,
        din,
        dout,
        activation,
    };
    apply_with_bias(op, [x, kernel], bias, dout)
}

fn check_shapes(
    x: &Tensor,
    kernel: &Tensor,
    bias: Option<&Tensor>,
) -> Result<(usize, usize, usize)> {
    let &[n, din] = x.dims() else {
        bail!(
            "{OP}: the input must be (batch, features), got shape {:?}",
            x.dims()
        );
    };
    let &[kin, dout] = kernel.dims() else {
        bail!(
            "{OP}: the kernel must be (in_features, out_features), got shape {:?}",
            kernel.dims()
        );
    };
    if kin != din {
        bail!(
            "{OP}: the input {:?} has {din} features but the kernel {:?} expects {kin}",
            x.dims(),
            kernel.dims()
        );
    }
    check_bias(OP, bias, dout, kernel)?;
    Ok((n, din, dout))
}

struct DenseOp {
    n: usize,
    din: usize,
    dout: usize,
    activation: FusedActivation,
}

impl DenseOp {
    fn threads(&self) -> usize {
        if self.n * self.din * self.dout >= PARALLEL_MACS {
            threads()
        } else {
            1
        }
    }
}

/// Column sums of a row-major `(rows, cols)` matrix, in a fixed order.
pub(crate) fn column_sums(m: &[f32], cols: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; cols];
    for row in m.chunks_exact(cols.max(1)) {
        add_assign(&mut out, row);
    }
    out
}

impl CustomOp3 for DenseOp {
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
        let (n, din, dout) = (self.n, self.din, self.dout);
        let x = storage_f32(OP, s1, l1)?;
        let w = storage_f32(OP, s2, l2)?;
        let b = storage_f32(OP, s3, l3)?;
        expect_len(OP, "the input", &x, n * din)?;
        expect_len(OP, "the kernel", &w, din * dout)?;
        expect_len(OP, "the bias", &b, dout)?;
        let mut y = vec![0.0f32; n * dout];
        matmul(
            OP,
            &mut y,
            dout,
            Mat::rows(&x, n, din),
            Mat::rows(&w, din, dout),
            false,
            self.threads(),
        )?;
        let relu = self.activation == FusedActivation::Relu;
        for row in y.chunks_exact_mut(dout.max(1)) {
            add_row(row, &b, relu);
        }
        Ok((CpuStorage::F32(y), (n, dout).into()))
    }

    fn bwd(
        &self,
        x: &Tensor,
        kernel: &Tensor,
        bias: &Tensor,
        res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (n, din, dout) = (self.n, self.din, self.dout);
        let grad_guard = CpuF32::new(OP, grad)?;
        let mut dz = grad_guard.data()?;
        expect_len(OP, "the output gradient", &dz, n * dout)?;
        if self.activation == FusedActivation::Relu {
            let res_guard = CpuF32::new(OP, res)?;
            let y = res_guard.data()?;
            expect_len(OP, "the output", &y, n * dout)?;
            // Into a new buffer: masking in place compiles to slow masked stores.
            let mut masked = vec![0.0f32; n * dout];
            mask_copy(&dz, Some(&y), &mut masked);
            dz = masked.into();
        }
        let dz: &[f32] = &dz;
        let threads = self.threads();

        let db = if bias.track_op() {
            Some(tensor(bias_grad(dz, n, dout), dout)?)
        } else {
            None
        };
        let dw = if kernel.track_op() {
            let x_guard = CpuF32::new(OP, x)?;
            let xs = x_guard.data()?;
            expect_len(OP, "the input", &xs, n * din)?;
            let mut dw = vec![0.0f32; din * dout];
            // dW (in, out) = xᵀ (in, N) · dz (N, out)
            matmul(
                OP,
                &mut dw,
                dout,
                Mat::transposed(&xs, din, n),
                Mat::rows(dz, n, dout),
                false,
                threads,
            )?;
            Some(tensor(dw, (din, dout))?)
        } else {
            None
        };
        let dx = if x.track_op() {
            let w_guard = CpuF32::new(OP, kernel)?;
            let w = w_guard.data()?;
            expect_len(OP, "the kernel", &w, din * dout)?;
            let mut dx = vec![0.0f32; n * din];
            // dx (N, in) = dz (N, out) · Wᵀ (out, in)
            matmul(
                OP,
                &mut dx,
                din,
                Mat::rows(dz, n, dout),
                Mat::transposed(&w, dout, din),
                false,
                threads,
            )?;
            Some(tensor(dx, (n, din))?)
        } else {
            None
        };
        Ok((dx, dw, db))
    }
}

/// The bias gradient: column sums of `dz (n, cols)`, over fixed row blocks in parallel
/// when large, combined in block order.
pub(crate) fn bias_grad(dz: &[f32], n: usize, cols: usize) -> Vec<f32> {
    if n * cols < PARALLEL_SUMS {
        return column_sums(dz, cols);
    }
    let blocks = split(n, threads());
    let parts = super::cpu::parallel::map_chunks(&blocks, |r| {
        column_sums(&dz[r.start * cols..r.end * cols], cols)
    });
    let mut out = vec![0.0f32; cols];
    for p in parts {
        add_assign(&mut out, &p);
    }
    out
}
