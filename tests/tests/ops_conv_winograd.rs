//! The Winograd path of `dlkit::ops::conv2d` (stride-1 3×3 and 5×5 windows) against the
//! direct path and candle's conv2d: forward values and all three gradients, both layouts,
//! both paddings, with relu and with a fused max pooling, on random and MNIST-shaped inputs.
//!
//! Tolerances, relative to the largest magnitude of the quantity compared (Winograd's
//! transforms round differently from a direct sum, more for bigger tiles): 3×3 layers run
//! F(4×4, 3×3), whose data transform multiplies by up to 5 and whose filter transform
//! divides by up to 24, and 5×5 layers F(2×2, 5×5); the worst errors seen are printed
//! (`cargo test -p dlkit-tests --test ops_conv_winograd -- --nocapture`).

use dlkit::candle_core::{Result, Tensor};
use dlkit::ops::{
    self, conv2d, conv2d_max_pool, Conv2dParams, ConvAlgorithm, DataLayout, FusedActivation,
    MaxPoolParams, Padding,
};
use dlkit_tests::ops_util::*;

/// Largest `|a - b|` over the largest `|b|`.
fn relative_error(a: &Tensor, b: &Tensor) -> f32 {
    assert_eq!(a.dims(), b.dims());
    let (va, vb) = (values(a), values(b));
    let scale = vb
        .iter()
        .fold(0f32, |m, v| m.max(v.abs()))
        .max(f32::MIN_POSITIVE);
    let worst = va.iter().zip(&vb).fold(0f32, |m, (x, y)| {
        if x.is_nan() != y.is_nan() {
            f32::INFINITY
        } else {
            m.max((x - y).abs())
        }
    });
    worst / scale
}

struct Case {
    n: usize,
    c: usize,
    hw: (usize, usize),
    k: usize,
    r: usize,
    padding: Padding,
    layout: DataLayout,
    relu: bool,
    pool: bool,
}

impl Case {
    fn x_shape(&self) -> Vec<usize> {
        match self.layout {
            DataLayout::ChannelsFirst => vec![self.n, self.c, self.hw.0, self.hw.1],
            DataLayout::ChannelsLast => vec![self.n, self.hw.0, self.hw.1, self.c],
        }
    }

    fn params(&self, algorithm: ConvAlgorithm) -> Conv2dParams {
        Conv2dParams {
            padding: self.padding,
            layout: self.layout,
            activation: if self.relu {
                FusedActivation::Relu
            } else {
                FusedActivation::Linear
            },
            algorithm,
            ..Default::default()
        }
    }

    fn run(&self, t: &[Tensor], algorithm: ConvAlgorithm) -> Result<Tensor> {
        let p = self.params(algorithm);
        if self.pool {
            let pool = MaxPoolParams {
                pool: (2, 2),
                stride: (2, 2),
                padding: Padding::Valid,
            };
            conv2d_max_pool(&t[0], &t[1], Some(&t[2]), &p, &pool)
        } else {
            conv2d(&t[0], &t[1], Some(&t[2]), &p)
        }
    }

    /// The worst relative errors (forward, input, kernel and bias gradients) of Winograd
    /// against the direct path and against candle's conv2d.
    fn errors(&self, inputs: [Tensor; 3], seed: u64) -> [[f32; 4]; 2] {
        let (y, g) = grads(&inputs, seed, |t| self.run(t, ConvAlgorithm::Winograd));
        let (y_d, g_d) = grads(&inputs, seed, |t| self.run(t, ConvAlgorithm::Direct));
        let p = self.params(ConvAlgorithm::Direct);
        let (y_r, g_r) = grads(&inputs, seed, |t| {
            let y = ops::reference::conv2d(&t[0], &t[1], Some(&t[2]), &p)?;
            if self.pool {
                ops::reference::max_pool2d(&y, (2, 2), (2, 2), Padding::Valid, self.layout)
            } else {
                Ok(y)
            }
        });
        let compare = |y_o: &Tensor, g_o: &[Option<Tensor>]| {
            let mut e = [relative_error(&y, y_o), 0.0, 0.0, 0.0];
            for i in 0..3 {
                e[i + 1] = relative_error(g[i].as_ref().unwrap(), g_o[i].as_ref().unwrap());
            }
            e
        };
        [compare(&y_d, &g_d), compare(&y_r, &g_r)]
    }

