//! `dlkit::ops::max_pool2d` against a gather-and-max reference and finite differences,
//! including the odd sizes where candle's own max-pool backward goes wrong.

use dlkit::candle_core::{Tensor, Var};
use dlkit::ops::{self, max_pool2d, DataLayout, Padding};
use dlkit_tests::ops_util::*;

fn shape(layout: DataLayout, n: usize, c: usize, h: usize, w: usize) -> Vec<usize> {
    match layout {
        DataLayout::ChannelsFirst => vec![n, c, h, w],
        DataLayout::ChannelsLast => vec![n, h, w, c],
    }
}

#[test]
fn matches_reference_values_and_gradients() {
    let cases = [
        // (n, c, h, w, pool, stride, padding)
        (2, 3, 11, 11, (2, 2), (2, 2), Padding::Valid),
        (1, 1, 24, 24, (2, 2), (2, 2), Padding::Valid),
        (3, 4, 9, 7, (3, 3), (2, 2), Padding::Valid),
        (2, 2, 11, 11, (2, 2), (2, 2), Padding::Same),
        (2, 3, 10, 9, (3, 2), (2, 3), Padding::Same),
        (33, 5, 12, 12, (2, 2), (1, 1), Padding::Valid),
        // Rows of 18 outputs: two 8-wide vector steps and a scalar tail.
        (2, 3, 41, 36, (2, 2), (2, 2), Padding::Valid),
        // Channels-last pools 8 channels at a time: two blocks and a 3-channel tail.
        (2, 19, 9, 9, (2, 2), (2, 2), Padding::Valid),
        (3, 32, 13, 13, (3, 3), (2, 2), Padding::Same),
    ];
    for layout in [DataLayout::ChannelsFirst, DataLayout::ChannelsLast] {
        for (i, &(n, c, h, w, pool, stride, padding)) in cases.iter().enumerate() {
            // Continuous random values have no ties, so the gradient is unambiguous.
            let x = randn(&shape(layout, n, c, h, w), 40 + i as u64);
            let (y, g) = grads(std::slice::from_ref(&x), 7, |t| {
                max_pool2d(&t[0], pool, stride, padding, layout)
            });
            let (y_ref, g_ref) = grads(&[x], 7, |t| {
                ops::reference::max_pool2d(&t[0], pool, stride, padding, layout)
            });
            let what = format!("{layout:?} case {i}");
            // Both pick input values and copy gradients: exact equality.
            assert_close(&y, &y_ref, 0.0, 0.0, &format!("{what}: forward"));
            assert_close(
                g[0].as_ref().unwrap(),
                g_ref[0].as_ref().unwrap(),
                0.0,
                0.0,
                &format!("{what}: gradient"),
            );
        }
    }
}

#[test]
fn odd_size_11_by_11() {
    let x = randn(&[2, 3, 11, 11], 5);
    let (y, g) = grads(std::slice::from_ref(&x), 6, |t| {
        max_pool2d(
            &t[0],
            (2, 2),
            (2, 2),
            Padding::Valid,
            DataLayout::ChannelsFirst,
        )
    });
    assert_eq!(y.dims(), &[2, 3, 5, 5]);
    let g = g[0].clone().unwrap();
    // The last row and column belong to no window.
    let last_row = values(&g.narrow(2, 10, 1).unwrap());
    let last_col = values(&g.narrow(3, 10, 1).unwrap());
    assert!(last_row.iter().chain(&last_col).all(|&v| v == 0.0));
    // Exactly one input per window receives the output gradient.
    let nonzero = values(&g).iter().filter(|&&v| v != 0.0).count();
    assert_eq!(nonzero, 2 * 3 * 25);
    // Max pooling is piecewise linear: with eps well below the gap between a window's largest
    // values, central differences are exact up to f32 rounding of the loss (~1e-6).
    let f = |t: &[Tensor]| {
        max_pool2d(
            &t[0],
            (2, 2),
            (2, 2),
            Padding::Valid,
            DataLayout::ChannelsFirst,
        )
    };
    let checks = finite_differences(&[x], 0, 6, 1e-4, 200, &g, f);
    assert_fd(&checks, 1e-3, 1e-3, "11x11 pool 2");
}

