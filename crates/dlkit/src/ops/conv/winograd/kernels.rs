//! The transforms of the hot paths written out, with their common subexpressions shared
//! (as in Lavin & Gray's and NNPACK's kernels): the data transform `Bᵀ d B` of the 6×6
//! tiles that F(4, 3), F(2, 5) and their kernel-gradient twins F(3, 4), F(5, 2) all use, and
//! the output transforms `Aᵀ M A` of F(4, 3) and F(2, 5). A dense 6×6 pass does 36
//! multiply-adds per column; these do 14 operations (`Bᵀ`) and 12 (`Aᵀ` of F(4, 3)).
//! [`Kernels::for_transform`] checks that a transform's matrices are the ones written here
//! (the unit tests check it for every size used), and the generic passes run otherwise.

use super::toom_cook::Transform;

/// Lanes of a pass: one AVX-512 register of `f32` (two AVX2 ones).
pub(crate) const LANES: usize = 16;

type Lanes = [f32; LANES];

/// Which written-out transforms a [`Transform`] can use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Kernels {
    /// `Bᵀ` is [`bt6`]'s.
    pub data6: bool,
    /// `Aᵀ` is [`at4x6`]'s or [`at2x6`]'s (by `m`).
    pub output6: bool,
}

impl Kernels {
    pub fn for_transform(t: &Transform) -> Kernels {
        let same = |got: &[f32], want: &[f32]| {
            got.len() == want.len() && got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-7)
        };
        let output6 = match t.m {
            4 => same(&t.at, &AT4X6),
            2 => same(&t.at, &AT2X6),
            _ => false,
        };
        Kernels {
            data6: same(&t.bt, &BT6),
            output6: output6 && t.n == 6,
        }
    }
}

/// `Bᵀ` of the 6×6 tiles (points 0, ±1, ±2, ∞, rows scaled to a largest entry of 1).
#[rustfmt::skip]
const BT6: [f32; 36] = [
    0.8, 0.0, -1.0, 0.0, 0.2, 0.0,
    0.0, 1.0, 1.0, -0.25, -0.25, 0.0,
    0.0, -1.0, 1.0, 0.25, -0.25, 0.0,
    0.0, -1.0, -0.5, 1.0, 0.5, 0.0,
    0.0, 1.0, -0.5, -1.0, 0.5, 0.0,
    0.0, 0.8, 0.0, -1.0, 0.0, 0.2,
];

/// `Aᵀ` of F(4, 3).
#[rustfmt::skip]
const AT4X6: [f32; 24] = [
    1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
    0.0, 1.0, -1.0, 2.0, -2.0, 0.0,
    0.0, 1.0, 1.0, 4.0, 4.0, 0.0,
    0.0, 1.0, -1.0, 8.0, -8.0, 1.0,
];

/// `Aᵀ` of F(2, 5).
#[rustfmt::skip]
const AT2X6: [f32; 12] = [
    1.0, 1.0, 1.0, 1.0, 1.0, 0.0,
    0.0, 1.0, -1.0, 2.0, -2.0, 1.0,
];

/// `[expr for k in 0..LANES]` as a plain loop (closures through `std::array::from_fn`
/// were left as calls in the AVX-512 build, one per lane).
macro_rules! lanes {
    (|$k:ident| $e:expr) => {{
        let mut out = [0.0f32; LANES];
        for $k in 0..LANES {
            out[$k] = $e;
        }
        out
    }};
}

/// `Bᵀ d` for six rows of lanes.
#[inline(always)]
pub(crate) fn bt6(d: &[Lanes; 6]) -> [Lanes; 6] {
    let [d0, d1, d2, d3, d4, d5] = d;
    let a = lanes!(|k| d2[k] - 0.25 * d4[k]);
    let b = lanes!(|k| d1[k] - 0.25 * d3[k]);
    let e = lanes!(|k| 0.5 * (d4[k] - d2[k]));
    let f = lanes!(|k| d3[k] - d1[k]);
    [
        lanes!(|k| 0.8 * d0[k] - d2[k] + 0.2 * d4[k]),
        lanes!(|k| a[k] + b[k]),
        lanes!(|k| a[k] - b[k]),
        lanes!(|k| e[k] + f[k]),
        lanes!(|k| e[k] - f[k]),
        lanes!(|k| 0.8 * d1[k] - d3[k] + 0.2 * d5[k]),
    ]
}

/// `Aᵀ m` of F(4, 3) for six rows of lanes.
#[inline(always)]
pub(crate) fn at4x6(m: &[Lanes; 6]) -> [Lanes; 4] {
    let [m0, m1, m2, m3, m4, m5] = m;
    let s12 = lanes!(|k| m1[k] + m2[k]);
    let d12 = lanes!(|k| m1[k] - m2[k]);
    let s34 = lanes!(|k| m3[k] + m4[k]);
    let d34 = lanes!(|k| m3[k] - m4[k]);
    [
        lanes!(|k| m0[k] + s12[k] + s34[k]),
        lanes!(|k| d12[k] + 2.0 * d34[k]),
        lanes!(|k| s12[k] + 4.0 * s34[k]),
        lanes!(|k| d12[k] + 8.0 * d34[k] + m5[k]),
    ]
}

/// `Aᵀ m` of F(2, 5) for six rows of lanes.
#[inline(always)]
pub(crate) fn at2x6(m: &[Lanes; 6]) -> [Lanes; 2] {
    let [m0, m1, m2, m3, m4, m5] = m;
    [
        lanes!(|k| m0[k] + m1[k] + m2[k] + m3[k] + m4[k]),
        lanes!(|k| m1[k] - m2[k] + 2.0 * (m3[k] - m4[k]) + m5[k]),
    ]
}

