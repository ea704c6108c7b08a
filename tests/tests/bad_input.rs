//! Bad input to fit, evaluate and predict: a clear error that names the tensor
//! and the sample at fault, never a silent wrong number.

use dlkit::prelude::*;

use dlkit_tests::{four_feature_data as data, small_classifier as model_with};

fn model() -> Sequential {
    model_with(Adam::default())
}

fn message(result: dlkit::Result<impl std::fmt::Debug>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => {
            assert!(
                matches!(e, Error::InvalidArgument(_)),
                "wrong category: {e:?}"
            );
            e.to_string()
        }
    }
}

fn quiet() -> FitOptions {
    FitOptions::new().verbose(0)
}

#[test]
fn nan_inputs_are_refused_even_behind_relu() {
    let (x, y) = data(20);
    let mut values = x.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    values[13 * 4 + 2] = f32::NAN;
    let bad = Tensor::from_vec(values, (20, 4), &Device::Cpu).unwrap();
    let mut m = model();
    let fit = message(m.fit(&bad, &y, quiet()));
    assert!(fit.contains("x[13] holds NaN"), "{fit}");
    assert!(message(m.evaluate(&bad, &y)).contains("x[13]"));
    assert!(message(m.predict(&bad)).contains("x[13]"));
    let inf = (x.clone() * f64::INFINITY).unwrap();
    assert!(message(m.predict(&inf)).contains("inf"));
}

#[test]
fn a_nan_weight_is_refused_and_relu_layers_pass_nan_on() {
    let (x, y) = data(20);
    let mut m = model();
    let kernel = m
        .get_layer("dense")
        .unwrap()
        .weight("kernel")
        .unwrap()
        .clone();
    let mut w = kernel.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    w[5] = f32::NAN;
    let bad = Tensor::from_vec(w, kernel.dims(), &Device::Cpu).unwrap();
    kernel.set(&bad).unwrap();
    for e in [
        message(m.fit(&x, &y, quiet())),
        message(m.evaluate(&x, &y)),
        message(m.predict(&x)),
    ] {
        assert!(
            e.contains("weight kernel of layer 'dense' holds NaN at position 5"),
            "{e}"
        );
    }
    // Below the checks, a candle-level forward keeps the NaN (max(NaN, 0) would be 0).
    let out = m.forward(&x, false).unwrap();
    let values = out.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    assert!(values.iter().any(|v| v.is_nan()), "{values:?}");
}

#[test]
fn labels_that_are_not_classes_are_named_by_their_index() {
    let (x, _) = data(6);
    let cases: [(Tensor, &str); 3] = [
        (
            Tensor::new(&[0i64, 1, 2, 1, -1, 0], &Device::Cpu).unwrap(),
            "y[4] is -1, not one of the model's 3 classes",
        ),
        (
            Tensor::new(&[0f32, 1., 3.7, 1., 0., 2.], &Device::Cpu).unwrap(),
            "y[2] is 3.700000047683716, not a whole number",
        ),
        (
            Tensor::new(&[0u8, 1, 2, 1, 0, 7], &Device::Cpu).unwrap(),
            "y[5] is 7, not one of the model's 3 classes",
        ),
    ];
    for (y, expected) in cases {
        let mut m = model();
        let fit = message(m.fit(&x, &y, quiet()));
        assert!(fit.contains(expected), "{fit}");
        let evaluate = message(m.evaluate(&x, &y));
        assert!(evaluate.contains(expected), "{evaluate}");
    }
}

#[test]
fn empty_sets_are_errors_not_zeros() {
    let (x, y) = data(12);
    let empty_x = x.narrow(0, 0, 0).unwrap();
    let empty_y = y.narrow(0, 0, 0).unwrap();
    let mut m = model();
    assert!(message(m.evaluate(&empty_x, &empty_y)).contains("x has no samples"));
    let v = message(m.fit(&x, &y, quiet().validation_data(&empty_x, &empty_y)));
    assert!(v.contains("validation x has no samples"), "{v}");
    let split = message(m.fit(&x, &y, quiet().validation_split(1e-17)));
    assert!(split.contains("holds out no sample"), "{split}");
}

