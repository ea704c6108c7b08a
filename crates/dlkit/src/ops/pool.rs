//! 2-d max pooling that records where each maximum came from.
//!
//! `x` is `(N, C, H, W)` or `(N, H, W, C)`; the output has the same layout with
//! `OH = floor((H - p) / s) + 1` (valid) or `ceil(H / s)` (same, padded positions never win),
//! exactly like Keras' `MaxPooling2D`. The forward pass stores the index of each window's
//! (first) maximum; the backward pass scatters the output gradient to those positions,
//! which is exact for any size, odd ones included (11×11 pooled by 2 gives 5×5, the last
//! row and column receiving no gradient).
//!
//! ```
//! use dlkit::ops::{max_pool2d, DataLayout, Padding};
//! use dlkit::{Device, Tensor};
//! let x = Tensor::arange(0f32, 121., &Device::Cpu)?.reshape((1, 1, 11, 11))?;
//! let y = max_pool2d(&x, (2, 2), (2, 2), Padding::Valid, DataLayout::ChannelsFirst)?;
//! assert_eq!(y.dims(), &[1, 1, 5, 5]);
//! assert_eq!(y.flatten_all()?.to_vec1::<f32>()?[0], 12.0);
//! # Ok::<(), candle_core::Error>(())
//! ```

use std::sync::Mutex;

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

use super::cpu::data::{expect_len, is_cpu_f32, storage_f32, tensor, CpuF32};

use super::cpu::math::multiversion;
use super::cpu::parallel::{batch_chunks, map_chunk_pairs_mut, map_chunks_mut};
use super::params::{image_dims, DataLayout, Geometry, Padding};
use super::reference;

const OP: &str = "max_pool2d";

/// Max pooling with window `pool`, step `stride` and Keras `padding`, in `layout`.
pub fn max_pool2d(
    x: &Tensor,
    pool: (usize, usize),
    stride: (usize, usize),
    padding: Padding,
    layout: DataLayout,
) -> Result<Tensor> {
    let (n, chw) = image_dims(OP, x.dims(), layout)?;
    let g = Geometry::new(OP, chw, pool, stride, padding)?;
    if u32::try_from(g.in_plane()).is_err() {
        bail!("{OP}: an image of {}x{} is too large", g.h, g.w);
    }
    if !is_cpu_f32(x) {
        return reference::max_pool2d(x, pool, stride, padding, layout);
    }
    // Without a tracked input there is no backward pass: keep no indices (inference).
    x.apply_op1(MaxPoolOp {
        g,
        n,
        layout,
        keep: x.track_op(),
        argmax: Mutex::new(None),
    })
}

struct MaxPoolOp {
    g: Geometry,
    n: usize,
    layout: DataLayout,
    /// Whether to keep the indices for a backward pass.
    keep: bool,
    /// For each output value, the index of its maximum within its image plane
    /// (`ih·W + iw`), filled by the forward pass for the backward pass.
    argmax: Mutex<Option<Vec<u32>>>,
}

impl MaxPoolOp {
    fn out_shape(&self) -> Shape {
        let g = &self.g;
        match self.layout {
            DataLayout::ChannelsFirst => (self.n, g.c, g.oh, g.ow).into(),
            DataLayout::ChannelsLast => (self.n, g.oh, g.ow, g.c).into(),
        }
    }

    fn forward(&self, x: &[f32]) -> Result<(Vec<f32>, Vec<u32>)> {
        let g = &self.g;
        let (img, out_img) = (g.c * g.in_plane(), g.c * g.out_plane());
        expect_len(OP, "the input", x, self.n * img)?;
        let mut y = vec![0.0f32; self.n * out_img];
        let mut idx = vec![0u32; self.n * out_img];
        let chunks = batch_chunks(self.n);
        map_chunk_pairs_mut((&mut y, &mut idx), out_img, &chunks, |range, ys, ids| {
            for (j, i) in range.enumerate() {
                let xi = &x[i * img..(i + 1) * img];
                let yi = &mut ys[j * out_img..(j + 1) * out_img];
                let ii = &mut ids[j * out_img..(j + 1) * out_img];
                match self.layout {
                    DataLayout::ChannelsFirst => pool_cf(self.g, xi, yi, ii),
                    DataLayout::ChannelsLast => pool_cl(self.g, xi, yi, ii),
                }
            }
        });
        Ok((y, idx))
    }
}

