//! A whole-sequence LSTM layer (Keras' `LSTM`) with hand-written backpropagation through time.
//!
//! Shapes: `x (N, T, F)`, kernel `(F, 4H)`, recurrent kernel `(H, 4H)`, bias `(4H)`, the
//! four column blocks in Keras' gate order i, f, c, o. With `z = x_t·W + h_{t-1}·U + b`:
//! `i = σ(z_i)`, `f = σ(z_f)`, `g = act(z_c)`, `o = σ(z_o)`, `c_t = f⊙c_{t-1} + i⊙g`,
//! `h_t = o⊙act(c_t)`, from zero initial states. The output is every `h_t` as `(N, T, H)`
//! (`return_sequences`) or the last one as `(N, H)`.
//!
//! The input projection of all time steps is one [`dense`](super::dense) product (which
//! gives the kernel, bias and input gradients); the recurrence is one custom op that keeps
//! the gate values of the forward pass for its backward pass, a gemm and a fused
//! element-wise loop per time step each way.
//!
//! ```
//! use dlkit::ops::{lstm, LstmActivation};
//! use dlkit::{Device, Tensor};
//! let dev = Device::Cpu;
//! let x = Tensor::ones((2, 5, 3), dlkit::DType::F32, &dev)?;
//! let w = Tensor::full(0.1f32, (3, 16), &dev)?;
//! let u = Tensor::full(0.1f32, (4, 16), &dev)?;
//! let b = Tensor::zeros(16, dlkit::DType::F32, &dev)?;
//! let h = lstm(&x, &w, &u, Some(&b), LstmActivation::Tanh, false)?;
//! assert_eq!(h.dims(), &[2, 4]);
//! # Ok::<(), candle_core::Error>(())
//! ```

use std::ops::Range;
use std::sync::Mutex;

use rayon::prelude::*;

use candle_core::{bail, CpuStorage, CustomOp2, Layout, Result, Shape, Tensor};

use super::cpu::bias::check_bias;
use super::cpu::data::{all_cpu_f32, expect_len, is_cpu_f32, storage_f32, tensor, CpuF32};
use super::cpu::gemm::{matmul, Mat};
use super::cpu::math::{multiversion, sigmoid, tanh};
use super::cpu::parallel::{map_chunks_mut, split, threads};
use super::cpu::transpose::transpose;
use super::dense::dense;
use super::params::{FusedActivation, LstmActivation};
use super::reference;

const OP: &str = "lstm";

/// Recurrent products smaller than this many multiply-adds run on one thread.
const PARALLEL_MACS: usize = 1 << 19;

/// Runs an LSTM over whole sequences; see the module documentation.
pub fn lstm(
    x: &Tensor,
    kernel: &Tensor,
    recurrent_kernel: &Tensor,
    bias: Option<&Tensor>,
    activation: LstmActivation,
    return_sequences: bool,
) -> Result<Tensor> {
    let (n, t, f, h) = check_shapes(x, kernel, recurrent_kernel, bias)?;
    if !(all_cpu_f32(x, kernel, bias) && is_cpu_f32(recurrent_kernel)) {
        return reference::lstm(
            x,
            kernel,
            recurrent_kernel,
            bias,
            activation,
            return_sequences,
        );
    }
    let xp = dense(
        &x.reshape((n * t, f))?,
        kernel,
        bias,
        FusedActivation::Linear,
    )?
    .reshape((n, t, 4 * h))?;
    // Without a tracked input there is no backward pass: keep nothing (inference).
    let keep = xp.track_op() || recurrent_kernel.track_op();
    xp.apply_op2(
        recurrent_kernel,
        LstmOp {
            n,
            t,
            h,
            activation,
            return_sequences,
            keep,
            saved: Mutex::new(None),
        },
    )
}

