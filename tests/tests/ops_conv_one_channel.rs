//! Stride-1 convolutions of one-channel images (the tutorials' first layers), whose forward
//! pass runs without a patch matrix on AVX-512 CPUs: the values must be exactly those of
//! the patch-matrix product they replace — each output summed over the taps in patch-matrix
//! order by fused multiply-adds from zero, then the bias added and the relu applied —
//! checked bit for bit against that sum written out here; both layouts, both paddings,
//! channel counts on and off the kernels' 16-lane blocks, rows narrower and wider than a
//! vector, a fused pooling, NaN through the relu. The gradients still come from the patch
//! matrix; they are checked against candle's conv2d.

use dlkit::candle_core::{Result, Tensor};
use dlkit::ops::{
    conv2d, conv2d_max_pool, max_pool2d, Conv2dParams, DataLayout, FusedActivation, MaxPoolParams,
    Padding,
};
use dlkit_tests::ops_util::*;

struct Case {
    n: usize,
    hw: (usize, usize),
    k: usize,
    r: (usize, usize),
    padding: Padding,
    layout: DataLayout,
    relu: bool,
}

impl Case {
    fn params(&self) -> Conv2dParams {
        Conv2dParams {
            padding: self.padding,
            layout: self.layout,
            activation: if self.relu {
                FusedActivation::Relu
            } else {
                FusedActivation::Linear
            },
            ..Default::default()
        }
    }

    fn x_shape(&self) -> Vec<usize> {
        match self.layout {
            DataLayout::ChannelsFirst => vec![self.n, 1, self.hw.0, self.hw.1],
            DataLayout::ChannelsLast => vec![self.n, self.hw.0, self.hw.1, 1],
        }
    }

    /// The output `(n, k, oh, ow)` as the patch-matrix product computes it, in f32 with
    /// fused multiply-adds over the taps in `(r, s)` order, then `+ b`, then relu.
    fn expected(&self, x: &[f32], w: &[f32], b: &[f32]) -> (Vec<f32>, (usize, usize)) {
        let ((h, wd), (kh, kw)) = (self.hw, self.r);
        let (pt, pl, oh, ow) = match self.padding {
            Padding::Valid => (0, 0, h - kh + 1, wd - kw + 1),
            Padding::Same => ((kh - 1) / 2, (kw - 1) / 2, h, wd),
        };
        let mut y = vec![0.0f32; self.n * self.k * oh * ow];
        for i in 0..self.n {
            for kk in 0..self.k {
                for a in 0..oh {
                    for c in 0..ow {
                        let mut acc = 0.0f32;
                        for r in 0..kh {
                            for s in 0..kw {
                                let (yy, xx) = (
                                    (a + r) as isize - pt as isize,
                                    (c + s) as isize - pl as isize,
                                );
                                let v = if yy < 0 || xx < 0 || yy >= h as isize || xx >= wd as isize
                                {
                                    0.0
                                } else {
                                    x[i * h * wd + yy as usize * wd + xx as usize]
                                };
                                acc = w[kk * kh * kw + r * kw + s].mul_add(v, acc);
                            }
                        }
                        let v = acc + b[kk];
                        let v = if self.relu && v < 0.0 { 0.0 } else { v };
                        y[((i * self.k + kk) * oh + a) * ow + c] = v;
                    }
                }
            }
        }
        (y, (oh, ow))
    }
}

/// `(n, k, oh, ow)` values in `layout`'s order.
fn in_layout(
    y: &[f32],
    (n, k, oh, ow): (usize, usize, usize, usize),
    layout: DataLayout,
) -> Vec<f32> {
    match layout {
        DataLayout::ChannelsFirst => y.to_vec(),
        DataLayout::ChannelsLast => {
            let mut out = vec![0.0; y.len()];
            for i in 0..n {
                for kk in 0..k {
                    for p in 0..oh * ow {
                        out[(i * oh * ow + p) * k + kk] = y[(i * k + kk) * oh * ow + p];
                    }
                }
            }
            out
        }
    }
}

fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for layout in [DataLayout::ChannelsFirst, DataLayout::ChannelsLast] {
        for (hw, k, r) in [
            ((28, 28), 32, (3, 3)),
            ((28, 28), 16, (5, 5)),
            ((28, 28), 30, (5, 5)),
            ((28, 28), 15, (5, 5)),
            ((13, 21), 1, (3, 3)),
            ((9, 40), 17, (2, 4)),
            ((6, 5), 33, (3, 2)),
            ((3, 3), 5, (3, 3)),
        ] {
            for padding in [Padding::Valid, Padding::Same] {
                for relu in [true, false] {
                    out.push(Case {
                        n: 3,
                        hw,
                        k,
                        r,
                        padding,
                        layout,
                        relu,
                    });
                }
            }
        }
    }
    out
}

