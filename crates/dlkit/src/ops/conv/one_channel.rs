//! The forward pass of stride-1 convolutions of one-channel images — the first layer of
//! every tutorial CNN — computed straight from the image, without a patch matrix.
//!
//! With one channel a patch matrix has only `kh·kw` rows (9 or 25), so its product with the
//! kernel is too shallow for gemm to run well (001's first layer ran at 28 GFLOP/s), and
//! unfolding the image, multiplying and adding the bias took three passes over an output
//! 32 times the image. Here each output value is summed in a register tap by tap and stored
//! once with its bias and relu. The sum runs in gemm's order (the taps in patch-matrix
//! order, fused multiply-adds from zero, the bias after), so the values are the same, bit
//! for bit, as through the patch matrix. AVX-512 only: other CPUs keep the patch matrix.

/// Output channels per channels-first block.
const CHANNEL_BLOCK: usize = 8;

/// Output rows per channels-first block.
const ROWS: usize = 2;

/// Output positions per channels-last block, each with its `K` channels in two vectors.
const POSITION_BLOCK: usize = 4;

/// The most output channels a channels-last block holds (two 16-lane vectors).
const CHANNELS_LAST_MAX: usize = 32;

/// A one-channel image and its correlation's shape: the image has rows `w` values long,
/// the kernel `kh × kw` taps, the output `oh × ow` positions (stride 1, no padding left).
#[derive(Clone, Copy, Debug)]
pub(super) struct Shape {
    pub w: usize,
    pub kh: usize,
    pub kw: usize,
    pub oh: usize,
    pub ow: usize,
}

impl Shape {
    fn taps(&self) -> usize {
        self.kh * self.kw
    }

    /// Offsets of the taps from a window's top-left value, in patch-matrix order.
    fn tap_offsets(&self) -> Vec<usize> {
        (0..self.kh)
            .flat_map(|r| (0..self.kw).map(move |s| r * self.w + s))
            .collect()
    }

    /// The image values the windows read.
    fn image_len(&self) -> usize {
        (self.oh + self.kh - 2) * self.w + self.ow + self.kw - 1
    }
}

/// Whether this CPU runs these kernels, and a layer of `k` output channels fits them.
pub(super) fn available(k: usize, channels_last: bool) -> bool {
    let fits = if channels_last {
        (1..=CHANNELS_LAST_MAX).contains(&k)
    } else {
        k >= 1
    };
    #[cfg(target_arch = "x86_64")]
    {
        fits && std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = fits;
        false
    }
}

/// The kernel `(K, kh·kw)` as the kernels read it: channels-first, for each block of
/// [`CHANNEL_BLOCK`] channels tap by tap the block's weights; channels-last, tap by tap the
/// `K` weights; zeros past `K`.
pub(super) fn weights(wk: &[f32], k: usize, taps: usize, channels_last: bool) -> Vec<f32> {
    let width = if channels_last {
        CHANNELS_LAST_MAX
    } else {
        CHANNEL_BLOCK
    };
    let blocks = if channels_last {
        1
    } else {
        k.div_ceil(CHANNEL_BLOCK)
    };
    let mut out = vec![0.0; blocks * taps * width];
    for (kk, row) in wk.chunks_exact(taps).take(k).enumerate() {
        let (block, lane) = (kk / width, kk % width);
        for (t, &v) in row.iter().enumerate() {
            out[(block * taps + t) * width + lane] = v;
        }
    }
    out
}

