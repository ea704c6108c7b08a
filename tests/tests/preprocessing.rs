//! `to_categorical`, `normalize` and the reshape/cast/scale helpers, checked
//! against values worked out by hand (and with python3's `math` where noted).

use dlkit::prelude::*;
use dlkit::preprocessing::{channels_first, channels_last, flattened, scaled, to_f32};

fn cpu() -> Device {
    Device::Cpu
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
}

fn invalid_argument(result: Result<Tensor>) -> String {
    match result {
        Err(Error::InvalidArgument(msg)) => msg,
        other => panic!("expected Error::InvalidArgument, got {other:?}"),
    }
}

// ---- to_categorical

const ONE_HOT_201: [[f32; 3]; 3] = [[0., 0., 1.], [1., 0., 0.], [0., 1., 0.]];

#[test]
fn one_hot_from_every_integer_dtype_and_whole_floats() {
    let labels = [
        Tensor::new(&[2u8, 0, 1], &cpu()).unwrap(),
        Tensor::new(&[2u32, 0, 1], &cpu()).unwrap(),
        Tensor::new(&[2i64, 0, 1], &cpu()).unwrap(),
        Tensor::new(&[2f32, 0., 1.], &cpu()).unwrap(),
    ];
    for y in &labels {
        let one_hot = to_categorical(y, 3).unwrap();
        assert_eq!(one_hot.dtype(), DType::F32);
        assert_eq!(
            one_hot.to_vec2::<f32>().unwrap(),
            ONE_HOT_201,
            "{:?}",
            y.dtype()
        );
        // None infers max + 1 = 3 classes.
        assert_eq!(
            to_categorical(y, None).unwrap().to_vec2::<f32>().unwrap(),
            ONE_HOT_201
        );
    }
}

#[test]
fn explicit_class_count_widens_the_encoding() {
    let y = Tensor::new(&[1u8, 3], &cpu()).unwrap();
    let one_hot = y.to_categorical(5).unwrap();
    assert_eq!(
        one_hot.to_vec2::<f32>().unwrap(),
        [[0., 1., 0., 0., 0.], [0., 0., 0., 1., 0.]]
    );
}

#[test]
fn column_of_labels_and_higher_rank_shapes() {
    // (N, 1) gives (N, C), as in Keras.
    let column = Tensor::new(&[[2u8], [0], [1]], &cpu()).unwrap();
    assert_eq!(
        to_categorical(&column, 3)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap(),
        ONE_HOT_201
    );
    // (2, 2) gives (2, 2, C).
    let grid = Tensor::new(&[[0u8, 1], [1, 0]], &cpu()).unwrap();
    let one_hot = to_categorical(&grid, 2).unwrap();
    assert_eq!(one_hot.dims(), [2, 2, 2]);
    assert_eq!(
        one_hot.to_vec3::<f32>().unwrap(),
        [[[1., 0.], [0., 1.]], [[0., 1.], [1., 0.]]]
    );
}

#[test]
fn bad_labels_are_named_with_their_index() {
    let y = Tensor::new(&[3u8, 9, 1, 10, 12], &cpu()).unwrap();
    let msg = invalid_argument(to_categorical(&y, 10));
    eprintln!("{msg}");
    assert!(
        msg.contains("label 10 at index 3") && msg.contains("num_classes = 10"),
        "{msg}"
    );

    let y = Tensor::new(&[0i64, -1, -2], &cpu()).unwrap();
    let msg = invalid_argument(to_categorical(&y, None));
    eprintln!("{msg}");
    assert!(msg.contains("label -1 at index 1 is negative"), "{msg}");

    let y = Tensor::new(&[1f32, 2.5, 0.5], &cpu()).unwrap();
    let msg = invalid_argument(to_categorical(&y, 3));
    eprintln!("{msg}");
    assert!(
        msg.contains("label 2.5 at index 1 is not a whole number"),
        "{msg}"
    );

    let y = Tensor::new(&[1f32, f32::NAN], &cpu()).unwrap();
    assert!(invalid_argument(to_categorical(&y, 3)).contains("at index 1"));
}

#[test]
fn empty_labels() {
    let y = Tensor::zeros(0, DType::U8, &cpu()).unwrap();
    assert_eq!(to_categorical(&y, 10).unwrap().dims(), [0, 10]);
    let msg = invalid_argument(to_categorical(&y, None));
    assert!(msg.contains("cannot infer num_classes"), "{msg}");
}

// ---- normalize