#[test]
fn forward_is_the_patch_matrix_sum_bit_for_bit() -> Result<()> {
    for (seed, case) in cases().into_iter().enumerate() {
        let seed = seed as u64;
        let x = randn(&case.x_shape(), seed);
        let w = (randn(&[case.k, 1, case.r.0, case.r.1], seed + 100) * 0.3)?;
        let b = (randn(&[case.k], seed + 200) * 0.1)?;
        let got = values(&conv2d(&x, &w, Some(&b), &case.params())?);
        let (want, (oh, ow)) = case.expected(&values(&x), &values(&w), &values(&b));
        let want = in_layout(&want, (case.n, case.k, oh, ow), case.layout);
        assert_eq!(got.len(), want.len());
        let same = got
            .iter()
            .zip(&want)
            .all(|(a, b)| a.to_bits() == b.to_bits());
        assert!(
            same,
            "{:?} {:?} {}x{} k={} {:?} relu={}: not bit for bit",
            case.layout, case.padding, case.hw.0, case.hw.1, case.k, case.r, case.relu
        );
    }
    Ok(())
}

#[test]
fn fused_pooling_pools_the_same_values() -> Result<()> {
    for layout in [DataLayout::ChannelsFirst, DataLayout::ChannelsLast] {
        let case = Case {
            n: 4,
            hw: (28, 28),
            k: 30,
            r: (5, 5),
            padding: Padding::Valid,
            layout,
            relu: true,
        };
        let x = randn(&case.x_shape(), 7);
        let w = (randn(&[30, 1, 5, 5], 8) * 0.3)?;
        let b = (randn(&[30], 9) * 0.1)?;
        let pool = MaxPoolParams {
            pool: (2, 2),
            stride: (2, 2),
            padding: Padding::Valid,
        };
        let fused = conv2d_max_pool(&x, &w, Some(&b), &case.params(), &pool)?;
        let apart = max_pool2d(
            &conv2d(&x, &w, Some(&b), &case.params())?,
            (2, 2),
            (2, 2),
            Padding::Valid,
            layout,
        )?;
        assert_eq!(values(&fused), values(&apart), "{layout:?}");
    }
    Ok(())
}

#[test]
fn nan_inputs_stay_nan_through_the_relu() -> Result<()> {
    for layout in [DataLayout::ChannelsFirst, DataLayout::ChannelsLast] {
        let case = Case {
            n: 1,
            hw: (8, 20),
            k: 3,
            r: (3, 3),
            padding: Padding::Valid,
            layout,
            relu: true,
        };
        let mut xv = values(&randn(&case.x_shape(), 1));
        xv[0] = f32::NAN;
        let x = Tensor::from_vec(xv, case.x_shape(), &dlkit::Device::Cpu)?;
        let w = randn(&[3, 1, 3, 3], 2);
        let y = values(&conv2d(&x, &w, None, &case.params())?);
        // Output (0, 0) of every channel reads the NaN.
        let nans = y.iter().filter(|v| v.is_nan()).count();
        assert_eq!(nans, 3, "{layout:?}");
    }
    Ok(())
}

#[test]
fn output_and_gradients_match_candle() -> Result<()> {
    for layout in [DataLayout::ChannelsFirst, DataLayout::ChannelsLast] {
        for padding in [Padding::Valid, Padding::Same] {
            let case = Case {
                n: 2,
                hw: (12, 19),
                k: 16,
                r: (5, 5),
                padding,
                layout,
                relu: false,
            };
            let params = case.params();
            let inputs = [
                randn(&case.x_shape(), 3),
                (randn(&[16, 1, 5, 5], 4) * 0.3)?,
                (randn(&[16], 5) * 0.1)?,
            ];
            let ours = |t: &[Tensor]| conv2d(&t[0], &t[1], Some(&t[2]), &params);
            let pad = if padding == Padding::Same { 2 } else { 0 };
            let candle = |t: &[Tensor]| -> Result<Tensor> {
                let x = match layout {
                    DataLayout::ChannelsFirst => t[0].clone(),
                    DataLayout::ChannelsLast => t[0].permute((0, 3, 1, 2))?,
                };
                let y = x
                    .conv2d(&t[1], pad, 1, 1, 1)?
                    .broadcast_add(&t[2].reshape((1, 16, 1, 1))?)?;
                match layout {
                    DataLayout::ChannelsFirst => Ok(y),
                    DataLayout::ChannelsLast => y.permute((0, 2, 3, 1))?.contiguous(),
                }
            };
            let (y, g) = grads(&inputs, 6, ours);
            let (y_ref, g_ref) = grads(&inputs, 6, candle);
            let what = format!("{layout:?} {padding:?}");
            assert_close(&y, &y_ref, 1e-5, 1e-5, &format!("{what}: output"));
            for (name, (a, b)) in ["input", "kernel", "bias"].iter().zip(g.iter().zip(&g_ref)) {
                let (a, b) = (a.as_ref().unwrap(), b.as_ref().unwrap());
                assert_close(a, b, 1e-4, 1e-4, &format!("{what}: {name} gradient"));
            }
        }
    }
    Ok(())
}
