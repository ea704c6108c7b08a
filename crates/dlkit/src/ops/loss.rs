//! Softmax with categorical cross-entropy, fused: the mean over the batch of
//! `-Σ_j t_j · log softmax(x)_j`, computed with log-sum-exp so large logits cannot overflow.
//!
//! `targets` are one-hot or probability rows `(N, C)` in f32 (Keras'
//! `categorical_crossentropy`), or class indices `(N,)` as u8, u32 or i64
//! (`sparse_categorical_crossentropy`). The gradient with respect to the logits is
//! `(Σ_j t_j · softmax(x) - t) / N`, i.e. `(softmax(x) - t) / N` for one-hot rows.
//!
//! ```
//! use dlkit::ops::softmax_cross_entropy;
//! use dlkit::{Device, Tensor};
//! let logits = Tensor::new(&[[0f32, 0.0], [0.0, 0.0]], &Device::Cpu)?;
//! let labels = Tensor::new(&[1u32, 0], &Device::Cpu)?;
//! let loss = softmax_cross_entropy(&logits, &labels)?.to_scalar::<f32>()?;
//! assert!((loss - 2f32.ln()).abs() < 1e-6);
//! # Ok::<(), candle_core::Error>(())
//! ```

use candle_core::backend::BackendStorage;
use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, DType, Layout, Result, Shape, Tensor};

use super::cpu::data::{expect_len, is_cpu_f32, storage_f32, tensor, CpuF32};
use super::cpu::math::{exp, multiversion};
use super::reference;

const OP: &str = "softmax_cross_entropy";

/// Mean softmax cross-entropy of `logits (N, C)` against `targets`; see the module docs.
pub fn softmax_cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor> {
    let &[n, c] = logits.dims() else {
        bail!(
            "{OP}: the logits must be (batch, classes), got shape {:?}",
            logits.dims()
        );
    };
    let sparse = match targets.dtype() {
        DType::U8 | DType::U32 | DType::I64 => true,
        DType::F32 | DType::F64 | DType::F16 | DType::BF16 => false,
        other => bail!("{OP}: targets of dtype {other:?} are not supported (use f32 rows or u8/u32/i64 classes)"),
    };
    let expected: &[usize] = if sparse { &[n] } else { &[n, c] };
    if targets.dims() != expected {
        bail!(
            "{OP}: targets for logits {:?} must have shape {expected:?}, got {:?}",
            logits.dims(),
            targets.dims()
        );
    }
    if n == 0 || c == 0 {
        bail!("{OP}: empty logits {:?}", logits.dims());
    }
    let fast = is_cpu_f32(logits)
        && targets.device().is_cpu()
        && (sparse || targets.dtype() == DType::F32);
    if !fast {
        return reference::softmax_cross_entropy(logits, targets);
    }
    logits.apply_op2(targets, CrossEntropyOp { n, c })
}

/// Row-wise softmax of `(N, C)` logits (or any rank: over the last dimension).
pub fn softmax(logits: &Tensor) -> Result<Tensor> {
    let Some(&c) = logits.dims().last() else {
        bail!("softmax: expected at least one dimension, got a scalar");
    };
    if !is_cpu_f32(logits) || c == 0 {
        return reference::softmax(logits);
    }
    logits.apply_op1(SoftmaxOp { c })
}

/// The class targets as row probabilities, or class indices.
enum Targets<'a> {
    Dense(std::borrow::Cow<'a, [f32]>),
    Sparse(Vec<usize>),
}

fn read_targets<'a>(s: &'a CpuStorage, l: &Layout, c: usize) -> Result<Targets<'a>> {
    fn classes<T: Copy>(
        all: &[T],
        l: &Layout,
        c: usize,
        to: impl Fn(T) -> Option<usize>,
    ) -> Result<Vec<usize>> {
        let values = super::cpu::data::gather(OP, all, l)?;
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            match to(v).filter(|&k| k < c) {
                Some(k) => out.push(k),
                None => bail!(
                    "{OP}: target class at position {} is out of range for {c} classes",
                    out.len()
                ),
            }
        }
        Ok(out)
    }
    Ok(match s {
        CpuStorage::F32(_) => Targets::Dense(storage_f32(OP, s, l)?),
        CpuStorage::U8(v) => Targets::Sparse(classes(v, l, c, |x| Some(x as usize))?),
        CpuStorage::U32(v) => Targets::Sparse(classes(v, l, c, |x| Some(x as usize))?),
        CpuStorage::I64(v) => Targets::Sparse(classes(v, l, c, |x| usize::try_from(x).ok())?),
        other => bail!(
            "{OP}: targets of dtype {:?} are not supported",
            other.dtype()
        ),
    })
}

multiversion! {
    /// `out = softmax(row)`; returns log Σ exp(row) (the log-sum-exp).
    fn softmax_row(row: &[f32], out: &mut [f32], lse: &mut f32) {
        let m = row.iter().fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let mut s = 0.0f32;
        for (o, &v) in out.iter_mut().zip(row) {
            let e = exp(v - m);
            *o = e;
            s += e;
        }
        let inv = 1.0 / s;
        for o in out.iter_mut() {
            *o *= inv;
        }
        *lse = m + s.ln();
    }
}

