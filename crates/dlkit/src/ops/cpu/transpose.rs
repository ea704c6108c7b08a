//! Matrix transposition for moving images between channels-first and channels-last:
//! 8x8 tiles with AVX where the CPU has it, scalar at the ragged edges.

use super::math::multiversion;

multiversion! {
    /// `dst (cols, rows) = srcᵀ` for a row-major `src (rows, cols)`, in 8x8 tiles held in
    /// registers.
    pub(crate) fn transpose(src: &[f32], rows: usize, cols: usize, dst: &mut [f32]) {
        let (full_r, full_c) = (rows / 8 * 8, cols / 8 * 8);
        for r0 in (0..full_r).step_by(8) {
            for c0 in (0..full_c).step_by(8) {
                if transpose_8x8_simd(src, cols, dst, rows, r0, c0) {
                    continue;
                }
                let mut t = [[0.0f32; 8]; 8];
                for (i, row) in t.iter_mut().enumerate() {
                    row.copy_from_slice(&src[(r0 + i) * cols + c0..(r0 + i) * cols + c0 + 8]);
                }
                for j in 0..8 {
                    let out = &mut dst[(c0 + j) * rows + r0..(c0 + j) * rows + r0 + 8];
                    for (i, o) in out.iter_mut().enumerate() {
                        *o = t[i][j];
                    }
                }
            }
        }
        // The ragged right and bottom edges.
        for r in 0..rows {
            let c_start = if r < full_r { full_c } else { 0 };
            for c in c_start..cols {
                dst[c * rows + r] = src[r * cols + c];
            }
        }
    }
}

/// Transposes the 8x8 tile at (r0, c0) of `src` (row length `cols`) into `dst` (row
/// length `rows`) with AVX; false if the CPU lacks it or the tile is not inside both.
#[inline(always)]
fn transpose_8x8_simd(
    src: &[f32],
    cols: usize,
    dst: &mut [f32],
    rows: usize,
    r0: usize,
    c0: usize,
) -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        let src_ok = (r0 + 7) * cols + c0 + 8 <= src.len() && c0 + 8 <= cols;
        let dst_ok = (c0 + 7) * rows + r0 + 8 <= dst.len() && r0 + 8 <= rows;
        if src_ok && dst_ok && std::is_x86_feature_detected!("avx") {
            // SAFETY: AVX is present and the bounds were just checked.
            unsafe {
                transpose_8x8_avx(
                    src.as_ptr().add(r0 * cols + c0),
                    cols,
                    dst.as_mut_ptr().add(c0 * rows + r0),
                    rows,
                )
            };
            return true;
        }
    }
    let _ = (src, cols, dst, rows, r0, c0);
    false
}

/// Transposes the 8×8 block at `src` (row stride `ls`) into `dst` (row stride `ld`).
///
/// # Safety
///
/// The CPU must support AVX; `src + i * ls .. + 8` must be readable and
/// `dst + i * ld .. + 8` writable for every `i` in `0..8`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn transpose_8x8_avx(src: *const f32, ls: usize, dst: *mut f32, ld: usize) {
    use std::arch::x86_64::*;
    let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * ls)));
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let s0 = _mm256_shuffle_ps::<0b01_00_01_00>(t0, t2);
    let s1 = _mm256_shuffle_ps::<0b11_10_11_10>(t0, t2);
    let s2 = _mm256_shuffle_ps::<0b01_00_01_00>(t1, t3);
    let s3 = _mm256_shuffle_ps::<0b11_10_11_10>(t1, t3);
    let s4 = _mm256_shuffle_ps::<0b01_00_01_00>(t4, t6);
    let s5 = _mm256_shuffle_ps::<0b11_10_11_10>(t4, t6);
    let s6 = _mm256_shuffle_ps::<0b01_00_01_00>(t5, t7);
    let s7 = _mm256_shuffle_ps::<0b11_10_11_10>(t5, t7);
    let out = [
        _mm256_permute2f128_ps::<0x20>(s0, s4),
        _mm256_permute2f128_ps::<0x20>(s1, s5),
        _mm256_permute2f128_ps::<0x20>(s2, s6),
        _mm256_permute2f128_ps::<0x20>(s3, s7),
        _mm256_permute2f128_ps::<0x31>(s0, s4),
        _mm256_permute2f128_ps::<0x31>(s1, s5),
        _mm256_permute2f128_ps::<0x31>(s2, s6),
        _mm256_permute2f128_ps::<0x31>(s3, s7),
    ];
    for (j, v) in out.iter().enumerate() {
        _mm256_storeu_ps(dst.add(j * ld), *v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transposes_tiles_and_edges() {
        for (rows, cols) in [(1, 1), (3, 5), (8, 8), (17, 9), (30, 144), (100, 15)] {
            let src: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
            let mut dst = vec![0.0; rows * cols];
            transpose(&src, rows, cols, &mut dst);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(
                        dst[c * rows + r],
                        src[r * cols + c],
                        "{rows}x{cols} at ({r}, {c})"
                    );
                }
            }
        }
    }
}