#[test]
fn same_padding_shapes_follow_keras() {
    let x = randn(&[1, 11, 11, 2], 1);
    let y = max_pool2d(&x, (2, 2), (2, 2), Padding::Same, DataLayout::ChannelsLast).unwrap();
    assert_eq!(y.dims(), &[1, 6, 6, 2]);
    let y = max_pool2d(&x, (3, 3), (1, 1), Padding::Same, DataLayout::ChannelsLast).unwrap();
    assert_eq!(y.dims(), &[1, 11, 11, 2]);
    // Padding never wins even when every value is negative.
    let neg = (randn(&[1, 1, 5, 5], 2).abs().unwrap() * -1.0)
        .unwrap()
        .affine(1.0, -1.0)
        .unwrap();
    let y = max_pool2d(
        &neg,
        (2, 2),
        (2, 2),
        Padding::Same,
        DataLayout::ChannelsFirst,
    )
    .unwrap();
    assert!(values(&y).iter().all(|&v| v <= -1.0));
}

#[test]
fn no_gradient_for_plain_tensors() {
    let x = randn(&[2, 2, 6, 6], 3);
    let w = Var::from_tensor(&randn(&[2, 2, 3, 3], 4)).unwrap();
    let y = max_pool2d(
        &x,
        (2, 2),
        (2, 2),
        Padding::Valid,
        DataLayout::ChannelsFirst,
    )
    .unwrap();
    let loss = (y * w.as_tensor()).unwrap().sum_all().unwrap();
    let g = loss.backward().unwrap();
    assert!(g.get(&x).is_none());
    assert!(g.get(w.as_tensor()).is_some());
}

#[test]
fn errors_instead_of_panics() {
    let x = randn(&[1, 1, 3, 3], 1);
    assert!(max_pool2d(
        &x,
        (4, 4),
        (1, 1),
        Padding::Valid,
        DataLayout::ChannelsFirst
    )
    .is_err());
    assert!(max_pool2d(
        &x,
        (2, 2),
        (0, 1),
        Padding::Valid,
        DataLayout::ChannelsFirst
    )
    .is_err());
    let err = max_pool2d(
        &randn(&[3, 3], 1),
        (2, 2),
        (2, 2),
        Padding::Valid,
        DataLayout::ChannelsFirst,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("max_pool2d") && err.to_string().contains("[3, 3]"),
        "{err}"
    );
}

#[test]
fn ties_send_the_gradient_to_the_first_maximum_of_the_window() {
    // All-zero windows (what a relu leaves behind): every channel's gradient goes to the
    // window's top-left value, in the 8-channel blocks and in the tail alike.
    for layout in [DataLayout::ChannelsFirst, DataLayout::ChannelsLast] {
        let c = 19;
        let x = Var::from_tensor(
            &Tensor::zeros(
                shape(layout, 1, c, 4, 4),
                dlkit::DType::F32,
                &dlkit::Device::Cpu,
            )
            .unwrap(),
        )
        .unwrap();
        let y = max_pool2d(x.as_tensor(), (2, 2), (2, 2), Padding::Valid, layout).unwrap();
        let g = y.sum_all().unwrap().backward().unwrap();
        let g = g.get(x.as_tensor()).unwrap();
        let g = match layout {
            DataLayout::ChannelsFirst => g.clone(),
            DataLayout::ChannelsLast => g.permute((0, 3, 1, 2)).unwrap(),
        };
        let g: Vec<Vec<Vec<f32>>> = g.squeeze(0).unwrap().to_vec3().unwrap();
        for (ch, plane) in g.iter().enumerate() {
            for (h, row) in plane.iter().enumerate() {
                for (w, &v) in row.iter().enumerate() {
                    let want = if h % 2 == 0 && w % 2 == 0 { 1.0 } else { 0.0 };
                    assert_eq!(v, want, "{layout:?} channel {ch} at ({h}, {w})");
                }
            }
        }
    }
}
