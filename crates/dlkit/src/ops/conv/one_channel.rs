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

/// How one layer's forward pass runs here, decided when its op is built: the image's row
/// length, the window, the output, the taps' offsets and what the kernels write.
#[derive(Debug)]
pub(super) struct Plan {
    /// Values per image row (of the padded copy, for a padded layer).
    w: usize,
    kh: usize,
    kw: usize,
    oh: usize,
    ow: usize,
    /// Output channels.
    k: usize,
    channels_last: bool,
    relu: bool,
    /// Offsets of the taps from a window's top-left value, in patch-matrix order.
    offsets: Vec<usize>,
}

impl Plan {
    /// The plan for a stride-1 one-channel layer whose images have rows `w` values long
    /// (no padding left to apply), or `None` where this CPU or the layer does not fit the
    /// kernels.
    pub fn new(
        w: usize,
        (kh, kw): (usize, usize),
        (oh, ow): (usize, usize),
        k: usize,
        channels_last: bool,
        relu: bool,
    ) -> Option<Plan> {
        let fits = k >= 1
            && (!channels_last || k <= CHANNELS_LAST_MAX)
            && oh > 0
            && ow > 0
            && kh > 0
            && kw > 0
            && ow + kw - 1 <= w;
        if !(fits && avx512_available()) {
            return None;
        }
        let offsets = (0..kh)
            .flat_map(|r| (0..kw).map(move |s| r * w + s))
            .collect();
        Some(Plan {
            w,
            kh,
            kw,
            oh,
            ow,
            k,
            channels_last,
            relu,
            offsets,
        })
    }

    /// Values of the kernel as [`Self::weights`] lays it out.
    fn weights_len(&self) -> usize {
        self.offsets.len() * self.blocks() * self.block_width()
    }

    /// Channels per block of the laid-out kernel.
    fn block_width(&self) -> usize {
        if self.channels_last {
            CHANNELS_LAST_MAX
        } else {
            CHANNEL_BLOCK
        }
    }

    /// Blocks of the laid-out kernel.
    fn blocks(&self) -> usize {
        self.k.div_ceil(self.block_width())
    }

    /// The kernel `(K, kh·kw)` as the kernels read it: for each block of channels
    /// ([`CHANNEL_BLOCK`] channels-first, all `K` channels-last), tap by tap the block's
    /// weights, zeros past `K`.
    pub fn weights(&self, wk: &[f32]) -> Vec<f32> {
        let (taps, width) = (self.offsets.len(), self.block_width());
        let mut out = vec![0.0; self.weights_len()];
        for (kk, row) in wk.chunks_exact(taps).take(self.k).enumerate() {
            let (block, lane) = (kk / width, kk % width);
            for (t, &v) in row.iter().enumerate() {
                out[(block * taps + t) * width + lane] = v;
            }
        }
        out
    }

    /// `y = act(x ⋆ w + b)` for one image: `y` is `(K, oh, ow)` channels-first or
    /// `(oh, ow, K)` channels-last, `wk` from [`Self::weights`].
    pub fn forward(&self, x: &[f32], wk: &[f32], bias: &[f32], y: &mut [f32]) {
        // The image values the windows read.
        let image_len = (self.oh + self.kh - 2) * self.w + self.ow + self.kw - 1;
        assert!(
            x.len() >= image_len
                && wk.len() == self.weights_len()
                && bias.len() == self.k
                && y.len() == self.k * self.oh * self.ow,
            "one-channel conv2d: buffers do not fit {self:?}"
        );
        // SAFETY: `Plan::new` checked AVX-512F and that the window fits the rows; the
        // assertion above keeps every window (rows `i..i + kh`, columns `j..j + kw - 1 + 16`
        // masked to `ow`) inside `x` and every store inside `y`; `wk` holds the taps'
        // weights for every block.
        #[cfg(target_arch = "x86_64")]
        unsafe {
            if self.channels_last {
                avx512::forward_channels_last(self, x, wk, bias, y);
            } else {
                avx512::forward_channels_first(self, x, wk, bias, y);
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (x, wk, bias, y);
    }
}

/// Whether this CPU runs the kernels.
fn avx512_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use super::{Plan, CHANNELS_LAST_MAX, CHANNEL_BLOCK, POSITION_BLOCK, ROWS};
    use std::arch::x86_64::*;

    /// Lanes of a vector.
    const LANES: usize = 16;

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
    /// AVX-512F; the buffers as [`Plan::forward`] checks them.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn forward_channels_first(
        plan: &Plan,
        x: &[f32],
        wk: &[f32],
        bias: &[f32],
        y: &mut [f32],
    ) {
        let (offsets, relu) = (&plan.offsets, plan.relu);
        let (k, taps, plane) = (bias.len(), offsets.len(), plan.oh * plan.ow);
        let (xp, yp) = (x.as_ptr(), y.as_mut_ptr());
        let rows = ROWS.min(plan.oh);
        for (block, weights) in wk.chunks_exact(taps * CHANNEL_BLOCK).enumerate() {
            let k0 = block * CHANNEL_BLOCK;
            let kb = (k - k0).min(CHANNEL_BLOCK);
            let wp = weights.as_ptr();
            for pair in 0..plan.oh.div_ceil(rows) {
                let i = (pair * rows).min(plan.oh - rows);
                for j in (0..plan.ow).step_by(LANES) {
                    let mask = first_lanes(plan.ow - j);
                    let window = xp.add(i * plan.w + j);
                    let mut acc = [[_mm512_setzero_ps(); CHANNEL_BLOCK]; ROWS];
                    for (t, &at) in offsets.iter().enumerate() {
                        let wt = wp.add(t * CHANNEL_BLOCK);
                        let xv: [__m512; ROWS] = std::array::from_fn(|r| {
                            // A one-row image loads its row twice and stores it once.
                            let r = r.min(rows - 1);
                            _mm512_maskz_loadu_ps(mask, window.add(at + r * plan.w))
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
                            let out = yp.add(kk * plane + (i + r) * plan.ow + j);
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
    /// AVX-512F; the buffers as [`Plan::forward`] checks them.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn forward_channels_last(
        plan: &Plan,
        x: &[f32],
        wk: &[f32],
        bias: &[f32],
        y: &mut [f32],
    ) {
        const V: usize = CHANNELS_LAST_MAX / LANES;
        let (offsets, relu) = (&plan.offsets, plan.relu);
        let k = bias.len();
        let masks = [first_lanes(k), first_lanes(k.saturating_sub(LANES))];
        let b: [__m512; V] = std::array::from_fn(|v| {
            _mm512_maskz_loadu_ps(masks[v], bias.as_ptr().wrapping_add(v * LANES))
        });
        let (xp, yp, wp) = (x.as_ptr(), y.as_mut_ptr(), wk.as_ptr());
        for i in 0..plan.oh {
            for block in 0..plan.ow.div_ceil(POSITION_BLOCK) {
                // Rows narrower than a block compute fewer positions; the last block of a
                // wider row starts early and recomputes a few.
                let (j, width) = if plan.ow < POSITION_BLOCK {
                    (0, plan.ow)
                } else {
                    let j = (block * POSITION_BLOCK).min(plan.ow - POSITION_BLOCK);
                    (j, POSITION_BLOCK)
                };
                let window = xp.add(i * plan.w + j);
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
                    let out = yp.add((i * plan.ow + j + q) * k);
                    for v in 0..V {
                        let value = activate(_mm512_add_ps(a[v], b[v]), relu);
                        _mm512_mask_storeu_ps(out.wrapping_add(v * LANES), masks[v], value);
                    }
                }
            }
        }
    }
}
