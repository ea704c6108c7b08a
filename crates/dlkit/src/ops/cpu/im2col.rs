//! Unfolding one image into a patch matrix (im2col) and folding a patch-matrix gradient
//! back into an image gradient (col2im), for both data layouts.
//!
//! * channels-first: `x (C, H, W)` ↔ `col (C·kh·kw, OH·OW)`, row `(c, r, s)`;
//! * channels-last: `x (H, W, C)` ↔ `col (OH·OW, kh·kw·C)`, column `(r, s, c)`.
//!
//! Padded positions read as zero and receive no gradient. Callers check slice lengths
//! against the geometry first (`im2col_len`); the loops index within those lengths.

use super::math::multiversion;
use crate::ops::params::Geometry;

/// The number of values in one image's patch matrix.
pub(crate) fn col_len(g: &Geometry) -> usize {
    g.c * g.window() * g.out_plane()
}

/// The output positions `lo..hi` along one axis whose input index `o·s + r - pad` falls in
/// `0..len`.
#[inline]
fn valid_range(out: usize, s: usize, r: usize, pad: usize, len: usize) -> (usize, usize) {
    // o·s + r >= pad  <=>  o >= ceil((pad - r) / s)
    let lo = if pad > r { (pad - r).div_ceil(s) } else { 0 };
    // o·s + r - pad <= len - 1  <=>  o <= (len - 1 + pad - r) / s
    let hi = if len + pad > r {
        ((len - 1 + pad - r) / s + 1).min(out)
    } else {
        0
    };
    (lo.min(hi), hi)
}

/// `dst = src` for the short rows of small images: fixed 8-value moves (the last one
/// overlapping), where `copy_from_slice` would be a `memcpy` call costing more than the copy.
#[inline(always)]
fn copy_row(dst: &mut [f32], src: &[f32]) {
    let n = dst.len();
    let src = &src[..n];
    if !(8..64).contains(&n) {
        dst.copy_from_slice(src);
        return;
    }
    let mut i = 0;
    while i + 8 <= n {
        dst[i..i + 8].copy_from_slice(&src[i..i + 8]);
        i += 8;
    }
    if i < n {
        dst[n - 8..].copy_from_slice(&src[n - 8..]);
    }
}

multiversion! {
/// Channels-first im2col of one image. Row `(c, r, s)` of the patch matrix starts at
/// `col[row · ld]` (`ld >= OH·OW`, so several images can sit side by side).
pub(crate) fn im2col_cf(x: &[f32], g: &Geometry, col: &mut [f32], ld: usize) {
    let (p, ow) = (g.out_plane(), g.ow);
    if (g.sh, g.sw, g.pt, g.pl) == (1, 1, 0, 0) && g.oh + g.kh <= g.h + 1 && g.ow + g.kw <= g.w + 1 {
        // Stride 1 without padding: every window is inside, each row is plain copies.
        let mut row_at = 0;
        for c in 0..g.c {
            let plane = &x[c * g.in_plane()..(c + 1) * g.in_plane()];
            for r in 0..g.kh {
                for s in 0..g.kw {
                    let row = &mut col[row_at..row_at + p];
                    row_at += ld;
                    for (oh, dst) in row.chunks_exact_mut(ow).enumerate() {
                        let from = (oh + r) * g.w + s;
                        copy_row(dst, &plane[from..from + ow]);
                    }
                }
            }
        }
        return;
    }
    let mut rows = col.chunks_mut(ld.max(p)).filter(|r| r.len() >= p).map(|r| &mut r[..p]);
    for c in 0..g.c {
        let plane = &x[c * g.in_plane()..(c + 1) * g.in_plane()];
        for r in 0..g.kh {
            let (oh_lo, oh_hi) = valid_range(g.oh, g.sh, r, g.pt, g.h);
            for s in 0..g.kw {
                let Some(row) = rows.next() else { return };
                let (ow_lo, ow_hi) = valid_range(g.ow, g.sw, s, g.pl, g.w);
                row[..oh_lo * ow].fill(0.0);
                row[oh_hi * ow..].fill(0.0);
                for oh in oh_lo..oh_hi {
                    let ih = oh * g.sh + r - g.pt;
                    let src = &plane[ih * g.w..(ih + 1) * g.w];
                    let dst = &mut row[oh * ow..(oh + 1) * ow];
                    dst[..ow_lo].fill(0.0);
                    dst[ow_hi..].fill(0.0);
                    if ow_lo < ow_hi {
                        let iw0 = ow_lo * g.sw + s - g.pl;
                        if g.sw == 1 {
                            copy_row(&mut dst[ow_lo..ow_hi], &src[iw0..iw0 + (ow_hi - ow_lo)]);
                        } else {
                            for (d, &v) in dst[ow_lo..ow_hi].iter_mut().zip(src[iw0..].iter().step_by(g.sw)) {
                                *d = v;
                            }
                        }
                    }
                }
            }
        }
    }
}

}

