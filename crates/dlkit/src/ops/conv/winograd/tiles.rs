//! The tiled Winograd computations on channels-last images: a correlation (the forward
//! pass and the input gradient) and the accumulation of the kernel gradient. Layouts,
//! bias and activation are the caller's; these work on `(h, w, c)` images read as if
//! surrounded by zeros, so padding and partial edge tiles need no copies.
//!
//! Each block of [`TILE_BLOCK`] tiles is transformed into `n²` matrices of one row per
//! tile (`V`), multiplied with the `n²` transformed filter matrices by gemm, and
//! transformed back: the `n²` products replace the `m²r²` of a direct convolution per
//! `m × m` output tile.

use candle_core::Result;

use super::kernels::{sandwich_with, At2x6, At4x6, Bt6, Kernels, LANES};
use super::toom_cook::Transform;
use crate::ops::cpu::gemm::{matmul, Mat};
use crate::ops::cpu::math::multiversion_avx512;

const OP: &str = "conv2d (Winograd)";

/// Tiles per gemm block: rows enough for gemm's packing to pay. 96, 256 and 768 timed alike
/// on 000's and 001's layers; a block's transformed tiles (`n²·(C + K)` floats each, 3.5 MB
/// for 000's second layer) stay in the L3 cache, and are kept per thread (see
/// `with_scratch`).
pub(crate) const TILE_BLOCK: usize = 256;

/// An image of `h` rows of `w` pixels of `c` channels, channels-last.
#[derive(Clone, Copy)]
pub(crate) struct Plane<'a> {
    pub data: &'a [f32],
    pub h: usize,
    pub w: usize,
    pub c: usize,
}

impl<'a> Plane<'a> {
    /// The `rows × cols` window with top-left pixel `(y0, x0)` as a vector grid `(data,
    /// (row stride, column stride))`: read in place when it lies inside the image, else
    /// copied into `buf` with zeros outside.
    fn tile<'b>(
        &self,
        (y0, x0): (isize, isize),
        (rows, cols): (usize, usize),
        buf: &'b mut [f32],
    ) -> (&'b [f32], (usize, usize))
    where
        'a: 'b,
    {
        let c = self.c;
        let inside =
            y0 >= 0 && x0 >= 0 && y0 as usize + rows <= self.h && x0 as usize + cols <= self.w;
        if inside {
            let at = (y0 as usize * self.w + x0 as usize) * c;
            return (&self.data[at..], (self.w * c, c));
        }
        self.window((y0, x0), rows, cols, buf);
        (buf, (cols * c, c))
    }

    /// Copies the `rows × cols` window with top-left pixel `(y0, x0)` into `out`
    /// (`rows·cols·c` values), with zeros where it lies outside the image.
    fn window(&self, (y0, x0): (isize, isize), rows: usize, cols: usize, out: &mut [f32]) {
        let c = self.c;
        let (x_lo, x_hi) = (x0.max(0), (x0 + cols as isize).min(self.w as isize));
        for (a, row) in out[..rows * cols * c]
            .chunks_exact_mut(cols * c)
            .enumerate()
        {
            let y = y0 + a as isize;
            if y < 0 || y >= self.h as isize || x_lo >= x_hi {
                row.fill(0.0);
                continue;
            }
            let (lead, len) = ((x_lo - x0) as usize * c, (x_hi - x_lo) as usize * c);
            let src = (y as usize * self.w + x_lo as usize) * c;
            row[..lead].fill(0.0);
            row[lead..lead + len].copy_from_slice(&self.data[src..src + len]);
            row[lead + len..].fill(0.0);
        }
    }
}

