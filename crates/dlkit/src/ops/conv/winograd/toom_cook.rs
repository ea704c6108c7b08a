//! The matrices of Winograd's minimal filtering algorithm F(m, r), built from interpolation
//! points by the Toom-Cook construction (Lavin & Gray, "Fast Algorithms for Convolutional
//! Neural Networks", 2016, section 4).
//!
//! F(m, r) computes `m` outputs of an `r`-tap correlation, `y[i] = Σ_j g[j]·d[i+j]`, from a
//! tile of `n = m + r - 1` inputs with `n` multiplications instead of `m·r`:
//! `y = Aᵀ[(G g) ⊙ (Bᵀ d)]`. In two dimensions the transforms nest:
//! `Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A`, `n²` multiplications for `m²` outputs instead of `m²r²`.
//!
//! Why these matrices: a correlation is the transpose of a polynomial product. For a fixed
//! `g`, the product `c = g·h` of `g` (degree r-1) and `h` (degree m-1) is, by evaluation at
//! `n` points and interpolation, `c = Vₙ⁻¹[(Vᵣ g) ⊙ (Vₘ h)]`, where `Vₚ` evaluates a
//! polynomial with `p` coefficients at the points (the point ∞ picks the leading
//! coefficient). That map `h → c` is the matrix `Vₙ⁻¹ diag(Vᵣ g) Vₘ`; its transpose
//! `Vₘᵀ diag(Vᵣ g) Vₙ⁻ᵀ` is the correlation. So `Aᵀ = Vₘᵀ`, `G = Vᵣ`, `Bᵀ = Vₙ⁻ᵀ`, each
//! row of `Bᵀ` scaled to a largest entry of 1 with its inverse moved into `G`'s row (so that
//! the data transform multiplies by small numbers only).
//!
//! The points are 0, 1, -1, 2, -2, ½, -½ (the first `n - 1` of them) and ∞: small, so
//! that the transforms lose little precision in `f32`.

/// The finite interpolation points in the order they are used.
const POINTS: [f64; 7] = [0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5];

/// The three matrices of F(m, r), row-major, in `f32`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Transform {
    /// Outputs per tile (per axis).
    pub m: usize,
    /// Taps of the filter.
    pub r: usize,
    /// Inputs per tile, `m + r - 1`.
    pub n: usize,
    /// `Aᵀ`, `m × n`: the output transform.
    pub at: Vec<f32>,
    /// `G`, `n × r`: the filter transform.
    pub g: Vec<f32>,
    /// `Bᵀ`, `n × n`: the data transform.
    pub bt: Vec<f32>,
}

impl Transform {
    /// F(m, r) for `m, r ≥ 1` and `m + r - 1 ≤ 8` (more points would cost precision).
    pub fn new(m: usize, r: usize) -> Transform {
        let n = m + r - 1;
        assert!(
            m >= 1 && r >= 1 && n <= POINTS.len() + 1,
            "F({m}, {r}) is not supported"
        );
        let at = transpose(&evaluation(n, m), n, m);
        let mut g = evaluation(n, r);
        let mut bt = transpose(&invert(&evaluation(n, n), n), n, n);
        for i in 0..n {
            let row = &mut bt[i * n..(i + 1) * n];
            let scale = row.iter().fold(0.0f64, |a, &v| a.max(v.abs()));
            row.iter_mut().for_each(|v| *v /= scale);
            g[i * r..(i + 1) * r].iter_mut().for_each(|v| *v *= scale);
        }
        let f32s = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect();
        Transform {
            m,
            r,
            n,
            at: f32s(at),
            g: f32s(g),
            bt: f32s(bt),
        }
    }
}

/// `Vₚ`, `n × p`: row `i` evaluates a polynomial with `p` coefficients at point `i`
/// (`[1, a, a², …]`), the last row at ∞ (its leading coefficient).
fn evaluation(n: usize, p: usize) -> Vec<f64> {
    let mut v = vec![0.0; n * p];
    for i in 0..n - 1 {
        let mut power = 1.0;
        for j in 0..p {
            v[i * p + j] = power;
            power *= POINTS[i];
        }
    }
    v[(n - 1) * p + p - 1] = 1.0;
    v
}

fn transpose(a: &[f64], rows: usize, cols: usize) -> Vec<f64> {
    let mut t = vec![0.0; a.len()];
    for i in 0..rows {
        for j in 0..cols {
            t[j * rows + i] = a[i * cols + j];
        }
    }
    t
}

/// The inverse of the `n × n` matrix `a` by Gauss-Jordan elimination with partial pivoting
/// (the evaluation matrix at distinct points is invertible).
fn invert(a: &[f64], n: usize) -> Vec<f64> {
    let mut a = a.to_vec();
    let mut inv = vec![0.0; n * n];
    for i in 0..n {
        inv[i * n + i] = 1.0;
    }
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&x, &y| a[x * n + col].abs().total_cmp(&a[y * n + col].abs()))
            .unwrap_or(col);
        for j in 0..n {
            a.swap(col * n + j, pivot * n + j);
            inv.swap(col * n + j, pivot * n + j);
        }
        let p = a[col * n + col];
        for j in 0..n {
            a[col * n + j] /= p;
            inv[col * n + j] /= p;
        }
        for row in (0..n).filter(|&row| row != col) {
            let f = a[row * n + col];
            if f != 0.0 {
                for j in 0..n {
                    a[row * n + j] -= f * a[col * n + j];
                    inv[row * n + j] -= f * inv[col * n + j];
                }
            }
        }
    }
    inv
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Aᵀ[(G g) ⊙ (Bᵀ d)]` against the direct correlation, for every supported size.
    #[test]
    fn one_dimensional_transforms_compute_the_correlation() {
        for (m, r) in [
            (2, 3),
            (4, 3),
            (6, 3),
            (2, 5),
            (4, 5),
            (3, 2),
            (5, 2),
            (3, 4),
            (1, 3),
        ] {
            let t = Transform::new(m, r);
            let n = t.n;
            let g: Vec<f32> = (0..r).map(|i| (i as f32 * 0.37 - 0.5).sin()).collect();
            let d: Vec<f32> = (0..n).map(|i| (i as f32 * 0.71 + 0.2).cos()).collect();
            let gg: Vec<f32> = (0..n)
                .map(|i| (0..r).map(|j| t.g[i * r + j] * g[j]).sum())
                .collect();
            let bd: Vec<f32> = (0..n)
                .map(|i| (0..n).map(|j| t.bt[i * n + j] * d[j]).sum())
                .collect();
            for i in 0..m {
                let y: f32 = (0..n).map(|k| t.at[i * n + k] * gg[k] * bd[k]).sum();
                let want: f32 = (0..r).map(|j| g[j] * d[i + j]).sum();
                assert!(
                    (y - want).abs() < 1e-5,
                    "F({m},{r}) output {i}: {y} vs {want}"
                );
            }
        }
    }

    #[test]
    fn f2_3_has_the_classic_data_transform() {
        // Lavin & Gray's Bᵀ for F(2, 3) with points 0, 1, -1.
        let t = Transform::new(2, 3);
        let want = [
            1., 0., -1., 0., 0., 1., 1., 0., 0., -1., 1., 0., 0., -1., 0., 1.,
        ];
        for (got, want) in t.bt.iter().zip(want) {
            assert!((got.abs() - f32::abs(want)).abs() < 1e-6, "{:?}", t.bt);
        }
    }
}
