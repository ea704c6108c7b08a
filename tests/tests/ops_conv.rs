//! `dlkit::ops::conv2d` against candle's conv2d (the reference path) and finite differences.
#![allow(clippy::needless_range_loop)]

use dlkit::candle_core::{Result, Tensor, Var};
use dlkit::ops::{self, conv2d, Conv2dParams, DataLayout, FusedActivation, Padding};
use dlkit_tests::ops_util::*;

struct Case {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    kh: usize,
    kw: usize,
    stride: usize,
    padding: Padding,
    layout: DataLayout,
    activation: FusedActivation,
}

fn x_shape(c: &Case) -> Vec<usize> {
    match c.layout {
        DataLayout::ChannelsFirst => vec![c.n, c.c, c.h, c.w],
        DataLayout::ChannelsLast => vec![c.n, c.h, c.w, c.c],
    }
}

fn params(c: &Case) -> Conv2dParams {
    Conv2dParams {
        stride: (c.stride, c.stride),
        padding: c.padding,
        layout: c.layout,
        activation: c.activation,
        ..Default::default()
    }
}

/// Forward values and the gradients of x, kernel and bias agree with candle's conv2d.
fn check_against_reference(case: &Case, seed: u64) {
    let x = randn(&x_shape(case), seed);
    let kernel = randn(&[case.k, case.c, case.kh, case.kw], seed + 1);
    let bias = randn(&[case.k], seed + 2);
    let p = params(case);
    let (y, g) = grads(&[x.clone(), kernel.clone(), bias.clone()], seed + 3, |t| {
        conv2d(&t[0], &t[1], Some(&t[2]), &p)
    });
    let (y_ref, g_ref) = grads(&[x, kernel, bias], seed + 3, |t| {
        ops::reference::conv2d(&t[0], &t[1], Some(&t[2]), &p)
    });
    // f32 sums of up to C·kh·kw (forward) or N·OH·OW (kernel gradient) products, summed in a
    // different order than candle: relative differences of a few 1e-6 of the magnitudes.
    let what = format!(
        "n{} c{} {}x{} k{} {}x{} s{} {:?} {:?} {:?}",
        case.n,
        case.c,
        case.h,
        case.w,
        case.k,
        case.kh,
        case.kw,
        case.stride,
        case.padding,
        case.layout,
        case.activation
    );
    assert_close(&y, &y_ref, 1e-4, 1e-4, &format!("{what}: forward"));
    for (i, name) in ["input", "kernel", "bias"].iter().enumerate() {
        let (a, b) = (g[i].as_ref().unwrap(), g_ref[i].as_ref().unwrap());
        let scale = values(b).iter().fold(0f32, |m, v| m.max(v.abs()));
        assert_close(
            a,
            b,
            1e-5 * scale.max(1.0),
            1e-4,
            &format!("{what}: {name} gradient"),
        );
    }
}

#[allow(clippy::too_many_arguments)]
fn case(
    n: usize,
    c: usize,
    hw: (usize, usize),
    k: usize,
    kernel: (usize, usize),
    stride: usize,
    padding: Padding,
    layout: DataLayout,
    activation: FusedActivation,
) -> Case {
    Case {
        n,
        c,
        h: hw.0,
        w: hw.1,
        k,
        kh: kernel.0,
        kw: kernel.1,
        stride,
        padding,
        layout,
        activation,
    }
}