multiversion_avx512! {
    /// `dst[i][j] = Σₐ Σ_b l[i][a]·l[j][b]·src[a][b]` (that is `L S Lᵀ`) for vectors of `c`
    /// values: `l` is `p × q`, `src` holds `q × q` vectors, `(a, b)` at
    /// `src[a·src_row + b·src_col..]`, `dst` gets `p × p` vectors at `dst[(i·p + j)·dst_stride..]`;
    /// `tmp` holds `p·q·c` values. The tile sizes of the hot paths run unrolled.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn sandwich(
        written: Written,
        l: &[f32],
        size: (usize, usize),
        c: usize,
        src: &[f32],
        src_strides: (usize, usize),
        tmp: &mut [f32],
        dst: &mut [f32],
        dst_stride: usize,
    ) {
        let ((p, q), (src_row, src_col)) = (size, src_strides);
        let strides = (src_row, src_col, dst_stride);
        let (grid, out) = ((src, src_row, src_col), (&mut *dst, dst_stride));
        match written {
            Written::Bt6 => return sandwich_with::<Bt6, 6, 6>(c, grid, tmp, out),
            Written::At4x6 => return sandwich_with::<At4x6, 6, 4>(c, grid, tmp, out),
            Written::At2x6 => return sandwich_with::<At2x6, 6, 2>(c, grid, tmp, out),
            Written::No => {}
        }
        match (p, q) {
            (6, 6) => sandwich_fixed::<6, 6>(l, c, src, tmp, dst, strides),
            (4, 4) => sandwich_fixed::<4, 4>(l, c, src, tmp, dst, strides),
            (4, 6) => sandwich_fixed::<4, 6>(l, c, src, tmp, dst, strides),
            (2, 6) => sandwich_fixed::<2, 6>(l, c, src, tmp, dst, strides),
            (2, 4) => sandwich_fixed::<2, 4>(l, c, src, tmp, dst, strides),
            (6, 4) => sandwich_fixed::<6, 4>(l, c, src, tmp, dst, strides),
            (6, 2) => sandwich_fixed::<6, 2>(l, c, src, tmp, dst, strides),
            (4, 2) => sandwich_fixed::<4, 2>(l, c, src, tmp, dst, strides),
            _ => sandwich_any(l, (p, q), c, src, tmp, dst, strides),
        }
    }
}

/// Which written-out transform [`sandwich`] runs instead of its matrix (see [`Kernels`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Written {
    No,
    Bt6,
    At4x6,
    At2x6,
}

impl Written {
    fn data(k: Kernels) -> Written {
        if k.data6 {
            Written::Bt6
        } else {
            Written::No
        }
    }

    fn output(k: Kernels, m: usize) -> Written {
        match (k.output6, m) {
            (true, 4) => Written::At4x6,
            (true, 2) => Written::At2x6,
            _ => Written::No,
        }
    }
}

/// `dst[i·dst_stride + ch] = Σₐ l[i][a]·src[a·src_stride + ch]` for `ch < c`: one pass of
/// a transform, `LANES` channels at a time with the `P × Q` matrix in registers.
#[inline(always)]
fn pass<const P: usize, const Q: usize>(
    l: &[[f32; Q]; P],
    c: usize,
    src: &[f32],
    src_stride: usize,
    dst: &mut [f32],
    dst_stride: usize,
) {
    let mut ch = 0;
    while ch + LANES <= c {
        // Whole registers: fixed-length copies the compiler keeps in registers.
        let mut x = [[0.0f32; LANES]; Q];
        for (a, xa) in x.iter_mut().enumerate() {
            xa.copy_from_slice(&src[a * src_stride + ch..][..LANES]);
        }
        for (i, li) in l.iter().enumerate() {
            let acc = combine(li, &x);
            dst[i * dst_stride + ch..][..LANES].copy_from_slice(&acc);
        }
        ch += LANES;
    }
    if ch < c {
        let lanes = c - ch;
        let mut x = [[0.0f32; LANES]; Q];
        for (a, xa) in x.iter_mut().enumerate() {
            for (k, v) in xa[..lanes].iter_mut().enumerate() {
                *v = src[a * src_stride + ch + k];
            }
        }
        for (i, li) in l.iter().enumerate() {
            let acc = combine(li, &x);
            for (k, &v) in acc[..lanes].iter().enumerate() {
                dst[i * dst_stride + ch + k] = v;
            }
        }
    }
}