    fn random_inputs(&self, seed: u64) -> [Tensor; 3] {
        [
            randn(&self.x_shape(), seed),
            (randn(&[self.k, self.c, self.r, self.r], seed + 1) * 0.2).unwrap(),
            randn(&[self.k], seed + 2),
        ]
    }

    fn name(&self) -> String {
        format!(
            "n{} c{} {}x{} k{} {r}x{r} {:?} {:?}{}{}",
            self.n,
            self.c,
            self.hw.0,
            self.hw.1,
            self.k,
            self.padding,
            self.layout,
            if self.relu { " relu" } else { "" },
            if self.pool { " pool" } else { "" },
            r = self.r
        )
    }
}

/// Tolerance on the relative errors: F(4×4, 3×3) for 3×3 windows, F(2×2, 5×5) for 5×5.
fn tolerance(r: usize) -> f32 {
    if r == 3 {
        2e-5
    } else {
        1e-5
    }
}

fn check(case: &Case, inputs: [Tensor; 3], seed: u64, worst: &mut [f32; 4]) {
    let [direct, reference] = case.errors(inputs, seed);
    let names = [
        "forward",
        "input gradient",
        "kernel gradient",
        "bias gradient",
    ];
    for (i, name) in names.iter().enumerate() {
        for (e, against) in [(direct[i], "direct"), (reference[i], "candle")] {
            worst[i] = worst[i].max(e);
            assert!(
                e <= tolerance(case.r),
                "{}: {name} differs from the {against} path by {e:.2e} of its scale (tolerance {:.0e})",
                case.name(),
                tolerance(case.r)
            );
        }
    }
}

#[test]
fn winograd_matches_direct_and_candle_on_random_inputs() {
    use DataLayout::{ChannelsFirst as CF, ChannelsLast as CL};
    use Padding::{Same, Valid};
    let mut worst = [0f32; 4];
    let mut seed = 100;
    for (c, hw, k, r) in [
        (3, (9, 11), 5, 3),
        (8, (12, 12), 16, 3),
        (5, (7, 13), 6, 5),
        (16, (12, 12), 16, 5),
        (2, (5, 5), 3, 5),
        (4, (3, 4), 2, 3),
    ] {
        for padding in [Valid, Same] {
            for layout in [CF, CL] {
                for (relu, pool) in [(false, false), (true, false), (true, true)] {
                    let case = Case {
                        n: 3,
                        c,
                        hw,
                        k,
                        r,
                        padding,
                        layout,
                        relu,
                        pool,
                    };
                    if pool && (hw.0 < r + 1 || hw.1 < r + 1) {
                        continue;
                    }
                    seed += 10;
                    check(&case, case.random_inputs(seed), seed + 5, &mut worst);
                }
            }
        }
    }
    println!("worst relative errors (forward, input, kernel, bias gradients): {:.2e} {:.2e} {:.2e} {:.2e}", worst[0], worst[1], worst[2], worst[3]);
}

/// The tutorials' Winograd layers on MNIST-like activations (non-negative, mostly zero,
/// as after a relu), at their sizes, with Keras-initialised kernels (Glorot uniform).
#[test]
fn winograd_matches_direct_on_the_tutorials_layers() {
    use DataLayout::{ChannelsFirst as CF, ChannelsLast as CL};
    use Padding::{Same, Valid};
    let mut worst = [0f32; 4];
    let layers = [
        // 000's second layer, 001's second, 002's branching 3x3 and 5x5, 002's larger
        // CNN's second, 003's second.
        (32, (26, 26), 64, 3, Valid, CL, true),
        (32, (26, 26), 32, 3, Valid, CF, true),
        (16, (24, 24), 15, 3, Same, CF, false),
        (16, (24, 24), 15, 5, Same, CF, false),
        (30, (12, 12), 15, 3, Valid, CF, true),
        (16, (12, 12), 16, 5, Valid, CF, true),
    ];
    for (i, &(c, hw, k, r, padding, layout, pool)) in layers.iter().enumerate() {
        let case = Case {
            n: 4,
            c,
            hw,
            k,
            r,
            padding,
            layout,
            relu: true,
            pool,
        };
        let seed = 1000 + 10 * i as u64;
        let x = randn(&case.x_shape(), seed).relu().unwrap();
        let limit = (6.0 / ((c + k) * r * r) as f64).sqrt();
        let w = uniform(&[k, c, r, r], -limit, limit, seed + 1);
        let b = (uniform(&[k], -0.1, 0.1, seed + 2)).clone();
        check(&case, [x, w, b], seed + 3, &mut worst);
    }
    println!("worst relative errors (forward, input, kernel, bias gradients): {:.2e} {:.2e} {:.2e} {:.2e}", worst[0], worst[1], worst[2], worst[3]);
}