/// The input rows (or columns) covered by output position `o`, clipped to the image.
#[inline(always)]
fn span(o: usize, s: usize, k: usize, pad: usize, len: usize) -> (usize, usize) {
    let start = o * s;
    let lo = start.saturating_sub(pad).min(len);
    let hi = (start + k).saturating_sub(pad).min(len);
    (lo, hi.max(lo))
}

multiversion! {
    /// Max pooling of one channels-first image.
    pub(crate) fn pool_cf(g: Geometry, x: &[f32], y: &mut [f32], idx: &mut [u32]) {
        let inside = 2 * g.oh <= g.h && 2 * g.ow <= g.w;
        if (g.kh, g.kw, g.sh, g.sw, g.pt, g.pl) == (2, 2, 2, 2, 0, 0) && inside {
            return pool_cf_2x2(g, x, y, idx);
        }
        for c in 0..g.c {
            let plane = &x[c * g.in_plane()..(c + 1) * g.in_plane()];
            for oh in 0..g.oh {
                let (h0, h1) = span(oh, g.sh, g.kh, g.pt, g.h);
                for ow in 0..g.ow {
                    let (w0, w1) = span(ow, g.sw, g.kw, g.pl, g.w);
                    let mut at = h0 * g.w + w0;
                    let mut best = plane[at];
                    for ih in h0..h1 {
                        for (iw, &v) in plane[ih * g.w + w0..ih * g.w + w1].iter().enumerate() {
                            let gt = v > best;
                            best = if gt { v } else { best };
                            at = if gt { ih * g.w + w0 + iw } else { at };
                        }
                    }
                    let o = (c * g.oh + oh) * g.ow + ow;
                    y[o] = best;
                    idx[o] = at as u32;
                }
            }
        }
    }
}

multiversion! {
    /// Max pooling of one channels-last image.
    pub(crate) fn pool_cl(g: Geometry, x: &[f32], y: &mut [f32], idx: &mut [u32]) {
        let c = g.c;
        for oh in 0..g.oh {
            let (h0, h1) = span(oh, g.sh, g.kh, g.pt, g.h);
            for ow in 0..g.ow {
                let (w0, w1) = span(ow, g.sw, g.kw, g.pl, g.w);
                let o = (oh * g.ow + ow) * c;
                let window = (h0..h1).flat_map(|ih| (w0..w1).map(move |iw| ih * g.w + iw));
                pool_window_cl(x, c, h0 * g.w + w0, window, &mut y[o..o + c], &mut idx[o..o + c]);
            }
        }
    }
}

/// The maximum over the window positions `window` (starting with `first`) of each of the
/// `c` channels, and where it is (the first one, by strict comparisons).
///
/// Channels go in blocks of 8 whose running maxima and indices stay in local arrays
/// (registers) over the whole window and are stored once. Updating `y` and `idx` in place
/// per position compiles to masked stores (`vmaskmovps`), which are microcoded on AMD and
/// stall the following load: they took two thirds of this loop's time.
#[inline(always)]
fn pool_window_cl(
    x: &[f32],
    c: usize,
    first: usize,
    window: impl Iterator<Item = usize> + Clone,
    y: &mut [f32],
    idx: &mut [u32],
) {
    const LANES: usize = 8;
    let blocks = c / LANES * LANES;
    for c0 in (0..blocks).step_by(LANES) {
        let mut best = [0f32; LANES];
        best.copy_from_slice(&x[first * c + c0..first * c + c0 + LANES]);
        let mut at = [first as u32; LANES];
        for p in window.clone() {
            let v = &x[p * c + c0..p * c + c0 + LANES];
            for l in 0..LANES {
                let gt = v[l] > best[l];
                best[l] = if gt { v[l] } else { best[l] };
                at[l] = if gt { p as u32 } else { at[l] };
            }
        }
        y[c0..c0 + LANES].copy_from_slice(&best);
        idx[c0..c0 + LANES].copy_from_slice(&at);
    }
    for ch in blocks..c {
        let (mut best, mut at) = (x[first * c + ch], first as u32);
        for p in window.clone() {
            if x[p * c + ch] > best {
                (best, at) = (x[p * c + ch], p as u32);
            }
        }
        y[ch] = best;
        idx[ch] = at;
    }
}