/// `Σₐ f[a]·x[a]` lane by lane.
#[inline(always)]
fn combine<const Q: usize>(f: &[f32; Q], x: &[[f32; LANES]; Q]) -> [f32; LANES] {
    let mut acc = [0.0f32; LANES];
    for (xa, &f) in x.iter().zip(f) {
        for (acc, &v) in acc.iter_mut().zip(xa) {
            *acc += f * v;
        }
    }
    acc
}

#[inline(always)]
fn sandwich_fixed<const P: usize, const Q: usize>(
    l: &[f32],
    c: usize,
    src: &[f32],
    tmp: &mut [f32],
    dst: &mut [f32],
    (src_row, src_col, dst_stride): (usize, usize, usize),
) {
    let mut m = [[0.0f32; Q]; P];
    for (i, row) in m.iter_mut().enumerate() {
        row.copy_from_slice(&l[i * Q..(i + 1) * Q]);
    }
    let l = m;
    // tmp[i][b] = Σₐ l[i][a]·src[a][b]: column b of the tile
    for b in 0..Q {
        pass(
            &l,
            c,
            &src[b * src_col..],
            src_row,
            &mut tmp[b * c..],
            Q * c,
        );
    }
    // dst[i][j] = Σ_b l[j][b]·tmp[i][b]: row i
    for i in 0..P {
        let out = &mut dst[i * P * dst_stride..];
        pass(&l, c, &tmp[i * Q * c..], c, out, dst_stride);
    }
}

/// [`sandwich`] for any sizes (the once-per-step filter transforms, with long vectors).
#[inline(always)]
fn sandwich_any(
    l: &[f32],
    (p, q): (usize, usize),
    c: usize,
    src: &[f32],
    tmp: &mut [f32],
    dst: &mut [f32],
    (src_row, src_col, dst_stride): (usize, usize, usize),
) {
    for i in 0..p {
        for b in 0..q {
            let t = &mut tmp[(i * q + b) * c..(i * q + b + 1) * c];
            t.fill(0.0);
            for a in 0..q {
                let f = l[i * q + a];
                if f != 0.0 {
                    let s = &src[a * src_row + b * src_col..][..c];
                    for (t, &s) in t.iter_mut().zip(s) {
                        *t += f * s;
                    }
                }
            }
        }
    }
    for i in 0..p {
        for j in 0..p {
            let d = &mut dst[(i * p + j) * dst_stride..][..c];
            d.fill(0.0);
            for b in 0..q {
                let f = l[j * q + b];
                if f != 0.0 {
                    let t = &tmp[(i * q + b) * c..(i * q + b + 1) * c];
                    for (d, &t) in d.iter_mut().zip(t) {
                        *d += f * t;
                    }
                }
            }
        }
    }
}

/// Buffers reused from block to block and call to call.
#[derive(Default)]
pub(crate) struct Workspace {
    tile: Vec<f32>,
    tmp: Vec<f32>,
    /// The block's transformed input tiles, `n²` matrices `(tiles, C)`.
    v: Vec<f32>,
    /// The block's products (forward) or transformed output-gradient tiles (kernel
    /// gradient), `n²` matrices `(tiles, K)`.
    u: Vec<f32>,
}

impl Workspace {
    fn fit(&mut self, n: usize, tiles: usize, (cin, cout): (usize, usize)) {
        let nn = n * n;
        self.tile.resize(nn * cin.max(cout), 0.0);
        self.tmp.resize(nn * cin.max(cout), 0.0);
        self.v.resize(nn * tiles * cin, 0.0);
        self.u.resize(nn * tiles * cout, 0.0);
    }
}

/// Output tiles of `m × m` covering `(oh, ow)`: `(rows, columns)` of tiles.
pub(crate) fn tile_grid((oh, ow): (usize, usize), m: usize) -> (usize, usize) {
    (oh.div_ceil(m), ow.div_ceil(m))
}

/// A valid correlation of `(h, w, cin)` images with a transformed filter, producing
/// `(out.0, out.1, cout)` images: `y[oy][ox][k] = Σ_{a,b,c} x[oy+a+origin.0][ox+b+origin.1][c]·f[k][c][a][b]`.
pub(crate) struct Correlation<'a> {
    /// F(m, r).
    pub tf: &'a Transform,
    /// The filter through `G · Gᵀ`: `n²` matrices `(cin, cout)`, see [`transform_filter`].
    pub u: &'a [f32],
    pub cout: usize,
    /// Where output pixel (0, 0)'s window starts in the input (negative: in the padding).
    pub origin: (isize, isize),
    /// Output rows and columns.
    pub out: (usize, usize),
}