struct CrossEntropyOp {
    n: usize,
    c: usize,
}

impl CrossEntropyOp {
    /// The softmax of every row and each row's log-sum-exp.
    fn softmax_rows(&self, x: &[f32]) -> (Vec<f32>, Vec<f32>) {
        let mut p = vec![0.0f32; x.len()];
        let mut lse = vec![0.0f32; self.n];
        for ((row, out), l) in x
            .chunks_exact(self.c)
            .zip(p.chunks_exact_mut(self.c))
            .zip(lse.iter_mut())
        {
            softmax_row(row, out, l);
        }
        (p, lse)
    }
}

impl CustomOp2 for CrossEntropyOp {
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
        let (n, c) = (self.n, self.c);
        let x = storage_f32(OP, s1, l1)?;
        expect_len(OP, "the logits", &x, n * c)?;
        let targets = read_targets(s2, l2, c)?;
        let (_, lse) = self.softmax_rows(&x);
        // Accumulate in f64: the mean of many similar values loses digits in f32.
        let total: f64 = match &targets {
            Targets::Sparse(k) => (0..n).map(|i| (lse[i] - x[i * c + k[i]]) as f64).sum(),
            Targets::Dense(t) => {
                expect_len(OP, "the targets", t, n * c)?;
                (0..n)
                    .map(|i| {
                        let (row, tr) = (&x[i * c..(i + 1) * c], &t[i * c..(i + 1) * c]);
                        tr.iter()
                            .zip(row)
                            .map(|(&t, &v)| (t * (lse[i] - v)) as f64)
                            .sum::<f64>()
                    })
                    .sum()
            }
        };
        Ok((
            CpuStorage::F32(vec![(total / n as f64) as f32]),
            Shape::from(()),
        ))
    }

    fn bwd(
        &self,
        logits: &Tensor,
        targets: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let (n, c) = (self.n, self.c);
        let g = grad.to_dtype(DType::F32)?.to_vec0::<f32>()? / n as f32;
        let x_guard = CpuF32::new(OP, logits)?;
        let x = x_guard.data()?;
        expect_len(OP, "the logits", &x, n * c)?;
        let (mut p, lse) = self.softmax_rows(&x);
        let t_guard = targets.storage_and_layout();
        let targets_data = match &*t_guard.0 {
            candle_core::Storage::Cpu(s) => read_targets(s, t_guard.1, c)?,
            _ => bail!("{OP}: expected CPU targets"),
        };
        let mut dtargets = None;
        match &targets_data {
            Targets::Sparse(k) => {
                for (i, row) in p.chunks_exact_mut(c).enumerate() {
                    row[k[i]] -= 1.0;
                    row.iter_mut().for_each(|v| *v *= g);
                }
            }
            Targets::Dense(t) => {
                if targets.track_op() {
                    let dt: Vec<f32> = (0..n * c).map(|j| g * (lse[j / c] - x[j])).collect();
                    dtargets = Some(tensor(dt, (n, c))?);
                }
                for (row, tr) in p.chunks_exact_mut(c).zip(t.chunks_exact(c)) {
                    let mass: f32 = tr.iter().sum();
                    for (v, &t) in row.iter_mut().zip(tr) {
                        *v = g * (mass * *v - t);
                    }
                }
            }
        }
        let dlogits = if logits.track_op() {
            Some(tensor(p, (n, c))?)
        } else {
            None
        };
        Ok((dlogits, dtargets))
    }
}

struct SoftmaxOp {
    c: usize,
}

impl CustomOp1 for SoftmaxOp {
    fn name(&self) -> &'static str {
        "softmax"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = storage_f32("softmax", s, l)?;
        let mut out = vec![0.0f32; x.len()];
        let mut lse = 0.0;
        for (row, o) in x.chunks_exact(self.c).zip(out.chunks_exact_mut(self.c)) {
            softmax_row(row, o, &mut lse);
        }
        Ok((CpuStorage::F32(out), l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        if !arg.track_op() {
            return Ok(None);
        }
        let y_guard = CpuF32::new("softmax", res)?;
        let y = y_guard.data()?;
        let g_guard = CpuF32::new("softmax", grad)?;
        let g = g_guard.data()?;
        expect_len("softmax", "the output gradient", &g, y.len())?;
        // dx = y ⊙ (dy - Σ dy·y), row by row.
        let mut dx = vec![0.0f32; y.len()];
        for ((d, yr), gr) in dx
            .chunks_exact_mut(self.c)
            .zip(y.chunks_exact(self.c))
            .zip(g.chunks_exact(self.c))
        {
            let dot: f32 = yr.iter().zip(gr).map(|(a, b)| a * b).sum();
            for ((d, &yv), &gv) in d.iter_mut().zip(yr).zip(gr) {
                *d = yv * (gv - dot);
            }
        }
        Ok(Some(tensor(dx, arg.shape().clone())?))
    }
}