/// `y = act(x ⋆ w + b)` for one image: `y` is `(K, oh, ow)` channels-first or `(oh, ow, K)`
/// channels-last, `wk` from [`weights`] for that layout, `K = bias.len()`. The caller has
/// checked [`available`].
#[allow(clippy::too_many_arguments)]
pub(super) fn forward(
    x: &[f32],
    shape: Shape,
    wk: &[f32],
    bias: &[f32],
    relu: bool,
    y: &mut [f32],
    channels_last: bool,
) {
    let k = bias.len();
    let taps = shape.taps();
    let weights_len = if channels_last {
        taps * CHANNELS_LAST_MAX
    } else {
        k.div_ceil(CHANNEL_BLOCK) * taps * CHANNEL_BLOCK
    };
    assert!(
        available(k, channels_last)
            && shape.oh > 0
            && shape.ow > 0
            && shape.ow + shape.kw - 1 <= shape.w
            && x.len() >= shape.image_len()
            && wk.len() == weights_len
            && y.len() == k * shape.oh * shape.ow,
        "one-channel conv2d: buffers do not fit {shape:?} with {k} channels"
    );
    let offsets = shape.tap_offsets();
    // SAFETY: AVX-512F was checked by `available`; the assertion above keeps every window
    // (rows `i..i + kh`, columns `j..j + kw - 1 + 16` masked to `ow`) inside `x` and every
    // store inside `y`; `offsets` has `taps` entries and `wk` `taps` weights per block.
    #[cfg(target_arch = "x86_64")]
    unsafe {
        if channels_last {
            avx512::forward_channels_last(x, shape, &offsets, wk, bias, relu, y);
        } else {
            avx512::forward_channels_first(x, shape, &offsets, wk, bias, relu, y);
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (x, offsets, wk, relu, y, channels_last);
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Shape, CHANNELS_LAST_MAX, CHANNEL_BLOCK, POSITION_BLOCK, ROWS};
    use std::arch::x86_64::*;

    /// Lanes of a vector.
    pub(super) const LANES: usize = 16;

    /// The mask of the first `n` lanes.
    #[inline(always)]
    fn first_lanes(n: usize) -> __mmask16 {
        if n >= LANES {
            !0
        } else {
            (1u16 << n) - 1
        }
    }

    /// `max(v, 0)` keeping a NaN, as the other kernels' relu: MAXPS returns its second
    /// operand when either is NaN or both are zeros.
    #[inline(always)]
    unsafe fn activate(v: __m512, relu: bool) -> __m512 {
        if relu {
            _mm512_max_ps(_mm512_setzero_ps(), v)
        } else {
            v
        }
    }

    /// Channels-first: vectors of 16 positions along [`ROWS`] output rows (a row's last
    /// vector masked), [`CHANNEL_BLOCK`] channels at a time: each image vector loaded once
    /// for eight multiply-adds, sixteen sums in registers. An odd last row is paired with
    /// the one before it (recomputed); an image one row high runs its row alone.
    ///
    /// # Safety
    ///
    /// AVX-512F; the buffers as [`super::forward`] checks them.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn forward_channels_first(
        x: &[f32],
        shape: Shape,
        offsets: &[usize],
        wk: &[f32],
        bias: &[f32],
        relu: bool,
        y: &mut [f32],
    ) {
        let (k, taps, plane) = (bias.len(), offsets.len(), shape.oh * shape.ow);
        let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
        let rows = ROWS.min(shape.oh);
        for (block, weights) in wk.chunks_exact(taps * CHANNEL_BLOCK).enumerate() {
            let k0 = block * CHANNEL_BLOCK;
            let kb = (k - k0).min(CHANNEL_BLOCK);
            let wp = weights.as_ptr();
            for pair in 0..shape.oh.div_ceil(rows) {
                let i = (pair * rows).min(shape.oh - rows);
                for j in (0..shape.ow).step_by(LANES) {
                    let mask = first_lanes(shape.ow - j);
                    let window = xp.add(i * shape.w + j);
                    let mut acc = [[_mm512_setzero_ps(); CHANNEL_BLOCK]; ROWS];
                    for (t, &at) in offsets.iter().enumerate() {
                        let wt = wp.add(t * CHANNEL_BLOCK);
                        let xv: [__m512; ROWS] = std::array::from_fn(|r| {
                            // A one-row image loads its row twice and stores it once.
                            let r = r.min(rows - 1);
                            _mm512_maskz_loadu_ps(mask, window.add(at + r * shape.w))
                        });
                        let wv: [__m512; CHANNEL_BLOCK] =
                            std::array::from_fn(|c| _mm512_set1_ps(*wt.add(c)));
                        for (row, &xr) in acc.iter_mut().zip(&xv) {
                            for (a, &w) in row.iter_mut().zip(&wv) {
                                *a = _mm512_fmadd_ps(w, xr, *a);
                            }
                        }
                    }
                    for (r, row) in acc.iter().enumerate().take(rows) {
                        for (c, &a) in row.iter().enumerate().take(kb) {
                            let kk = k0 + c;
                            let value = activate(_mm512_add_ps(a, _mm512_set1_ps(bias[kk])), relu);
                            let out = yp.add(kk * plane + (i + r) * shape.ow + j);
                            _mm512_mask_storeu_ps(out, mask, value);
                        }
                    }
                }
            }
        }
    }

    /// Channels-last: the `K` channels of a position in two vectors (the second masked or
    /// skipped), [`POSITION_BLOCK`] positions of a row at a time (the row's last block
    /// moved back to end at its end).
    ///
    /// # Safety
    ///
    /// AVX-512F; the buffers as [`super::forward`] checks them.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn forward_channels_last(
        x: &[f32],
        shape: Shape,
        offsets: &[usize],
        wk: &[f32],
        bias: &[f32],
        relu: bool,
        y: &mut [f32],
    ) {
        const V: usize = CHANNELS_LAST_MAX / LANES;
        let k = bias.len();
        let masks = [first_lanes(k), first_lanes(k.saturating_sub(LANES))];
        let b: [__m512; V] = std::array::from_fn(|v| {
            _mm512_maskz_loadu_ps(masks[v], bias.as_ptr().wrapping_add(v * LANES))
        });
        let (xp, yp, wp) = (x.as_ptr(), y.as_mut_ptr(), wk.as_ptr());
        for i in 0..shape.oh {
            for block in 0..shape.ow.div_ceil(POSITION_BLOCK) {
                // Rows narrower than a block compute fewer positions; the last block of a
                // wider row starts early and recomputes a few.
                let (j, width) = if shape.ow < POSITION_BLOCK {
                    (0, shape.ow)
                } else {
                    let j = (block * POSITION_BLOCK).min(shape.ow - POSITION_BLOCK);
                    (j, POSITION_BLOCK)
                };
                let window = xp.add(i * shape.w + j);
                let mut acc = [[_mm512_setzero_ps(); V]; POSITION_BLOCK];
                for (t, &at) in offsets.iter().enumerate() {
                    let wt: [__m512; V] = std::array::from_fn(|v| {
                        _mm512_loadu_ps(wp.add(t * CHANNELS_LAST_MAX + v * LANES))
                    });
                    for (q, a) in acc.iter_mut().enumerate().take(width) {
                        let xv = _mm512_set1_ps(*window.add(at + q));
                        for (a, &w) in a.iter_mut().zip(&wt) {
                            *a = _mm512_fmadd_ps(xv, w, *a);
                        }
                    }
                }
                for (q, a) in acc.iter().enumerate().take(width) {
                    let out = yp.add((i * shape.ow + j + q) * k);
                    for v in 0..V {
                        let value = activate(_mm512_add_ps(a[v], b[v]), relu);
                        _mm512_mask_storeu_ps(out.wrapping_add(v * LANES), masks[v], value);
                    }
                }
            }
        }
    }
}
