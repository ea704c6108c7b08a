//! Zero-padded copies of images, so that padded convolutions run the unpadded im2col and
//! col2im (whole-row copies, no per-row border arithmetic), and the crop back for gradients.
//!
//! An image is `planes` row-major planes of `h` rows of `w` values; its padded copy has
//! `hp` rows of `wp` values with the original at row `top`, value `left`. A channels-first
//! image is `C` planes of `W`-value rows; a channels-last one is one plane of `W·C`-value rows
//! (with `left` and `wp` counted in values too).

/// Where an image sits in its zero-padded copy.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pad {
    pub planes: usize,
    pub h: usize,
    pub w: usize,
    pub hp: usize,
    pub wp: usize,
    pub top: usize,
    pub left: usize,
}

impl Pad {
    /// Values in the padded copy.
    pub fn padded_len(&self) -> usize {
        self.planes * self.hp * self.wp
    }
}

/// `out = x` zero-padded; `out` must hold `padded_len()` values, all of which are written.
pub(crate) fn pad(x: &[f32], p: &Pad, out: &mut [f32]) {
    let (plane, plane_p) = (p.h * p.w, p.hp * p.wp);
    for (src, dst) in x.chunks_exact(plane).zip(out.chunks_exact_mut(plane_p)) {
        let (above, rest) = dst.split_at_mut(p.top * p.wp);
        above.fill(0.0);
        let (inside, below) = rest.split_at_mut(p.h * p.wp);
        below.fill(0.0);
        for (s, d) in src.chunks_exact(p.w).zip(inside.chunks_exact_mut(p.wp)) {
            d[..p.left].fill(0.0);
            d[p.left..p.left + p.w].copy_from_slice(s);
            d[p.left + p.w..].fill(0.0);
        }
    }
}

/// `dx += ` the inside of the padded gradient `dxp` (what fell on the padding is dropped).
pub(crate) fn crop_add(dxp: &[f32], p: &Pad, dx: &mut [f32]) {
    let (plane, plane_p) = (p.h * p.w, p.hp * p.wp);
    for (src, dst) in dxp.chunks_exact(plane_p).zip(dx.chunks_exact_mut(plane)) {
        let inside = &src[p.top * p.wp..(p.top + p.h) * p.wp];
        for (s, d) in inside.chunks_exact(p.wp).zip(dst.chunks_exact_mut(p.w)) {
            for (d, &v) in d.iter_mut().zip(&s[p.left..p.left + p.w]) {
                *d += v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pad_then_crop_round_trips() {
        let p = Pad {
            planes: 2,
            h: 2,
            w: 3,
            hp: 4,
            wp: 6,
            top: 1,
            left: 2,
        };
        let x: Vec<f32> = (1..=12).map(|v| v as f32).collect();
        let mut xp = vec![f32::NAN; p.padded_len()];
        pad(&x, &p, &mut xp);
        assert_eq!(xp.iter().sum::<f32>(), x.iter().sum::<f32>());
        assert_eq!(&xp[6 + 2..6 + 5], &[1.0, 2.0, 3.0]);
        assert_eq!(&xp[24 + 12 + 2..24 + 12 + 5], &[10.0, 11.0, 12.0]);
        let mut dx = vec![1.0; 12];
        crop_add(&xp, &p, &mut dx);
        assert_eq!(dx, x.iter().map(|v| v + 1.0).collect::<Vec<_>>());
    }
}