#[test]
fn matches_candle_channels_first() {
    use DataLayout::ChannelsFirst as CF;
    use FusedActivation::*;
    use Padding::*;
    let cases = [
        case(1, 1, (28, 28), 8, (3, 3), 1, Valid, CF, Relu),
        case(2, 1, (11, 11), 4, (5, 5), 1, Same, CF, Linear),
        case(3, 3, (9, 10), 5, (3, 3), 2, Valid, CF, Relu),
        case(2, 4, (8, 8), 6, (3, 3), 2, Same, CF, Linear),
        case(2, 3, (7, 9), 4, (2, 3), 1, Same, CF, Relu),
        case(33, 3, (12, 12), 8, (3, 3), 1, Valid, CF, Relu),
        case(4, 2, (13, 13), 3, (5, 5), 2, Same, CF, Relu),
        // Narrow, with 9 channels: computed channels-last through 8x8 transposes plus edges.
        case(3, 9, (10, 11), 10, (3, 3), 1, Valid, CF, Relu),
        case(2, 17, (9, 9), 9, (3, 3), 1, Same, CF, Linear),
        // Wide enough (OW >= 16) for the native channels-first products.
        case(3, 3, (20, 18), 4, (3, 3), 1, Valid, CF, Relu),
        case(2, 2, (17, 33), 5, (3, 4), 2, Same, CF, Linear),
    ];
    for (i, c) in cases.iter().enumerate() {
        check_against_reference(c, 100 + 10 * i as u64);
    }
}

/// The Same-padded stride-1 branches of notebook 002's functional model (16x24x24 into
/// 15 3x3 and 15 5x5 kernels), with an even kernel too (its padding is uneven: more after),
/// batches of 1 and 33, both layouts.
#[test]
fn matches_candle_same_padded_branches() {
    use DataLayout::*;
    use FusedActivation::*;
    use Padding::Same;
    let cases = [
        case(1, 16, (24, 24), 15, (3, 3), 1, Same, ChannelsFirst, Relu),
        case(33, 16, (24, 24), 15, (5, 5), 1, Same, ChannelsFirst, Relu),
        case(2, 16, (24, 24), 15, (4, 4), 1, Same, ChannelsFirst, Linear),
        case(33, 16, (24, 24), 15, (3, 3), 1, Same, ChannelsLast, Relu),
        case(1, 16, (24, 24), 15, (5, 5), 1, Same, ChannelsLast, Relu),
        case(2, 16, (24, 24), 15, (4, 4), 1, Same, ChannelsLast, Linear),
        // One channel and a rectangular image with an even kernel on one axis only.
        case(3, 1, (28, 20), 6, (3, 2), 1, Same, ChannelsFirst, Relu),
        case(3, 1, (28, 20), 6, (2, 3), 1, Same, ChannelsLast, Relu),
    ];
    for (i, c) in cases.iter().enumerate() {
        check_against_reference(c, 900 + 10 * i as u64);
    }
}

#[test]
fn matches_candle_channels_last() {
    use DataLayout::ChannelsLast as CL;
    use FusedActivation::*;
    use Padding::*;
    let cases = [
        case(1, 1, (28, 28), 8, (3, 3), 1, Valid, CL, Linear),
        case(2, 1, (11, 11), 4, (5, 5), 1, Same, CL, Relu),
        case(3, 3, (9, 10), 5, (3, 3), 2, Valid, CL, Linear),
        case(2, 4, (8, 8), 6, (3, 3), 2, Same, CL, Relu),
        case(2, 3, (7, 9), 4, (2, 3), 1, Same, CL, Linear),
        case(33, 3, (12, 12), 8, (3, 3), 1, Valid, CL, Relu),
        case(4, 2, (13, 13), 3, (5, 5), 2, Same, CL, Relu),
    ];
    for (i, c) in cases.iter().enumerate() {
        check_against_reference(c, 500 + 10 * i as u64);
    }
}

#[test]
fn same_padding_follows_tensorflow() {
    // 5 wide, kernel 2, stride 2: out 3, total pad (3-1)·2 + 2 - 5 = 1, all of it on the right.
    let x = Tensor::arange(1f32, 6., &dlkit::Device::Cpu)
        .unwrap()
        .reshape((1, 1, 1, 5))
        .unwrap();
    let k = Tensor::ones((1, 1, 1, 2), dlkit::DType::F32, &dlkit::Device::Cpu).unwrap();
    let p = Conv2dParams {
        stride: (1, 2),
        padding: Padding::Same,
        ..Default::default()
    };
    let y = conv2d(&x, &k, None, &p).unwrap();
    assert_eq!(values(&y), vec![3.0, 7.0, 5.0]);
}