#[test]
fn settings_that_cannot_train_are_refused() {
    let (x, y) = data(12);
    assert!(message(model().fit(&x, &y, quiet().epochs(0))).contains("epochs must be at least 1"));
    for lr in [-0.01, 0.0, f64::NAN] {
        let mut m = model_with(Adam::default().learning_rate(lr));
        let e = message(m.fit(&x, &y, quiet()));
        assert!(e.contains("learning rate"), "{e}");
    }
}

#[test]
fn sizes_past_the_stated_limits_are_errors_not_aborts() {
    let mut m = Sequential::new();
    let e = message(m.add(Dense::new(1 << 40).input_dim(4)));
    assert!(e.contains("2^28 values"), "{e}");
    // The failed add left the model as it was: a good first layer still fits.
    assert!(m.add(Dense::new(8).input_dim(4)).is_ok());
    let e = message(Sequential::new().add(Dense::new(1 << 20).input_dim(1 << 20)));
    assert!(e.contains("kernel of shape [1048576, 1048576]"), "{e}");

    let y = Tensor::new(&[0u8, 1, 2], &Device::Cpu).unwrap();
    let e = message(to_categorical(&y, 1usize << 63));
    assert!(e.contains("more than 2^30 values"), "{e}");
    assert!(to_categorical(&y, 3).is_ok());
}

#[test]
fn a_label_too_large_for_a_class_is_an_error_not_an_overflow() {
    // 1e300 is a whole number; as a class index it saturated to usize::MAX and
    // inferring num_classes (max + 1) overflowed: a panic in debug builds.
    for huge in [1e300f64, 1.9e19] {
        let y = Tensor::new(&[0f64, 2.0, huge], &Device::Cpu).unwrap();
        let e = message(to_categorical(&y, None));
        assert!(e.contains("index 2 is too large to be a class"), "{e}");
        let e = message(to_categorical(&y, 3));
        assert!(e.contains("at index 2 is not below num_classes = 3"), "{e}");
    }
}

// ---- Plots: sizes that cannot be drawn, and series the tick code choked on ----

fn plot_error(result: dlkit::Result<impl std::fmt::Debug>) -> String {
    match result {
        Err(Error::Plot(m)) => m,
        other => panic!("expected Error::Plot, got {other:?}"),
    }
}

#[test]
fn figures_too_large_to_draw_are_errors_not_aborts() {
    // 2000×2000 at 64 screen pixels a pixel: 128 044 pixels a side, 49 GB of RGB.
    let big = Tensor::zeros((2000, 2000), DType::U8, &Device::Cpu).unwrap();
    let plot = dlkit::plot::imshow(&big).unwrap().scale(64);
    let (w, h) = plot.size();
    assert_eq!((w, h), (128_068, 128_046));
    let e = plot_error(plot.render());
    assert!(
        e.contains("128068×128046 pixels") && e.contains("16384") && e.contains(".scale("),
        "{e}"
    );
    plot_error(plot.to_svg());
    plot_error(plot.to_png_bytes());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.png");
    plot_error(plot.save(&path));
    assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());

    // A wide image: size() used to wrap around u32 (and panic in debug builds).
    let wide = Tensor::zeros((1, 70_000_000), DType::U8, &Device::Cpu).unwrap();
    let plot = dlkit::plot::imshow(&wide).unwrap().scale(64);
    assert_eq!(plot.size().0, u32::MAX);
    assert!(plot_error(plot.render()).contains("4294967295×"));

    // An SVG draws each image pixel as a shape: 2048×2048 would be hundreds of MB.
    let svg_heavy = Tensor::zeros((2048, 2048), DType::U8, &Device::Cpu).unwrap();
    let e = plot_error(dlkit::plot::imshow(&svg_heavy).unwrap().to_svg());
    assert!(
        e.contains("4194304 image pixels") && e.contains(".png"),
        "{e}"
    );
    assert!(dlkit::plot::imshow(&svg_heavy).unwrap().render().is_ok());

    // Within the limits it still draws.
    let fig = dlkit::plot::imshow(&big.narrow(0, 0, 100).unwrap())
        .unwrap()
        .scale(2)
        .render()
        .unwrap();
    assert_eq!((fig.width(), fig.height()), (4068, 246));
}