/// `Auto` picks Winograd only where it pays: first layers (one input channel), strided and
/// small layers give the direct path's values bit for bit.
#[test]
fn auto_keeps_the_direct_path_for_first_and_strided_layers() {
    let x = randn(&[2, 1, 28, 28], 7);
    let w = randn(&[32, 1, 3, 3], 8);
    let p = |algorithm| Conv2dParams {
        algorithm,
        ..Default::default()
    };
    let auto = conv2d(&x, &w, None, &p(ConvAlgorithm::Auto)).unwrap();
    let direct = conv2d(&x, &w, None, &p(ConvAlgorithm::Direct)).unwrap();
    assert_eq!(values(&auto), values(&direct));
    let x = randn(&[2, 16, 12, 12], 9);
    let w = randn(&[16, 16, 3, 3], 10);
    let strided = |algorithm| Conv2dParams {
        stride: (2, 2),
        algorithm,
        ..Default::default()
    };
    let wino = conv2d(&x, &w, None, &strided(ConvAlgorithm::Winograd)).unwrap();
    let direct = conv2d(&x, &w, None, &strided(ConvAlgorithm::Direct)).unwrap();
    assert_eq!(values(&wino), values(&direct));
    // a 16-channel layer stays direct; a 32 -> 64 channel 3x3 layer runs Winograd
    let auto = conv2d(&x, &w, None, &p(ConvAlgorithm::Auto)).unwrap();
    let direct = conv2d(&x, &w, None, &p(ConvAlgorithm::Direct)).unwrap();
    assert_eq!(values(&auto), values(&direct));
    let x = randn(&[2, 32, 10, 10], 11);
    let w = randn(&[64, 32, 3, 3], 12);
    let auto = conv2d(&x, &w, None, &p(ConvAlgorithm::Auto)).unwrap();
    let wino = conv2d(&x, &w, None, &p(ConvAlgorithm::Winograd)).unwrap();
    let direct = conv2d(&x, &w, None, &p(ConvAlgorithm::Direct)).unwrap();
    assert_eq!(values(&auto), values(&wino));
    assert_ne!(
        values(&auto),
        values(&direct),
        "rounding differs between the paths"
    );
}

/// Degenerate shapes on the Winograd path: an empty batch, a 1×1 image with same padding
/// (every tap but the centre falls on the padding), a 3×3 image with valid padding (one
/// output), and 5×5 windows on a 2×2 image with same padding.
#[test]
fn winograd_handles_empty_batches_and_tiny_images() {
    use DataLayout::{ChannelsFirst as CF, ChannelsLast as CL};
    use Padding::{Same, Valid};
    let mut worst = [0f32; 4];
    for layout in [CF, CL] {
        for (n, c, hw, k, r, padding) in [
            (2, 4, (1, 1), 3, 3, Same),
            (2, 4, (3, 3), 3, 3, Valid),
            (2, 3, (2, 2), 2, 5, Same),
            (1, 2, (1, 7), 2, 3, Same),
        ] {
            let case = Case {
                n,
                c,
                hw,
                k,
                r,
                padding,
                layout,
                relu: false,
                pool: false,
            };
            check(&case, case.random_inputs(77), 78, &mut worst);
        }
        let case = Case {
            n: 0,
            c: 4,
            hw: (6, 6),
            k: 3,
            r: 3,
            padding: Same,
            layout,
            relu: true,
            pool: false,
        };
        let [x, w, b] = case.random_inputs(79);
        let y = case.run(&[x, w, b], ConvAlgorithm::Winograd).unwrap();
        assert_eq!(y.elem_count(), 0);
    }
}