impl Correlation<'_> {
    /// `outs` (one `out.0·out.1·cout` image after another) = the correlation of `images`.
    pub fn run(&self, images: &[Plane], outs: &mut [f32], ws: &mut Workspace) -> Result<()> {
        let Some(cin) = images.first().map(|p| p.c) else {
            return Ok(());
        };
        let (tf, cout) = (self.tf, self.cout);
        let (m, n, nn) = (tf.m, tf.n, tf.n * tf.n);
        let (oh, ow) = self.out;
        let (th, tw) = tile_grid(self.out, m);
        let total = images.len() * th * tw;
        let block = TILE_BLOCK.min(total);
        ws.fit(n, block, (cin, cout));
        let Workspace { tile, tmp, v, u } = ws;
        let out_img = oh * ow * cout;
        let kernels = Kernels::for_transform(tf);
        let (data, output) = (Written::data(kernels), Written::output(kernels, m));
        let mut t0 = 0;
        while t0 < total {
            let rows = block.min(total - t0);
            for b in 0..rows {
                let (j, ty, tx) = tile_at(t0 + b, th, tw);
                let at = (
                    self.origin.0 + (ty * m) as isize,
                    self.origin.1 + (tx * m) as isize,
                );
                let (d, strides) = images[j].tile(at, (n, n), tile);
                let vb = &mut v[b * cin..];
                sandwich(data, &tf.bt, (n, n), cin, d, strides, tmp, vb, block * cin);
            }
            for xi in 0..nn {
                let vx = &v[xi * block * cin..][..rows * cin];
                let ux = &self.u[xi * cin * cout..(xi + 1) * cin * cout];
                let prod = &mut u[xi * block * cout..][..rows * cout];
                let (a, b) = (Mat::rows(vx, rows, cin), Mat::rows(ux, cin, cout));
                matmul(OP, prod, cout, a, b, false, 1)?;
            }
            for b in 0..rows {
                let (j, ty, tx) = tile_at(t0 + b, th, tw);
                let (mb, at_strides) = (&u[b * cout..], (n * block * cout, block * cout));
                sandwich(
                    output,
                    &tf.at,
                    (m, n),
                    cout,
                    mb,
                    at_strides,
                    tmp,
                    tile,
                    cout,
                );
                let cols = m.min(ow - tx * m);
                for i in 0..m.min(oh - ty * m) {
                    let at = j * out_img + ((ty * m + i) * ow + tx * m) * cout;
                    outs[at..at + cols * cout]
                        .copy_from_slice(&tile[i * m * cout..(i * m + cols) * cout]);
                }
            }
            t0 += rows;
        }
        Ok(())
    }
}

/// Block tile `t` as (image, tile row, tile column).
fn tile_at(t: usize, th: usize, tw: usize) -> (usize, usize, usize) {
    (t / (th * tw), t % (th * tw) / tw, t % tw)
}