/// A written-out transform from `Q` to `P` rows of lanes, as a type so that the passes
/// inline it (a function passed as a closure stayed a call, compiled without AVX).
pub(crate) trait Rows<const Q: usize, const P: usize> {
    fn apply(x: &[Lanes; Q]) -> [Lanes; P];
}

/// [`bt6`].
pub(crate) struct Bt6;
/// [`at4x6`].
pub(crate) struct At4x6;
/// [`at2x6`].
pub(crate) struct At2x6;

impl Rows<6, 6> for Bt6 {
    #[inline(always)]
    fn apply(x: &[Lanes; 6]) -> [Lanes; 6] {
        bt6(x)
    }
}

impl Rows<6, 4> for At4x6 {
    #[inline(always)]
    fn apply(x: &[Lanes; 6]) -> [Lanes; 4] {
        at4x6(x)
    }
}

impl Rows<6, 2> for At2x6 {
    #[inline(always)]
    fn apply(x: &[Lanes; 6]) -> [Lanes; 2] {
        at2x6(x)
    }
}

/// One pass of a transform `T` from `Q` to `P` rows of vectors:
/// `dst[i·dst_stride + ch] = f(src[a·src_stride + ch] for a < Q)[i]` for `ch < c`.
#[inline(always)]
pub(crate) fn pass_with<T: Rows<Q, P>, const Q: usize, const P: usize>(
    c: usize,
    (src, src_stride): (&[f32], usize),
    (dst, dst_stride): (&mut [f32], usize),
) {
    let mut ch = 0;
    while ch + LANES <= c {
        let mut x = [[0.0f32; LANES]; Q];
        for (a, xa) in x.iter_mut().enumerate() {
            xa.copy_from_slice(&src[a * src_stride + ch..][..LANES]);
        }
        for (i, yi) in T::apply(&x).iter().enumerate() {
            dst[i * dst_stride + ch..][..LANES].copy_from_slice(yi);
        }
        ch += LANES;
    }
    if ch < c {
        let rest = c - ch;
        let mut x = [[0.0f32; LANES]; Q];
        for (a, xa) in x.iter_mut().enumerate() {
            for (k, v) in xa[..rest].iter_mut().enumerate() {
                *v = src[a * src_stride + ch + k];
            }
        }
        for (i, yi) in T::apply(&x).iter().enumerate() {
            for (k, &v) in yi[..rest].iter().enumerate() {
                dst[i * dst_stride + ch + k] = v;
            }
        }
    }
}

/// `dst[i][j] = (L S Lᵀ)[i][j]` for a `Q × Q` grid of vectors `S`, where `T` applies `L`
/// (`Q` rows in, `P` out): `S(a, b)` at `src[a·src_row + b·src_col..]`, the result at
/// `dst[(i·P + j)·dst_stride..]`; `tmp` holds `P·Q·c` values.
#[inline(always)]
pub(crate) fn sandwich_with<T: Rows<Q, P>, const Q: usize, const P: usize>(
    c: usize,
    (src, src_row, src_col): (&[f32], usize, usize),
    tmp: &mut [f32],
    (dst, dst_stride): (&mut [f32], usize),
) {
    // tmp[i][b] = (L S)[i][b]: all columns in one pass when each row of the grid is one
    // run of Q·c values, else column by column
    if src_col == c {
        pass_with::<T, Q, P>(Q * c, (src, src_row), (tmp, Q * c));
    } else {
        for b in 0..Q {
            let (column, out) = (&src[b * src_col..], &mut tmp[b * c..]);
            pass_with::<T, Q, P>(c, (column, src_row), (out, Q * c));
        }
    }
    // dst[i][j] = (tmp Lᵀ)[i][j]: row i
    for i in 0..P {
        let row = &tmp[i * Q * c..];
        pass_with::<T, Q, P>(c, (row, c), (&mut dst[i * P * dst_stride..], dst_stride));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dense<const Q: usize, const P: usize>(l: &[f32], x: &[Lanes; Q]) -> [Lanes; P] {
        std::array::from_fn(|i| lanes!(|k| (0..Q).map(|a| l[i * Q + a] * x[a][k]).sum()))
    }

    fn unit<const Q: usize>(a: usize) -> [Lanes; Q] {
        std::array::from_fn(|i| [if i == a { 1.0 } else { 0.0 }; LANES])
    }

    #[test]
    fn written_out_transforms_are_the_toom_cook_matrices() {
        for (m, r) in [(4, 3), (2, 5), (3, 4), (5, 2)] {
            let t = Transform::new(m, r);
            assert!(Kernels::for_transform(&t).data6, "F({m}, {r})");
            for a in 0..6 {
                let x = unit::<6>(a);
                assert_eq!(
                    bt6(&x).map(|v| v[0]),
                    dense::<6, 6>(&t.bt, &x).map(|v| v[0])
                );
            }
        }
        for (m, r) in [(4, 3), (2, 5)] {
            let t = Transform::new(m, r);
            assert!(Kernels::for_transform(&t).output6, "F({m}, {r})");
        }
        let (t4, t2) = (Transform::new(4, 3), Transform::new(2, 5));
        for a in 0..6 {
            let x = unit::<6>(a);
            assert_eq!(
                at4x6(&x).map(|v| v[0]),
                dense::<6, 4>(&t4.at, &x).map(|v| v[0])
            );
            assert_eq!(
                at2x6(&x).map(|v| v[0]),
                dense::<6, 2>(&t2.at, &x).map(|v| v[0])
            );
        }
        assert!(!Kernels::for_transform(&Transform::new(3, 4)).output6);
    }
}
