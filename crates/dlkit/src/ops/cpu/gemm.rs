//! A bounds-checked wrapper around the `gemm` crate (the matmul candle itself uses).
//!
//! Matrices are described by a slice and row/column strides, so transposed operands are
//! just swapped strides. `gemm` runs most stride orders at full speed, but not a
//! column-major `b` under a short `a`; [`matmul`] copies such a `b` into row-major order
//! first (see [`ROW_MAJOR_B_BELOW`]).

use candle_core::{bail, Result};

/// A read-only `rows × cols` matrix view: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub(crate) struct Mat<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> Mat<'a> {
    /// A row-major matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }
    /// The transpose of the row-major `cols × rows` matrix in `data`.
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat {
            data,
            rows,
            cols,
            rs: 1,
            cs: rows,
        }
    }
    /// A general strided view.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        Mat {
            data,
            rows,
            cols,
            rs,
            cs,
        }
    }
    /// The transposed view.
    pub fn t(self) -> Self {
        Mat {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }
    fn fits(&self, len: usize) -> bool {
        self.rows == 0
            || self.cols == 0
            || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < len
    }
}

/// `dst (m×n, row stride dst_rs) = a·b` or, with `accumulate`, `dst += a·b`.
/// `threads > 1` splits the product over rayon's pool ([`split_product`]); use 1 inside
/// parallel loops.
pub(crate) fn matmul(
    op: &str,
    dst: &mut [f32],
    dst_rs: usize,
    a: Mat<'_>,
    b: Mat<'_>,
    accumulate: bool,
    threads: usize,
) -> Result<()> {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if b.rows != k {
        bail!(
            "{op}: inner dimensions differ in a ({m}x{k}) times ({}x{n}) product",
            b.rows
        );
    }
    let dst_fits = m == 0 || n == 0 || (m - 1) * dst_rs + n <= dst.len();
    if !a.fits(a.data.len()) || !b.fits(b.data.len()) || !dst_fits || (n > dst_rs && m > 1) {
        bail!("{op}: a ({m}x{k}) times ({k}x{n}) product does not fit its buffers");
    }
    if m == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                dst[i * dst_rs..i * dst_rs + n].fill(0.0);
            }
        }
        return Ok(());
    }
    if b.rs == 1 && b.cs != 1 && m < ROW_MAJOR_B_BELOW && k >= ROW_MAJOR_B_DEPTH && n > 1 {
        let row_major = row_major_copy(b);
        return matmul(
            op,
            dst,
            dst_rs,
            a,
            Mat::rows(&row_major, k, n),
            accumulate,
            threads,
        );
    }
    if threads > 1 {
        return split_product(op, dst, dst_rs, a, b, accumulate, threads);
    }
    // SAFETY: the checks above keep every index gemm touches, (i·rs + j·cs) for i < rows
    // and j < cols, inside its slice; dst is borrowed mutably, so it aliases neither input.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_rs as isize,
            accumulate,
            a.data.as_ptr(),
            a.cs as isize,
            a.rs as isize,
            b.data.as_ptr(),
            b.cs as isize,
            b.rs as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
    Ok(())
}

/// Rows of `a` below which a column-major `b` is copied into row-major order before the
/// product. gemm 0.19 reads a column-major `b` slowly when `a` is short: a dense layer's
/// input gradient at batch 32 (32×18432×288, `b` = Wᵀ) ran at 19 GFLOP/s against 65 with a
/// row-major `b` on AVX-512 (43 against 46 on AVX2), an LSTM's 16×512×128 at 13 against 100.
/// The copy moves k·n values, 1/m of the product's work; from about 256 rows on, both
/// orders run alike. With a short depth (k < 256) the slowdown is small (32×128×4608 at 68
/// against 90) and the copy, a transposition of a wide matrix, would cost as much as it saves.
const ROW_MAJOR_B_BELOW: usize = 256;
/// The depth from which a column-major `b` is copied (see [`ROW_MAJOR_B_BELOW`]).
const ROW_MAJOR_B_DEPTH: usize = 256;

/// `b` (whose rows are contiguous columns, `rs == 1`) as a row-major `k × n` matrix.
fn row_major_copy(b: Mat<'_>) -> Vec<f32> {
    let (k, n) = (b.rows, b.cols);
    let mut out = vec![0.0f32; k * n];
    if b.cs == k {
        // b's data is the row-major n × k matrix bᵀ.
        super::transpose::transpose(&b.data[..n * k], n, k, &mut out);
    } else {
        for (p, row) in out.chunks_exact_mut(n).enumerate() {
            for (j, o) in row.iter_mut().enumerate() {
                *o = b.data[p + j * b.cs];
            }
        }
    }
    out
}

/// Rows (or columns) below which a part would not fill gemm's register tiles well (its
/// AVX-512 kernels go up to 64×6).
const MIN_SPLIT: usize = 32;