#[test]
fn normalize_agrees_with_the_tensor_formula_on_every_axis() {
    // The CPU path normalises in place; the formula with candle's ops is the reference.
    let values: Vec<f32> = (0..3 * 4 * 5)
        .map(|i| ((i * 37) % 23) as f32 - 6.0)
        .collect();
    let x = Tensor::from_vec(values, (3, 4, 5), &cpu()).unwrap();
    for axis in 0..3usize {
        let norm = x.sqr().unwrap().sum_keepdim(axis).unwrap().sqrt().unwrap();
        let divisor = (&norm + norm.eq(0f32).unwrap().to_dtype(DType::F32).unwrap()).unwrap();
        let want = x.broadcast_div(&divisor).unwrap();
        let got = normalize(&x, axis as isize).unwrap();
        let (got, want) = (
            got.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            want.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
        );
        for (g, w) in got.iter().zip(&want) {
            assert!(
                (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                "axis {axis}: {g} vs {w}"
            );
        }
    }
    // Bytes go in as their values, f32 comes out.
    let bytes = Tensor::new(&[[3u8, 4], [0, 0]], &cpu()).unwrap();
    let n = normalize(&bytes, 0).unwrap();
    assert_eq!(n.dtype(), DType::F32);
    assert_eq!(n.to_vec2::<f32>().unwrap(), [[1.0, 1.0], [0.0, 0.0]]);
}

#[test]
fn normalize_columns_with_a_zero_column() {
    // Columns: [3, 4] has norm 5; [0, 0] stays zero; [1, 2] has norm √5.
    let x = Tensor::new(&[[3u8, 0, 1], [4, 0, 2]], &cpu()).unwrap();
    let n = normalize(&x, 0).unwrap();
    assert_eq!(n.dtype(), DType::F32);
    let got = n.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    // 1/√5 = 0.4472135955, 2/√5 = 0.8944271910 (python3 math.sqrt)
    let want = [0.6, 0.0, 0.447_213_6, 0.8, 0.0, 0.894_427_2];
    assert!(close(&got, &want), "{got:?}");
}

#[test]
fn normalize_rows_with_a_negative_axis() {
    // Rows: [3, 0, 1] has norm √10, [4, 0, 2] has norm √20.
    let x = Tensor::new(&[[3f64, 0., 1.], [4., 0., 2.]], &cpu()).unwrap();
    let got = x
        .normalized(-1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    // 3/√10 = 0.9486832981, 1/√10 = 0.3162277660, 4/√20 = 0.8944271910, 2/√20 = 0.4472135955
    let want = [0.948_683_3, 0.0, 0.316_227_8, 0.894_427_2, 0.0, 0.447_213_6];
    assert!(close(&got, &want), "{got:?}");
    // Axis 1 of a rank-2 tensor is the same axis.
    let same = normalize(&x, 1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(got, same);
}

#[test]
fn normalize_axis_one_of_images_normalises_each_column_of_each_image() {
    // Image 0 columns: [3, 4] → [0.6, 0.8], [1, 0] → [1, 0].
    // Image 1 columns: [0, 0] → zero, [6, 8] → [0.6, 0.8].
    let x = Tensor::new(&[[[3u8, 1], [4, 0]], [[0, 6], [0, 8]]], &cpu()).unwrap();
    let n = normalize(&x, 1).unwrap();
    assert_eq!(n.dims(), [2, 2, 2]);
    let got = n.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(
        close(&got, &[0.6, 1.0, 0.8, 0.0, 0.0, 0.6, 0.0, 0.8]),
        "{got:?}"
    );
    let negative = normalize(&x, -2)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    assert_eq!(got, negative);
}

#[test]
fn normalize_rejects_axes_out_of_range() {
    let x = Tensor::zeros((2, 3), DType::F32, &cpu()).unwrap();
    let msg = invalid_argument(normalize(&x, 2));
    assert_eq!(
        msg,
        "normalize: axis 2 is out of range for a tensor of rank 2 (valid axes: -2..=1)"
    );
    assert!(normalize(&x, -3).is_err());
}

#[test]
fn normalize_the_first_mnist_image_like_tutorial_004() {
    let dir = dlkit_tests::datasets_dir().join("mnist");
    let ((x_train, _), _) = mnist::load_data_from(dir).unwrap();
    let first = x_train.narrow(0, 0, 1).unwrap();
    let n = normalize(&first, 1).unwrap();
    // Column 14 of image 0 has norm 686.8740787 (python3: sqrt of the sum of squares);
    // its pixel at row 14 is 240 and at row 7 is 253.
    let at = |r: usize, c: usize| {
        n.get(0)
            .unwrap()
            .get(r)
            .unwrap()
            .get(c)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    };
    assert!((at(14, 14) - 0.349_409).abs() < 1e-6, "{}", at(14, 14));
    assert!((at(7, 14) - 0.368_335_34).abs() < 1e-6, "{}", at(7, 14));
    // Columns 0–3 and 24–27 are blank and stay zero.
    assert_eq!(at(10, 0), 0.0);
    assert_eq!(at(20, 27), 0.0);
    // Every non-blank column now has unit norm.
    let col_norms = n
        .sqr()
        .unwrap()
        .sum(1)
        .unwrap()
        .flatten_all()
        .unwrap()
        .to_vec1::<f32>()
        .unwrap();
    for (c, norm) in col_norms.iter().enumerate() {
        let want = if (4..24).contains(&c) { 1.0 } else { 0.0 };
        assert!((norm - want).abs() < 1e-5, "column {c}: {norm}");
    }
}

// ---- reshape, cast and scale

fn images() -> Tensor {
    Tensor::arange(0u8, 24, &cpu())
        .unwrap()
        .reshape((2, 3, 4))
        .unwrap()
}

#[test]
fn channel_axis_and_flattening_keep_the_pixel_order() {
    let x = images();
    let pixels: Vec<u8> = (0..24).collect();
    for (y, dims) in [
        (channels_first(&x).unwrap(), vec![2, 1, 3, 4]),
        (x.channels_last().unwrap(), vec![2, 3, 4, 1]),
        (flattened(&x).unwrap(), vec![2, 12]),
    ] {
        assert_eq!(y.dims(), dims.as_slice());
        assert_eq!(y.dtype(), DType::U8);
        assert_eq!(y.flatten_all().unwrap().to_vec1::<u8>().unwrap(), pixels);
    }
    assert_eq!(
        x.flattened()
            .unwrap()
            .get(1)
            .unwrap()
            .to_vec1::<u8>()
            .unwrap(),
        (12..24).collect::<Vec<u8>>()
    );
}

#[test]
fn wrong_rank_names_the_expected_shape() {
    let x = images().channels_first().unwrap();
    for result in [x.channels_first(), channels_last(&x), x.flattened()] {
        match result {
            Err(Error::Shape(msg)) => {
                eprintln!("{msg}");
                assert!(
                    msg.contains("(N, H, W)") && msg.contains("got shape (2, 1, 3, 4)"),
                    "{msg}"
                );
            }
            other => panic!("expected Error::Shape, got {other:?}"),
        }
    }
}

#[test]
fn cast_and_scale() {
    let x = Tensor::new(&[0u8, 51, 255], &cpu()).unwrap();
    let f = to_f32(&x).unwrap();
    assert_eq!(f.dtype(), DType::F32);
    assert_eq!(f.to_vec1::<f32>().unwrap(), [0.0, 51.0, 255.0]);
    // Integers become f32 before scaling, so nothing truncates to zero.
    let s = scaled(&x, 1.0 / 255.0).unwrap();
    assert_eq!(s.dtype(), DType::F32);
    assert!(close(&s.to_vec1::<f32>().unwrap(), &[0.0, 0.2, 1.0]));
    // Floats keep their dtype.
    let d = Tensor::new(&[2f64, 4.], &cpu())
        .unwrap()
        .scaled(0.5)
        .unwrap();
    assert_eq!(d.dtype(), DType::F64);
    assert_eq!(d.to_vec1::<f64>().unwrap(), [1.0, 2.0]);
}

#[test]
fn scaling_bytes_directly_gives_the_values_of_cast_then_scale() {
    // The one-pass u8 path must agree bit for bit with to_f32 followed by scaled,
    // on every byte value and on a non-contiguous view.
    let all: Vec<u8> = (0..=255).collect();
    let x = Tensor::from_vec(all, (16, 16), &cpu()).unwrap();
    for factor in [1.0 / 255.0, 0.5, -3.25, 1e-7] {
        let direct = scaled(&x, factor).unwrap();
        let via_f32 = scaled(&to_f32(&x).unwrap(), factor).unwrap();
        assert_eq!(direct.dims(), [16, 16]);
        assert_eq!(
            direct.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            via_f32.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
            "factor {factor}"
        );
    }
    let view = x.t().unwrap().narrow(0, 3, 5).unwrap();
    assert_eq!(
        scaled(&view, 0.5).unwrap().to_vec2::<f32>().unwrap(),
        scaled(&to_f32(&view).unwrap(), 0.5)
            .unwrap()
            .to_vec2::<f32>()
            .unwrap()
    );
}

#[test]
fn one_line_notebook_chain() {
    let x_train = images();
    let x = x_train
        .channels_first()
        .unwrap()
        .to_f32()
        .unwrap()
        .scaled(1.0 / 23.0)
        .unwrap();
    assert_eq!(x.dims(), [2, 1, 3, 4]);
    assert_eq!(x.dtype(), DType::F32);
    assert!((x.max_all().unwrap().to_scalar::<f32>().unwrap() - 1.0).abs() < 1e-6);
    let flat = x_train.flattened().unwrap().scaled(1.0 / 255.0).unwrap();
    assert_eq!(flat.dims(), [2, 12]);
}