#[test]
fn history_plots_survive_hostile_series() {
    use dlkit::train::History;
    let loss_only = |loss: Vec<f64>| History::from_metrics([("loss", loss)]);
    let cases: Vec<(&str, History)> = vec![
        // "capacity overflow" in the tick code before.
        ("subnormal", loss_only(vec![0.0, 5e-324])),
        ("tiny", loss_only(vec![1e-10, 2e-10, 1.5e-10])),
        ("huge", loss_only(vec![-f64::MAX, f64::MAX])),
        ("last digits", loss_only(vec![1.0, 1.0 + f64::EPSILON])),
        ("constant", loss_only(vec![0.5; 7])),
        ("zero", loss_only(vec![0.0, 0.0])),
        (
            "nan and inf",
            loss_only(vec![f64::NAN, 1.0, f64::INFINITY, f64::NEG_INFINITY, 0.5]),
        ),
        ("one epoch", loss_only(vec![0.3])),
        (
            "validation only",
            History::from_metrics([
                ("loss", vec![f64::NAN, f64::NAN]),
                ("val_loss", vec![0.2, 0.1]),
            ]),
        ),
        (
            "a million epochs",
            loss_only((0..1_000_000).map(|i| 1.0 / (1.0 + i as f64)).collect()),
        ),
    ];
    for (name, h) in cases {
        let start = std::time::Instant::now();
        let plot = dlkit::plot::history(&h).unwrap_or_else(|e| panic!("{name}: {e}"));
        let fig = plot.render().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!((fig.width(), fig.height()), (480, 420), "{name}");
        plot.to_svg().unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            start.elapsed().as_secs() < 10,
            "{name}: {:?}",
            start.elapsed()
        );
    }
    // Nothing finite at all, or nothing at all, is an error, not an empty plot.
    for h in [loss_only(vec![]), loss_only(vec![f64::NAN, f64::INFINITY])] {
        let e = dlkit::plot::history(&h).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e:?}");
    }
}

#[test]
fn history_says_which_epochs_it_could_not_draw() {
    use dlkit::train::History;
    let h = History::from_metrics([("loss", vec![0.9, f64::NAN, 0.4, f64::INFINITY])]);
    let svg = dlkit::plot::history(&h).unwrap().to_svg().unwrap();
    assert!(svg.contains("train (2 NaN/inf not drawn)"), "{svg}");
}

// ---- Your own digit: pictures too large to decode, files cut short ----

fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut crc = flate2::Crc::new();
    crc.update(kind);
    crc.update(data);
    let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
    chunk.extend_from_slice(kind);
    chunk.extend_from_slice(data);
    chunk.extend_from_slice(&crc.sum().to_be_bytes());
    chunk
}

/// A grayscale PNG header announcing `width`×`height`, with a few rows of data.
fn huge_png(width: u32, height: u32) -> Vec<u8> {
    use std::io::Write;
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
    z.write_all(&vec![0u8; 4 * (width as usize + 1)]).unwrap();
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(png_chunk(b"IHDR", &ihdr));
    png.extend(png_chunk(b"IDAT", &z.finish().unwrap()));
    png.extend(png_chunk(b"IEND", &[]));
    png
}

fn image_error(result: dlkit::Result<Tensor>) -> String {
    match result {
        Err(Error::Image(m)) => m,
        other => panic!("expected Error::Image, got {other:?}"),
    }
}