#[test]
fn finite_differences_agree() {
    // Relu kinks are avoided by a positive bias on most outputs; the loss is evaluated in f64
    // from f32 outputs of size ~1, so the rounding error of a difference is ~1e-7/eps ≈ 1e-4:
    // we allow 2e-3 absolute plus 1% relative.
    for (layout, padding, stride) in [
        (DataLayout::ChannelsFirst, Padding::Same, 1),
        (DataLayout::ChannelsLast, Padding::Valid, 2),
    ] {
        let xs = match layout {
            DataLayout::ChannelsFirst => vec![2, 3, 7, 8],
            DataLayout::ChannelsLast => vec![2, 7, 8, 3],
        };
        let inputs = [
            randn(&xs, 1),
            randn(&[4, 3, 3, 3], 2).affine(0.3, 0.0).unwrap(),
            randn(&[4], 3),
        ];
        let p = Conv2dParams {
            stride: (stride, stride),
            padding,
            layout,
            activation: FusedActivation::Relu,
            ..Default::default()
        };
        let f = |t: &[Tensor]| conv2d(&t[0], &t[1], Some(&t[2]), &p);
        let (_, g) = grads(&inputs, 9, f);
        for which in 0..3 {
            let checks =
                finite_differences(&inputs, which, 9, 1e-3, 24, g[which].as_ref().unwrap(), f);
            assert_fd(&checks, 2e-3, 1e-2, &format!("{layout:?} input {which}"));
        }
    }
}

#[test]
fn no_input_gradient_for_plain_tensors() {
    let x = randn(&[4, 1, 10, 10], 7);
    let kernel = Var::from_tensor(&randn(&[3, 1, 3, 3], 8)).unwrap();
    let bias = Var::from_tensor(&randn(&[3], 9)).unwrap();
    let p = Conv2dParams {
        activation: FusedActivation::Relu,
        ..Default::default()
    };
    let loss = conv2d(&x, kernel.as_tensor(), Some(bias.as_tensor()), &p)
        .unwrap()
        .sum_all()
        .unwrap();
    let g = loss.backward().unwrap();
    assert!(
        g.get(&x).is_none(),
        "an input gradient was computed for a plain tensor"
    );
    assert!(g.get(kernel.as_tensor()).is_some() && g.get(bias.as_tensor()).is_some());
    // candle's own conv2d does compute (and store) it: the check above can fail.
    let loss = ops::reference::conv2d(&x, kernel.as_tensor(), Some(bias.as_tensor()), &p)
        .unwrap()
        .sum_all()
        .unwrap();
    assert!(loss.backward().unwrap().get(&x).is_some());
}

#[test]
fn non_contiguous_input_and_no_bias() {
    let base = randn(&[2, 9, 9, 3], 11);
    let x = base.permute((0, 3, 1, 2)).unwrap(); // channels-first view of channels-last data
    assert!(!x.is_contiguous());
    let kernel = randn(&[4, 3, 3, 3], 12);
    let p = Conv2dParams::default();
    let y = conv2d(&x, &kernel, None, &p).unwrap();
    let y_ref = ops::reference::conv2d(&x.contiguous().unwrap(), &kernel, None, &p).unwrap();
    assert_close(&y, &y_ref, 1e-4, 1e-4, "permuted input");
}

#[test]
fn shape_errors_name_the_op_and_shapes() -> Result<()> {
    let x = randn(&[2, 3, 8, 8], 1);
    let kernel = randn(&[4, 2, 3, 3], 2);
    let err = conv2d(&x, &kernel, None, &Conv2dParams::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("conv2d") && err.contains("[2, 3, 8, 8]") && err.contains("[4, 2, 3, 3]"),
        "{err}"
    );
    let kernel = randn(&[4, 3, 9, 9], 2);
    assert!(conv2d(&x, &kernel, None, &Conv2dParams::default()).is_err());
    let bias = randn(&[5], 3);
    let kernel = randn(&[4, 3, 3, 3], 2);
    assert!(conv2d(&x, &kernel, Some(&bias), &Conv2dParams::default()).is_err());
    let p = Conv2dParams {
        stride: (0, 1),
        ..Default::default()
    };
    assert!(conv2d(&x, &kernel, None, &p).is_err());
    Ok(())
}