fn check_shapes(
    x: &Tensor,
    kernel: &Tensor,
    recurrent: &Tensor,
    bias: Option<&Tensor>,
) -> Result<(usize, usize, usize, usize)> {
    let &[n, t, f] = x.dims() else {
        bail!(
            "{OP}: the input must be (batch, timesteps, features), got shape {:?}",
            x.dims()
        );
    };
    let &[kf, h4] = kernel.dims() else {
        bail!(
            "{OP}: the kernel must be (features, 4·units), got shape {:?}",
            kernel.dims()
        );
    };
    if kf != f || h4 % 4 != 0 || h4 == 0 {
        bail!(
            "{OP}: the input {:?} has {f} features; the kernel must be ({f}, 4·units), got shape {:?}",
            x.dims(),
            kernel.dims()
        );
    }
    let h = h4 / 4;
    if recurrent.dims() != [h, h4] {
        bail!(
            "{OP}: the recurrent kernel must be ({h}, {h4}) for kernel {:?}, got shape {:?}",
            kernel.dims(),
            recurrent.dims()
        );
    }
    check_bias(OP, bias, h4, kernel)?;
    if t == 0 {
        bail!("{OP}: the input {:?} has no time steps", x.dims());
    }
    Ok((n, t, f, h))
}

/// What the forward pass keeps for the backward pass, all `(N, T, ·)` row-major.
struct Saved {
    /// i, f, g, o after their activations, `4H` per step.
    gates: Vec<f32>,
    /// Cell states, `H` per step.
    cells: Vec<f32>,
    /// Hidden states, `H` per step.
    hidden: Vec<f32>,
}

struct LstmOp {
    n: usize,
    t: usize,
    h: usize,
    activation: LstmActivation,
    return_sequences: bool,
    /// Whether to keep the forward pass's gates and states for a backward pass.
    keep: bool,
    saved: Mutex<Option<Saved>>,
}

/// The activation's value and its derivative expressed through its value.
#[inline(always)]
fn act(a: LstmActivation, x: f32) -> f32 {
    match a {
        LstmActivation::Tanh => tanh(x),
        // Not f32::max, which would turn NaN into 0.
        LstmActivation::Relu => {
            if x < 0.0 {
                0.0
            } else {
                x
            }
        }
        LstmActivation::Sigmoid => sigmoid(x),
        LstmActivation::Linear => x,
    }
}

#[inline(always)]
fn act_grad_from_value(a: LstmActivation, y: f32) -> f32 {
    match a {
        LstmActivation::Tanh => 1.0 - y * y,
        LstmActivation::Relu => {
            if y > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        LstmActivation::Sigmoid => y * (1.0 - y),
        LstmActivation::Linear => 1.0,
    }
}

#[inline(always)]
fn cell_forward_with(
    a: LstmActivation,
    z: &[f32],
    c_prev: &[f32],
    gates: &mut [f32],
    c: &mut [f32],
    h: &mut [f32],
) {
    let hn = h.len();
    // Slices of exactly `hn` values, so the loop has no bounds checks and vectorises.
    let (zi, zf, zg, zo) = (
        &z[..hn],
        &z[hn..2 * hn],
        &z[2 * hn..3 * hn],
        &z[3 * hn..4 * hn],
    );
    let (gi, rest) = gates.split_at_mut(hn);
    let (gf, rest) = rest.split_at_mut(hn);
    let (gg, go) = rest.split_at_mut(hn);
    let (go, c_prev, c) = (&mut go[..hn], &c_prev[..hn], &mut c[..hn]);
    for j in 0..hn {
        let i = sigmoid(zi[j]);
        let f = sigmoid(zf[j]);
        let g = act(a, zg[j]);
        let o = sigmoid(zo[j]);
        let cj = f * c_prev[j] + i * g;
        gi[j] = i;
        gf[j] = f;
        gg[j] = g;
        go[j] = o;
        c[j] = cj;
        h[j] = o * act(a, cj);
    }
}

multiversion! {
    /// One sample's gates, cell and hidden state at one step from its pre-activations `z (4H)`.
    fn cell_forward(a: LstmActivation, z: &[f32], c_prev: &[f32], gates: &mut [f32], c: &mut [f32], h: &mut [f32]) {
        // One loop per activation, so the match is not inside the vectorised loop.
        match a {
            LstmActivation::Tanh => cell_forward_with(LstmActivation::Tanh, z, c_prev, gates, c, h),
            LstmActivation::Relu => cell_forward_with(LstmActivation::Relu, z, c_prev, gates, c, h),
            LstmActivation::Sigmoid => cell_forward_with(LstmActivation::Sigmoid, z, c_prev, gates, c, h),
            LstmActivation::Linear => cell_forward_with(LstmActivation::Linear, z, c_prev, gates, c, h),
        }
    }
}

/// Inputs of one sample's backward step.
struct CellBack<'a> {
    gates: &'a [f32],
    c: &'a [f32],
    /// c_{t-1} (zeros at the first step).
    c_prev: &'a [f32],
    /// Gradient reaching h_t (from the output and from step t+1).
    dh: &'a [f32],
}