#[test]
fn pictures_too_large_are_refused_from_their_header() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("huge.png");
    std::fs::write(&path, huge_png(20_000, 20_000)).unwrap();
    let start = std::time::Instant::now();
    let e = image_error(dlkit::image::load_digit(&path));
    assert!(
        start.elapsed().as_secs_f64() < 2.0,
        "took {:?}",
        start.elapsed()
    );
    assert!(
        e.contains("huge.png")
            && e.contains("20000×20000 pixels (400 megapixels)")
            && e.contains("up to 100 megapixels"),
        "{e}"
    );
    assert_eq!(dlkit::image::MAX_PIXELS, 100_000_000);
}

#[test]
fn a_file_far_too_large_for_a_picture_is_not_read_into_memory() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("video.jpg");
    // Sparse: 600 MB announced, nothing written to disk.
    let file = std::fs::File::create(&path).unwrap();
    file.set_len(600_000_000).unwrap();
    let e = image_error(dlkit::image::load_digit(&path));
    assert!(
        e.contains("video.jpg: the file is 572 MiB, more than the 512 MiB"),
        "{e}"
    );
}

#[test]
fn large_pictures_are_shrunk_early_and_still_read() {
    // 3000×2400, a thick bar: shrunk by whole blocks while converting.
    let mut img = image::GrayImage::from_pixel(3000, 2400, image::Luma([230]));
    for y in 300..2100 {
        for x in 1300..1700 {
            img.put_pixel(x, y, image::Luma([20]));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bar.png");
    img.save(&path).unwrap();
    let digit = dlkit::image::load_digit(&path).unwrap();
    let p = digit.flatten_all().unwrap().to_vec1::<f32>().unwrap();
    let rows_with_ink = (0..28)
        .filter(|r| (0..28).any(|c| p[r * 28 + c] > 0.5))
        .count();
    assert!((19..=20).contains(&rows_with_ink), "{rows_with_ink}");
}

#[test]
fn truncated_jpeg_is_an_error_naming_the_file() {
    let original =
        std::fs::read(dlkit_tests::repo_root().join("tests/data/digits/seven_dark_ink_photo.jpg"))
            .unwrap();
    let dir = tempfile::tempdir().unwrap();
    for keep in [original.len() - 2, original.len() * 2 / 3, 400, 30] {
        let path = dir.path().join(format!("seven_cut_{keep}.jpg"));
        std::fs::write(&path, &original[..keep]).unwrap();
        let e = image_error(dlkit::image::load_digit(&path));
        assert!(
            e.contains(&format!("seven_cut_{keep}.jpg")) && e.contains("truncated"),
            "{keep}: {e}"
        );
    }
    // Trailing bytes after the end-of-image marker are harmless.
    let mut padded = original.clone();
    padded.extend_from_slice(&[0; 100]);
    assert!(dlkit::image::load_digit_from_memory(&padded).is_ok());
}

#[test]
fn truncated_png_is_an_error() {
    let original =
        std::fs::read(dlkit_tests::repo_root().join("tests/data/digits/three_light_on_dark.png"))
            .unwrap();
    for keep in [original.len() - 12, original.len() / 2, 40] {
        let e = image_error(dlkit::image::load_digit_from_memory(&original[..keep]));
        assert!(e.contains("not an image that can be read"), "{keep}: {e}");
    }
}

#[test]
fn a_prediction_image_too_large_for_its_panel_is_refused() {
    let probabilities = Tensor::new(&[0.1f32, 0.9], &Device::Cpu).unwrap();
    let large = Tensor::zeros((300, 300), DType::U8, &Device::Cpu).unwrap();
    let e = message(dlkit::plot::sample_prediction(&large, &probabilities));
    assert!(
        e.contains("up to 280×280 pixels") && e.contains("300×300"),
        "{e}"
    );
    let digit = Tensor::zeros((28, 28), DType::U8, &Device::Cpu).unwrap();
    assert!(dlkit::plot::sample_prediction(&digit, &probabilities).is_ok());
}