/// `sums += ` the kernel gradient of a convolution, still in the transformed domain:
/// `n²` matrices `(cin, cout)`, finished by [`finish_kernel_gradient`]. `tf` is F(r, m)
/// (roles exchanged: `r` outputs per tile, the `m × m` output-gradient tile as the filter);
/// `images` are the convolution's inputs read from `origin` (as in [`Correlation`]) and
/// `grads` its `(oh, ow, cout)` output gradients.
pub(crate) fn accumulate_kernel_gradient(
    tf: &Transform,
    origin: (isize, isize),
    images: &[Plane],
    grads: &[Plane],
    sums: &mut [f32],
    ws: &mut Workspace,
) -> Result<()> {
    let (Some(x0), Some(g0)) = (images.first(), grads.first()) else {
        return Ok(());
    };
    let (cin, cout) = (x0.c, g0.c);
    let (m, n, nn) = (tf.r, tf.n, tf.n * tf.n);
    let (th, tw) = tile_grid((g0.h, g0.w), m);
    let total = images.len() * th * tw;
    let block = TILE_BLOCK.min(total);
    ws.fit(n, block, (cin, cout));
    let Workspace { tile, tmp, v, u } = ws;
    let data = Written::data(Kernels::for_transform(tf));
    let mut t0 = 0;
    while t0 < total {
        let rows = block.min(total - t0);
        for b in 0..rows {
            let (j, ty, tx) = tile_at(t0 + b, th, tw);
            let (y, x) = ((ty * m) as isize, (tx * m) as isize);
            let (d, strides) = images[j].tile((origin.0 + y, origin.1 + x), (n, n), tile);
            let vb = &mut v[b * cin..];
            sandwich(data, &tf.bt, (n, n), cin, d, strides, tmp, vb, block * cin);
            let (dz, strides) = grads[j].tile((y, x), (m, m), tile);
            let ub = &mut u[b * cout..];
            sandwich(
                Written::No,
                &tf.g,
                (n, m),
                cout,
                dz,
                strides,
                tmp,
                ub,
                block * cout,
            );
        }
        for xi in 0..nn {
            let vx = Mat::rows(&v[xi * block * cin..][..rows * cin], rows, cin);
            let gx = Mat::rows(&u[xi * block * cout..][..rows * cout], rows, cout);
            let s = &mut sums[xi * cin * cout..(xi + 1) * cin * cout];
            matmul(OP, s, cout, vx.t(), gx, true, 1)?;
        }
        t0 += rows;
    }
    Ok(())
}

/// A `(K, C, r, r)` kernel through `G · Gᵀ` of F(m, r): `n²` matrices `(C, K)` for the
/// forward pass, or with `flipped` the kernel turned by 180° with its channel roles
/// exchanged, `n²` matrices `(K, C)`, for the input gradient (a correlation of the output
/// gradient).
pub(crate) fn transform_filter(
    tf: &Transform,
    w: &[f32],
    (k, c): (usize, usize),
    flipped: bool,
) -> Vec<f32> {
    let (r, n) = (tf.r, tf.n);
    let kc = k * c;
    // The taps as r² vectors of K·C values, in the order of the matrices wanted.
    let mut taps = vec![0.0f32; r * r * kc];
    for kk in 0..k {
        for cc in 0..c {
            for a in 0..r {
                for b in 0..r {
                    let v = w[((kk * c + cc) * r + a) * r + b];
                    let (at, pair) = if flipped {
                        ((r - 1 - a) * r + (r - 1 - b), kk * c + cc)
                    } else {
                        (a * r + b, cc * k + kk)
                    };
                    taps[at * kc + pair] = v;
                }
            }
        }
    }
    let mut u = vec![0.0f32; n * n * kc];
    let mut tmp = vec![0.0f32; n * r * kc];
    sandwich(
        Written::No,
        &tf.g,
        (n, r),
        kc,
        &taps,
        (r * kc, kc),
        &mut tmp,
        &mut u,
        kc,
    );
    u
}

/// The `(K, C, r, r)` kernel gradient from the sums of [`accumulate_kernel_gradient`]
/// (`tf` is the same F(r, m)).
pub(crate) fn finish_kernel_gradient(
    tf: &Transform,
    sums: &[f32],
    (k, c): (usize, usize),
) -> Vec<f32> {
    let (r, n) = (tf.m, tf.n);
    let kc = k * c;
    let mut taps = vec![0.0f32; r * r * kc];
    let mut tmp = vec![0.0f32; r * n * kc];
    sandwich(
        Written::No,
        &tf.at,
        (r, n),
        kc,
        sums,
        (n * kc, kc),
        &mut tmp,
        &mut taps,
        kc,
    );
    let mut dw = vec![0.0f32; r * r * kc];
    for cc in 0..c {
        for kk in 0..k {
            for ab in 0..r * r {
                dw[(kk * c + cc) * r * r + ab] = taps[ab * kc + cc * k + kk];
            }
        }
    }
    dw
}