#[inline(always)]
fn cell_backward_with(a: LstmActivation, s: &CellBack<'_>, dc_next: &mut [f32], dz: &mut [f32]) {
    let hn = s.c.len();
    let g4 = s.gates;
    let (gi, gf, gg, go) = (
        &g4[..hn],
        &g4[hn..2 * hn],
        &g4[2 * hn..3 * hn],
        &g4[3 * hn..4 * hn],
    );
    let (c, cp, dhs, dcn) = (&s.c[..hn], &s.c_prev[..hn], &s.dh[..hn], &mut dc_next[..hn]);
    let (dzi, rest) = dz.split_at_mut(hn);
    let (dzf, rest) = rest.split_at_mut(hn);
    let (dzg, dzo) = rest.split_at_mut(hn);
    let dzo = &mut dzo[..hn];
    for j in 0..hn {
        let (i, f, g, o) = (gi[j], gf[j], gg[j], go[j]);
        let ac = act(a, c[j]);
        let dh = dhs[j];
        let dc = dh * o * act_grad_from_value(a, ac) + dcn[j];
        dzi[j] = dc * g * i * (1.0 - i);
        dzf[j] = dc * cp[j] * f * (1.0 - f);
        dzg[j] = dc * i * act_grad_from_value(a, g);
        dzo[j] = dh * ac * o * (1.0 - o);
        dcn[j] = dc * f;
    }
}

multiversion! {
    /// One sample's backward step: writes `dz (4H)` and turns `dc_next` into the gradient
    /// reaching c_{t-1}.
    fn cell_backward(a: LstmActivation, s: &CellBack<'_>, dc_next: &mut [f32], dz: &mut [f32]) {
        match a {
            LstmActivation::Tanh => cell_backward_with(LstmActivation::Tanh, s, dc_next, dz),
            LstmActivation::Relu => cell_backward_with(LstmActivation::Relu, s, dc_next, dz),
            LstmActivation::Sigmoid => cell_backward_with(LstmActivation::Sigmoid, s, dc_next, dz),
            LstmActivation::Linear => cell_backward_with(LstmActivation::Linear, s, dc_next, dz),
        }
    }
}

impl LstmOp {
    /// The sample chunks the recurrence runs in: samples are independent, so each chunk
    /// runs all its time steps on its own thread, with no synchronisation per step.
    fn chunks(&self) -> Vec<Range<usize>> {
        // Below 8 samples per chunk the per-step products get too thin to pay.
        split(self.n, threads().min(self.n / 8).max(1))
    }

    fn forward(&self, xp: &[f32], u: &[f32]) -> Result<Saved> {
        let (n, t, h) = (self.n, self.t, self.h);
        let h4 = 4 * h;
        expect_len(OP, "the input projection", xp, n * t * h4)?;
        expect_len(OP, "the recurrent kernel", u, h * h4)?;
        let mut gates = vec![0.0f32; n * t * h4];
        let mut cells = vec![0.0f32; n * t * h];
        let mut hidden = vec![0.0f32; n * t * h];
        let chunks = self.chunks();
        let mut parts = Vec::with_capacity(chunks.len());
        let (mut g_rest, mut c_rest, mut h_rest) =
            (&mut gates[..], &mut cells[..], &mut hidden[..]);
        for r in &chunks {
            let (g0, g1) = g_rest.split_at_mut(r.len() * t * h4);
            let (c0, c1) = c_rest.split_at_mut(r.len() * t * h);
            let (h0, h1) = h_rest.split_at_mut(r.len() * t * h);
            parts.push((r.clone(), g0, c0, h0));
            (g_rest, c_rest, h_rest) = (g1, c1, h1);
        }
        let inner = if chunks.len() < threads() && n * h * h4 >= PARALLEL_MACS {
            threads()
        } else {
            1
        };
        parts
            .into_par_iter()
            .map(|(r, g, c, hs)| {
                self.forward_chunk(
                    &xp[r.start * t * h4..r.end * t * h4],
                    u,
                    r.len(),
                    g,
                    c,
                    hs,
                    inner,
                )
            })
            .collect::<Result<Vec<()>>>()?;
        Ok(Saved {
            gates,
            cells,
            hidden,
        })
    }

