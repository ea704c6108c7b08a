//! Inverted dropout in training mode, Keras semantics: each value is kept with probability
//! `1 - rate` and scaled by `1 / (1 - rate)`, or set to zero.
//!
//! No random tensor is built: whether value `i` is kept is a hash of `(seed, i)`, computed
//! again in the backward pass, so the mask costs no memory, is the same whatever the thread
//! count, and differs from seed to seed. Give each call (each layer, each batch) its own
//! seed, e.g. from [`crate::rng::Rng::next_u64`].
//!
//! ```
//! use dlkit::ops::dropout;
//! use dlkit::{Device, Tensor};
//! let x = Tensor::ones((4, 1000), dlkit::DType::F32, &Device::Cpu)?;
//! let y = dropout(&x, 0.25, 42)?.flatten_all()?.to_vec1::<f32>()?;
//! let kept = y.iter().filter(|&&v| v != 0.0).count() as f64 / 4000.0;
//! assert!((kept - 0.75).abs() < 0.03);
//! assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.75).abs() < 1e-6));
//! # Ok::<(), candle_core::Error>(())
//! ```

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

use super::cpu::data::{is_cpu_f32, storage_f32, tensor, CpuF32};
use super::cpu::math::multiversion;
use super::cpu::parallel::for_each_span_mut;
use super::reference;

const OP: &str = "dropout";

/// Elements per parallel task: large enough that spawning costs nothing in comparison.
const SPAN: usize = 1 << 15;

/// `x` with each value dropped with probability `rate` (kept ones scaled by `1/(1-rate)`),
/// the mask determined by `seed`. `rate` must be in `[0, 1)`; 0 returns `x` unchanged.
pub fn dropout(x: &Tensor, rate: f32, seed: u64) -> Result<Tensor> {
    let mask = DropoutMask::new(rate, seed)?;
    if rate == 0.0 {
        return Ok(x.clone());
    }
    if !is_cpu_f32(x) {
        return reference::dropout(x, rate, seed);
    }
    x.apply_op1(DropoutOp { mask })
}

/// The keep/drop decision for every element index, from a rate and a seed.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DropoutMask {
    k0: u32,
    k1: u32,
    /// Keep when the 24-bit hash is below this (`(1 - rate)·2^24`).
    threshold: u32,
    pub scale: f32,
}

#[inline(always)]
fn fmix32(mut h: u32) -> u32 {
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^ (h >> 16)
}

impl DropoutMask {
    pub fn new(rate: f32, seed: u64) -> Result<Self> {
        if !(0.0..1.0).contains(&rate) {
            bail!("{OP}: the rate must be in [0, 1), got {rate}");
        }
        // SplitMix64 spreads nearby seeds (0, 1, 2, ...) over unrelated keys.
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        let keep = 1.0 - rate as f64;
        Ok(DropoutMask {
            k0: z as u32,
            k1: (z >> 32) as u32,
            threshold: (keep * (1u64 << 24) as f64).round() as u32,
            scale: (1.0 / keep) as f32,
        })
    }

    /// Whether element `i` is kept.
    #[inline(always)]
    pub fn keep(&self, i: u64) -> bool {
        let h = fmix32((i as u32) ^ self.k0);
        let h = fmix32(h.wrapping_add(self.k1) ^ ((i >> 32) as u32));
        (h >> 8) < self.threshold
    }

    /// `out[j] = x[j]·scale` for kept elements `start + j`, else 0.
    pub fn apply(&self, start: usize, x: &[f32], out: &mut [f32]) {
        apply_mask(*self, start as u64, x, out)
    }
}

multiversion! {
    fn apply_mask(mask: DropoutMask, start: u64, x: &[f32], out: &mut [f32]) {
        for (j, (o, &v)) in out.iter_mut().zip(x).enumerate() {
            *o = if mask.keep(start + j as u64) { v * mask.scale } else { 0.0 };
        }
    }
}

struct DropoutOp {
    mask: DropoutMask,
}

impl DropoutOp {
    fn run(&self, x: &[f32]) -> Vec<f32> {
        let mut out = vec![0.0f32; x.len()];
        for_each_span_mut(&mut out, SPAN, |start, part| {
            self.mask.apply(start, &x[start..start + part.len()], part)
        });
        out
    }
}

impl CustomOp1 for DropoutOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = storage_f32(OP, s, l)?;
        Ok((CpuStorage::F32(self.run(&x)), l.shape().clone()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        if !arg.track_op() {
            return Ok(None);
        }
        let guard = CpuF32::new(OP, grad)?;
        let g = guard.data()?;
        Ok(Some(tensor(self.run(&g), arg.shape().clone())?))
    }
}

/// The mask as 0/1 values for `n` elements (the reference path and the tests use it).
pub(crate) fn mask_values(rate: f32, seed: u64, n: usize) -> Result<Vec<f32>> {
    let mask = DropoutMask::new(rate, seed)?;
    Ok((0..n as u64)
        .map(|i| if mask.keep(i) { 1.0 } else { 0.0 })
        .collect())
}