/// The common 2×2, stride 2 pooling without padding, channels-first: fixed windows, no
/// clipping, no bounds checks in the inner loop.
#[inline(always)]
fn pool_cf_2x2(g: Geometry, x: &[f32], y: &mut [f32], idx: &mut [u32]) {
    let (w, ow, op) = (g.w, g.ow, g.out_plane());
    for c in 0..g.c {
        let plane = &x[c * g.in_plane()..(c + 1) * g.in_plane()];
        for oh in 0..g.oh {
            let top = 2 * oh * w;
            let r0 = &plane[top..top + 2 * ow];
            let r1 = &plane[top + w..top + w + 2 * ow];
            let o = c * op + oh * ow;
            let (yr, ir) = (&mut y[o..o + ow], &mut idx[o..o + ow]);
            let done = pool_2x2_rows_simd(r0, r1, top as u32, w as u32, yr, ir);
            for (q, (((a, b), yv), iv)) in r0
                .chunks_exact(2)
                .zip(r1.chunks_exact(2))
                .zip(yr.iter_mut())
                .zip(ir.iter_mut())
                .enumerate()
                .skip(done)
            {
                // Row-major order with strict comparisons keeps the first maximum.
                let at = (top + 2 * q) as u32;
                let (mut m, mut i) = (a[0], at);
                if a[1] > m {
                    (m, i) = (a[1], at + 1);
                }
                if b[0] > m {
                    (m, i) = (b[0], at + w as u32);
                }
                if b[1] > m {
                    (m, i) = (b[1], at + w as u32 + 1);
                }
                *yv = m;
                *iv = i;
            }
        }
    }
}

/// 2×2 pooling of two input rows into `y`/`idx`, 8 outputs at a time with AVX2 where the
/// CPU has it; returns how many outputs it wrote (the rest are left to the scalar loop).
#[inline(always)]
fn pool_2x2_rows_simd(
    r0: &[f32],
    r1: &[f32],
    top: u32,
    w: u32,
    y: &mut [f32],
    idx: &mut [u32],
) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let n = y.len().min(idx.len()).min(r0.len() / 2).min(r1.len() / 2);
        if n >= 8 && std::is_x86_feature_detected!("avx2") {
            // SAFETY: AVX2 is present; the function reads r0/r1[..2n] and writes y/idx[..n],
            // all within the slices by the `n` above.
            return unsafe { pool_2x2_rows_avx2(r0, r1, top, w, y, idx, n) };
        }
    }
    let _ = (r0, r1, top, w, y, idx);
    0
}

