//! A bounds-checked wrapper around the `gemm` crate (the matmul candle itself uses).
//!
//! Matrices are described by a slice and row/column strides, so transposed operands are
//! just swapped strides: `gemm` packs its operands, so any stride order runs at full speed.

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
        Mat { data, rows, cols, rs: cols, cs: 1 }
    }
    /// The transpose of the row-major `cols × rows` matrix in `data`.
    pub fn transposed(data: &'a [f32], rows: usize, cols: usize) -> Self {
        Mat { data, rows, cols, rs: 1, cs: rows }
    }
    /// A general strided view.
    pub fn strided(data: &'a [f32], rows: usize, cols: usize, rs: usize, cs: usize) -> Self {
        Mat { data, rows, cols, rs, cs }
    }
    /// The transposed view.
    pub fn t(self) -> Self {
        Mat { data: self.data, rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs }
    }
    fn fits(&self, len: usize) -> bool {
        self.rows == 0 || self.cols == 0 || (self.rows - 1) * self.rs + (self.cols - 1) * self.cs < len
    }
}

/// `dst (m×n, row stride dst_rs) = a·b` or, with `accumulate`, `dst += a·b`.
/// `threads > 1` lets gemm split the product over rayon's pool; use 1 inside parallel loops.
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
        bail!("{op}: inner dimensions differ in a ({m}x{k}) times ({}x{n}) product", b.rows);
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
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
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
            parallelism,
        );
    }
    Ok(())
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
        matmul("t", &mut dst, n, Mat::rows(&a, m, k), Mat::transposed(&bt, k, n), true, 1).unwrap();
        for i in 0..m {
            for j in 0..n {
                let want: f32 = 1.0 + (0..k).map(|p| a[i * k + p] * bt[j * k + p]).sum::<f32>();
                assert!((dst[i * n + j] - want).abs() < 1e-5);
            }
        }
        assert!(matmul("t", &mut dst, n, Mat::rows(&a, m, k), Mat::rows(&bt, n, k), false, 1).is_err());
    }
}
