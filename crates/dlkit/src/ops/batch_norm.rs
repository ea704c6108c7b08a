//! Batch normalisation in training mode: each channel normalised with the
//! batch's mean and (biased) variance, then scaled by `gamma` and shifted by
//! `beta`, with its backward pass written out.
//!
//! Composed of candle ops, this takes a dozen passes whose reductions and
//! broadcasts over all axes but the channel one are strided (and candle's
//! autograd adds as many again); here it is two passes forward (statistics,
//! output) and two backward, in memory order.
//!
//! ```
//! use dlkit::ops::batch_norm_train;
//! use dlkit::{Device, Tensor};
//! let x = Tensor::new(&[[1f32, 5.], [2., 5.], [3., 5.], [6., 5.]], &Device::Cpu)?;
//! let (gamma, beta) = (Tensor::ones(2, x.dtype(), &Device::Cpu)?, Tensor::zeros(2, x.dtype(), &Device::Cpu)?);
//! let (y, mean, var) = batch_norm_train(&x, &gamma, &beta, 1, 1e-3)?;
//! assert_eq!(mean.to_vec1::<f32>()?, [3.0, 5.0]);
//! assert_eq!(var.to_vec1::<f32>()?, [3.5, 0.0]);
//! assert_eq!(y.dims(), [4, 2]);
//! # Ok::<(), candle_core::Error>(())
//! ```

use std::ops::Range;

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::cpu::data::{expect_len, is_cpu_f32, storage_f32, tensor, CpuF32};
use super::cpu::parallel::{map_chunks, map_chunks_mut, split, threads};

const OP: &str = "batch_norm";

/// `(y, batch mean, batch variance)` for `x` normalised along axis `axis`
/// (the channel axis, counting the batch axis as 0); `gamma` and `beta` have
/// one value per channel. Gradients flow to `x`, `gamma` and `beta`.
pub fn batch_norm_train(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    axis: usize,
    epsilon: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let geometry = Geometry::new(x.dims(), axis)?;
    for (what, t) in [("gamma", gamma), ("beta", beta)] {
        if t.dims() != [geometry.channels] {
            bail!(
                "{OP}: {what} has shape {:?}, expected [{}]",
                t.dims(),
                geometry.channels
            );
        }
    }
    if !(is_cpu_f32(x) && is_cpu_f32(gamma) && is_cpu_f32(beta)) {
        return composed(x, gamma, beta, axis, epsilon);
    }
    let (mean, variance) = {
        let guard = CpuF32::new(OP, x)?;
        let data = guard.data()?;
        geometry.moments(&data)
    };
    let inv_std: Vec<f32> = variance
        .iter()
        .map(|&v| (1.0 / (v as f64 + epsilon).sqrt()) as f32)
        .collect();
    let op = BatchNormOp {
        geometry,
        mean: mean.clone(),
        inv_std,
    };
    let y = x.apply_op3(gamma, beta, op)?;
    let c = geometry.channels;
    Ok((y, tensor(mean, c)?, tensor(variance, c)?))
}

/// The same computation with plain candle ops: the path for other devices and
/// dtypes, and the tests' yardstick.
pub fn composed(
    x: &Tensor,
    gamma: &Tensor,
    beta: &Tensor,
    axis: usize,
    epsilon: f64,
) -> Result<(Tensor, Tensor, Tensor)> {
    let channels = x.dim(axis)?;
    let mut per_channel = vec![1; x.rank()];
    per_channel[axis] = channels;
    let others: Vec<usize> = (0..x.rank()).filter(|&d| d != axis).collect();
    let count = (x.elem_count() / channels.max(1)) as f64;
    let mean = (x.sum_keepdim(others.as_slice())? / count)?;
    let centered = x.broadcast_sub(&mean)?;
    let variance = (centered.sqr()?.sum_keepdim(others.as_slice())? / count)?;
    let normalized = centered.broadcast_div(&(&variance + epsilon)?.sqrt()?)?;
    let y = normalized
        .broadcast_mul(&gamma.reshape(per_channel.as_slice())?)?
        .broadcast_add(&beta.reshape(per_channel.as_slice())?)?;
    Ok((y, mean.flatten_all()?, variance.flatten_all()?))
}

/// `x` seen as `(outer, channels, inner)`: channels first `(N, C, H, W)` is
/// `(N, C, H·W)`, channels last `(N, H, W, C)` is `(N·H·W, C, 1)`.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    outer: usize,
    channels: usize,
    inner: usize,
}

impl Geometry {
    fn new(dims: &[usize], axis: usize) -> Result<Self> {
        if axis == 0 || axis >= dims.len() {
            bail!("{OP}: channel axis {axis} does not fit a tensor of shape {dims:?}");
        }
        let geometry = Geometry {
            outer: dims[..axis].iter().product(),
            channels: dims[axis],
            inner: dims[axis + 1..].iter().product(),
        };
        if geometry.len() == 0 {
            bail!("{OP}: cannot normalise an empty tensor of shape {dims:?}");
        }
        Ok(geometry)
    }

    fn len(&self) -> usize {
        self.outer * self.channels * self.inner
    }

    /// Values per channel.
    fn count(&self) -> usize {
        self.outer * self.inner
    }

    /// The outer rows, split for the threads.
    fn chunks(&self) -> Vec<Range<usize>> {
        split(self.outer, threads())
    }

