//! Element-wise kernels compiled twice, for AVX2+FMA and for baseline x86-64, and picked
//! at run time (no `-C target-cpu` needed), plus a vectorisable `exp`.

/// Defines `fn name(args)` whose body is compiled once with AVX2+FMA enabled and once
/// without, choosing at run time. The body is plain Rust the compiler auto-vectorises.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                /// # Safety
                ///
                /// The CPU must support AVX2 and FMA.
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU was just checked to support AVX2 and FMA.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// [`multiversion`] with an AVX-512 variant tried first, for kernels written in 16-lane
/// arrays (one AVX-512 register; two AVX2 ones). Without AVX-512 it runs [`multiversion`]'s
/// AVX2 or baseline build of the same body.
macro_rules! multiversion_avx512 {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[inline(always)]
                fn body($($arg: $ty),*) $body
                /// # Safety
                ///
                /// The CPU must support AVX-512F, AVX2 and FMA.
                #[target_feature(enable = "avx512f,avx2,fma")]
                unsafe fn avx512($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::is_x86_feature_detected!("avx512f")
                    && std::is_x86_feature_detected!("avx2")
                    && std::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU was just checked to support AVX-512F, AVX2 and FMA.
                    return unsafe { avx512($($arg),*) };
                }
            }
            $crate::ops::cpu::math::multiversion! {
                $(#[$meta])*
                fn narrower($($arg: $ty),*) $body
            }
            narrower($($arg),*)
        }
    };
}
pub(crate) use multiversion_avx512;

/// `e^x` to about 2 ulp for `x` in [-87, 88] (clamped outside), branch-free so it
/// vectorises: 2^n · p(r) with n = round(x / ln 2), r = x - n·ln 2.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.3, 88.7);
    // Adding 1.5·2^23 rounds to an integer held in the low mantissa bits.
    const MAGIC: f32 = 12_582_912.0;
    // Plain multiply-adds, not `mul_add`: without FMA hardware that is a slow libm call.
    let t = x * std::f32::consts::LOG2_E + MAGIC;
    let n = t - MAGIC;
    // Cody–Waite: ln 2 split so that n·C1 is exact (C1 = 0.693359375 = 355/512).
    let r = x - n * 0.693_359_4;
    let r = r + n * 2.121_944_4e-4;
    let p = 1.987_569_1e-4f32;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 0.166_666_65;
    let p = p * r + 0.5;
    let p = p * (r * r) + r + 1.0;
    let ni = (t.to_bits() as i32).wrapping_sub(MAGIC.to_bits() as i32);
    // n is in [-126, 128]; split the scale in two so 2^128 does not overflow the exponent.
    let half = ni >> 1;
    let s1 = f32::from_bits(((half + 127) as u32) << 23);
    let s2 = f32::from_bits(((ni - half + 127) as u32) << 23);
    p * s1 * s2
}

#[inline(always)]
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
pub(crate) fn tanh(x: f32) -> f32 {
    // tanh(x) = 1 - 2 / (e^{2x} + 1); accurate to a few 1e-7 absolute.
    1.0 - 2.0 / (exp(2.0 * x) + 1.0)
}

multiversion! {
    /// `out = g` where `y > 0` (or everywhere when `y` is None), else 0: the relu backward
    /// from the relu's output, written to a new place.
    pub(crate) fn mask_copy(g: &[f32], y: Option<&[f32]>, out: &mut [f32]) {
        match y {
            Some(y) => {
                for ((o, &g), &y) in out.iter_mut().zip(g).zip(y) {
                    *o = if y > 0.0 { g } else { 0.0 };
                }
            }
            None => out.copy_from_slice(&g[..out.len()]),
        }
    }
}

multiversion! {
    /// `x[i] += b[i]` (then relu if `relu`).
    pub(crate) fn add_row(x: &mut [f32], b: &[f32], relu: bool) {
        if relu {
            for (v, &b) in x.iter_mut().zip(b) {
                *v = relu_keeping_nan(*v + b);
            }
        } else {
            for (v, &b) in x.iter_mut().zip(b) {
                *v += b;
            }
        }
    }
}

/// `max(v, 0)` that keeps NaN (as Keras' relu does): `f32::max` would turn a
/// NaN into 0 and hide a broken input or weight behind a finite loss.
#[inline(always)]
fn relu_keeping_nan(v: f32) -> f32 {
    if v < 0.0 {
        0.0
    } else {
        v
    }
}

multiversion! {
    /// `x[i] += b` (then relu if `relu`).
    pub(crate) fn add_scalar(x: &mut [f32], b: f32, relu: bool) {
        if relu {
            for v in x.iter_mut() {
                *v = relu_keeping_nan(*v + b);
            }
        } else {
            for v in x.iter_mut() {
                *v += b;
            }
        }
    }
}

multiversion! {
    /// `acc[i] += x[i]`.
    pub(crate) fn add_assign(acc: &mut [f32], x: &[f32]) {
        for (a, &v) in acc.iter_mut().zip(x) {
            *a += v;
        }
    }
}

/// The sum of a slice, accumulated in 8 lanes (fixed order, so deterministic).
pub(crate) fn sum(x: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    let tail: f32 = chunks.remainder().iter().sum();
    lanes.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate() {
        let mut x = -87.0f32;
        while x < 88.0 {
            let want = (x as f64).exp();
            let got = exp(x) as f64;
            assert!(
                ((got - want) / want).abs() < 1e-6,
                "exp({x}) = {got}, want {want}"
            );
            x += 0.0137;
        }
        assert!(exp(-200.0) >= 0.0 && exp(-200.0) < 1e-37);
        assert!(exp(200.0).is_finite());
    }

    #[test]
    fn tanh_and_sigmoid_are_accurate() {
        let mut x = -20.0f32;
        while x < 20.0 {
            assert!((tanh(x) - x.tanh()).abs() < 3e-7, "tanh({x})");
            assert!(
                (sigmoid(x) - 1.0 / (1.0 + (-x).exp())).abs() < 3e-7,
                "sigmoid({x})"
            );
            x += 0.0093;
        }
    }
}