/// The product split into `threads` independent single-threaded products run in parallel.
///
/// gemm's own threading splits only along the rows of `a` in blocks of its tile height, so a
/// 32-row product (a dense layer at batch 32) stays on one core. This splits along the rows
/// when there are enough of them (parts of `dst` are then contiguous), else along the
/// columns (each part into its own buffer, then copied into place). The split depends only
/// on the shapes and the thread count, so results repeat run to run.
fn split_product(
    op: &str,
    dst: &mut [f32],
    dst_rs: usize,
    a: Mat<'_>,
    b: Mat<'_>,
    accumulate: bool,
    threads: usize,
) -> Result<()> {
    use rayon::prelude::*;
    let (m, n) = (a.rows, b.cols);
    if m >= MIN_SPLIT * threads {
        let rows = super::parallel::split(m, threads);
        let mut parts = Vec::with_capacity(rows.len());
        let mut rest = &mut dst[..];
        for r in &rows {
            let take = if r.end == m {
                rest.len()
            } else {
                r.len() * dst_rs
            };
            let (head, tail) = rest.split_at_mut(take);
            parts.push((r.clone(), head));
            rest = tail;
        }
        return parts
            .into_par_iter()
            .map(|(r, part)| {
                let ar = Mat {
                    data: &a.data[r.start * a.rs..],
                    rows: r.len(),
                    ..a
                };
                matmul(op, part, dst_rs, ar, b, accumulate, 1)
            })
            .collect();
    }
    if n >= MIN_SPLIT * threads {
        let cols = super::parallel::split(n, threads);
        let parts: Vec<Result<Vec<f32>>> = cols
            .par_iter()
            .map(|c| {
                let mut part = vec![0.0f32; m * c.len()];
                let bc = Mat {
                    data: &b.data[c.start * b.cs..],
                    cols: c.len(),
                    ..b
                };
                matmul(op, &mut part, c.len(), a, bc, false, 1)?;
                Ok(part)
            })
            .collect();
        for (c, part) in cols.iter().zip(parts) {
            let part = part?;
            for (i, row) in part.chunks_exact(c.len()).enumerate() {
                let out = &mut dst[i * dst_rs + c.start..i * dst_rs + c.end];
                if accumulate {
                    super::math::add_assign(out, row);
                } else {
                    out.copy_from_slice(row);
                }
            }
        }
        return Ok(());
    }
    matmul(op, dst, dst_rs, a, b, accumulate, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_product_with_transposes() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        let bt: Vec<f32> = (0..n * k).map(|i| (i as f32 * 0.11).cos()).collect();
        let mut dst = vec![1.0f32; m * n];
        matmul(
            "t",
            &mut dst,
            n,
            Mat::rows(&a, m, k),
            Mat::transposed(&bt, k, n),
            true,
            1,
        )
        .unwrap();
        for i in 0..m {
            for j in 0..n {
                let want: f32 = 1.0 + (0..k).map(|p| a[i * k + p] * bt[j * k + p]).sum::<f32>();
                assert!((dst[i * n + j] - want).abs() < 1e-5);
            }
        }
        assert!(matmul(
            "t",
            &mut dst,
            n,
            Mat::rows(&a, m, k),
            Mat::rows(&bt, n, k),
            false,
            1
        )
        .is_err());
    }

    #[test]
    fn a_column_major_b_under_a_short_a_is_copied_and_gives_the_same_product() {
        // k >= ROW_MAJOR_B_DEPTH and m < ROW_MAJOR_B_BELOW: b is copied to row-major order,
        // both when its columns are packed (cs == k) and when they are strided (cs > k).
        let (m, k, n) = (9, ROW_MAJOR_B_DEPTH + 5, 13);
        let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
        for cs in [k, k + 7] {
            let b: Vec<f32> = (0..n * cs).map(|i| (i as f32 * 0.11).cos()).collect();
            let bm = Mat::strided(&b, k, n, 1, cs);
            for threads in [1, 2] {
                let mut dst = vec![0.5f32; m * n];
                matmul("t", &mut dst, n, Mat::rows(&a, m, k), bm, true, threads).unwrap();
                for i in 0..m {
                    for j in 0..n {
                        let want = 0.5 + (0..k).map(|p| a[i * k + p] * b[p + j * cs]).sum::<f32>();
                        let got = dst[i * n + j];
                        assert!(
                            (got - want).abs() < 1e-3,
                            "cs {cs} ({i},{j}): {got} vs {want}"
                        );
                    }
                }
            }
        }
    }

    /// `dst (m×n, row stride n + 3) = init + a·b` by plain loops.
    fn naive(m: usize, k: usize, n: usize, a: Mat<'_>, b: Mat<'_>, init: &[f32]) -> Vec<f32> {
        let mut out = init.to_vec();
        for i in 0..m {
            for j in 0..n {
                let dot: f32 = (0..k)
                    .map(|p| a.data[i * a.rs + p * a.cs] * b.data[p * b.rs + j * b.cs])
                    .sum();
                out[i * (n + 3) + j] += dot;
            }
        }
        out
    }

    #[test]
    fn split_products_match_naive_products() {
        // Row split (m >= 64), column split (few rows, many columns), and too small to split.
        for (m, k, n) in [
            (70, 33, 20),
            (130, 7, 9),
            (5, 33, 70),
            (32, 100, 129),
            (9, 8, 7),
        ] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
            let init: Vec<f32> = (0..m * (n + 3)).map(|i| (i as f32 * 0.05).sin()).collect();
            for (am, bm) in [
                (Mat::rows(&a, m, k), Mat::rows(&b, k, n)),
                (Mat::transposed(&a, m, k), Mat::transposed(&b, k, n)),
            ] {
                for accumulate in [false, true] {
                    let zero = vec![0.0f32; init.len()];
                    let want = naive(m, k, n, am, bm, if accumulate { &init } else { &zero });
                    let mut dst = init.clone();
                    matmul("t", &mut dst, n + 3, am, bm, accumulate, 2).unwrap();
                    for i in 0..m {
                        for j in 0..n + 3 {
                            let (got, exp) = (dst[i * (n + 3) + j], want[i * (n + 3) + j]);
                            // The 3 padding values of each row are never touched.
                            let exp = if j < n { exp } else { init[i * (n + 3) + j] };
                            assert!(
                                (got - exp).abs() < 1e-4,
                                "{m}x{k}x{n} acc {accumulate} at ({i},{j}): {got} vs {exp}"
                            );
                        }
                    }
                }
            }
        }
    }
}