    /// Per-channel sums of `f(value, channel)` over rows `rows`, in f64.
    fn channel_sums(&self, rows: Range<usize>, f: impl Fn(usize, usize) -> f64) -> Vec<f64> {
        let mut sums = vec![0.0f64; self.channels];
        for o in rows {
            for (c, sum) in sums.iter_mut().enumerate() {
                let start = (o * self.channels + c) * self.inner;
                *sum += (start..start + self.inner).map(|i| f(i, c)).sum::<f64>();
            }
        }
        sums
    }

    /// [`channel_sums`](Self::channel_sums) over all rows, threads' parts added.
    fn total_sums(&self, f: impl Fn(usize, usize) -> f64 + Sync) -> Vec<f64> {
        let parts = map_chunks(&self.chunks(), |rows| self.channel_sums(rows, &f));
        let mut total = vec![0.0f64; self.channels];
        for part in parts {
            for (t, p) in total.iter_mut().zip(part) {
                *t += p;
            }
        }
        total
    }

    /// Mean and biased variance per channel (two passes: stable for large means).
    fn moments(&self, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let n = self.count() as f64;
        let mean: Vec<f64> = self
            .total_sums(|i, _| x[i] as f64)
            .into_iter()
            .map(|s| s / n)
            .collect();
        let variance = self.total_sums(|i, c| {
            let d = x[i] as f64 - mean[c];
            d * d
        });
        (
            mean.iter().map(|&m| m as f32).collect(),
            variance.iter().map(|&v| (v / n) as f32).collect(),
        )
    }

    /// `out[i] = x[i]·scale[c] + shift[c]` for every value of channel `c`.
    fn affine(&self, x: &[f32], scale: &[f32], shift: &[f32], out: &mut [f32]) {
        let row = self.channels * self.inner;
        map_chunks_mut(out, row, &self.chunks(), |rows, part| {
            for (k, o) in rows.enumerate() {
                for c in 0..self.channels {
                    let start = (o * self.channels + c) * self.inner;
                    let local = k * row + c * self.inner;
                    let dst = &mut part[local..local + self.inner];
                    for (d, &v) in dst.iter_mut().zip(&x[start..start + self.inner]) {
                        *d = v * scale[c] + shift[c];
                    }
                }
            }
        });
    }
}

struct BatchNormOp {
    geometry: Geometry,
    mean: Vec<f32>,
    inv_std: Vec<f32>,
}

impl CustomOp3 for BatchNormOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        gs: &CpuStorage,
        gl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let g = &self.geometry;
        let x = storage_f32(OP, xs, xl)?;
        let gamma = storage_f32(OP, gs, gl)?;
        let beta = storage_f32(OP, bs, bl)?;
        expect_len(OP, "x", &x, g.len())?;
        expect_len(OP, "gamma", &gamma, g.channels)?;
        expect_len(OP, "beta", &beta, g.channels)?;
        // y = (x − mean)·inv_std·gamma + beta = x·scale + shift.
        let scale: Vec<f32> = (0..g.channels)
            .map(|c| gamma[c] * self.inv_std[c])
            .collect();
        let shift: Vec<f32> = (0..g.channels)
            .map(|c| beta[c] - self.mean[c] * scale[c])
            .collect();
        let mut out = vec![0.0f32; g.len()];
        g.affine(&x, &scale, &shift, &mut out);
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }

    /// With x̂ the normalised input and M the values per channel:
    /// dβ = Σ dy, dγ = Σ dy·x̂, dx = γ·inv_std·(dy − dβ/M − x̂·dγ/M).
    fn bwd(
        &self,
        x: &Tensor,
        gamma: &Tensor,
        beta: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = &self.geometry;
        let (xg, gg, dyg) = (
            CpuF32::new(OP, x)?,
            CpuF32::new(OP, gamma)?,
            CpuF32::new(OP, grad)?,
        );
        let (xv, gamma_v, dy) = (xg.data()?, gg.data()?, dyg.data()?);
        expect_len(OP, "grad", &dy, g.len())?;
        let x_hat = |i: usize, c: usize| (xv[i] - self.mean[c]) * self.inv_std[c];
        let d_beta = g.total_sums(|i, _| dy[i] as f64);
        let d_gamma = g.total_sums(|i, c| (dy[i] * x_hat(i, c)) as f64);
        let m = g.count() as f64;
        let dx = x.track_op().then(|| -> Result<Tensor> {
            // dx = a·dy + b·x + d per channel, with x̂ = (x − mean)·inv_std expanded.
            let mut out = vec![0.0f32; g.len()];
            let row = g.channels * g.inner;
            map_chunks_mut(&mut out, row, &g.chunks(), |rows, part| {
                for (k, o) in rows.enumerate() {
                    for c in 0..g.channels {
                        let k_c = gamma_v[c] * self.inv_std[c];
                        let mean_dy = (d_beta[c] / m) as f32;
                        let mean_dy_xhat = (d_gamma[c] / m) as f32;
                        let start = (o * g.channels + c) * g.inner;
                        let local = k * row + c * g.inner;
                        for j in 0..g.inner {
                            let i = start + j;
                            part[local + j] = k_c * (dy[i] - mean_dy - x_hat(i, c) * mean_dy_xhat);
                        }
                    }
                }
            });
            tensor(out, x.shape().clone())
        });
        let per_channel =
            |v: Vec<f64>| tensor(v.into_iter().map(|s| s as f32).collect(), g.channels);
        Ok((
            dx.transpose()?,
            gamma.track_op().then(|| per_channel(d_gamma)).transpose()?,
            beta.track_op().then(|| per_channel(d_beta)).transpose()?,
        ))
    }
}