multiversion! {
/// Channels-first col2im of one image: `dx += fold(dcol)`, rows `ld` apart as in [`im2col_cf`].
pub(crate) fn col2im_cf(dcol: &[f32], g: &Geometry, dx: &mut [f32], ld: usize) {
    let (p, ow) = (g.out_plane(), g.ow);
    if (g.sh, g.sw, g.pt, g.pl) == (1, 1, 0, 0) && g.oh + g.kh <= g.h + 1 && g.ow + g.kw <= g.w + 1 {
        let mut row_at = 0;
        for c in 0..g.c {
            let plane = &mut dx[c * g.in_plane()..(c + 1) * g.in_plane()];
            for r in 0..g.kh {
                for s in 0..g.kw {
                    let row = &dcol[row_at..row_at + p];
                    row_at += ld;
                    for (oh, src) in row.chunks_exact(ow).enumerate() {
                        let from = (oh + r) * g.w + s;
                        for (d, &v) in plane[from..from + ow].iter_mut().zip(src) {
                            *d += v;
                        }
                    }
                }
            }
        }
        return;
    }
    let mut rows = dcol.chunks(ld.max(p)).filter(|r| r.len() >= p).map(|r| &r[..p]);
    for c in 0..g.c {
        let plane = &mut dx[c * g.in_plane()..(c + 1) * g.in_plane()];
        for r in 0..g.kh {
            let (oh_lo, oh_hi) = valid_range(g.oh, g.sh, r, g.pt, g.h);
            for s in 0..g.kw {
                let Some(row) = rows.next() else { return };
                let (ow_lo, ow_hi) = valid_range(g.ow, g.sw, s, g.pl, g.w);
                if ow_lo >= ow_hi {
                    continue;
                }
                for oh in oh_lo..oh_hi {
                    let ih = oh * g.sh + r - g.pt;
                    let dst = &mut plane[ih * g.w..(ih + 1) * g.w];
                    let src = &row[oh * ow + ow_lo..oh * ow + ow_hi];
                    let iw0 = ow_lo * g.sw + s - g.pl;
                    if g.sw == 1 {
                        for (d, &v) in dst[iw0..iw0 + src.len()].iter_mut().zip(src) {
                            *d += v;
                        }
                    } else {
                        for (d, &v) in dst[iw0..].iter_mut().step_by(g.sw).zip(src) {
                            *d += v;
                        }
                    }
                }
            }
        }
    }
}

}

/// Channels-last im2col of one image.
pub(crate) fn im2col_cl(x: &[f32], g: &Geometry, col: &mut [f32]) {
    let c = g.c;
    let row_len = g.window() * c;
    let mut rows = col.chunks_exact_mut(row_len);
    for oh in 0..g.oh {
        for ow in 0..g.ow {
            let Some(row) = rows.next() else { return };
            // The kernel columns s whose input column ow·sw + s - pl is inside the image.
            let s_lo = g.pl.saturating_sub(ow * g.sw).min(g.kw);
            let s_hi = (g.w + g.pl).saturating_sub(ow * g.sw).min(g.kw).max(s_lo);
            for r in 0..g.kh {
                let dst = &mut row[r * g.kw * c..(r + 1) * g.kw * c];
                let ih = oh * g.sh + r;
                if ih < g.pt || ih - g.pt >= g.h {
                    dst.fill(0.0);
                    continue;
                }
                let ih = ih - g.pt;
                dst[..s_lo * c].fill(0.0);
                dst[s_hi * c..].fill(0.0);
                if s_lo < s_hi {
                    let iw0 = ow * g.sw + s_lo - g.pl;
                    let src = &x[(ih * g.w + iw0) * c..(ih * g.w + iw0 + s_hi - s_lo) * c];
                    dst[s_lo * c..s_hi * c].copy_from_slice(src);
                }
            }
        }
    }
}

/// Channels-last col2im of one image: `dx += fold(dcol)`.
pub(crate) fn col2im_cl(dcol: &[f32], g: &Geometry, dx: &mut [f32]) {
    let c = g.c;
    let row_len = g.window() * c;
    let mut rows = dcol.chunks_exact(row_len);
    for oh in 0..g.oh {
        for ow in 0..g.ow {
            let Some(row) = rows.next() else { return };
            let s_lo = g.pl.saturating_sub(ow * g.sw).min(g.kw);
            let s_hi = (g.w + g.pl).saturating_sub(ow * g.sw).min(g.kw).max(s_lo);
            if s_lo >= s_hi {
                continue;
            }
            for r in 0..g.kh {
                let ih = oh * g.sh + r;
                if ih < g.pt || ih - g.pt >= g.h {
                    continue;
                }
                let ih = ih - g.pt;
                let iw0 = ow * g.sw + s_lo - g.pl;
                let dst = &mut dx[(ih * g.w + iw0) * c..(ih * g.w + iw0 + s_hi - s_lo) * c];
                let src = &row[(r * g.kw + s_lo) * c..(r * g.kw + s_hi) * c];
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d += v;
                }
            }
        }
    }
}