    /// The recurrence over all steps for `n` samples (their slices of every buffer).
    #[allow(clippy::too_many_arguments)]
    fn forward_chunk(
        &self,
        xp: &[f32],
        u: &[f32],
        n: usize,
        gates: &mut [f32],
        cells: &mut [f32],
        hidden: &mut [f32],
        threads: usize,
    ) -> Result<()> {
        let (t, h) = (self.t, self.h);
        let h4 = 4 * h;
        let mut z = vec![0.0f32; n * h4];
        let zeros = vec![0.0f32; h];
        for step in 0..t {
            for s in 0..n {
                z[s * h4..(s + 1) * h4]
                    .copy_from_slice(&xp[(s * t + step) * h4..(s * t + step + 1) * h4]);
            }
            if step > 0 {
                let h_prev = Mat::strided(&hidden[(step - 1) * h..], n, h, t * h, 1);
                matmul(OP, &mut z, h4, h_prev, Mat::rows(u, h, h4), true, threads)?;
            }
            for s in 0..n {
                let at = s * t + step;
                let (before, from) = cells.split_at_mut(at * h);
                let c_prev = if step > 0 {
                    &before[(at - 1) * h..at * h]
                } else {
                    &zeros[..]
                };
                cell_forward(
                    self.activation,
                    &z[s * h4..(s + 1) * h4],
                    c_prev,
                    &mut gates[at * h4..(at + 1) * h4],
                    &mut from[..h],
                    &mut hidden[at * h..(at + 1) * h],
                );
            }
        }
        Ok(())
    }

    /// Backpropagation through time for `n` samples: fills their `dz` (the gradient of the
    /// pre-activations, `4H` per step) from their output gradient `dout`. `u_t` is the
    /// recurrent kernel transposed, `(4H, H)` row-major.
    #[allow(clippy::too_many_arguments)]
    fn backward_chunk(
        &self,
        saved: (&[f32], &[f32]),
        dout: &[f32],
        u_t: &[f32],
        n: usize,
        dz: &mut [f32],
        threads: usize,
    ) -> Result<()> {
        let (t, h) = (self.t, self.h);
        let h4 = 4 * h;
        let (gates, cells) = saved;
        let mut dh_next = vec![0.0f32; n * h];
        let mut dc_next = vec![0.0f32; n * h];
        let mut dh = vec![0.0f32; h];
        let zeros = vec![0.0f32; h];
        for step in (0..t).rev() {
            for s in 0..n {
                let at = s * t + step;
                dh.copy_from_slice(&dh_next[s * h..(s + 1) * h]);
                let from_out = if self.return_sequences {
                    Some(&dout[at * h..(at + 1) * h])
                } else if step + 1 == t {
                    Some(&dout[s * h..(s + 1) * h])
                } else {
                    None
                };
                if let Some(d) = from_out {
                    for (a, &b) in dh.iter_mut().zip(d) {
                        *a += b;
                    }
                }
                let back = CellBack {
                    gates: &gates[at * h4..(at + 1) * h4],
                    c: &cells[at * h..(at + 1) * h],
                    c_prev: if step > 0 {
                        &cells[(at - 1) * h..at * h]
                    } else {
                        &zeros[..]
                    },
                    dh: &dh,
                };
                cell_backward(
                    self.activation,
                    &back,
                    &mut dc_next[s * h..(s + 1) * h],
                    &mut dz[at * h4..(at + 1) * h4],
                );
            }
            if step > 0 {
                // dh_{t-1} (n, H) = dz_t (n, 4H) · Uᵀ (4H, H)
                let dz_t = Mat::strided(&dz[step * h4..], n, h4, t * h4, 1);
                matmul(
                    OP,
                    &mut dh_next,
                    h,
                    dz_t,
                    Mat::rows(u_t, h4, h),
                    false,
                    threads,
                )?;
            }
        }
        Ok(())
    }