#[test]
fn fused_conv_max_pool_matches_conv_then_pool() {
    use dlkit::ops::{conv2d_max_pool, MaxPoolParams};
    use DataLayout::*;
    use FusedActivation::*;
    use Padding::*;
    // (case, pool window, pool stride, pool padding)
    let cases = [
        (
            case(2, 1, (13, 13), 4, (3, 3), 1, Valid, ChannelsFirst, Relu),
            (2, 2),
            (2, 2),
            Valid,
        ), // 11x11 -> 5x5
        (
            case(3, 3, (10, 10), 5, (3, 3), 1, Valid, ChannelsLast, Relu),
            (2, 2),
            (2, 2),
            Valid,
        ),
        (
            case(2, 2, (9, 9), 3, (3, 3), 1, Same, ChannelsFirst, Linear),
            (2, 2),
            (2, 2),
            Same,
        ), // 9x9 -> 5x5
        (
            case(1, 2, (12, 11), 6, (5, 5), 1, Valid, ChannelsLast, Linear),
            (3, 3),
            (2, 2),
            Valid,
        ),
        (
            case(33, 3, (12, 12), 8, (3, 3), 1, Valid, ChannelsFirst, Relu),
            (2, 2),
            (2, 2),
            Valid,
        ),
        (
            case(33, 3, (12, 12), 8, (3, 3), 2, Same, ChannelsLast, Relu),
            (2, 2),
            (1, 1),
            Same,
        ),
    ];
    for (i, (c, window, stride, padding)) in cases.iter().enumerate() {
        let seed = 900 + 10 * i as u64;
        let inputs = [
            randn(&x_shape(c), seed),
            randn(&[c.k, c.c, c.kh, c.kw], seed + 1),
            randn(&[c.k], seed + 2),
        ];
        let p = params(c);
        let mp = MaxPoolParams {
            pool: *window,
            stride: *stride,
            padding: *padding,
        };
        let (y, g) = grads(&inputs, seed + 3, |t| {
            conv2d_max_pool(&t[0], &t[1], Some(&t[2]), &p, &mp)
        });
        let (y_ref, g_ref) = grads(&inputs, seed + 3, |t| {
            let y = ops::reference::conv2d(&t[0], &t[1], Some(&t[2]), &p)?;
            ops::reference::max_pool2d(&y, *window, *stride, *padding, c.layout)
        });
        let what = format!("fused case {i}");
        assert_close(&y, &y_ref, 1e-4, 1e-4, &format!("{what}: forward"));
        for (j, name) in ["input", "kernel", "bias"].iter().enumerate() {
            let (a, b) = (g[j].as_ref().unwrap(), g_ref[j].as_ref().unwrap());
            let scale = values(b).iter().fold(0f32, |m, v| m.max(v.abs()));
            assert_close(
                a,
                b,
                1e-5 * scale.max(1.0),
                1e-4,
                &format!("{what}: {name} gradient"),
            );
        }
        // The fused op equals the two fast ops one after the other.
        let two = ops::max_pool2d(
            &conv2d(&inputs[0], &inputs[1], Some(&inputs[2]), &p).unwrap(),
            *window,
            *stride,
            *padding,
            c.layout,
        )
        .unwrap();
        assert_close(
            &y,
            &two,
            0.0,
            0.0,
            &format!("{what}: fused vs conv2d + max_pool2d"),
        );
    }
}

#[test]
fn fused_conv_max_pool_finite_differences() {
    use dlkit::ops::{conv2d_max_pool, MaxPoolParams};
    // Piecewise linear in x once the max and relu pattern is fixed; eps 1e-3 rarely crosses
    // a switch. Same tolerance reasoning as `finite_differences_agree`.
    let inputs = [
        randn(&[2, 2, 9, 9], 31),
        randn(&[3, 2, 3, 3], 32).affine(0.3, 0.0).unwrap(),
        randn(&[3], 33),
    ];
    let p = Conv2dParams {
        activation: FusedActivation::Relu,
        ..Default::default()
    };
    let mp = MaxPoolParams {
        pool: (2, 2),
        stride: (2, 2),
        padding: Padding::Valid,
    }; // 7x7 -> 3x3
    let f = |t: &[Tensor]| conv2d_max_pool(&t[0], &t[1], Some(&t[2]), &p, &mp);
    let (_, g) = grads(&inputs, 34, f);
    for which in 0..3 {
        let checks =
            finite_differences(&inputs, which, 34, 1e-3, 24, g[which].as_ref().unwrap(), f);
        assert_fd(&checks, 2e-3, 1e-2, &format!("fused input {which}"));
    }
}