/// # Safety
///
/// The CPU must support AVX2, and `r0`, `r1` must hold at least `2 * n` values and
/// `y`, `idx` at least `n` (the caller takes `n` as the minimum of those lengths).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pool_2x2_rows_avx2(
    r0: &[f32],
    r1: &[f32],
    top: u32,
    w: u32,
    y: &mut [f32],
    idx: &mut [u32],
    n: usize,
) -> usize {
    use std::arch::x86_64::*;
    /// Even and odd elements of 16 consecutive values, in order.
    ///
    /// # Safety
    ///
    /// AVX2, and 16 readable values from `p`.
    #[inline(always)]
    unsafe fn split(p: *const f32) -> (__m256, __m256) {
        let (a, b) = (_mm256_loadu_ps(p), _mm256_loadu_ps(p.add(8)));
        let even = _mm256_shuffle_ps::<0b10_00_10_00>(a, b);
        let odd = _mm256_shuffle_ps::<0b11_01_11_01>(a, b);
        let fix = |v: __m256| {
            _mm256_castpd_ps(_mm256_permute4x64_pd::<0b11_01_10_00>(_mm256_castps_pd(v)))
        };
        (fix(even), fix(odd))
    }
    let lanes = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    let (one, down) = (_mm256_set1_epi32(1), _mm256_set1_epi32(w as i32));
    let step = |q: usize| {
        let (a0, a1) = split(r0.as_ptr().add(2 * q));
        let (b0, b1) = split(r1.as_ptr().add(2 * q));
        let at = _mm256_add_epi32(_mm256_set1_epi32((top as usize + 2 * q) as i32), lanes);
        let (mut m, mut i) = (a0, at);
        // The same strict comparisons, in the same order, as the scalar loop.
        for (v, off) in [(a1, one), (b0, down), (b1, _mm256_add_epi32(down, one))] {
            let gt = _mm256_cmp_ps::<_CMP_GT_OQ>(v, m);
            m = _mm256_blendv_ps(m, v, gt);
            i = _mm256_blendv_epi8(i, _mm256_add_epi32(at, off), _mm256_castps_si256(gt));
        }
        (m, i)
    };
    let mut q = 0;
    while q < n {
        // The last step overlaps the previous one instead of leaving a scalar tail:
        // recomputing an output gives the same value.
        let at = q.min(n - 8);
        let (m, i) = step(at);
        _mm256_storeu_ps(y.as_mut_ptr().add(at), m);
        _mm256_storeu_si256(idx.as_mut_ptr().add(at) as *mut __m256i, i);
        q = at + 8;
    }
    n
}

impl CustomOp1 for MaxPoolOp {
    fn name(&self) -> &'static str {
        OP
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = storage_f32(OP, s, l)?;
        let (y, idx) = self.forward(&x)?;
        if self.keep {
            if let Ok(mut slot) = self.argmax.lock() {
                *slot = Some(idx);
            }
        }
        Ok((CpuStorage::F32(y), self.out_shape()))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        if !arg.track_op() {
            return Ok(None);
        }
        let g = &self.g;
        let (img, out_img) = (g.c * g.in_plane(), g.c * g.out_plane());
        let cached = self.argmax.lock().ok().and_then(|mut slot| slot.take());
        let idx = match cached {
            Some(idx) => idx,
            None => {
                let guard = CpuF32::new(OP, arg)?;
                self.forward(&guard.data()?)?.1
            }
        };
        let grad_guard = CpuF32::new(OP, grad)?;
        let dy = grad_guard.data()?;
        expect_len(OP, "the output gradient", &dy, self.n * out_img)?;
        if idx.len() != dy.len() {
            bail!("{OP}: stored indices do not match the output gradient");
        }
        let mut dx = vec![0.0f32; self.n * img];
        let chunks = batch_chunks(self.n);
        let plane = g.in_plane();
        map_chunks_mut(&mut dx, img, &chunks, |range, dxs| {
            for (j, i) in range.enumerate() {
                let dxi = &mut dxs[j * img..(j + 1) * img];
                let (dyi, ii) = (
                    &dy[i * out_img..(i + 1) * out_img],
                    &idx[i * out_img..(i + 1) * out_img],
                );
                match self.layout {
                    DataLayout::ChannelsFirst => {
                        let per_plane = g.out_plane();
                        for ((d, ii), dxp) in dyi
                            .chunks_exact(per_plane)
                            .zip(ii.chunks_exact(per_plane))
                            .zip(dxi.chunks_exact_mut(plane))
                        {
                            for (&d, &at) in d.iter().zip(ii) {
                                if let Some(v) = dxp.get_mut(at as usize) {
                                    *v += d;
                                }
                            }
                        }
                    }
                    DataLayout::ChannelsLast => {
                        let c = g.c;
                        for (d, ii) in dyi.chunks_exact(c).zip(ii.chunks_exact(c)) {
                            for (ci, (&d, &at)) in d.iter().zip(ii).enumerate() {
                                if let Some(v) = dxi.get_mut(at as usize * c + ci) {
                                    *v += d;
                                }
                            }
                        }
                    }
                }
            }
        });
        // The indices are used once: a second backward through the same graph recomputes them.
        Ok(Some(tensor(dx, arg.shape().clone())?))
    }
}