    fn output(&self, saved: &Saved) -> Vec<f32> {
        if self.return_sequences {
            return saved.hidden.clone();
        }
        let (t, h) = (self.t, self.h);
        saved
            .hidden
            .chunks_exact(t * h)
            .flat_map(|seq| seq[(t - 1) * h..].iter().copied())
            .collect()
    }

    fn out_shape(&self) -> Shape {
        if self.return_sequences {
            (self.n, self.t, self.h).into()
        } else {
            (self.n, self.h).into()
        }
    }
}

impl CustomOp2 for LstmOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let xp = storage_f32(OP, s1, l1)?;
        let u = storage_f32(OP, s2, l2)?;
        let saved = self.forward(&xp, &u)?;
        let out = self.output(&saved);
        if self.keep {
            if let Ok(mut slot) = self.saved.lock() {
                *slot = Some(saved);
            }
        }
        Ok((CpuStorage::F32(out), self.out_shape()))
    }

    fn bwd(
        &self,
        xp: &Tensor,
        u: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (n, t, h) = (self.n, self.t, self.h);
        let h4 = 4 * h;
        let u_guard = CpuF32::new(OP, u)?;
        let uw = u_guard.data()?;
        let cached = self.saved.lock().ok().and_then(|mut slot| slot.take());
        let saved = match cached {
            Some(s) => s,
            None => {
                let guard = CpuF32::new(OP, xp)?;
                self.forward(&guard.data()?, &uw)?
            }
        };
        let grad_guard = CpuF32::new(OP, grad)?;
        let dout = grad_guard.data()?;
        expect_len(
            OP,
            "the output gradient",
            &dout,
            if self.return_sequences {
                n * t * h
            } else {
                n * h
            },
        )?;

        let per_out = if self.return_sequences { t * h } else { h };
        let mut dz = vec![0.0f32; n * t * h4];
        // Uᵀ once in row-major order: every step's dh product reads it, and a column-major
        // operand there is several times slower (see cpu::gemm::ROW_MAJOR_B_BELOW).
        let mut u_t = vec![0.0f32; h * h4];
        transpose(&uw, h, h4, &mut u_t);
        let chunks = self.chunks();
        let inner = if chunks.len() < threads() && n * h * h4 >= PARALLEL_MACS {
            threads()
        } else {
            1
        };
        map_chunks_mut(&mut dz, t * h4, &chunks, |r, dzs| {
            let saved_part = (
                &saved.gates[r.start * t * h4..r.end * t * h4],
                &saved.cells[r.start * t * h..r.end * t * h],
            );
            self.backward_chunk(
                saved_part,
                &dout[r.start * per_out..r.end * per_out],
                &u_t,
                r.len(),
                dzs,
                inner,
            )
        })
        .into_iter()
        .collect::<Result<Vec<()>>>()?;

        let du = if u.track_op() {
            // dU (H, 4H) = Σ_t h_{t-1}ᵀ · dz_t, one product over all (sample, step) rows.
            let mut h_prev = vec![0.0f32; n * t * h];
            for s in 0..n {
                let base = s * t * h;
                h_prev[base + h..base + t * h]
                    .copy_from_slice(&saved.hidden[base..base + (t - 1) * h]);
            }
            let mut du = vec![0.0f32; h * h4];
            matmul(
                OP,
                &mut du,
                h4,
                Mat::transposed(&h_prev, h, n * t),
                Mat::rows(&dz, n * t, h4),
                false,
                threads(),
            )?;
            Some(tensor(du, (h, h4))?)
        } else {
            None
        };
        let dxp = if xp.track_op() {
            Some(tensor(dz, (n, t, h4))?)
        } else {
            None
        };
        Ok((dxp, du))
    }
}