#[test]
fn empty_batches_work_through_every_op() {
    use dlkit::ops::{dense, dropout, lstm, max_pool2d, LstmActivation};
    // A batch of zero images is a valid (if useless) input: no op may panic on it.
    let k = Var::from_tensor(&randn(&[4, 3, 3, 3], 1)).unwrap();
    for layout in [DataLayout::ChannelsFirst, DataLayout::ChannelsLast] {
        let x = Tensor::zeros(
            x_shape(&case(
                0,
                3,
                (8, 8),
                4,
                (3, 3),
                1,
                Padding::Valid,
                layout,
                FusedActivation::Relu,
            )),
            dlkit::DType::F32,
            &dlkit::Device::Cpu,
        )
        .unwrap();
        let p = Conv2dParams {
            layout,
            activation: FusedActivation::Relu,
            ..Default::default()
        };
        let y = conv2d(&x, k.as_tensor(), None, &p).unwrap();
        let y = max_pool2d(&y, (2, 2), (2, 2), Padding::Valid, layout).unwrap();
        let y = dropout(&y, 0.5, 1).unwrap();
        assert_eq!(y.elem_count(), 0);
        y.sum_all().unwrap().backward().unwrap();
    }
    let w = Var::from_tensor(&randn(&[5, 3], 2)).unwrap();
    let y = dense(
        &Tensor::zeros((0, 5), dlkit::DType::F32, &dlkit::Device::Cpu).unwrap(),
        w.as_tensor(),
        None,
        FusedActivation::Relu,
    )
    .unwrap();
    assert_eq!(y.dims(), &[0, 3]);
    y.sum_all().unwrap().backward().unwrap();
    let (kk, u) = (
        Var::from_tensor(&randn(&[5, 8], 3)).unwrap(),
        Var::from_tensor(&randn(&[2, 8], 4)).unwrap(),
    );
    let x = Tensor::zeros((0, 4, 5), dlkit::DType::F32, &dlkit::Device::Cpu).unwrap();
    let y = lstm(
        &x,
        kk.as_tensor(),
        u.as_tensor(),
        None,
        LstmActivation::Tanh,
        true,
    )
    .unwrap();
    assert_eq!(y.dims(), &[0, 4, 2]);
    y.sum_all().unwrap().backward().unwrap();
}

#[test]
fn results_repeat_bit_for_bit() {
    // Fixed chunking and chunk-ordered reductions: the same inputs give the same bits.
    let inputs = [
        randn(&[9, 4, 12, 12], 1),
        randn(&[6, 4, 3, 3], 2),
        randn(&[6], 3),
    ];
    for layout in [DataLayout::ChannelsFirst, DataLayout::ChannelsLast] {
        let x = if layout == DataLayout::ChannelsLast {
            inputs[0]
                .permute((0, 2, 3, 1))
                .unwrap()
                .contiguous()
                .unwrap()
        } else {
            inputs[0].clone()
        };
        let ins = [x, inputs[1].clone(), inputs[2].clone()];
        let p = Conv2dParams {
            layout,
            activation: FusedActivation::Relu,
            ..Default::default()
        };
        let run = || grads(&ins, 4, |t| conv2d(&t[0], &t[1], Some(&t[2]), &p));
        let ((y1, g1), (y2, g2)) = (run(), run());
        assert_eq!(values(&y1), values(&y2));
        for (a, b) in g1.iter().zip(&g2) {
            assert_eq!(values(a.as_ref().unwrap()), values(b.as_ref().unwrap()));
        }
    }
}
